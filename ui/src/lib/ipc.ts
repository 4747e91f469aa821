// Typed wrappers around the Rust commands: the only module that calls `invoke`, the clipboard
// plugin or the opener plugin. The window never talks to the network and never receives a
// secret: secrets typed by the user go in once (as an argument below) and nothing comes back.
// Every type is the generated one (src/gen/ipc.ts); none is redeclared here.

import { Channel, invoke } from "@tauri-apps/api/core";
import { writeText } from "@tauri-apps/plugin-clipboard-manager";
import { openUrl } from "@tauri-apps/plugin-opener";
import type {
  AppInfo,
  BasicAuthInventory,
  Check,
  ChecklistItem,
  ConnectionSummary,
  ConnectionTest,
  Created,
  CreatedEndpoint,
  CredentialsRequest,
  CredentialsState,
  EditStart,
  FileWritten,
  GrantChoice,
  Imported,
  InstancePreview,
  InstanceRequest,
  InstanceSet,
  InventoryRequest,
  IpcError,
  PreflightCheck,
  PreflightReport,
  RedirectCheck,
  RegistrationGuide,
  ReportFormat,
  Saved,
  SecretCopied,
  SignInResult,
  SignInStart,
} from "../gen/ipc";

export function isIpcError(value: unknown): value is IpcError {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === "string" && typeof v.message === "string";
}

/**
 * Normalise anything a command may reject with. A rejection that is not an IpcError (Tauri's own
 * "command not allowed" strings, a plugin error) becomes `usage_error` with the text as detail.
 */
export function toIpcError(value: unknown): IpcError {
  if (isIpcError(value)) {
    return {
      code: value.code,
      message: value.message,
      remediation: typeof value.remediation === "string" ? value.remediation : null,
      detail: typeof value.detail === "string" ? value.detail : null,
    };
  }
  let text: string;
  if (typeof value === "string") text = value;
  else if (value instanceof Error) text = value.message;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return {
    code: "usage_error",
    message: "The window got an answer it did not expect from snconnect.",
    remediation: "Try again; if it keeps happening, copy the details into a support request.",
    detail: text || null,
  };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

function channel<T>(onMessage: (m: T) => void): Channel<T> {
  const ch = new Channel<T>();
  ch.onmessage = onMessage;
  return ch;
}

export function appInfo(): Promise<AppInfo> {
  return call("app_info");
}

/** Tells the app the first screen is up (logged with the time since start; the benchmark's mark). */
export function uiReady(): Promise<void> {
  return call("ui_ready");
}

export function startDemo(): Promise<AppInfo> {
  return call("start_demo");
}

export function previewInstance(input: string): Promise<InstancePreview> {
  return call("preview_instance", { input });
}

export function setInstance(req: InstanceRequest): Promise<InstanceSet> {
  return call("set_instance", { req });
}

export function runPreflight(
  grant: GrantChoice,
  onCheck: (check: PreflightCheck) => void,
): Promise<PreflightReport> {
  return call("run_preflight", { grant, onCheck: channel(onCheck) });
}

export function manualChecklist(): Promise<ChecklistItem[]> {
  return call("manual_checklist");
}

export function registrationGuide(): Promise<RegistrationGuide> {
  return call("registration_guide");
}

export function createEndpoint(name: string, publicClient: boolean): Promise<CreatedEndpoint> {
  return call("create_endpoint", { name, publicClient });
}

export function removeEndpoint(): Promise<Created> {
  return call("remove_endpoint");
}

export function checkRedirects(clientId: string): Promise<RedirectCheck[]> {
  return call("check_redirects", { clientId });
}

/** Secrets in `req` go to Rust once; the caller clears its fields right after. */
export function setCredentials(req: CredentialsRequest): Promise<CredentialsState> {
  return call("set_credentials", { req });
}

export function beginSignIn(onEvent: (check: Check) => void = () => {}): Promise<SignInStart> {
  return call("begin_sign_in", { onEvent: channel(onEvent) });
}

export function finishSignIn(onCheck: (check: Check) => void): Promise<SignInResult> {
  return call("finish_sign_in", { onCheck: channel(onCheck) });
}

export function pasteRedirect(url: string): Promise<null> {
  return call("paste_redirect", { url });
}

export function cancelSignIn(): Promise<null> {
  return call("cancel_sign_in");
}

export function saveConnection(name: string, sessionOnly: boolean): Promise<Saved> {
  return call("save_connection", { name, sessionOnly });
}

export function copyHandoffSecret(): Promise<SecretCopied> {
  return call("copy_handoff_secret");
}

export function listConnections(): Promise<ConnectionSummary[]> {
  return call("list_connections");
}

/** Tests one saved connection. A failed connection resolves (ok false + diagnosis); only a local
 *  problem (keychain locked, config unreadable…) rejects. */
export function testSaved(name: string, onCheck: (check: Check) => void = () => {}): Promise<ConnectionTest> {
  return call("test_saved", { name, onCheck: channel(onCheck) });
}

/** Tests every saved connection (Rust runs them concurrently). */
export function testAllSaved(): Promise<ConnectionTest[]> {
  return call("test_all_saved");
}

export function refreshSaved(name: string): Promise<ConnectionSummary> {
  return call("refresh_saved", { name });
}

/** Revokes the tokens on the instance, then forgets them here. */
export function revokeSaved(name: string): Promise<ConnectionSummary> {
  return call("revoke_saved", { name });
}

/** Forgets the tokens here only (the instance is not told). */
export function resetSaved(name: string): Promise<ConnectionSummary> {
  return call("reset_saved", { name });
}

/** Removes the profile and its keychain entries (no revocation on the instance). */
export function deleteSaved(name: string): Promise<null> {
  return call("delete_saved", { name });
}

/** The redacted support report of a fresh test, as text. */
export function savedReport(name: string, format: ReportFormat): Promise<string> {
  return call("saved_report", { name, format });
}

/** The accounts that still depend on basic auth, read with an admin account (password sent once;
 *  null = the one Rust holds for that account). */
export function basicAuthInventory(req: InventoryRequest): Promise<BasicAuthInventory> {
  return call("basic_auth_inventory", { req });
}

/** Loads a saved connection into the wizard (its secrets stay in Rust) for Edit or Reconnect. */
export function editSaved(name: string): Promise<EditStart> {
  return call("edit_saved", { name });
}

/** The support report, saved where the user says in the system's save dialog; null = cancelled. */
export function exportReport(name: string, format: ReportFormat): Promise<FileWritten | null> {
  return call("export_report", { name, format });
}

/** Every saved connection, without secrets, to a file chosen in the save dialog; null = cancelled. */
export function exportConnections(): Promise<FileWritten | null> {
  return call("export_connections");
}

/** Connections from an export file chosen in the open dialog; null = cancelled. */
export function importConnections(): Promise<Imported | null> {
  return call("import_connections");
}

export function resetWizard(): Promise<null> {
  return call("reset_wizard");
}

/** Clipboard through the Tauri plugin (the webview's own clipboard API is unreliable in WebKitGTK). */
export async function copyText(text: string): Promise<void> {
  try {
    await writeText(text);
  } catch (e) {
    throw toIpcError(e);
  }
}

/** Opens a page in the system browser; the webview itself never navigates away. */
export async function openExternal(url: string): Promise<void> {
  try {
    await openUrl(url);
  } catch (e) {
    throw toIpcError(e);
  }
}
