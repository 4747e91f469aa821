import { describe, expect, it, vi } from "vitest";
import type { SavedSummary } from "../src/gen/ipc";
import Saved from "../src/screens/Saved.svelte";
import { Wizard } from "../src/lib/wizard.svelte";
import { ipcError, on } from "./backend";
import { APP_INFO } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text } from "./helpers";

describe("Saved connections", () => {
  it("empty: 'No saved connections yet' and a button to New connection", async () => {
    on({ list_connections: () => [] });
    const w = new Wizard(APP_INFO);
    w.screen = "saved";
    renderScreen(Saved, w);
    await flush();
    expect(text("saved-empty")).toBe("No saved connections yet.");
    expect(has("saved-list")).toBe(false);
    await click("saved-new");
    expect(w.screen).toBe("wizard");
    expect(w.mode).toBe("new");
  });

  it("lists name, instance, method, user and status", async () => {
    on({
      list_connections: () => [
        { name: "acme-prod", instance: "https://acme.service-now.com/", method: "oauth-code", user: "svc.integration", status: "expires_soon" },
        { name: "dev", instance: "https://dev1.service-now.com/", method: "basic", user: null, status: null },
      ],
    });
    const w = new Wizard(APP_INFO);
    renderScreen(Saved, w);
    await flush();
    expect(el("saved-list").querySelectorAll("tbody tr")).toHaveLength(2);
    const cells = (id: string) => Array.from(el(id).querySelectorAll("th, td")).map((c) => c.textContent);
    expect(cells("saved-acme-prod")).toEqual(["acme-prod", "https://acme.service-now.com/", "oauth-code", "svc.integration", "expires soon"]);
    expect(cells("saved-dev")).toEqual(["dev", "https://dev1.service-now.com/", "basic", "—", "—"]);
    await click("nav-back");
    expect(w.screen).toBe("start");
  });

  it("config_unreadable is shown", async () => {
    on({ list_connections: () => Promise.reject(ipcError("config_unreadable")) });
    renderScreen(Saved, new Wizard(APP_INFO));
    await flush();
    expect(text("error-code")).toBe("config_unreadable");
  });

  it("Progress after 300 ms while reading", async () => {
    vi.useFakeTimers();
    const answer = deferred<SavedSummary[]>();
    on({ list_connections: () => answer.promise });
    renderScreen(Saved, new Wizard(APP_INFO));
    await flush();
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Reading the saved connections…");
    answer.resolve([]);
    await flush();
    expect(has("progress")).toBe(false);
    expect(has("saved-empty")).toBe(true);
  });
});
