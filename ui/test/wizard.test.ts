// The state machine on its own, against a fake Api (no DOM, no IPC).
import { describe, expect, it, vi } from "vitest";
import type { Api } from "../src/ipc";
import { Wizard, hostOf, initialState, isKeychainError } from "../src/wizard";
import { APP_STATE, CONSENT, INSTANCE, REGISTRATION, RESULT, deferred, ipcError } from "./harness";

function fakeApi(overrides: Partial<Api> = {}): Api {
  return {
    appState: vi.fn(async () => APP_STATE),
    setInstance: vi.fn(async () => INSTANCE),
    registrationInfo: vi.fn(async () => REGISTRATION),
    setClient: vi.fn(async (clientId: string, secret: string | null, pub: boolean) => ({
      client_id: clientId,
      public_client: pub,
      has_secret: secret !== null,
    })),
    beginConsent: vi.fn(async () => CONSENT),
    finishConsent: vi.fn(async () => RESULT),
    cancelConsent: vi.fn(async () => null),
    saveConnection: vi.fn(async (name: string, sessionOnly: boolean) => ({
      name,
      stored: sessionOnly ? ("session" as const) : ("keychain" as const),
      profile_path: "/p",
    })),
    ...overrides,
  };
}

async function toConsent(w: Wizard): Promise<void> {
  await w.load();
  await w.submitInstance("acme");
  await w.continueFromPlugins();
  w.continueFromRegister();
  await w.submitClient("cid", SECRET, false);
}

const SECRET = "S3CR3T-7c1b9a";

describe("Wizard", () => {
  it("starts on the instance step with no error", () => {
    expect(initialState()).toMatchObject({ step: "instance", busy: false, error: null });
  });

  it("walks all steps in order", async () => {
    const w = new Wizard(fakeApi());
    const seen: string[] = [];
    w.subscribe((s, p) => {
      if (s.step !== p.step) seen.push(s.step);
    });
    await toConsent(w);
    expect(await w.startConsent()).toBe(true);
    expect(seen).toEqual(["plugins", "register", "client", "consent", "result"]);
    expect(w.state.result).toEqual(RESULT);
  });

  it("does not store the secret and sends null for a public client or an empty secret", async () => {
    const api = fakeApi();
    const w = new Wizard(api);
    await toConsent(w);
    expect(w.state.client?.has_secret).toBe(true);
    expect(JSON.stringify(w.state)).not.toContain(SECRET);
    await w.submitClient("cid", "ignored", true);
    await w.submitClient("cid", "", false);
    expect(vi.mocked(api.setClient).mock.calls).toEqual([
      ["cid", SECRET, false],
      ["cid", null, true],
      ["cid", null, false],
    ]);
  });

  it("a new instance resets later progress", async () => {
    const w = new Wizard(fakeApi());
    await toConsent(w);
    await w.startConsent();
    expect(w.state.step).toBe("result");
    await w.submitInstance("other"); // the API allows it from any step
    expect(w.state.step).toBe("plugins");
    expect(w.state.result).toBeNull();
    expect(w.state.consent.authorizeUrl).toBeNull();
  });

  it("ignores a stale finish_consent after a newer attempt", async () => {
    const first = deferred<typeof RESULT>();
    const finish = vi.fn().mockReturnValueOnce(first.promise).mockResolvedValueOnce(RESULT);
    const w = new Wizard(fakeApi({ finishConsent: finish }));
    await toConsent(w);
    const p1 = w.startConsent();
    await vi.waitFor(() => expect(w.state.consent.waiting).toBe(true));
    // The first wait is rejected (cancelled) and a second attempt succeeds.
    first.reject(ipcError("cancelled", "x"));
    expect(await p1).toBe(false);
    expect(await w.startConsent()).toBe(true);
    expect(w.state.step).toBe("result");
  });

  it("refuses to start a second consent while waiting", async () => {
    const w = new Wizard(fakeApi({ finishConsent: () => new Promise(() => {}) }));
    await toConsent(w);
    void w.startConsent();
    await vi.waitFor(() => expect(w.state.consent.waiting).toBe(true));
    expect(await w.startConsent()).toBe(false);
    expect(w.canGoBack()).toBe(false);
  });

  it("offers session-only only for keychain errors, and not after a session-only failure", async () => {
    const save = vi
      .fn()
      .mockRejectedValueOnce(ipcError("keychain_unavailable", "x"))
      .mockRejectedValueOnce(ipcError("profile_write_failed", "y"))
      .mockResolvedValueOnce({ name: "n", stored: "session", profile_path: "/p" });
    const w = new Wizard(fakeApi({ saveConnection: save }));
    await toConsent(w);
    await w.startConsent();
    expect(await w.save("n", false)).toBe(false);
    expect(w.state.keepSessionOffered).toBe(true);
    expect(await w.save("n", true)).toBe(false);
    expect(w.state.keepSessionOffered).toBe(true); // still offered, error shown
    expect(w.state.error?.code).toBe("profile_write_failed");
    expect(await w.save("n", true)).toBe(true);
    expect(w.state.keepSessionOffered).toBe(false);
    expect(w.state.saved?.stored).toBe("session");
  });

  it("back() moves one step, never from the first or the result step", async () => {
    const w = new Wizard(fakeApi());
    expect(w.back()).toBe(false);
    await toConsent(w);
    expect(w.back()).toBe(true);
    expect(w.state.step).toBe("client");
    w.continueFromRegister();
    await w.submitClient("cid", null, true);
    await w.startConsent();
    expect(w.back()).toBe(false);
  });

  it("registration_info failure keeps the user on the plugin step", async () => {
    const reg = vi.fn().mockRejectedValueOnce(ipcError("instance_unreachable", "x")).mockResolvedValue(REGISTRATION);
    const w = new Wizard(fakeApi({ registrationInfo: reg }));
    await w.submitInstance("acme");
    expect(w.state.step).toBe("plugins");
    expect(w.state.error?.code).toBe("instance_unreachable");
    expect(await w.continueFromPlugins()).toBe(true);
    expect(w.state.step).toBe("register");
    expect(w.state.error).toBeNull();
  });
});

describe("helpers", () => {
  it("hostOf", () => {
    expect(hostOf("https://acme.service-now.com/")).toBe("acme.service-now.com");
    expect(hostOf("not a url")).toBe("not a url");
  });
  it("isKeychainError", () => {
    expect(isKeychainError(ipcError("keychain_locked"))).toBe(true);
    expect(isKeychainError(ipcError("keychain_unavailable"))).toBe(true);
    expect(isKeychainError(ipcError("cancelled"))).toBe(false);
    expect(isKeychainError(null)).toBe(false);
  });
});
