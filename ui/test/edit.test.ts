// Edit, Reconnect, Export support report and the connections' export / import, from the
// dashboard through App with the fake Rust side.
import { fireEvent, render, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import App from "../src/App.svelte";
import type { ConnectionSummary, EditStart } from "../src/gen/ipc";
import { Wizard } from "../src/lib/wizard.svelte";
import { backend, callsTo, ipcError, lastArgs, on } from "./backend";
import { APP_INFO, CONSENT_START, INSTANCE_SET, NOW_S, RESULT_OK, credState, summary } from "./fixtures";
import { click, el, flush, has, text, until } from "./helpers";

const PROD_SET = { ...INSTANCE_SET, has_admin: false, admin_username: null };

function editStart(over: Partial<EditStart["credentials"]> = {}): EditStart {
  return {
    name: "prod",
    instance: PROD_SET,
    credentials: credState({ method: "oauth-code", client_id: "c0ffee", has_client_secret: true, needs_consent: true, scope: "useraccount", ...over }),
  };
}

/** App on the dashboard with `list` saved. */
async function app(list: ConnectionSummary[] = [summary("prod")]): Promise<Wizard> {
  vi.useFakeTimers({ now: NOW_S * 1000, toFake: ["Date"] });
  on({ app_info: () => ({ ...APP_INFO, saved_connections: list.length }), list_connections: () => list });
  const w = new Wizard();
  if (list.length === 0) w.screen = "saved";
  render(App, { props: { wizard: w } });
  await until(() => expect(has("saved-list") || has("saved-empty")).toBe(true));
  return w;
}

describe("Edit and Reconnect", () => {
  it("Edit opens the wizard on the instance step with the connection loaded; its secrets are only 'held'", async () => {
    const w = await app();
    on({ edit_saved: () => editStart() });
    await click("edit-prod");
    expect(lastArgs("edit_saved")).toEqual({ name: "prod" });
    expect(w.screen).toBe("wizard");
    expect(w.mode).toBe("edit");
    expect(w.step).toBe("instance");
    expect(w.editing).toBe("prod");
    expect(w.steps).toEqual(["instance", "credentials", "consent", "test", "save"]);
    expect((el<HTMLInputElement>("instance-input")).value).toBe(PROD_SET.instance);
    expect(has("preset-select")).toBe(false);
    expect(has("admin-username")).toBe(false);
    expect(w.creds.client_id).toBe("c0ffee");
    expect(w.creds.scope).toBe("useraccount");
    expect(w.credState?.has_client_secret).toBe(true);
    expect(w.saveName).toBe("prod");
    expect(text("current-instance")).toBe(PROD_SET.instance);
  });

  it("Edit: Next sends the name being edited, then Credentials, and Back from Credentials is the instance step", async () => {
    const w = await app();
    on({ edit_saved: () => editStart(), preview_instance: (a) => ({ instance: String(a.input), host: "acme" }), set_instance: () => PROD_SET });
    await click("edit-prod");
    await click("instance-next");
    expect(lastArgs("set_instance").req).toMatchObject({ instance: PROD_SET.instance, editing: "prod", admin_username: null });
    expect(w.step).toBe("credentials");
    expect(w.saveName).toBe("prod");
    expect(w.previous()).toBe("instance");
  });

  it("Reconnect of a code-grant connection goes straight to the consent and starts it", async () => {
    const w = await app();
    on({ edit_saved: () => editStart(), begin_sign_in: () => CONSENT_START, finish_sign_in: () => new Promise(() => {}) });
    await click("reconnect-prod");
    expect(w.mode).toBe("edit");
    expect(w.step).toBe("consent");
    await until(() => expect(callsTo("begin_sign_in")).toHaveLength(1));
  });

  it("Reconnect of a password-grant connection runs the test; the save form shows the fixed name and saves over it", async () => {
    const w = await app([summary("prod", { method: "oauth-password" })]);
    on({
      edit_saved: () => editStart({ method: "oauth-password", username: "svc", has_password: true, needs_consent: false }),
      begin_sign_in: () => ({ ...CONSENT_START, needs_consent: false, authorize_url: null, redirect_url: null }),
      finish_sign_in: () => RESULT_OK,
      save_connection: (a) => ({ name: String(a.name), stored: "keychain", profile_path: "/cfg/profiles.json", handoff: null }),
    });
    await click("reconnect-prod");
    expect(w.step).toBe("test");
    await until(() => expect(has("connected-as")).toBe(true));
    expect(text("save-name-fixed")).toBe("prod");
    expect(has("save-name")).toBe(false);
    await click("save-connection");
    expect(lastArgs("save_connection")).toEqual({ name: "prod", sessionOnly: false });
    expect(w.step).toBe("save");
    expect(text("save-status")).toBe("Saved prod in the keychain");
    await click("wizard-done");
    expect(w.screen).toBe("saved");
  });

  it("Reconnect is offered for OAuth connections only; Edit for all", async () => {
    await app([summary("prod"), summary("dev", { method: "basic", client_id: null, token_status: null })]);
    expect(has("reconnect-prod")).toBe(true);
    expect(has("reconnect-dev")).toBe(false);
    expect(has("edit-dev")).toBe(true);
  });

  it("Edit rejected (keychain locked): the error stays in the card and the dashboard stays", async () => {
    const w = await app();
    on({ edit_saved: () => Promise.reject(ipcError("keychain_locked")) });
    await click("edit-prod");
    expect(w.screen).toBe("saved");
    expect(within(el("action-error-prod")).getByTestId("error-code").textContent).toBe("keychain_locked");
  });

  it("a new wizard after an edit is not an edit any more", async () => {
    const w = await app();
    on({ edit_saved: () => editStart() });
    await click("edit-prod");
    w.begin("new");
    expect(w.editing).toBeNull();
    expect(w.saveName).toBe("");
  });
});

describe("Export support report", () => {
  it("Markdown by default, JSON when chosen; the saved path is shown", async () => {
    await app();
    on({ export_report: (a) => ({ path: `/home/u/report.${a.format === "json" ? "json" : "md"}`, count: 1 }) });
    await click("export-report-prod");
    expect(lastArgs("export_report")).toEqual({ name: "prod", format: "markdown" });
    expect(text("status-prod")).toBe("Support report saved to /home/u/report.md.");
    const select = el<HTMLSelectElement>("report-format-prod");
    await fireEvent.change(select, { target: { value: "json" } });
    await flush();
    await click("export-report-prod");
    expect(lastArgs("export_report")).toEqual({ name: "prod", format: "json" });
    expect(text("status-prod")).toBe("Support report saved to /home/u/report.json.");
  });

  it("cancelled dialog: says so; a write error: the diagnosis in the card", async () => {
    await app();
    on({ export_report: () => null });
    await click("export-report-prod");
    expect(text("status-prod")).toBe("Export cancelled.");
    on({ export_report: () => Promise.reject(ipcError("usage_error", "file: could not write /ro/r.md: permission denied; choose a folder you may write to")) });
    await click("export-report-prod");
    expect(within(el("action-error-prod")).getByTestId("error-code").textContent).toBe("usage_error");
    expect(el("action-error-prod").textContent).toContain("choose a folder");
  });
});

describe("Export and import of connections", () => {
  it("export: how many and where, no secrets", async () => {
    await app([summary("prod"), summary("dev")]);
    on({ export_connections: () => ({ path: "/home/u/snconnect-connections.json", count: 2 }) });
    await click("export-connections");
    expect(text("files-status")).toBe("Exported 2 connections to /home/u/snconnect-connections.json (no secrets).");
  });

  it("import: the list is read again and the imported names are named with what to do next", async () => {
    let list = [summary("prod")];
    await app(list);
    on({ list_connections: () => list, import_connections: () => ((list = [summary("prod"), summary("qa", { badge: "not_tested" })]), { path: "/tmp/in.json", names: ["qa"] }) });
    await click("import-connections");
    await until(() => expect(has("saved-qa")).toBe(true));
    expect(text("files-status")).toBe("Imported qa from /tmp/in.json. Add each one's secrets with Edit.");
  });

  it("import from the empty dashboard; a bad file names the problem and nothing is lost", async () => {
    await app([]);
    expect(text("saved-empty")).toBe("No saved connections yet.");
    on({ import_connections: () => Promise.reject(ipcError("usage_error", "/tmp/bad.json: not a snconnect profile export: expected value at line 1")) });
    await click("import-connections");
    expect(text("error-code")).toBe("usage_error");
    expect(el("files-error").textContent).toContain("not a snconnect profile export");
    on({ import_connections: () => null });
    await click("import-connections");
    expect(text("files-status")).toBe("Import cancelled.");
    expect(backend.calls.some((c) => c.cmd === "delete_saved")).toBe(false);
  });
});
