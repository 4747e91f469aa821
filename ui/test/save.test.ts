import { describe, expect, it, vi } from "vitest";
import type { Saved } from "../src/gen/ipc";
import Save from "../src/screens/Save.svelte";
import { backend, callsTo, ipcError, lastArgs, on } from "./backend";
import { HANDOFF, RESULT_OK, saved } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text, type, wizardAt } from "./helpers";

function saveWizard() {
  const w = wizardAt("save");
  w.result = RESULT_OK;
  return w;
}

describe("Save", () => {
  it("the name is prefilled from the host and validated", async () => {
    renderScreen(Save, saveWizard());
    expect(el<HTMLInputElement>("save-name").value).toBe("acme.service-now.com");
    await type("save-name", "acme prod");
    expect(text("field-error-save-name")).toContain("letters, digits");
    await type("save-name", "a".repeat(65));
    expect(text("field-error-save-name")).toContain("up to 64");
    await type("save-name", "");
    expect(text("field-error-save-name")).toBe("Required: enter a profile name.");
    await click("save-connection");
    expect(callsTo("save_connection")).toHaveLength(0);
  });

  it("saved in the keychain, then the hand-off card", async () => {
    on({ save_connection: (a) => saved(String(a.name), Boolean(a.sessionOnly)) });
    const w = saveWizard();
    renderScreen(Save, w);
    await type("save-name", "acme-prod");
    await click("save-connection");
    expect(lastArgs("save_connection")).toEqual({ name: "acme-prod", sessionOnly: false });
    expect(text("save-status")).toBe("Saved acme-prod in the keychain");
    expect(text("handoff-card")).toContain("Enter this in Qlik Automate");
    expect(text("field-value-0")).toBe("https://acme.service-now.com/");
    const steps = Array.from(el("handoff-steps").querySelectorAll("li")).map((li) => li.textContent);
    expect(steps).toEqual(HANDOFF.steps);
    await click("wizard-done");
    expect(w.screen).toBe("start");
  });

  it("keychain_locked → Keep for this run only → saved for this run", async () => {
    on({
      save_connection: (a) =>
        a.sessionOnly ? saved(String(a.name), true) : Promise.reject(ipcError("keychain_locked", null, "The keychain is locked.", "Unlock it, or keep the connection for this run only.")),
    });
    renderScreen(Save, saveWizard());
    expect(has("save-session-only")).toBe(false);
    await click("save-connection");
    expect(text("error-code")).toBe("keychain_locked");
    expect(has("save-status")).toBe(false);
    await click("save-session-only");
    expect(lastArgs("save_connection")).toEqual({ name: "acme.service-now.com", sessionOnly: true });
    expect(text("save-status")).toBe("Saved acme.service-now.com for this run only");
  });

  it("keychain_unavailable offers the same choice", async () => {
    on({ save_connection: () => Promise.reject(ipcError("keychain_unavailable")) });
    renderScreen(Save, saveWizard());
    await click("save-connection");
    expect(text("error-code")).toBe("keychain_unavailable");
    expect(has("save-session-only")).toBe(true);
  });

  it("other errors do not offer 'for this run only'", async () => {
    on({ save_connection: () => Promise.reject(ipcError("config_unwritable")) });
    renderScreen(Save, saveWizard());
    await click("save-connection");
    expect(text("error-code")).toBe("config_unwritable");
    expect(has("save-session-only")).toBe(false);
  });

  it("hand-off: Copy a field; Copy secret goes through Rust and says when the clipboard is cleared", async () => {
    on({ save_connection: (a) => saved(String(a.name), false), copy_handoff_secret: () => ({ clear_after_s: 30 }) });
    renderScreen(Save, saveWizard());
    await click("save-connection");
    await click("copy-field-1");
    expect(backend.clipboard).toEqual([HANDOFF.fields[1].value]);
    expect(text("copy-field-1")).toBe("Copied");
    expect(has("copy-field-2")).toBe(false); // the secret has no value in the window
    expect(has("clipboard-note")).toBe(false);
    await click("copy-secret");
    expect(callsTo("copy_handoff_secret")).toHaveLength(1);
    expect(backend.clipboard).toHaveLength(1); // the window's clipboard call was not used for the secret
    expect(text("clipboard-note")).toBe("Copied. snconnect clears it from the clipboard in 30 s.");
  });

  it("no hand-off card when Rust has none", async () => {
    on({ save_connection: (a) => saved(String(a.name), false, null) });
    renderScreen(Save, saveWizard());
    await click("save-connection");
    expect(text("save-status")).toContain("in the keychain");
    expect(has("handoff-card")).toBe(false);
    await flush();
  });

  it("Progress after 300 ms while saving", async () => {
    vi.useFakeTimers();
    const answer = deferred<Saved>();
    on({ save_connection: () => answer.promise });
    renderScreen(Save, saveWizard());
    await click("save-connection");
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Saving…");
    answer.resolve(saved("acme.service-now.com", false));
    await flush();
    expect(has("progress")).toBe(false);
    expect(has("save-status")).toBe(true);
  });
});
