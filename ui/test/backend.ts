// The fake Rust side: vi.mock (test/setup.ts) routes `invoke`, `Channel` and the two plugins here.
// A handler gets the args object exactly as the window passed it, Channels included.
import { vi } from "vitest";
import type { IpcError } from "../src/gen/ipc";

export type Handler = (args: Record<string, unknown>) => unknown;
export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

/** Stands in for `Channel` from @tauri-apps/api/core: the handler calls `onmessage`. */
export class FakeChannel<T> {
  onmessage: (message: T) => void = () => {};
  constructor(onmessage?: (message: T) => void) {
    if (onmessage) this.onmessage = onmessage;
  }
}

export const backend = {
  handlers: {} as Record<string, Handler>,
  calls: [] as Call[],
  clipboard: [] as string[],
  opened: [] as string[],
};

export function ipcError(code: IpcError["code"], detail: string | null = null, message = `failed: ${code}`, remediation: string | null = `fix ${code}`): IpcError {
  return { code, message, remediation, detail };
}

export const invoke = vi.fn(async (cmd: string, args: Record<string, unknown> = {}): Promise<unknown> => {
  backend.calls.push({ cmd, args });
  const h = backend.handlers[cmd];
  if (!h) throw ipcError("usage_error", `no mock for ${cmd}`);
  return await h(args);
});

export const writeText = vi.fn(async (text: string): Promise<void> => {
  backend.clipboard.push(text);
});

export const openUrl = vi.fn(async (url: string): Promise<void> => {
  backend.opened.push(url);
});

export function resetBackend(handlers: Record<string, Handler> = {}): void {
  backend.handlers = { ...handlers };
  backend.calls = [];
  backend.clipboard = [];
  backend.opened = [];
  invoke.mockClear();
  writeText.mockClear();
  openUrl.mockClear();
}

/** Replace or add handlers for this test. */
export function on(handlers: Record<string, Handler>): void {
  Object.assign(backend.handlers, handlers);
}

export function callsTo(cmd: string): Call[] {
  return backend.calls.filter((c) => c.cmd === cmd);
}

export function lastArgs(cmd: string): Record<string, unknown> {
  const calls = callsTo(cmd);
  if (calls.length === 0) throw new Error(`${cmd} was not called`);
  return calls[calls.length - 1].args;
}

/** Send a message on the Channel the window passed as `args[key]`. */
export function send<T>(args: Record<string, unknown>, key: string, message: T): void {
  const ch = args[key];
  if (!(ch instanceof FakeChannel)) throw new Error(`args.${key} is not a Channel`);
  (ch as FakeChannel<T>).onmessage(message);
}
