import { render, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import App from "../src/App.svelte";
import type { Badge, ConnectionSummary, ConnectionTest } from "../src/gen/ipc";
import { BADGE_LABELS } from "../src/components/Badge.svelte";
import { relativeTime } from "../src/components/ConnectionCard.svelte";
import Saved, { SAVED_POLL_MS } from "../src/screens/Saved.svelte";
import { Wizard } from "../src/lib/wizard.svelte";
import { backend, callsTo, FakeChannel, ipcError, lastArgs, on, send } from "./backend";
import { APP_INFO, CHECKS, NOW_S, connTest, summary } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text } from "./helpers";

/** The dashboard on its own, with `list` as list_connections' answer and the clock at NOW_S. */
async function dashboard(list: ConnectionSummary[], w = new Wizard(APP_INFO)): Promise<Wizard> {
  vi.useFakeTimers({ now: NOW_S * 1000, toFake: ["Date"] });
  on({ list_connections: () => list });
  w.screen = "saved";
  renderScreen(Saved, w);
  await flush();
  return w;
}

/** Within a card. */
function card(name: string): ReturnType<typeof within> {
  return within(el(`saved-${name}`));
}

function cardText(name: string, testid: string): string {
  return (card(name).getByTestId(testid).textContent ?? "").replace(/\s+/g, " ").trim();
}

function badge(name: string): { text: string; badge: string | null } {
  return { text: text(`badge-${name}`), badge: el(`badge-${name}`).getAttribute("data-badge") };
}

const BADGES: Badge[] = ["connected", "expires_soon", "expired", "needs_reauth", "failing", "not_tested"];

