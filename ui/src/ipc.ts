// Typed wrappers around the Rust commands. This is the only module that calls `invoke`.
// The webview never talks to the network and never receives secrets: every call below goes
// through Tauri IPC to the Rust side.

import { invoke } from "@tauri-apps/api/core";

/** Every command rejects with this shape. The UI branches on `code`, never on `message`. */
export interface IpcError {
  code: string;
  message: string;
  remediation: string | null;
}

export interface AppState {
  demo: boolean;
  instance: string | null;
  redirect_url: string;
  client_id: string | null;
  public_client: boolean;
  demo_note: string | null;
}

export interface InstanceInfo {
  instance: string;
  host: string;
}

export interface RegistrationLink {
  label: string;
  url: string;
}

export interface RegistrationInfo {
  redirect_url: string;
  steps: string[];
  links: RegistrationLink[];
}

export interface ClientInfo {
  client_id: string;
  public_client: boolean;
  has_secret: boolean;
}

export interface ConsentStart {
  authorize_url: string;
  browser_opened: boolean;
  browser_error: string | null;
}

export interface ConnectionCheck {
  name: string;
  ok: boolean;
  code: string;
  ms: number;
}

export interface ConnectionResult {
  instance: string;
  user_name: string;
  user_display_name: string;
  user_sys_id: string;
  latency_ms: number;
  checks: ConnectionCheck[];
}

export interface SaveResult {
  name: string;
  stored: "keychain" | "session";
  profile_path: string;
}

/** Error codes the UI treats specially. Others are shown as they come. */
export const ErrorCode = {
  invalidInstanceUrl: "invalid_instance_url",
  insecureUrlRefused: "insecure_url_refused",
  callbackTimeout: "callback_timeout",
  consentDenied: "consent_denied",
  tokenRequestDenied: "token_request_denied",
  keychainUnavailable: "keychain_unavailable",
  keychainLocked: "keychain_locked",
  callbackPortInUse: "callback_port_in_use",
  browserUnavailable: "browser_unavailable",
  cancelled: "cancelled",
  /** Used by the UI for rejections that are not an IpcError (e.g. an ACL refusal string). */
  unexpected: "unexpected_error",
} as const;

export function isIpcError(value: unknown): value is IpcError {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.code === "string" &&
    typeof v.message === "string" &&
    (v.remediation === null || v.remediation === undefined || typeof v.remediation === "string")
  );
}

/** Normalise anything a command may reject with into an IpcError. */
export function toIpcError(value: unknown): IpcError {
  if (isIpcError(value)) {
    return { code: value.code, message: value.message, remediation: value.remediation ?? null };
  }
  let message: string;
  if (typeof value === "string") message = value;
  else if (value instanceof Error) message = value.message;
  else {
    try {
      message = JSON.stringify(value) ?? String(value);
    } catch {
      message = String(value);
    }
  }
  return { code: ErrorCode.unexpected, message: message || "Unexpected error", remediation: null };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

export function appState(): Promise<AppState> {
  return call<AppState>("app_state");
}

export function setInstance(instance: string): Promise<InstanceInfo> {
  return call<InstanceInfo>("set_instance", { instance });
}

export function registrationInfo(): Promise<RegistrationInfo> {
  return call<RegistrationInfo>("registration_info");
}

/** The secret is passed straight through to Rust; nothing here keeps a reference to it. */
export function setClient(
  clientId: string,
  clientSecret: string | null,
  publicClient: boolean,
): Promise<ClientInfo> {
  return call<ClientInfo>("set_client", { clientId, clientSecret, publicClient });
}

export function beginConsent(): Promise<ConsentStart> {
  return call<ConsentStart>("begin_consent");
}

export function finishConsent(): Promise<ConnectionResult> {
  return call<ConnectionResult>("finish_consent");
}

export function cancelConsent(): Promise<null> {
  return call<null>("cancel_consent");
}

export function saveConnection(name: string, sessionOnly: boolean): Promise<SaveResult> {
  return call<SaveResult>("save_connection", { name, sessionOnly });
}

/** The surface the wizard depends on; tests may substitute it. */
export interface Api {
  appState: typeof appState;
  setInstance: typeof setInstance;
  registrationInfo: typeof registrationInfo;
  setClient: typeof setClient;
  beginConsent: typeof beginConsent;
  finishConsent: typeof finishConsent;
  cancelConsent: typeof cancelConsent;
  saveConnection: typeof saveConnection;
}

export const tauriApi: Api = {
  appState,
  setInstance,
  registrationInfo,
  setClient,
  beginConsent,
  finishConsent,
  cancelConsent,
  saveConnection,
};
