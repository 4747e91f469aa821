// The whole migration through App with the fake Rust side, counting what the person does.
//
// Action-count design (demo mode, "Create it for me"), ≤ 6 actions from Start to the hand-off card:
//   1. Migrate a connection        (or "Try the demo instance": it starts the demo and opens Migrate)
//   2. Next on Instance            (everything is prefilled from the demo; the admin password is held in Rust)
//   3. Next on Plugin check        (the checks ran by themselves on arrival, because an admin account is held)
//   4. Create it for me            (endpoint name and public/confidential are prefilled)
//   5. Open browser and sign in    (register-next after a create: the credentials are fully determined — the
//                                   created client, the code grant — so it skips Credentials, goes to Consent
//                                   and starts the sign-in there; the person approves in the browser)
//   6. Save                        (finish_sign_in resolves → the wizard moves to Test, which shows the result
//                                   and, right under a successful result, the save form with the name
//                                   prefilled; Save moves on to the Save step with the hand-off card)
// The Test step stays visible (its result, its checks and the parity verdict are on screen when the person
// presses Save); its own Next (test-next) also leads to the Save step for those who prefer the separate step.
import { render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import App from "../src/App.svelte";
import type { PreflightReport, SignInResult } from "../src/gen/ipc";
import { backend, on, send } from "./backend";
import { CONSENT_START, CREATED, CREATED_CREDS, DEMO_APP_INFO, GUIDE, INSTANCE_SET, PARITY_SAFE, PF_PLUGIN, PF_PROPERTY, RESULT_OK, report, saved } from "./fixtures";
import { click, el, has, text, until } from "./helpers";

const DEMO_SET = { ...INSTANCE_SET, instance: "http://127.0.0.1:41234/", host: "127.0.0.1:41234" };

function demoBackend(appInfo = DEMO_APP_INFO): void {
  on({
    app_info: () => appInfo,
    start_demo: () => DEMO_APP_INFO,
    preview_instance: (a) => ({ instance: String(a.input), host: "127.0.0.1:41234" }),
    set_instance: () => DEMO_SET,
    run_preflight: async (a): Promise<PreflightReport> => {
      send(a, "onCheck", PF_PLUGIN);
      await Promise.resolve();
      send(a, "onCheck", { ...PF_PROPERTY, state: "pass", code: "ok", fix: null });
      return report([PF_PLUGIN, { ...PF_PROPERTY, state: "pass", code: "ok", fix: null }]);
    },
    registration_guide: () => GUIDE,
    create_endpoint: () => ({ created: CREATED, credentials: CREATED_CREDS }),
    begin_sign_in: () => CONSENT_START,
    // The person approves in the browser: the callback arrives and the test runs.
    finish_sign_in: async (a): Promise<SignInResult> => {
      await new Promise((r) => setTimeout(r, 5));
      for (const c of RESULT_OK.checks) send(a, "onCheck", c);
      return { ...RESULT_OK, parity: PARITY_SAFE };
    },
    save_connection: (a) => saved(String(a.name), Boolean(a.sessionOnly)),
  });
}

let actions = 0;
async function act(testid: string): Promise<void> {
  actions++;
  await click(testid);
}

function currentStep(): string | null {
  return el("step-indicator").querySelector('[aria-current="step"]')?.getAttribute("data-step") ?? null;
}

async function focusedOn(heading: string): Promise<void> {
  await until(() => expect(document.activeElement).toBe(el(heading)));
}

async function migrateFromInstance(): Promise<void> {
  expect(el<HTMLInputElement>("instance-input").value).toBe("http://127.0.0.1:41234/");
  await focusedOn("instance-heading");
  await act("instance-next");
  await until(() => expect(currentStep()).toBe("plugins"));
  await focusedOn("plugins-heading");
  await until(() => expect(text("preflight-summary")).toContain("2 passed"));
  await act("plugins-next");
  await until(() => expect(has("register-create")).toBe(true));
  await focusedOn("register-heading");
  await act("register-create");
  await until(() => expect(text("created-client-id")).toBe(CREATED.client_id));
  await act("register-next");
  await until(() => expect(has("connected-as")).toBe(true));
  expect(currentStep()).toBe("test");
  expect(text("connected-as")).toBe("Connected as Integration Service (svc.integration)");
  expect(el("parity-verdict").getAttribute("data-safe")).toBe("true");
  expect(el<HTMLInputElement>("save-name").value).toBe("127.0.0.1-41234");
  await act("save-connection");
  await until(() => expect(has("handoff-card")).toBe(true));
  expect(currentStep()).toBe("save");
  expect(text("save-status")).toBe("Saved 127.0.0.1-41234 in the keychain");
}

describe("whole flow", () => {
  it("demo mode, migrate with Create it for me: Start → hand-off card in ≤ 6 actions", async () => {
    actions = 0;
    demoBackend();
    render(App);
    await until(() => expect(has("demo-banner")).toBe(true));
    await act("start-migrate");
    await migrateFromInstance();
    expect(actions).toBeLessThanOrEqual(6);
    expect(actions).toBe(6);
    expect(backend.calls.map((c) => c.cmd).filter((c) => c !== "preview_instance")).toEqual([
      "app_info", "ui_ready", "set_instance", "run_preflight", "registration_guide", "create_endpoint",
      "begin_sign_in", "finish_sign_in", "save_connection",
    ]);
    // Nothing was typed: the admin password Rust holds for the demo is kept (null), no basic account ("").
    expect(backend.calls.find((c) => c.cmd === "set_instance")?.args.req).toMatchObject({
      admin_username: "admin", admin_password: null, migrating: true, basic_username: null, basic_password: "",
    });
    await act("wizard-done");
    expect(screen.getByTestId("start-heading")).toBeTruthy();
  });

  it("the same from 'Try the demo instance' (start_demo) is also 6 actions", async () => {
    actions = 0;
    demoBackend({ ...DEMO_APP_INFO, demo: null });
    render(App);
    await until(() => expect(has("start-demo")).toBe(true));
    await act("start-demo");
    await until(() => expect(has("instance-input")).toBe(true));
    expect(text("demo-banner")).toBe(DEMO_APP_INFO.demo?.note);
    await migrateFromInstance();
    expect(actions).toBe(6);
  });

  it("Back from Consent reaches Credentials with the created client prefilled; Back keeps everything", async () => {
    demoBackend();
    let finish: (r: SignInResult) => void = () => {};
    on({
      finish_sign_in: () => new Promise<SignInResult>((r) => (finish = r)),
      cancel_sign_in: () => (finish({ ...RESULT_OK, ok: false, diagnosis: { code: "cancelled", message: "Cancelled.", remediation: null, detail: null } }), null),
    });
    render(App);
    await until(() => expect(el<HTMLButtonElement>("start-migrate").disabled).toBe(false));
    await click("start-migrate");
    await click("instance-next");
    await until(() => expect(has("plugins-next")).toBe(true));
    await click("plugins-next");
    await until(() => expect(has("register-create")).toBe(true));
    await click("register-create");
    await until(() => expect(has("created-card")).toBe(true));
    await click("register-next");
    await until(() => expect(has("consent-cancel")).toBe(true));
    expect(el<HTMLButtonElement>("nav-back").disabled).toBe(true);
    await click("consent-cancel");
    await until(() => expect(has("consent-cancelled")).toBe(true));
    await click("nav-back");
    expect(currentStep()).toBe("credentials");
    await focusedOn("credentials-heading");
    expect(el<HTMLInputElement>("method-oauth-code").checked).toBe(true);
    expect(el<HTMLInputElement>("client-id").value).toBe(CREATED.client_id);
    expect(text("client-secret-note")).toContain("stays in snconnect");
    await click("nav-back");
    expect(text("created-client-id")).toBe(CREATED.client_id);
    await click("nav-back");
    await click("nav-back");
    expect(el<HTMLInputElement>("instance-input").value).toBe("http://127.0.0.1:41234/");
    expect(el<HTMLInputElement>("admin-username").value).toBe("admin");
    expect(text("admin-password-held")).toBe("held in memory — type to replace");
  });
});