describe("Saved connections dashboard", () => {
  it("empty: 'No saved connections yet' and a button to New connection", async () => {
    const w = await dashboard([]);
    expect(text("saved-empty")).toBe("No saved connections yet.");
    expect(has("saved-list")).toBe(false);
    expect(has("test-all")).toBe(false);
    await click("saved-new");
    expect(w.screen).toBe("wizard");
    expect(w.mode).toBe("new");
  });

  it("one card per connection with every badge value, its facts, last test and refresh lifetime", async () => {
    const list = [
      ...BADGES.map((b) => summary(`c-${b}`, { badge: b })),
      summary("dev", { method: "basic", user: null, client_id: null, badge: "not_tested", token_status: null, last_test: null, refresh_days_left: null, refresh_lifespan_days: null }),
      summary("broken", { last_test: { at: NOW_S - 3 * 3600, ok: false, code: "invalid_client", latency_ms: null, user: null } }),
    ];
    await dashboard(list);
    expect(el("saved-list").querySelectorAll("article")).toHaveLength(8);
    expect(BADGE_LABELS).toEqual({
      connected: "Connected", expires_soon: "Expires soon", expired: "Expired", needs_reauth: "Needs re-auth", failing: "Failing", not_tested: "Not tested yet",
    });
    for (const b of BADGES) expect(badge(`c-${b}`)).toEqual({ text: BADGE_LABELS[b], badge: b });

    expect(cardText("c-connected", "instance-c-connected")).toBe("https://acme.service-now.com/");
    expect(cardText("c-connected", "method-c-connected")).toBe("OAuth authorization code (confidential client)");
    expect(cardText("c-connected", "user-c-connected")).toBe("svc.integration");
    expect(cardText("c-connected", "last-test-c-connected")).toBe("2 min ago: ok, as Integration Service");
    const time = el("last-test-time-c-connected");
    expect(time.getAttribute("title")).toBe(new Date((NOW_S - 120) * 1000).toLocaleString());
    expect(time.getAttribute("datetime")).toBe(new Date((NOW_S - 120) * 1000).toISOString());
    expect(text("refresh-left-c-connected")).toBe("87 of 100 days left");
    expect(el("test-c-connected").getAttribute("aria-label")).toBe("Test c-connected");

    expect(text("last-test-broken")).toBe("3 h ago: invalid_client");

    expect(text("method-dev")).toBe("Basic auth (user name + password)");
    expect(text("user-dev")).toBe("—");
    expect(text("last-test-dev")).toBe("never");
    expect(has("refresh-left-dev")).toBe(false);
    expect(has("client-id-dev")).toBe(false);
    // Token actions only where there are tokens.
    expect(has("refresh-dev")).toBe(false);
    expect(has("revoke-dev")).toBe(false);
    expect(has("reset-dev")).toBe(false);
    for (const id of ["test-dev", "delete-dev", "report-dev"]) expect(has(id)).toBe(true);

    // Every control has an accessible name.
    for (const b of el("saved-list").querySelectorAll("button")) expect(b.getAttribute("aria-label") ?? "").not.toBe("");
  });

  it("relative times", () => {
    const now = NOW_S * 1000;
    expect(relativeTime(NOW_S - 10, now)).toBe("just now");
    expect(relativeTime(NOW_S - 120, now)).toBe("2 min ago");
    expect(relativeTime(NOW_S - 2 * 3600, now)).toBe("2 h ago");
    expect(relativeTime(NOW_S - 86400, now)).toBe("1 day ago");
    expect(relativeTime(NOW_S - 5 * 86400, now)).toBe("5 days ago");
  });

  it("Test: one click, 'Connected as …' inline with the latency and checks; badge and last test follow the summary", async () => {
    await dashboard([summary("prod", { badge: "not_tested", last_test: null }), summary("dev")]);
    on({
      test_saved: async (a) => {
        send(a, "onCheck", CHECKS[0]);
        return connTest(String(a.name));
      },
    });
    expect(badge("prod").badge).toBe("not_tested");
    await click("test-prod");
    expect(lastArgs("test_saved").name).toBe("prod");
    expect(lastArgs("test_saved").onCheck).toBeInstanceOf(FakeChannel);
    expect(text("connected-prod")).toBe("Connected as Integration Service (svc.integration)");
    expect(within(el("result-prod")).getByTestId("latency-prod").textContent).toBe("71 ms");
    expect(el("checks-prod").querySelectorAll("li")).toHaveLength(3);
    expect(badge("prod")).toEqual({ text: "Connected", badge: "connected" });
    expect(text("last-test-prod")).toBe("just now: ok, as Integration Service");
    expect(has("result-dev")).toBe(false);
  });

  for (const [code, shown] of [["refresh_token_expired", "needs_reauth"], ["invalid_client", "needs_reauth"]] as const) {
    it(`Test failing with ${code}: ErrorBox with code, message, remediation, detail; Copy details copies the support text`, async () => {
      await dashboard([summary("prod")]);
      const answer = connTest("prod", code);
      on({ test_saved: () => answer });
      await click("test-prod");
      const box = within(el("result-prod"));
      expect(box.getByTestId("error-code").textContent).toBe(code);
      expect(box.getByTestId("error-message").textContent).toBe(`failed: ${code}`);
      expect(box.getByTestId("error-remediation").textContent).toBe(`fix ${code}`);
      expect(box.getByTestId("error-detail").textContent).toBe(`detail of ${code}`);
      expect(has("connected-prod")).toBe(false);
      expect(badge("prod")).toEqual({ text: "Needs re-auth", badge: shown });
      expect(text("last-test-prod")).toBe(`just now: ${code}`);
      await click("copy-details");
      expect(backend.clipboard).toEqual([answer.support_text]);
    });
  }

  it("Test rejected for a local problem (keychain_locked): an ErrorBox in the card", async () => {
    await dashboard([summary("prod")]);
    on({ test_saved: () => Promise.reject(ipcError("keychain_locked")) });
    await click("test-prod");
    expect(within(el("action-error-prod")).getByTestId("error-code").textContent).toBe("keychain_locked");
    expect(has("result-prod")).toBe(false);
  });

  it("Test all with one failing: the summary line and each result inline", async () => {
    const names = ["a", "b", "c", "d"];
    await dashboard(names.map((n) => summary(n, { badge: "not_tested", last_test: null })));
    on({ test_all_saved: () => names.map((n) => connTest(n, n === "c" ? "invalid_client" : "ok")) });
    await click("test-all");
    expect(callsTo("test_all_saved")).toHaveLength(1);
    expect(text("test-all-summary")).toBe("3 of 4 connections work");
    for (const n of ["a", "b", "d"]) {
      expect(text(`connected-${n}`)).toBe("Connected as Integration Service (svc.integration)");
      expect(badge(n).badge).toBe("connected");
    }
    expect(has("connected-c")).toBe(false);
    expect(within(el("result-c")).getByTestId("error-code").textContent).toBe("invalid_client");
    expect(badge("c")).toEqual({ text: "Needs re-auth", badge: "needs_reauth" });
  });

  it("Test all rejected: the error is shown", async () => {
    await dashboard([summary("a")]);
    on({ test_all_saved: () => Promise.reject(ipcError("config_unreadable")) });
    await click("test-all");
    expect(within(el("test-all-error")).getByTestId("error-code").textContent).toBe("config_unreadable");
    expect(has("test-all-summary")).toBe(false);
  });

  it("Refresh updates the badge and the refresh lifetime", async () => {
    await dashboard([summary("prod", { badge: "expires_soon", refresh_days_left: 2 })]);
    on({ refresh_saved: (a) => summary(String(a.name), { badge: "connected", refresh_days_left: 100 }) });
    expect(text("refresh-left-prod")).toBe("2 of 100 days left");
    await click("refresh-prod");
    expect(lastArgs("refresh_saved")).toEqual({ name: "prod" });
    expect(badge("prod")).toEqual({ text: "Connected", badge: "connected" });
    expect(text("refresh-left-prod")).toBe("100 of 100 days left");
    expect(text("status-prod")).toBe("Token refreshed.");
  });

  it("Refresh rejected: the diagnosis in the card", async () => {
    await dashboard([summary("prod")]);
    on({ refresh_saved: () => Promise.reject(ipcError("refresh_token_expired", "400 invalid_grant")) });
    await click("refresh-prod");
    const box = within(el("action-error-prod"));
    expect(box.getByTestId("error-code").textContent).toBe("refresh_token_expired");
    expect(box.getByTestId("error-detail").textContent).toBe("400 invalid_grant");
    expect(badge("prod").badge).toBe("connected");
  });

  it("Revoke asks first; confirmed, it updates the badge and drops the stale inline result", async () => {
    await dashboard([summary("prod")]);
    on({
      test_saved: () => connTest("prod"),
      revoke_saved: (a) => summary(String(a.name), { badge: "needs_reauth", token_status: "needs_reauth", refresh_days_left: null }),
    });
    await click("test-prod");
    expect(has("connected-prod")).toBe(true);
    await click("revoke-prod");
    expect(callsTo("revoke_saved")).toHaveLength(0);
    expect(text("confirm-revoke-box-prod")).toContain("on the instance");
    await click("cancel-revoke-prod");
    expect(has("confirm-revoke-prod")).toBe(false);
    expect(callsTo("revoke_saved")).toHaveLength(0);
    await click("revoke-prod");
    await click("confirm-revoke-prod");
    expect(lastArgs("revoke_saved")).toEqual({ name: "prod" });
    expect(badge("prod")).toEqual({ text: "Needs re-auth", badge: "needs_reauth" });
    expect(has("refresh-left-prod")).toBe(false);
    expect(has("result-prod")).toBe(false);
    expect(has("confirm-revoke-prod")).toBe(false);
  });

  it("Revoke rejected by the server: the diagnosis in the card", async () => {
    await dashboard([summary("prod")]);
    on({ revoke_saved: () => Promise.reject(ipcError("connect_timeout")) });
    await click("revoke-prod");
    await click("confirm-revoke-prod");
    expect(within(el("action-error-prod")).getByTestId("error-code").textContent).toBe("connect_timeout");
  });

  it("Reset updates the badge (local only, no confirmation)", async () => {
    await dashboard([summary("prod")]);
    on({ reset_saved: (a) => summary(String(a.name), { badge: "needs_reauth", refresh_days_left: null }) });
    await click("reset-prod");
    expect(lastArgs("reset_saved")).toEqual({ name: "prod" });
    expect(badge("prod").badge).toBe("needs_reauth");
    expect(text("status-prod")).toContain("removed from this computer");
  });

  it("Delete: confirmation (keychain entries, no revocation), Cancel keeps it, Delete removes the card", async () => {
    await dashboard([summary("prod"), summary("dev")]);
    on({ delete_saved: () => null });
    await click("delete-prod");
    const confirm = text("confirm-delete-box-prod");
    expect(confirm).toContain("keychain entries");
    expect(confirm).toContain("does not revoke the tokens on the server");
    await click("cancel-delete-prod");
    expect(has("confirm-delete-prod")).toBe(false);
    expect(callsTo("delete_saved")).toHaveLength(0);
    expect(has("saved-prod")).toBe(true);
    await click("delete-prod");
    await click("confirm-delete-prod");
    expect(lastArgs("delete_saved")).toEqual({ name: "prod" });
    expect(has("saved-prod")).toBe(false);
    expect(has("saved-dev")).toBe(true);
    await click("delete-dev");
    await click("confirm-delete-dev");
    expect(text("saved-empty")).toBe("No saved connections yet.");
  });

  it("Delete rejected: the card stays with the error", async () => {
    await dashboard([summary("prod")]);
    on({ delete_saved: () => Promise.reject(ipcError("keychain_locked")) });
    await click("delete-prod");
    await click("confirm-delete-prod");
    expect(has("saved-prod")).toBe(true);
    expect(within(el("action-error-prod")).getByTestId("error-code").textContent).toBe("keychain_locked");
  });

  it("Copy support report: saved_report (Markdown) goes to the clipboard", async () => {
    await dashboard([summary("prod")]);
    on({ saved_report: (a) => `# snconnect report\nprofile ${String(a.name)}\n(redacted)` });
    await click("report-prod");
    expect(lastArgs("saved_report")).toEqual({ name: "prod", format: "markdown" });
    expect(backend.clipboard).toEqual(["# snconnect report\nprofile prod\n(redacted)"]);
    expect(text("report-prod")).toBe("Copied");
    expect(text("status-prod")).toBe("Support report copied to the clipboard.");
  });

  it("Copy support report failing: the error in the card", async () => {
    await dashboard([summary("prod")]);
    on({ saved_report: () => Promise.reject(ipcError("config_unreadable")) });
    await click("report-prod");
    expect(backend.clipboard).toEqual([]);
    expect(within(el("action-error-prod")).getByTestId("error-code").textContent).toBe("config_unreadable");
  });

  it("re-reads the list every 3 s: a connection added by the CLI appears, a removed one goes, inline results stay", async () => {
    vi.useFakeTimers({ now: NOW_S * 1000 });
    let list = [summary("prod"), summary("old")];
    on({ list_connections: () => list, test_saved: () => connTest("prod") });
    const r = renderScreen(Saved, new Wizard(APP_INFO));
    await flush();
    expect(has("saved-old")).toBe(true);
    await click("test-prod");
    expect(has("connected-prod")).toBe(true);

    list = [summary("prod", { last_test: { at: NOW_S, ok: true, code: "ok", latency_ms: 70, user: "Integration Service" } }), summary("cli-new", { badge: "not_tested", last_test: null })];
    await vi.advanceTimersByTimeAsync(SAVED_POLL_MS);
    await flush();
    expect(has("saved-cli-new")).toBe(true);
    expect(badge("cli-new").badge).toBe("not_tested");
    expect(has("saved-old")).toBe(false);
    expect(text("connected-prod")).toBe("Connected as Integration Service (svc.integration)");

    // Still going; and stopped once the dashboard is gone.
    list = [summary("prod")];
    await vi.advanceTimersByTimeAsync(SAVED_POLL_MS);
    await flush();
    expect(has("saved-cli-new")).toBe(false);
    const reads = callsTo("list_connections").length;
    r.unmount();
    await vi.advanceTimersByTimeAsync(3 * SAVED_POLL_MS);
    expect(callsTo("list_connections")).toHaveLength(reads);
  });

  it("a re-read that started before a local change does not undo it", async () => {
    vi.useFakeTimers({ now: NOW_S * 1000 });
    const read = deferred<ConnectionSummary[]>();
    let n = 0;
    on({
      list_connections: () => (n++ === 0 ? [summary("prod", { badge: "expires_soon" })] : read.promise),
      refresh_saved: () => summary("prod", { badge: "connected" }),
    });
    renderScreen(Saved, new Wizard(APP_INFO));
    await flush();
    await vi.advanceTimersByTimeAsync(SAVED_POLL_MS); // the re-read is in flight
    await click("refresh-prod");
    expect(badge("prod").badge).toBe("connected");
    read.resolve([summary("prod", { badge: "expires_soon" })]);
    await flush();
    expect(badge("prod").badge).toBe("connected");
  });

  it("config_unreadable is shown; a later re-read that works clears it", async () => {
    vi.useFakeTimers({ now: NOW_S * 1000 });
    let fail = true;
    on({ list_connections: () => (fail ? Promise.reject(ipcError("config_unreadable")) : [summary("prod")]) });
    renderScreen(Saved, new Wizard(APP_INFO));
    await flush();
    expect(text("error-code")).toBe("config_unreadable");
    fail = false;
    await vi.advanceTimersByTimeAsync(SAVED_POLL_MS);
    await flush();
    expect(has("error-box")).toBe(false);
    expect(has("saved-prod")).toBe(true);
  });

  it("Progress after 300 ms while reading, testing one and testing all", async () => {
    vi.useFakeTimers({ now: NOW_S * 1000 });
    const answer = deferred<ConnectionSummary[]>();
    on({ list_connections: () => answer.promise });
    renderScreen(Saved, new Wizard(APP_INFO));
    await flush();
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Reading the saved connections…");
    answer.resolve([summary("prod")]);
    await flush();
    expect(has("progress")).toBe(false);

    const one = deferred<ConnectionTest>();
    on({ test_saved: () => one.promise });
    await click("test-prod");
    expect(el<HTMLButtonElement>("test-prod").disabled).toBe(true);
    await vi.advanceTimersByTimeAsync(299);
    expect(card("prod").queryByTestId("progress")).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(cardText("prod", "progress")).toBe("Testing the connection…");
    one.resolve(connTest("prod"));
    await flush();
    expect(has("progress")).toBe(false);
    expect(has("connected-prod")).toBe(true);

    const all = deferred<ConnectionTest[]>();
    on({ test_all_saved: () => all.promise });
    await click("test-all");
    expect(el<HTMLButtonElement>("test-prod").disabled).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Testing every connection…");
    all.resolve([connTest("prod")]);
    await flush();
    expect(has("progress")).toBe(false);
    expect(text("test-all-summary")).toBe("1 of 1 connection works");
  });
});

