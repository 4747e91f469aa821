// The basic-auth inventory screen: form, loading, error, every result shape, and Migrate.
import { render, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import App from "../src/App.svelte";
import type { BasicAuthAccount, BasicAuthInventory, InventorySource } from "../src/gen/ipc";
import Inventory, { enforcement, reasons, sourceLine, verdict } from "../src/screens/Inventory.svelte";
import { Wizard } from "../src/lib/wizard.svelte";
import { callsTo, ipcError, lastArgs, on } from "./backend";
import { APP_INFO, DEMO_APP_INFO } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text, type, until } from "./helpers";

function account(user_name: string, over: Partial<BasicAuthAccount> = {}): BasicAuthAccount {
  return {
    user_name, sys_id: `${user_name}-id`, name: user_name.replace("svc.", "").toUpperCase(), active: true,
    web_service_access_only: false, has_basic_auth_role: false, allowed_by_property: false, ...over,
  };
}

function source(id: string, label: string, over: Partial<InventorySource> = {}): InventorySource {
  return { id, label, state: "listed", count: 0, detail: null, ...over };
}

const SOURCES = [
  source("wsao_users", "Web-service-access-only users", { count: 3 }),
  source("role_holders", "Holders of snc_basic_auth_api_access", { count: 1 }),
  source("allowed_users", "Users allowed by property"),
  source("restriction", "Basic Auth Restriction properties", { count: 6 }),
];

const FULL: BasicAuthInventory = {
  instance: "https://acme.service-now.com/",
  accounts: [
    account("svc.boomi", { web_service_access_only: true }),
    account("svc.old", { web_service_access_only: true, active: false }),
    account("svc.qlik", { web_service_access_only: true }),
    account("svc.reporting", { has_basic_auth_role: true, allowed_by_property: true }),
  ],
  sources: SOURCES,
  restriction: {
    readable: true, active: true, enforce: false, enforcement_date: "2026-09-30", default_decision: "maintain",
    allowed_roles: ["snc_basic_auth_api_access"], allowed_users: ["svc.reporting"],
  },
};

const HIDDEN: BasicAuthInventory = {
  ...FULL,
  accounts: [account("svc.qlik", { web_service_access_only: true })],
  sources: [SOURCES[0], SOURCES[1], source("allowed_users", "Users allowed by property", { state: "hidden", count: null, detail: "grant security_admin" }),
    source("restriction", "Basic Auth Restriction properties", { state: "hidden", count: null, detail: "grant security_admin, or read All > Basic Auth Restriction > Properties" })],
  restriction: { readable: false, active: null, enforce: null, enforcement_date: null, default_decision: null, allowed_roles: [], allowed_users: [] },
};

const DENIED: BasicAuthInventory = {
  ...HIDDEN,
  accounts: [],
  sources: HIDDEN.sources.map((s) => (s.id === "wsao_users" || s.id === "role_holders" ? { ...s, state: "denied", count: null, detail: "needs admin" } : s)),
};

async function screen(app = APP_INFO): Promise<Wizard> {
  const w = new Wizard(app);
  w.inventory();
  renderScreen(Inventory, w);
  await flush();
  return w;
}

async function fill(instance = "acme", user = "admin", password = "pw"): Promise<void> {
  await type("inventory-instance", instance);
  await type("inventory-admin-username", user);
  if (password) await type("inventory-admin-password", password);
}

