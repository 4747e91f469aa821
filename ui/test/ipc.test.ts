// The typed wrappers send exactly the argument names the Rust commands expect.
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as ipc from "../src/ipc";

let calls: { cmd: string; args: unknown }[] = [];

beforeEach(() => {
  calls = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    if (cmd === "set_instance") return { instance: "https://acme.service-now.com/", host: "acme.service-now.com" };
    if (cmd === "finish_consent") throw { code: "consent_denied", message: "Denied", remediation: null };
    if (cmd === "begin_consent") throw { code: "browser_unavailable", message: "No browser" };
    if (cmd === "cancel_consent") throw new Error("boom");
    return null;
  });
});
afterEach(() => clearMocks());

describe("ipc wrappers", () => {
  it("send the documented command names and argument keys", async () => {
    await ipc.appState();
    await ipc.setInstance("acme");
    await ipc.registrationInfo();
    await ipc.setClient("cid", "sec", false);
    await ipc.setClient("cid", null, true);
    await ipc.saveConnection("acme", true);
    expect(calls).toEqual([
      { cmd: "app_state", args: {} },
      { cmd: "set_instance", args: { instance: "acme" } },
      { cmd: "registration_info", args: {} },
      { cmd: "set_client", args: { clientId: "cid", clientSecret: "sec", publicClient: false } },
      { cmd: "set_client", args: { clientId: "cid", clientSecret: null, publicClient: true } },
      { cmd: "save_connection", args: { name: "acme", sessionOnly: true } },
    ]);
  });

  it("returns the command's value", async () => {
    await expect(ipc.setInstance("acme")).resolves.toEqual({
      instance: "https://acme.service-now.com/",
      host: "acme.service-now.com",
    });
  });

  it("rejects with an IpcError, keeping code and filling a missing remediation with null", async () => {
    await expect(ipc.finishConsent()).rejects.toEqual({ code: "consent_denied", message: "Denied", remediation: null });
    await expect(ipc.beginConsent()).rejects.toEqual({
      code: "browser_unavailable",
      message: "No browser",
      remediation: null,
    });
  });

  it("turns a thrown Error into unexpected_error", async () => {
    await expect(ipc.cancelConsent()).rejects.toEqual({ code: "unexpected_error", message: "boom", remediation: null });
  });
});

describe("toIpcError", () => {
  it("passes IpcErrors through", () => {
    const e = { code: "keychain_locked", message: "Locked", remediation: "Unlock it" };
    expect(ipc.toIpcError(e)).toEqual(e);
    expect(ipc.isIpcError(e)).toBe(true);
  });
  it("wraps strings and odd values", () => {
    expect(ipc.toIpcError("nope")).toEqual({ code: "unexpected_error", message: "nope", remediation: null });
    expect(ipc.toIpcError({ code: 3 }).code).toBe("unexpected_error");
    expect(ipc.toIpcError(undefined).message).toBeTruthy();
    expect(ipc.isIpcError({ code: "x" })).toBe(false);
  });
});
