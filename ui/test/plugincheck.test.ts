import { describe, expect, it, vi } from "vitest";
import type { PreflightReport } from "../src/gen/ipc";
import PluginCheck from "../src/screens/PluginCheck.svelte";
import { backend, callsTo, ipcError, lastArgs, on, send } from "./backend";
import { PF_PLUGIN, PF_PLUGIN_INACTIVE, PF_PROPERTY, PF_ROLE, report } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text, wizardAt } from "./helpers";

function state(id: string): string | null {
  return el(`preflight-check-${id}`).getAttribute("data-state");
}

describe("PluginCheck", () => {
  it("checks arrive one by one through the channel: pass, fail, unknown", async () => {
    const done = deferred<PreflightReport>();
    on({ run_preflight: () => done.promise });
    const w = wizardAt("plugins");
    renderScreen(PluginCheck, w);
    await flush();
    const args = lastArgs("run_preflight");
    expect(args.grant).toBe("code");
    expect(has("preflight-checks")).toBe(false);

    send(args, "onCheck", PF_PLUGIN);
    await flush();
    expect(state("oauth_plugin")).toBe("pass");
    expect(has("preflight-check-oauth_property")).toBe(false);

    send(args, "onCheck", PF_PROPERTY);
    await flush();
    expect(state("oauth_property")).toBe("fail");
    expect(el("preflight-check-oauth_property").textContent).toContain(PF_PROPERTY.finding);
    expect(el("preflight-check-oauth_property").textContent).toContain(PF_PROPERTY.fix);

    send(args, "onCheck", PF_ROLE);
    await flush();
    expect(state("admin_role")).toBe("unknown");
    expect(el("preflight-check-admin_role").textContent).toContain("this account may not look — not a no");
    expect(text("preflight-summary")).toContain("1 passed, 1 failed, 1 unknown");

    done.resolve(report([PF_PLUGIN, PF_PROPERTY, PF_ROLE]));
    await flush();
    expect(text("preflight-user")).toContain("Checked as System Administrator (admin), release Zurich");
    expect(has("error-box")).toBe(false);
    await click("plugins-next");
    expect(w.step).toBe("register");
  });

  it("plugin_inactive: the fix and a link that opens in the system browser", async () => {
    on({
      run_preflight: (a) => {
        send(a, "onCheck", PF_PLUGIN_INACTIVE);
        return report([PF_PLUGIN_INACTIVE], ipcError("plugin_inactive", null, "The OAuth 2.0 plugin is not active."));
      },
    });
    renderScreen(PluginCheck, wizardAt("plugins"));
    await flush();
    expect(state("oauth_plugin")).toBe("fail");
    expect(el("preflight-check-oauth_plugin").getAttribute("data-code")).toBe("plugin_inactive");
    expect(text("check-fix")).toBe(PF_PLUGIN_INACTIVE.fix);
    expect(text("error-code")).toBe("plugin_inactive");
    const link = el("open-link");
    expect(link.tagName).toBe("BUTTON");
    await click("open-link");
    expect(backend.opened).toEqual([PF_PLUGIN_INACTIVE.links[0].url]);
  });

  it("instance_hibernating: the diagnosis and Check again re-runs", async () => {
    let n = 0;
    on({
      run_preflight: () =>
        n++ === 0
          ? Promise.reject(ipcError("instance_hibernating", null, "The instance is hibernating.", "Wake it at developer.servicenow.com, then Check again."))
          : report([PF_PLUGIN]),
    });
    renderScreen(PluginCheck, wizardAt("plugins"));
    await flush();
    expect(text("error-code")).toBe("instance_hibernating");
    expect(text("error-remediation")).toContain("Wake it");
    await click("preflight-again");
    expect(callsTo("run_preflight")).toHaveLength(2);
    expect(has("error-box")).toBe(false);
    expect(state("oauth_plugin")).toBe("pass");
  });

  it("Check again is disabled while checking, clears the old checks and ignores the old channel", async () => {
    const first = deferred<PreflightReport>();
    const second = deferred<PreflightReport>();
    const runs = [first, second];
    on({ run_preflight: () => runs.shift()?.promise });
    renderScreen(PluginCheck, wizardAt("plugins"));
    await flush();
    const oldArgs = lastArgs("run_preflight");
    send(oldArgs, "onCheck", PF_PROPERTY);
    await flush();
    expect(el<HTMLButtonElement>("preflight-again").disabled).toBe(true);
    first.resolve(report([PF_PROPERTY]));
    await flush();
    await click("preflight-again");
    expect(has("preflight-check-oauth_property")).toBe(false);
    send(oldArgs, "onCheck", PF_ROLE); // a late message from the old run: ignored
    await flush();
    expect(has("preflight-check-admin_role")).toBe(false);
    second.resolve(report([PF_PLUGIN]));
    await flush();
    expect(state("oauth_plugin")).toBe("pass");
  });

  it("shows Progress after 300 ms while checking", async () => {
    vi.useFakeTimers();
    const done = deferred<PreflightReport>();
    on({ run_preflight: () => done.promise });
    renderScreen(PluginCheck, wizardAt("plugins"));
    await flush();
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Checking the instance…");
    done.resolve(report([PF_PLUGIN]));
    await flush();
    expect(has("progress")).toBe(false);
  });

  it("without admin credentials: the manual checklist with the same links", async () => {
    on({
      manual_checklist: () => [
        { title: "OAuth 2.0 plugin active", how: "All > System Applications > All Available Applications.", links: PF_PLUGIN_INACTIVE.links },
        { title: "oauth property true", how: "sys_properties.list", links: [] },
      ],
    });
    const w = wizardAt("plugins", { admin: false });
    renderScreen(PluginCheck, w);
    await flush();
    expect(callsTo("run_preflight")).toHaveLength(0);
    expect(el("manual-checklist").querySelectorAll("li[data-testid^=manual-item]")).toHaveLength(2);
    expect(text("manual-item-0")).toContain("OAuth 2.0 plugin active");
    expect(has("preflight-again")).toBe(false);
    await click("open-link");
    expect(backend.opened).toEqual([PF_PLUGIN_INACTIVE.links[0].url]);
    await click("nav-back");
    expect(w.step).toBe("instance");
  });

  it("keeps the report across Back and does not re-run", async () => {
    on({ run_preflight: () => report([PF_PLUGIN]) });
    const w = wizardAt("plugins");
    const r = renderScreen(PluginCheck, w);
    await flush();
    r.unmount();
    renderScreen(PluginCheck, w);
    await flush();
    expect(callsTo("run_preflight")).toHaveLength(1);
    expect(state("oauth_plugin")).toBe("pass");
  });
});