describe("Basic-auth inventory", () => {
  it("the Start screen opens it", async () => {
    on({ app_info: () => ({ ...APP_INFO, saved_connections: 0 }) });
    const w = new Wizard();
    w.screen = "start";
    render(App, { props: { wizard: w } });
    await until(() => expect(el<HTMLButtonElement>("start-inventory").disabled).toBe(false));
    await click("start-inventory");
    expect(w.screen).toBe("inventory");
    expect(has("inventory-form")).toBe(true);
  });

  it("empty form: each field names its fix and nothing is sent", async () => {
    await screen();
    await click("inventory-run");
    expect(text("field-error-instance")).toBe("Enter the instance name (acme) or its URL.");
    expect(text("field-error-admin_username")).toBe("Enter an admin account (admin, or one with security_admin).");
    expect(text("field-error-admin_password")).toBe("Enter the admin account's password.");
    expect(callsTo("basic_auth_inventory")).toHaveLength(0);
  });

  it("demo: instance and admin prefilled, the password held in Rust (sent as null)", async () => {
    on({ basic_auth_inventory: () => FULL });
    await screen(DEMO_APP_INFO);
    expect(el<HTMLInputElement>("inventory-instance").value).toBe("http://127.0.0.1:41234/");
    expect(el<HTMLInputElement>("inventory-admin-username").value).toBe("admin");
    await click("inventory-run");
    expect(lastArgs("basic_auth_inventory").req).toEqual({ instance: "http://127.0.0.1:41234/", admin_username: "admin", admin_password: null });
  });

  it("full result: restriction settings, each source, the accounts with why and whether active", async () => {
    on({ basic_auth_inventory: () => FULL });
    await screen();
    await fill();
    await click("inventory-run");
    expect(lastArgs("basic_auth_inventory").req).toEqual({ instance: "acme", admin_username: "admin", admin_password: "pw" });
    expect(el<HTMLInputElement>("inventory-admin-password").value).toBe("");
    expect(text("restriction-active")).toBe("on");
    expect(text("restriction-enforcement")).toBe("from 2026-09-30");
    expect(text("restriction-default")).toBe("maintain");
    expect(text("restriction-roles")).toBe("snc_basic_auth_api_access");
    expect(text("restriction-users")).toBe("svc.reporting");
    expect(text("source-wsao_users")).toBe("Web-service-access-only users: 3 accounts");
    expect(text("source-role_holders")).toBe("Holders of snc_basic_auth_api_access: 1 account");
    expect(text("source-restriction")).toBe("Basic Auth Restriction properties: 6 settings read");
    expect(text("inventory-verdict")).toBe("4 accounts depend on basic auth.");
    expect(el("inventory-accounts").querySelectorAll("tbody tr")).toHaveLength(4);
    expect(text("reasons-svc.qlik")).toBe("web service access only");
    expect(text("reasons-svc.reporting")).toBe("basic-auth role, allowed by property");
    expect(text("active-svc.old")).toBe("no (inactive)");
    expect(text("inventory-run")).toBe("Read again");
  });

  it("restriction hidden by ACLs: 'unknown', never 'off'; the hidden sources say why", async () => {
    on({ basic_auth_inventory: () => HIDDEN });
    await screen();
    await fill();
    await click("inventory-run");
    expect(has("restriction")).toBe(false);
    expect(text("restriction-unknown")).toContain("Unknown: this account may not read the Basic Auth Restriction properties");
    expect(el("source-restriction").getAttribute("data-state")).toBe("hidden");
    expect(text("source-restriction")).toContain("unknown: hidden from this account");
    expect(text("source-restriction")).toContain("grant security_admin");
    expect(text("inventory-verdict")).toBe("1 account depends on basic auth. Possibly more: Users allowed by property could not be read.");
  });

  it("nothing readable: no accounts and no false 'none'", async () => {
    on({ basic_auth_inventory: () => DENIED });
    await screen();
    await fill();
    await click("inventory-run");
    expect(has("inventory-accounts")).toBe(false);
    expect(text("source-wsao_users")).toContain("unknown: this account may not read it");
    expect(text("inventory-verdict")).toMatch(/could not be read, so this is not a "none"\.$/);
    expect(text("inventory-verdict")).not.toMatch(/^No account depends/);
  });

  it("every source readable and empty: a real none", () => {
    expect(verdict({ ...FULL, accounts: [] })).toBe("No account depends on basic auth in any of the sources read.");
    expect(enforcement({ ...FULL.restriction, enforce: true })).toBe("enforced now");
    expect(enforcement({ ...FULL.restriction, enforcement_date: null })).toBe("no date set");
    expect(sourceLine(source("x", "X", { count: 1 }))).toBe("1 account");
    expect(reasons(account("a"))).toEqual([]);
  });

  it("wrong admin password: the diagnosis, and the password must be typed again", async () => {
    on({ basic_auth_inventory: () => Promise.reject(ipcError("basic_auth_rejected")) });
    await screen(DEMO_APP_INFO);
    await click("inventory-run");
    expect(within(el("inventory-error")).getByTestId("error-code").textContent).toBe("basic_auth_rejected");
    await click("inventory-run");
    expect(text("field-error-admin_password")).toBe("Enter the admin account's password.");
    expect(callsTo("basic_auth_inventory")).toHaveLength(1);
  });

  it("a usage error marks the field it names", async () => {
    on({ basic_auth_inventory: () => Promise.reject(ipcError("invalid_instance_url", "instance: not a URL")) });
    await screen();
    await fill("ht tp://x");
    await click("inventory-run");
    expect(text("field-error-instance")).toBe("not a URL");
  });

  it("Progress after 300 ms while reading", async () => {
    vi.useFakeTimers();
    const answer = deferred<BasicAuthInventory>();
    on({ basic_auth_inventory: () => answer.promise });
    await screen();
    await fill();
    await click("inventory-run");
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Reading users, roles and properties…");
    answer.resolve(FULL);
    await flush();
    expect(has("progress")).toBe(false);
    expect(has("inventory-result")).toBe(true);
  });

  it("Migrate opens the wizard prefilled: instance, admin account (held), the account being migrated", async () => {
    on({ basic_auth_inventory: () => FULL, preview_instance: (a) => ({ instance: String(a.input), host: "acme" }) });
    const w = new Wizard(APP_INFO);
    w.screen = "inventory";
    render(App, { props: { wizard: w } });
    await flush();
    await fill("https://acme.service-now.com/", "sec.admin", "pw");
    await click("inventory-run");
    await click("migrate-svc.qlik");
    expect(w.screen).toBe("wizard");
    expect(w.mode).toBe("migrate");
    expect(w.step).toBe("instance");
    expect(el<HTMLInputElement>("instance-input").value).toBe("https://acme.service-now.com/");
    expect(el<HTMLInputElement>("admin-username").value).toBe("sec.admin");
    expect(w.adminHeld).toBe(true);
    expect(el<HTMLInputElement>("basic-username").value).toBe("svc.qlik");
    expect(el("basic-password")).toBeTruthy();
  });
});
