import { describe, expect, it, vi } from "vitest";
import type { SignInResult } from "../src/gen/ipc";
import Test from "../src/screens/Test.svelte";
import { backend, callsTo, lastArgs, on, send } from "./backend";
import { CHECKS, DIRECT_START, PARITY_MISMATCH, PARITY_SAFE, RESULT_OK, credState, failed } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text, wizardAt } from "./helpers";
import type { Mode } from "../src/lib/wizard.svelte";

function basicWizard(mode: Mode = "migrate") {
  const w = wizardAt("test", { mode });
  w.credentialsAccepted(credState({ method: "basic", username: "svc", has_password: true }));
  return w;
}

function running() {
  const finish = deferred<SignInResult>();
  on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => finish.promise });
  return finish;
}

describe("Test", () => {
  it("a non-consent method signs in on arrival; checks appear live; then Connected as …", async () => {
    vi.useFakeTimers();
    const finish = running();
    const w = basicWizard();
    renderScreen(Test, w);
    await flush();
    expect(backend.calls.map((c) => c.cmd)).toEqual(["begin_sign_in", "finish_sign_in"]);
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Signing in and testing the connection…");
    send(lastArgs("finish_sign_in"), "onCheck", CHECKS[0]);
    await flush();
    expect(el("test-checks").querySelectorAll("li")).toHaveLength(1);
    expect(el("check-0").getAttribute("data-state")).toBe("pass");
    finish.resolve(RESULT_OK);
    await flush();
    expect(has("progress")).toBe(false);
    expect(text("connected-as")).toBe("Connected as Integration Service (svc.integration)");
    expect(text("latency")).toBe("71 ms");
    expect(text("roles")).toBe("itil, rest_api_explorer");
    expect(el("test-checks").querySelectorAll("li")).toHaveLength(3);
    expect(has("parity-verdict")).toBe(false);
    await click("test-next");
    expect(w.step).toBe("save");
  });

  it("roles null: 'roles not readable with this connection'", async () => {
    on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => ({ ...RESULT_OK, roles: null }) });
    renderScreen(Test, basicWizard());
    await flush();
    expect(text("roles")).toBe("roles not readable with this connection");
  });

  it("failure with invalid_client: code, message, remediation, detail and Copy details (the support text)", async () => {
    const bad = failed("invalid_client", [CHECKS[0], { name: "Token request", ok: false, code: "invalid_client", ms: 12 }]);
    on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => bad });
    renderScreen(Test, basicWizard());
    await flush();
    expect(has("connected-as")).toBe(false);
    expect(text("error-code")).toBe("invalid_client");
    expect(text("error-message")).toBe("failed: invalid_client");
    expect(text("error-remediation")).toBe("fix invalid_client");
    expect(text("error-detail")).toBe("detail of invalid_client");
    expect(el("check-1").getAttribute("data-state")).toBe("fail");
    expect(has("test-next")).toBe(false);
    expect(has("save-form")).toBe(false);
    await click("copy-details");
    expect(backend.clipboard).toEqual([bad.support_text]);
    expect(text("copy-details")).toBe("Copied");
  });

  it("Test again runs a new sign-in", async () => {
    on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => failed("basic_auth_rejected") });
    renderScreen(Test, basicWizard());
    await flush();
    on({ finish_sign_in: () => RESULT_OK });
    await click("test-again");
    expect(callsTo("finish_sign_in")).toHaveLength(2);
    expect(text("connected-as")).toContain("Connected as");
  });

  it("migrating, parity safe: the verdict, data-safe=true", async () => {
    on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => ({ ...RESULT_OK, parity: PARITY_SAFE }) });
    renderScreen(Test, basicWizard());
    await flush();
    expect(el("parity-verdict").getAttribute("data-safe")).toBe("true");
    expect(text("parity-verdict")).toContain(PARITY_SAFE.verdict);
    expect(has("parity-differences")).toBe(false);
  });

  it("migrating, parity mismatch: data-safe=false and the differences", async () => {
    on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => ({ ...RESULT_OK, parity: PARITY_MISMATCH }) });
    renderScreen(Test, basicWizard());
    await flush();
    expect(el("parity-verdict").getAttribute("data-safe")).toBe("false");
    const items = Array.from(el("parity-differences").querySelectorAll("li")).map((li) => li.textContent);
    expect(items).toEqual(PARITY_MISMATCH.differences);
    expect(text("parity-tables")).toContain("rows_hidden_by_acl");
  });

  it("not migrating: no parity panel even if Rust sent one", async () => {
    on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => ({ ...RESULT_OK, parity: PARITY_SAFE }) });
    renderScreen(Test, basicWizard("new"));
    await flush();
    expect(has("parity-verdict")).toBe(false);
  });

  it("a code grant shows the result from Consent without signing in again", async () => {
    const w = wizardAt("test");
    w.credentialsAccepted(credState({ method: "oauth-code", needs_consent: true }));
    w.result = RESULT_OK;
    renderScreen(Test, w);
    await flush();
    expect(callsTo("begin_sign_in")).toHaveLength(0);
    expect(text("connected-as")).toBe("Connected as Integration Service (svc.integration)");
    expect(el<HTMLInputElement>("save-name").value).toBe("acme.service-now.com"); // the save form, name prefilled
    await click("nav-back");
    expect(w.step).toBe("consent");
  });

  it("verify mode ends here: Clear calls reset_wizard and wipes the form", async () => {
    on({ begin_sign_in: () => DIRECT_START, finish_sign_in: () => RESULT_OK, reset_wizard: () => null });
    const w = basicWizard("verify");
    w.instance.instance = "acme";
    w.creds.username = "svc";
    renderScreen(Test, w);
    await flush();
    expect(has("test-next")).toBe(false);
    expect(has("save-form")).toBe(false);
    await click("verify-clear");
    expect(callsTo("reset_wizard")).toHaveLength(1);
    expect(w.mode).toBe("verify");
    expect(w.step).toBe("instance");
    expect(w.instance.instance).toBe("");
    expect(w.creds.username).toBe("");
    expect(w.credState).toBeNull();
    expect(w.result).toBeNull();
  });
});
