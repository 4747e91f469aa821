// Shared test helpers: a mockIPC-backed fake of the Rust commands and DOM shortcuts.
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { vi } from "vitest";
import { mount, type MountedApp } from "../src/app";
import type {
  AppState,
  ClientInfo,
  ConnectionResult,
  ConsentStart,
  InstanceInfo,
  IpcError,
  RegistrationInfo,
  SaveResult,
} from "../src/ipc";

export type Handler = (args: Record<string, unknown>) => unknown;
export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

export const APP_STATE: AppState = {
  demo: false,
  instance: "https://acme.service-now.com/",
  redirect_url: "http://127.0.0.1:53682/callback",
  client_id: "seeded-client",
  public_client: false,
  demo_note: null,
};

export const INSTANCE: InstanceInfo = { instance: "https://acme.service-now.com/", host: "acme.service-now.com" };

export const REGISTRATION: RegistrationInfo = {
  redirect_url: "http://127.0.0.1:53682/callback",
  steps: [
    "Zurich and later: All > System OAuth > Machine Identity Console > New inbound integration.",
    "Older releases: All > System OAuth > Application Registry > New > Create an OAuth API endpoint for external clients.",
  ],
  links: [
    { label: "Application Registry", url: "https://acme.service-now.com/oauth_entity_list.do" },
    { label: "All Available Applications", url: "https://acme.service-now.com/$allappsmgmt.do" },
  ],
};

export const CONSENT: ConsentStart = {
  authorize_url: "https://acme.service-now.com/oauth_auth.do?response_type=code&client_id=seeded-client",
  browser_opened: true,
  browser_error: null,
};

export const RESULT: ConnectionResult = {
  instance: "https://acme.service-now.com/",
  user_name: "svc.integration",
  user_display_name: "Integration Service",
  user_sys_id: "6816f79cc0a8016401c5a33be04be441",
  latency_ms: 41.6,
  checks: [
    { name: "Token refresh", ok: true, code: "ok", ms: 12 },
    { name: "Read sys_user", ok: true, code: "ok", ms: 30 },
    { name: "Read incident", ok: false, code: "forbidden", ms: 9 },
  ],
};

export function ipcError(code: string, message = `failed: ${code}`, remediation: string | null = null): IpcError {
  return { code, message, remediation };
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function defaultHandlers(): Record<string, Handler> {
  return {
    app_state: () => ({ ...APP_STATE }),
    set_instance: () => ({ ...INSTANCE }),
    registration_info: () => REGISTRATION,
    set_client: (a): ClientInfo => ({
      client_id: String(a.clientId),
      public_client: Boolean(a.publicClient),
      has_secret: a.clientSecret !== null,
    }),
    begin_consent: () => ({ ...CONSENT }),
    finish_consent: () => RESULT,
    cancel_consent: () => null,
    save_connection: (a): SaveResult => ({
      name: String(a.name),
      stored: a.sessionOnly ? "session" : "keychain",
      profile_path: "/home/u/.config/snconnect/profiles.toml",
    }),
    "plugin:clipboard-manager|write_text": () => null,
  };
}

export interface Harness extends MountedApp {
  root: HTMLElement;
  calls: Call[];
  handlers: Record<string, Handler>;
  callsTo(cmd: string): Call[];
}

/** Install mockIPC with the given overrides and mount the app into a fresh root. */
export async function setup(overrides: Record<string, Handler> = {}): Promise<Harness> {
  const handlers = { ...defaultHandlers(), ...overrides };
  const calls: Call[] = [];
  mockIPC((cmd, payload) => {
    const args = (payload ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    const h = handlers[cmd];
    if (!h) throw ipcError("unknown_command", `no mock for ${cmd}`);
    return h(args);
  });
  const root = document.createElement("div");
  root.id = "app";
  document.body.replaceChildren(root);
  const app = mount(root);
  await app.ready;
  return { ...app, root, calls, handlers, callsTo: (cmd) => calls.filter((c) => c.cmd === cmd) };
}

export function teardown(): void {
  clearMocks();
  document.body.replaceChildren();
  vi.useRealTimers();
}

export function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} not found`);
  return e;
}

export function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}

export function button(id: string): HTMLButtonElement {
  return $(id) as HTMLButtonElement;
}

/** Visible = neither the element nor an ancestor has the hidden attribute. */
export function isVisible(id: string): boolean {
  for (let n: HTMLElement | null = $(id); n; n = n.parentElement) {
    if (n.hidden) return false;
  }
  return true;
}

export function text(id: string): string {
  return $(id).textContent ?? "";
}

export function type(id: string, value: string): void {
  const i = input(id);
  i.value = value;
  i.dispatchEvent(new Event("input", { bubbles: true }));
}

export function click(id: string): void {
  const b = button(id);
  if (b.disabled) throw new Error(`#${id} is disabled`);
  b.click();
}

export async function waitVisible(id: string): Promise<void> {
  await vi.waitFor(() => {
    if (!isVisible(id)) throw new Error(`#${id} not visible`);
  });
}

/** Walk from the instance step to the consent step with default answers. */
export async function walkToConsent(secret = "s3cret-value"): Promise<void> {
  click("instance-next");
  await waitVisible("step-plugins");
  await vi.waitFor(() => {
    if (button("plugins-next").disabled) throw new Error("busy");
  });
  click("plugins-next");
  await waitVisible("step-register");
  click("register-next");
  await waitVisible("step-client");
  type("client-secret", secret);
  click("client-next");
  await waitVisible("step-consent");
}
