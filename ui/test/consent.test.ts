import { describe, expect, it, vi } from "vitest";
import type { SignInResult, SignInStart } from "../src/gen/ipc";
import Consent from "../src/screens/Consent.svelte";
import { backend, callsTo, ipcError, lastArgs, on, send } from "./backend";
import { CHECKS, CONSENT_START, RESULT_OK, credState, failed } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text, type, wizardAt } from "./helpers";

function consentWizard() {
  const w = wizardAt("consent");
  w.credentialsAccepted(credState({ method: "oauth-code", client_id: "abc", has_client_secret: true, needs_consent: true }));
  return w;
}

function pending(start: SignInStart = CONSENT_START) {
  const finish = deferred<SignInResult>();
  on({ begin_sign_in: () => start, finish_sign_in: () => finish.promise });
  return finish;
}

describe("Consent", () => {
  it("begin_sign_in then finish_sign_in at once: the authorize URL with Copy, then Test", async () => {
    const finish = pending();
    const w = consentWizard();
    renderScreen(Consent, w);
    await click("consent-start");
    expect(backend.calls.map((c) => c.cmd)).toEqual(["begin_sign_in", "finish_sign_in"]);
    expect(text("authorize-url")).toBe(CONSENT_START.authorize_url);
    expect(text("browser-status")).toContain("Waiting for you to approve");
    expect(el<HTMLButtonElement>("nav-back").disabled).toBe(true);
    await click("copy-authorize-url");
    expect(backend.clipboard).toEqual([CONSENT_START.authorize_url]);

    send(lastArgs("finish_sign_in"), "onCheck", CHECKS[0]);
    await flush();
    expect(w.liveChecks).toEqual([CHECKS[0]]);
    finish.resolve(RESULT_OK);
    await flush();
    expect(w.step).toBe("test");
    expect(w.result).toEqual(RESULT_OK);
  });

  it("starts by itself when it comes straight from Create it for me", async () => {
    pending();
    const w = consentWizard();
    w.autoConsent = true;
    renderScreen(Consent, w);
    await flush();
    expect(callsTo("begin_sign_in")).toHaveLength(1);
    expect(w.autoConsent).toBe(false);
    expect(has("authorize-url")).toBe(true);
  });

  it("says when the browser could not be opened", async () => {
    pending({ ...CONSENT_START, browser_opened: false, browser_error: "no browser found" });
    renderScreen(Consent, consentWizard());
    await click("consent-start");
    expect(text("browser-status")).toBe("The browser could not be opened: no browser found. Copy the address below into a browser.");
  });

  it("the countdown ticks from timeout_s in mm:ss", async () => {
    vi.useFakeTimers();
    pending();
    renderScreen(Consent, consentWizard());
    await click("consent-start");
    expect(text("countdown")).toBe("02:05");
    await vi.advanceTimersByTimeAsync(1000);
    expect(text("countdown")).toBe("02:04");
    await vi.advanceTimersByTimeAsync(65_000);
    expect(text("countdown")).toBe("00:59");
    await vi.advanceTimersByTimeAsync(120_000);
    expect(text("countdown")).toBe("00:00");
  });

  it("paste accepted: paste_redirect gets the address and the finish follows", async () => {
    const finish = pending();
    on({ paste_redirect: () => null });
    const w = consentWizard();
    renderScreen(Consent, w);
    await click("consent-start");
    await click("paste-submit");
    expect(text("field-error-paste")).toContain("Required");
    await type("paste-input", " http://127.0.0.1:53682/callback?code=abc&state=xyz ");
    await click("paste-submit");
    expect(lastArgs("paste_redirect")).toEqual({ url: "http://127.0.0.1:53682/callback?code=abc&state=xyz" });
    expect(text("paste-status")).toContain("Got it");
    expect(el<HTMLInputElement>("paste-input").value).toBe("");
    finish.resolve(RESULT_OK);
    await flush();
    expect(w.step).toBe("test");
  });

  it("paste rejected: the fix is shown next to the input", async () => {
    pending();
    on({ paste_redirect: () => Promise.reject(ipcError("usage_error", "paste the address that starts with http://127.0.0.1:53682/callback", "This is not the sign-in callback.")) });
    renderScreen(Consent, consentWizard());
    await click("consent-start");
    await type("paste-input", "https://acme.service-now.com/navpage.do");
    await click("paste-submit");
    expect(text("field-error-paste")).toBe("This is not the sign-in callback. paste the address that starts with http://127.0.0.1:53682/callback");
    expect(el("paste-input").getAttribute("aria-invalid")).toBe("true");
    expect(has("paste-status")).toBe(false);
  });

  it("Cancel → cancel_sign_in → the finish resolves cancelled: 'Sign-in cancelled' and Try again", async () => {
    const finish = pending();
    on({
      cancel_sign_in: () => {
        finish.resolve(failed("cancelled", []));
        return null;
      },
    });
    const w = consentWizard();
    renderScreen(Consent, w);
    await click("consent-start");
    await click("consent-cancel");
    expect(callsTo("cancel_sign_in")).toHaveLength(1);
    expect(text("consent-cancelled")).toBe("Sign-in cancelled.");
    expect(has("error-box")).toBe(false);
    expect(has("authorize-url")).toBe(false);
    expect(text("consent-start")).toBe("Try again");
    expect(w.step).toBe("consent");
    pending();
    await click("consent-start");
    expect(callsTo("begin_sign_in")).toHaveLength(2);
    expect(has("consent-cancelled")).toBe(false);
  });

  for (const code of ["callback_timeout", "consent_denied"] as const) {
    it(`${code}: the diagnosis stays on Consent with Try again`, async () => {
      const finish = pending();
      const w = consentWizard();
      renderScreen(Consent, w);
      await click("consent-start");
      finish.resolve(failed(code, []));
      await flush();
      expect(text("error-code")).toBe(code);
      expect(text("error-remediation")).toBe(`fix ${code}`);
      expect(text("consent-start")).toBe("Try again");
      expect(w.step).toBe("consent");
      expect(w.result).toBeNull();
    });
  }

  it("a connection failure after consent goes on to Test (shown there)", async () => {
    const finish = pending();
    const w = consentWizard();
    renderScreen(Consent, w);
    await click("consent-start");
    finish.resolve(failed("invalid_client"));
    await flush();
    expect(w.step).toBe("test");
    expect(w.result?.diagnosis.code).toBe("invalid_client");
  });

  it("begin_sign_in rejected (callback_port_in_use): the error and Try again", async () => {
    on({ begin_sign_in: () => Promise.reject(ipcError("callback_port_in_use", "127.0.0.1:53682")) });
    renderScreen(Consent, consentWizard());
    await click("consent-start");
    expect(text("error-code")).toBe("callback_port_in_use");
    expect(callsTo("finish_sign_in")).toHaveLength(0);
    expect(text("consent-start")).toBe("Try again");
  });

  it("leaving while waiting cancels the listener and drops its answer", async () => {
    const finish = pending();
    on({ cancel_sign_in: () => null });
    const w = consentWizard();
    const r = renderScreen(Consent, w);
    await click("consent-start");
    r.unmount();
    expect(callsTo("cancel_sign_in")).toHaveLength(1);
    finish.resolve(RESULT_OK);
    await flush();
    expect(w.result).toBeNull();
    expect(w.step).toBe("consent");
  });

  it("shows Progress after 300 ms while starting", async () => {
    vi.useFakeTimers();
    const start = deferred<SignInStart>();
    on({ begin_sign_in: () => start.promise, finish_sign_in: () => new Promise(() => {}) });
    renderScreen(Consent, consentWizard());
    await click("consent-start");
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Starting the sign-in…");
    start.resolve(CONSENT_START);
    await flush();
    expect(has("progress")).toBe(false);
  });
});