describe("landing and navigation", () => {
  it("opens on the dashboard when app_info says connections are saved; Start ↔ dashboard both ways", async () => {
    on({ app_info: () => APP_INFO, list_connections: () => [summary("prod"), summary("dev")] });
    render(App);
    await flush();
    expect(has("saved-list")).toBe(true);
    expect(has("start-heading")).toBe(false);
    expect(document.activeElement).toBe(el("saved-heading"));
    await click("saved-home");
    expect(has("start-heading")).toBe(true); // Start again: app_info is read again, no second landing
    await flush();
    expect(has("saved-list")).toBe(false);
    await click("start-saved");
    expect(has("saved-prod")).toBe(true);
  });

  it("opens on Start when nothing is saved", async () => {
    on({ app_info: () => ({ ...APP_INFO, saved_connections: 0 }), list_connections: () => [] });
    render(App);
    await flush();
    expect(has("start-heading")).toBe(true);
    expect(has("saved-list")).toBe(false);
    expect(callsTo("list_connections")).toHaveLength(0);
  });

  it("the landing rule is taken once, and only from Start", () => {
    const w = new Wizard(APP_INFO);
    w.land();
    expect(w.screen).toBe("saved");
    w.home();
    w.land();
    expect(w.screen).toBe("start");
    const empty = new Wizard({ ...APP_INFO, saved_connections: 0 });
    empty.land();
    expect(empty.screen).toBe("start");
    const none = new Wizard();
    none.land(); // no app_info yet: decided later
    none.app = APP_INFO;
    none.land();
    expect(none.screen).toBe("saved");
  });
});
