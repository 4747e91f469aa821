import { fireEvent } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { InstanceRequest } from "../src/gen/ipc";
import Instance from "../src/screens/Instance.svelte";
import { callsTo, ipcError, lastArgs, on } from "./backend";
import { INSTANCE_SET } from "./fixtures";
import { choose, click, deferred, el, flush, has, renderScreen, text, type, wizardAt } from "./helpers";

const preview = (a: Record<string, unknown>) => {
  const input = String(a.input);
  if (input.startsWith("http://acme")) return Promise.reject(ipcError("insecure_url_refused", "http:// is only accepted for loopback addresses"));
  if (input.includes(" ")) return Promise.reject(ipcError("invalid_instance_url", "a host name has no spaces"));
  return { instance: `https://${input}.service-now.com/`, host: `${input}.service-now.com` };
};

function req(): InstanceRequest {
  return lastArgs("set_instance").req as InstanceRequest;
}

describe("Instance", () => {
  it("empty: Next names the missing instance and calls nothing", async () => {
    const w = wizardAt("instance");
    renderScreen(Instance, w);
    await click("instance-next");
    expect(text("field-error-instance")).toBe("Enter the instance name (acme) or its URL.");
    expect(callsTo("set_instance")).toHaveLength(0);
  });

  it("previews the normalised URL, debounced", async () => {
    vi.useFakeTimers();
    on({ preview_instance: preview });
    renderScreen(Instance, wizardAt("instance"));
    await type("instance-input", "ac");
    await type("instance-input", "acme");
    await vi.advanceTimersByTimeAsync(100);
    expect(callsTo("preview_instance")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(60);
    await flush();
    expect(callsTo("preview_instance").map((c) => c.args.input)).toEqual(["acme"]);
    expect(text("instance-preview")).toBe("Will connect to https://acme.service-now.com/");
  });

  it("shows invalid_instance_url and insecure_url_refused from the preview inline with the detail", async () => {
    vi.useFakeTimers();
    on({ preview_instance: preview });
    renderScreen(Instance, wizardAt("instance"));
    await type("instance-input", "ac me");
    await vi.advanceTimersByTimeAsync(200);
    await flush();
    expect(text("instance-preview")).toContain("invalid_instance_url");
    expect(text("instance-preview")).toContain("a host name has no spaces");
    await type("instance-input", "http://acme");
    await vi.advanceTimersByTimeAsync(200);
    await flush();
    expect(text("instance-preview")).toContain("insecure_url_refused");
    expect(text("instance-preview")).toContain("only accepted for loopback");
  });

  it("insecure_url_refused from set_instance: ErrorBox and the instance field marked", async () => {
    on({ preview_instance: preview, set_instance: () => Promise.reject(ipcError("insecure_url_refused", null, "plain http refused")) });
    renderScreen(Instance, wizardAt("instance"));
    await type("instance-input", "http://acme");
    await click("instance-next");
    expect(text("error-code")).toBe("insecure_url_refused");
    expect(text("field-error-instance")).toBe("plain http refused");
    expect(el("instance-input").getAttribute("aria-invalid")).toBe("true");
  });

  it("Boomi needs the account ID, Alchemer a region, Qlik and custom a redirect URL", async () => {
    on({ preview_instance: preview, set_instance: () => INSTANCE_SET });
    const w = wizardAt("instance", { mode: "new" });
    renderScreen(Instance, w);
    await type("instance-input", "acme");
    expect(el<HTMLSelectElement>("preset-select").value).toBe("snconnect");
    expect(has("boomi-account")).toBe(false);

    await choose("preset-select", "boomi");
    expect(has("boomi-account")).toBe(true);
    await click("instance-next");
    expect(text("field-error-boomi_account")).toContain("Boomi account ID");

    await choose("preset-select", "alchemer");
    expect(has("boomi-account")).toBe(false);
    expect(Array.from(el<HTMLSelectElement>("region-select").options).map((o) => o.value)).toEqual(["", "us", "eu", "au"]);
    expect(el<HTMLSelectElement>("region-select").value).toBe("");
    expect(text("field-error-region")).toBe("Choose the region your Alchemer account is in.");
    await choose("region-select", "eu");
    expect(has("field-error-region")).toBe(false);

    for (const preset of ["qlik", "custom"]) {
      await choose("preset-select", preset);
      expect(text("field-error-target_redirect_urls")).toContain("callback URL");
      await type("target-redirect-url", "http://x.example/cb");
      expect(text("field-error-target_redirect_urls")).toBe("The callback URL must start with https:// and have no spaces.");
      await type("target-redirect-url", "");
    }
    await type("target-redirect-url", "https://ea.qlikcloud.com/oauth/callback");
    expect(callsTo("set_instance")).toHaveLength(0);
    await click("instance-next");
    expect(req()).toMatchObject({ target: "custom", target_redirect_urls: ["https://ea.qlikcloud.com/oauth/callback"], boomi_account: null, region: null, migrating: false });
    expect(w.step).toBe("plugins");
  });

  it("a set_instance rejection naming a field marks that field", async () => {
    on({ preview_instance: preview, set_instance: () => Promise.reject(ipcError("usage_error", "boomi_account: must be a Boomi account ID like acme-AB12CD")) });
    const w = wizardAt("instance");
    renderScreen(Instance, w);
    await type("instance-input", "acme");
    await choose("preset-select", "boomi");
    await type("boomi-account", "nope");
    await click("instance-next");
    expect(text("error-code")).toBe("usage_error");
    expect(text("field-error-boomi_account")).toBe("must be a Boomi account ID like acme-AB12CD");
    await type("boomi-account", "acme-AB12CD");
    expect(has("field-error-boomi_account")).toBe(false);
    expect(w.step).toBe("instance");
  });

  it("sends the admin and migrated accounts once, then the fields say the passwords are held", async () => {
    on({ preview_instance: preview, set_instance: () => ({ ...INSTANCE_SET, has_basic: true, basic_username: "svc" }) });
    const w = wizardAt("instance");
    renderScreen(Instance, w);
    expect(text("instance-next")).toBe("Next");
    await type("instance-input", "acme");
    await type("admin-username", "admin");
    await click("instance-next");
    expect(text("field-error-admin_password")).toContain("admin password");
    await type("admin-password", "adm1n-pw");
    await type("basic-username", "svc");
    await type("basic-password", "svc-pw");
    await click("instance-next");
    expect(req()).toEqual({
      instance: "acme", target: "snconnect", boomi_account: null, region: null, target_redirect_urls: [],
      admin_username: "admin", admin_password: "adm1n-pw", migrating: true, basic_username: "svc", basic_password: "svc-pw", editing: null,
    });
    expect(w.step).toBe("plugins");
    expect(w.instance.admin_password).toBe("");
    expect(w.instance.basic_password).toBe("");
    expect(w.adminHeld && w.basicHeld).toBe(true);
  });

  it("Back keeps what was typed; a held password is kept (null) and an emptied user forgets it ('')", async () => {
    on({ preview_instance: preview, set_instance: () => INSTANCE_SET });
    const w = wizardAt("instance");
    w.adminHeld = true;
    w.instance.admin_username = "admin";
    const r = renderScreen(Instance, w);
    await type("instance-input", "acme");
    await type("basic-username", "svc");
    await click("nav-back");
    expect(w.screen).toBe("start");
    r.unmount();
    w.go("instance");
    renderScreen(Instance, w);
    expect(el<HTMLInputElement>("instance-input").value).toBe("acme");
    expect(el<HTMLInputElement>("basic-username").value).toBe("svc");
    await type("basic-username", "");
    await click("instance-next");
    expect(req()).toMatchObject({ admin_username: "admin", admin_password: null, basic_username: null, basic_password: "" });
  });

  it("verify mode asks only for the instance", async () => {
    on({ preview_instance: preview, set_instance: () => NO_ADMIN });
    const w = wizardAt("instance", { mode: "verify" });
    renderScreen(Instance, w);
    for (const id of ["preset-select", "admin-username", "admin-password", "basic-username"]) expect(has(id)).toBe(false);
    await type("instance-input", "acme");
    await click("instance-next");
    expect(req()).toMatchObject({ migrating: false, admin_username: null, admin_password: null, basic_username: null, basic_password: null });
    expect(w.step).toBe("credentials");
  });

  it("submits on Enter and shows Progress only after 300 ms", async () => {
    vi.useFakeTimers();
    const answer = deferred<typeof INSTANCE_SET>();
    on({ preview_instance: preview, set_instance: () => answer.promise });
    const w = wizardAt("instance");
    renderScreen(Instance, w);
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    await user.type(el("instance-input"), "acme{Enter}");
    await flush();
    expect(callsTo("set_instance")).toHaveLength(1);
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(299);
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(el("progress").getAttribute("aria-busy")).toBe("true");
    expect(el("progress").getAttribute("role")).toBe("status");
    answer.resolve(INSTANCE_SET);
    await flush();
    expect(w.step).toBe("plugins");
  });

  it("every input has a label", async () => {
    renderScreen(Instance, wizardAt("instance"));
    await fireEvent.change(el<HTMLSelectElement>("preset-select"), { target: { value: "boomi" } });
    for (const input of Array.from(document.querySelectorAll("input, select"))) {
      expect(document.querySelector(`label[for="${input.id}"]`), input.id).not.toBeNull();
    }
  });
});

const NO_ADMIN = { ...INSTANCE_SET, has_admin: false, admin_username: null };
