import { describe, expect, it } from "vitest";
import * as ipc from "../src/lib/ipc";
import { FakeChannel, backend, ipcError, on, send } from "./backend";
import { CHECKS, PF_PLUGIN } from "./fixtures";

describe("lib/ipc", () => {
  it("each wrapper calls its command with camelCase args", async () => {
    for (const cmd of [
      "app_info", "start_demo", "preview_instance", "set_instance", "manual_checklist", "registration_guide", "create_endpoint",
      "remove_endpoint", "check_redirects", "set_credentials", "paste_redirect", "cancel_sign_in", "save_connection",
      "copy_handoff_secret", "list_connections", "reset_wizard",
    ]) {
      on({ [cmd]: () => null });
    }
    await ipc.appInfo();
    await ipc.startDemo();
    await ipc.previewInstance("acme");
    await ipc.manualChecklist();
    await ipc.registrationGuide();
    await ipc.createEndpoint("n", true);
    await ipc.removeEndpoint();
    await ipc.checkRedirects("cid");
    await ipc.pasteRedirect("http://127.0.0.1/callback?code=1");
    await ipc.cancelSignIn();
    await ipc.saveConnection("p", false);
    await ipc.copyHandoffSecret();
    await ipc.listConnections();
    await ipc.resetWizard();
    expect(backend.calls.map((c) => [c.cmd, c.args])).toEqual([
      ["app_info", {}],
      ["start_demo", {}],
      ["preview_instance", { input: "acme" }],
      ["manual_checklist", {}],
      ["registration_guide", {}],
      ["create_endpoint", { name: "n", publicClient: true }],
      ["remove_endpoint", {}],
      ["check_redirects", { clientId: "cid" }],
      ["paste_redirect", { url: "http://127.0.0.1/callback?code=1" }],
      ["cancel_sign_in", {}],
      ["save_connection", { name: "p", sessionOnly: false }],
      ["copy_handoff_secret", {}],
      ["list_connections", {}],
      ["reset_wizard", {}],
    ]);
  });

  it("the saved-connection wrappers", async () => {
    for (const cmd of [
      "test_all_saved",
      "refresh_saved",
      "revoke_saved",
      "reset_saved",
      "delete_saved",
      "saved_report",
      "edit_saved",
      "export_report",
      "export_connections",
      "import_connections",
    ])
      on({ [cmd]: () => null });
    on({ test_saved: (a) => (send(a, "onCheck", CHECKS[0]), "tested") });
    const got: unknown[] = [];
    expect(await ipc.testSaved("prod", (c) => got.push(c))).toBe("tested");
    expect(got).toEqual([CHECKS[0]]);
    await ipc.testAllSaved();
    await ipc.refreshSaved("prod");
    await ipc.revokeSaved("prod");
    await ipc.resetSaved("prod");
    await ipc.deleteSaved("prod");
    await ipc.savedReport("prod", "json");
    await ipc.editSaved("prod");
    await ipc.exportReport("prod", "markdown");
    await ipc.exportConnections();
    await ipc.importConnections();
    expect(backend.calls.slice(1).map((c) => [c.cmd, c.args])).toEqual([
      ["test_all_saved", {}],
      ["refresh_saved", { name: "prod" }],
      ["revoke_saved", { name: "prod" }],
      ["reset_saved", { name: "prod" }],
      ["delete_saved", { name: "prod" }],
      ["saved_report", { name: "prod", format: "json" }],
      ["edit_saved", { name: "prod" }],
      ["export_report", { name: "prod", format: "markdown" }],
      ["export_connections", {}],
      ["import_connections", {}],
    ]);
    expect(backend.calls[0].args.name).toBe("prod");
  });

  it("long commands take a Channel whose messages reach the callback", async () => {
    const got: unknown[] = [];
    on({
      run_preflight: (a) => (send(a, "onCheck", PF_PLUGIN), "report"),
      begin_sign_in: (a) => (expect(a.onEvent).toBeInstanceOf(FakeChannel), "start"),
      finish_sign_in: (a) => (send(a, "onCheck", CHECKS[0]), "result"),
    });
    expect(await ipc.runPreflight("password", (c) => got.push(c))).toBe("report");
    expect(backend.calls[0].args.grant).toBe("password");
    expect(await ipc.beginSignIn()).toBe("start");
    expect(await ipc.finishSignIn((c) => got.push(c))).toBe("result");
    expect(got).toEqual([PF_PLUGIN, CHECKS[0]]);
  });

  it("rejections become IpcError; anything else becomes usage_error with the text as detail", async () => {
    on({ a: () => Promise.reject(ipcError("dns_failure", "acme.service-now.com")), b: () => Promise.reject("Command b not allowed by ACL") });
    await expect(ipc.appInfo.call(null)).rejects.toMatchObject({ code: "usage_error" }); // no mock for app_info
    await expect(invokeVia("a")).rejects.toEqual(ipcError("dns_failure", "acme.service-now.com"));
    await expect(invokeVia("b")).rejects.toMatchObject({ code: "usage_error", detail: "Command b not allowed by ACL" });
    expect(ipc.toIpcError(new Error("x"))).toMatchObject({ code: "usage_error", detail: "x" });
    expect(ipc.toIpcError({ code: "ok", message: "m" })).toEqual({ code: "ok", message: "m", remediation: null, detail: null });
  });
});

/** Route a wrapper to a test command: previewInstance's handler stands in. */
async function invokeVia(cmd: string): Promise<unknown> {
  on({ preview_instance: backend.handlers[cmd] });
  return ipc.previewInstance("x");
}
