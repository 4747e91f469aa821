import { render } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { AppInfo } from "../src/gen/ipc";
import App from "../src/App.svelte";
import Start from "../src/screens/Start.svelte";
import { Wizard } from "../src/lib/wizard.svelte";
import { callsTo, ipcError, on } from "./backend";
import { APP_INFO, DEMO_APP_INFO } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text, until } from "./helpers";

describe("Start", () => {
  it("offers the five choices with the saved count from app_info", async () => {
    on({ app_info: () => APP_INFO });
    const w = new Wizard();
    renderScreen(Start, w);
    await flush();
    for (const id of ["start-migrate", "start-new", "start-verify", "start-saved", "start-demo"]) expect(has(id)).toBe(true);
    expect(text("saved-count")).toBe("(2)");
    expect(document.activeElement).toBe(el("start-heading"));
  });

  it("each mode opens the instance step", async () => {
    on({ app_info: () => APP_INFO });
    for (const [id, mode] of [["start-migrate", "migrate"], ["start-new", "new"], ["start-verify", "verify"]] as const) {
      const w = new Wizard();
      const r = renderScreen(Start, w);
      await flush();
      await click(id);
      expect(w.screen).toBe("wizard");
      expect(w.mode).toBe(mode);
      expect(w.step).toBe("instance");
      r.unmount();
    }
  });

  it("shows the demo banner and prefills the instance when the app runs in demo mode", async () => {
    on({ app_info: () => DEMO_APP_INFO, preview_instance: (a) => ({ instance: a.input, host: "127.0.0.1:41234" }) });
    render(App);
    await until(() => expect(text("demo-banner")).toBe(DEMO_APP_INFO.demo?.note));
    expect(has("start-demo")).toBe(false); // already running
    await click("start-migrate");
    expect(el<HTMLInputElement>("instance-input").value).toBe("http://127.0.0.1:41234/");
    expect(el<HTMLInputElement>("admin-username").value).toBe("admin");
    expect(el<HTMLInputElement>("admin-password").value).toBe("");
    expect(text("admin-password-held")).toBe("held in memory — type to replace");
  });

  it("Try the demo instance calls start_demo, shows the note and goes on into Migrate mode prefilled", async () => {
    // Nothing saved yet: the app opens on Start (with saved connections it opens on the dashboard).
    on({ app_info: () => ({ ...APP_INFO, saved_connections: 0 }), start_demo: () => DEMO_APP_INFO, preview_instance: (a) => ({ instance: a.input, host: "h" }) });
    render(App);
    await flush();
    expect(has("demo-banner")).toBe(false);
    await click("start-demo");
    expect(callsTo("start_demo")).toHaveLength(1);
    await until(() => expect(has("instance-input")).toBe(true));
    expect(text("demo-banner")).toBe(DEMO_APP_INFO.demo?.note);
    expect(el<HTMLInputElement>("instance-input").value).toBe(DEMO_APP_INFO.demo?.instance);
    expect(el<HTMLInputElement>("admin-username").value).toBe("admin");
    expect(has("basic-username")).toBe(true); // migrate mode
  });

  it("a build without the demo rejects start_demo: the error is shown", async () => {
    on({ app_info: () => APP_INFO, start_demo: () => Promise.reject(ipcError("usage_error", "this build has no demo")) });
    const w = new Wizard();
    renderScreen(Start, w);
    await flush();
    await click("start-demo");
    expect(text("error-code")).toBe("usage_error");
    expect(w.screen).toBe("start");
  });

  it("Saved connections opens the list", async () => {
    on({ app_info: () => APP_INFO });
    const w = new Wizard();
    renderScreen(Start, w);
    await flush();
    await click("start-saved");
    expect(w.screen).toBe("saved");
  });

  it("app_info failing shows the error and Try again", async () => {
    let n = 0;
    on({ app_info: () => (n++ === 0 ? Promise.reject("boom") : APP_INFO) });
    const w = new Wizard();
    renderScreen(Start, w);
    await flush();
    expect(text("error-code")).toBe("usage_error");
    expect(text("error-detail")).toBe("boom");
    await click("start-retry");
    expect(has("error-box")).toBe(false);
    expect(text("saved-count")).toBe("(2)");
  });

  it("the choices wait for app_info; Progress after 300 ms while starting the demo", async () => {
    vi.useFakeTimers();
    const info = deferred<AppInfo>();
    const demo = deferred<AppInfo>();
    on({ app_info: () => info.promise, start_demo: () => demo.promise });
    const w = new Wizard();
    renderScreen(Start, w);
    await flush();
    expect(el<HTMLButtonElement>("start-migrate").disabled).toBe(true);
    info.resolve(APP_INFO);
    await flush();
    expect(el<HTMLButtonElement>("start-migrate").disabled).toBe(false);
    await click("start-demo");
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Starting the demo instance…");
    demo.resolve(DEMO_APP_INFO);
    await flush();
    expect(w.screen).toBe("wizard");
    expect(w.instance.instance).toBe(DEMO_APP_INFO.demo?.instance);
  });
});
