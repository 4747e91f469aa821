// End-to-end through the DOM with mocked Tauri IPC (mockIPC): real ipc.ts, wizard.ts, render.ts.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConnectionResult, ConsentStart } from "../src/ipc";
import { COPY_FEEDBACK_MS } from "../src/app";
import {
  APP_STATE,
  CONSENT,
  REGISTRATION,
  RESULT,
  $,
  button,
  click,
  deferred,
  input,
  ipcError,
  isVisible,
  setup,
  teardown,
  text,
  type,
  waitVisible,
  walkToConsent,
} from "./harness";

const STEP_SECTIONS = ["step-instance", "step-plugins", "step-register", "step-client", "step-consent", "step-result"];

function visibleSteps(): string[] {
  return STEP_SECTIONS.filter(isVisible);
}

afterEach(teardown);

describe("happy path", () => {
  it("walks instance → plugins → register → client → consent → result and saves", async () => {
    const finish = deferred<ConnectionResult>();
    const h = await setup({ finish_consent: () => finish.promise });

    // Step 1: prefilled from app_state, exactly one step visible, no error, no demo banner.
    expect(h.callsTo("app_state")).toHaveLength(1);
    expect(visibleSteps()).toEqual(["step-instance"]);
    expect(isVisible("error")).toBe(false);
    expect(isVisible("demo-banner")).toBe(false);
    expect(input("instance-input").value).toBe(APP_STATE.instance);
    expect($("step-indicator").querySelector('[aria-current="step"]')?.textContent).toContain("Instance");

    type("instance-input", "acme");
    click("instance-next");
    await waitVisible("step-plugins");
    expect(h.callsTo("set_instance")[0].args).toEqual({ instance: "acme" });
    // The normalised URL is shown and written back into the field.
    expect(text("current-instance-url")).toBe("https://acme.service-now.com/");
    expect(input("instance-input").value).toBe("https://acme.service-now.com/");

    // Step 2: advisory checklist, three checkboxes with class "check", links from registration_info.
    expect(document.querySelectorAll("#step-plugins input.check")).toHaveLength(3);
    await vi.waitFor(() => expect(h.callsTo("registration_info")).toHaveLength(1));
    await vi.waitFor(() => expect(button("plugins-next").disabled).toBe(false));
    expect($("plugin-links").querySelectorAll("li")).toHaveLength(REGISTRATION.links.length);
    click("plugins-next"); // nothing ticked: still allowed
    await waitVisible("step-register");
    expect(h.callsTo("registration_info")).toHaveLength(1); // not fetched twice

    // Step 3: redirect URL, steps and links from Rust.
    expect(text("redirect-url")).toBe(REGISTRATION.redirect_url);
    const steps = Array.from($("register-steps").querySelectorAll("li")).map((li) => li.textContent);
    expect(steps).toEqual(REGISTRATION.steps);
    expect($("register-links").textContent).toContain(REGISTRATION.links[0].url);
    click("register-next");
    await waitVisible("step-client");

    // Step 4: prefilled client id; confidential client by default.
    expect(input("client-id").value).toBe(APP_STATE.client_id);
    expect(input("public-client").checked).toBe(false);
    expect(isVisible("client-secret")).toBe(true);
    type("client-secret", "top-secret");
    click("client-next");
    await waitVisible("step-consent");
    expect(h.callsTo("set_client")[0].args).toEqual({
      clientId: "seeded-client",
      clientSecret: "top-secret",
      publicClient: false,
    });

    // Step 5: consent.
    expect(isVisible("authorize-box")).toBe(false);
    click("consent-start");
    await vi.waitFor(() => expect(text("authorize-url")).toBe(CONSENT.authorize_url));
    expect(isVisible("authorize-url")).toBe(true);
    expect(isVisible("browser-error")).toBe(false);
    expect(text("consent-status")).toBe("Waiting for you to approve in the browser…");
    expect(button("consent-start").disabled).toBe(true);
    expect(button("consent-cancel").disabled).toBe(false);
    expect(button("consent-back").disabled).toBe(true);
    expect(h.callsTo("finish_consent")).toHaveLength(1);
    finish.resolve(RESULT);

    // Step 6: result.
    await waitVisible("step-result");
    expect(text("connected-as")).toBe("Connected as Integration Service (svc.integration)");
    expect(text("connected-as").startsWith("Connected as ")).toBe(true);
    expect(text("test-instance")).toBe(RESULT.instance);
    expect(text("test-latency")).toBe("42 ms");
    const items = Array.from($("checks").querySelectorAll("li"));
    expect(items).toHaveLength(3);
    expect(items[0].textContent).toContain("Token refresh");
    expect(items[0].textContent).toContain("✓");
    expect(items[0].textContent).toContain("12 ms");
    expect(items[2].textContent).toContain("✗");
    expect(items[2].textContent).toContain("forbidden");
    expect(input("save-name").value).toBe("acme.service-now.com");
    expect(isVisible("keep-session")).toBe(false);
    expect($("step-indicator").querySelectorAll("li.done")).toHaveLength(5);

    click("save-connection");
    await vi.waitFor(() => expect(text("save-status")).toBe("Saved. Refresh token is in the system keychain."));
    expect(h.callsTo("save_connection")[0].args).toEqual({ name: "acme.service-now.com", sessionOnly: false });
    expect(isVisible("keep-session")).toBe(false);
    expect(isVisible("error")).toBe(false);
    expect(visibleSteps()).toEqual(["step-result"]);
  });

  it("shows the demo banner with demo_note in demo mode", async () => {
    const note = "Demo mode: a simulated ServiceNow instance runs inside the app.";
    await setup({
      app_state: () => ({ ...APP_STATE, demo: true, instance: "http://127.0.0.1:4010/", demo_note: note }),
    });
    expect(isVisible("demo-banner")).toBe(true);
    expect(text("demo-banner")).toBe(note);
    expect(input("instance-input").value).toBe("http://127.0.0.1:4010/");
  });

  it("shows an app_state failure in the error box", async () => {
    await setup({ app_state: () => Promise.reject(ipcError("internal", "state unavailable")) });
    expect(isVisible("error")).toBe(true);
    expect(text("error-code")).toBe("internal");
  });
});

describe("errors", () => {
  it("shows invalid_instance_url from set_instance and clears it on the next transition", async () => {
    let fail = true;
    const h = await setup({
      set_instance: () =>
        fail
          ? Promise.reject(
              ipcError("invalid_instance_url", "'acme corp' is not a valid instance", "Enter a name like acme"),
            )
          : { instance: "https://acme.service-now.com/", host: "acme.service-now.com" },
    });
    type("instance-input", "acme corp");
    click("instance-next");
    await vi.waitFor(() => expect(isVisible("error")).toBe(true));
    expect(text("error-code")).toBe("invalid_instance_url");
    expect(text("error-message")).toBe("'acme corp' is not a valid instance");
    expect(text("error-remediation")).toBe("Enter a name like acme");
    expect($("error").getAttribute("role")).toBe("alert");
    expect(visibleSteps()).toEqual(["step-instance"]);
    expect(button("instance-next").disabled).toBe(false);

    fail = false;
    type("instance-input", "acme");
    click("instance-next");
    await waitVisible("step-plugins");
    expect(isVisible("error")).toBe(false);
    expect(text("error-code")).toBe("");
    expect(h.callsTo("set_instance")).toHaveLength(2);
  });

  it("hides the remediation line when remediation is null", async () => {
    await setup({ set_instance: () => Promise.reject(ipcError("insecure_url_refused", "http is refused", null)) });
    click("instance-next");
    await vi.waitFor(() => expect(text("error-code")).toBe("insecure_url_refused"));
    expect(isVisible("error-remediation")).toBe(false);
  });

  it("normalises a non-IpcError rejection (e.g. an ACL string) into an error code", async () => {
    await setup({ set_instance: () => Promise.reject("Command set_instance not allowed by ACL") });
    click("instance-next");
    await vi.waitFor(() => expect(text("error-code")).toBe("unexpected_error"));
    expect(text("error-message")).toBe("Command set_instance not allowed by ACL");
  });
});

describe("client secret", () => {
  it("clears the secret field after set_client and never keeps the secret in wizard state", async () => {
    const setClient = deferred<unknown>();
    const h = await setup({ set_client: () => setClient.promise });
    click("instance-next");
    await waitVisible("step-plugins");
    await vi.waitFor(() => expect(button("plugins-next").disabled).toBe(false));
    click("plugins-next");
    await waitVisible("step-register");
    click("register-next");
    await waitVisible("step-client");

    const secret = "very-secret-9f8e7d";
    type("client-id", "my-client");
    type("client-secret", secret);
    click("client-next");
    // While the call is in flight the button is disabled.
    expect(button("client-next").disabled).toBe(true);
    expect(h.callsTo("set_client")).toHaveLength(1);
    expect(h.callsTo("set_client")[0].args.clientSecret).toBe(secret);
    setClient.resolve({ client_id: "my-client", public_client: false, has_secret: true });
    await waitVisible("step-consent");

    expect(input("client-secret").value).toBe("");
    expect(JSON.stringify(h.wizard.state)).not.toContain(secret);
    expect(document.body.innerHTML).not.toContain(secret);
    expect(h.wizard.state.client).toEqual({ client_id: "my-client", public_client: false, has_secret: true });
  });

  it("also clears the secret when set_client fails", async () => {
    const h = await setup({
      set_client: () => Promise.reject(ipcError("invalid_client_id", "Client ID is empty", "Paste the Client ID")),
    });
    click("instance-next");
    await waitVisible("step-plugins");
    await vi.waitFor(() => expect(button("plugins-next").disabled).toBe(false));
    click("plugins-next");
    await waitVisible("step-register");
    click("register-next");
    await waitVisible("step-client");
    type("client-secret", "oops-secret");
    click("client-next");
    await vi.waitFor(() => expect(text("error-code")).toBe("invalid_client_id"));
    expect(input("client-secret").value).toBe("");
    expect(visibleSteps()).toEqual(["step-client"]);
    expect(JSON.stringify(h.wizard.state)).not.toContain("oops-secret");
  });

  it("public client hides the secret field and sends clientSecret null", async () => {
    const h = await setup();
    click("instance-next");
    await waitVisible("step-plugins");
    await vi.waitFor(() => expect(button("plugins-next").disabled).toBe(false));
    click("plugins-next");
    await waitVisible("step-register");
    click("register-next");
    await waitVisible("step-client");

    type("client-secret", "typed-before-ticking");
    expect(isVisible("public-note")).toBe(false);
    const box = input("public-client");
    box.checked = true;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    expect(isVisible("client-secret")).toBe(false);
    expect(input("client-secret").disabled).toBe(true);
    expect(isVisible("public-note")).toBe(true);
    expect(text("public-note")).toBe("Public client: PKCE, no secret");

    click("client-next");
    await waitVisible("step-consent");
    expect(h.callsTo("set_client")[0].args).toEqual({
      clientId: "seeded-client",
      clientSecret: null,
      publicClient: true,
    });
  });

  it("prefills the public-client checkbox from app_state", async () => {
    await setup({ app_state: () => ({ ...APP_STATE, public_client: true, client_id: "pkce-client" }) });
    expect(input("public-client").checked).toBe(true);
    expect(input("client-id").value).toBe("pkce-client");
    expect(isVisible("secret-field")).toBe(false);
  });
});

describe("consent", () => {
  it("shows consent_denied, lets the user retry, then succeeds", async () => {
    let attempt = 0;
    const h = await setup({
      finish_consent: () => {
        attempt += 1;
        return attempt === 1
          ? Promise.reject(ipcError("consent_denied", "You clicked Deny", "Click Allow on the consent page"))
          : RESULT;
      },
    });
    await walkToConsent();
    click("consent-start");
    await vi.waitFor(() => expect(text("error-code")).toBe("consent_denied"));
    expect(text("error-remediation")).toBe("Click Allow on the consent page");
    expect(visibleSteps()).toEqual(["step-consent"]);
    expect(button("consent-start").disabled).toBe(false);
    expect(button("consent-cancel").disabled).toBe(true);
    expect(text("consent-status")).toBe("");

    click("consent-start");
    await waitVisible("step-result");
    expect(h.callsTo("begin_consent")).toHaveLength(2);
    expect(h.callsTo("finish_consent")).toHaveLength(2);
    expect(isVisible("error")).toBe(false);
    expect(text("connected-as")).toBe("Connected as Integration Service (svc.integration)");
  });

  it("shows a begin_consent error (callback_port_in_use) without calling finish_consent", async () => {
    const h = await setup({
      begin_consent: () => Promise.reject(ipcError("callback_port_in_use", "Port 53682 is busy", "Close the other app")),
    });
    await walkToConsent();
    click("consent-start");
    await vi.waitFor(() => expect(text("error-code")).toBe("callback_port_in_use"));
    expect(h.callsTo("finish_consent")).toHaveLength(0);
    expect(button("consent-start").disabled).toBe(false);
  });

  it("cancel calls cancel_consent and the cancelled rejection is shown; retry is possible", async () => {
    const finish = deferred<ConnectionResult>();
    const h = await setup({
      finish_consent: () => finish.promise,
      cancel_consent: () => {
        finish.reject(ipcError("cancelled", "Sign-in was cancelled"));
        return null;
      },
    });
    await walkToConsent();
    click("consent-start");
    await vi.waitFor(() => expect(button("consent-cancel").disabled).toBe(false));
    click("consent-cancel");
    await vi.waitFor(() => expect(text("error-code")).toBe("cancelled"));
    expect(h.callsTo("cancel_consent")).toHaveLength(1);
    expect(button("consent-start").disabled).toBe(false);
    expect(visibleSteps()).toEqual(["step-consent"]);
  });

  it("shows callback_timeout", async () => {
    await setup({ finish_consent: () => Promise.reject(ipcError("callback_timeout", "No answer in 5 minutes")) });
    await walkToConsent();
    click("consent-start");
    await vi.waitFor(() => expect(text("error-code")).toBe("callback_timeout"));
  });

  it("shows browser_error and the authorize URL when the browser could not be opened", async () => {
    const started: ConsentStart = { ...CONSENT, browser_opened: false, browser_error: "xdg-open not found" };
    await setup({ begin_consent: () => started, finish_consent: () => new Promise(() => {}) });
    await walkToConsent();
    click("consent-start");
    await vi.waitFor(() => expect(isVisible("browser-error")).toBe(true));
    expect(text("browser-error")).toContain("xdg-open not found");
    expect(isVisible("authorize-url")).toBe(true);
    expect(text("authorize-url")).toBe(CONSENT.authorize_url);
  });
});

describe("save", () => {
  async function toResult(overrides: Parameters<typeof setup>[0]) {
    const h = await setup(overrides);
    await walkToConsent();
    click("consent-start");
    await waitVisible("step-result");
    return h;
  }

  it("keychain_unavailable shows #keep-session; clicking it saves with sessionOnly true", async () => {
    const h = await toResult({
      save_connection: (a) =>
        a.sessionOnly
          ? { name: a.name, stored: "session", profile_path: "/tmp/p.toml" }
          : Promise.reject(
              ipcError("keychain_unavailable", "No Secret Service on D-Bus", "Install and unlock gnome-keyring"),
            ),
    });
    type("save-name", "acme-prod");
    click("save-connection");
    await vi.waitFor(() => expect(text("error-code")).toBe("keychain_unavailable"));
    expect(text("error-message")).toBe("No Secret Service on D-Bus");
    expect(text("error-remediation")).toBe("Install and unlock gnome-keyring");
    expect(isVisible("keep-session")).toBe(true);
    expect(text("keep-session")).toBe("Keep for this run only");
    expect(text("save-status")).toBe(""); // no silent fallback
    expect(h.callsTo("save_connection")).toHaveLength(1);

    click("keep-session");
    await vi.waitFor(() => expect(text("save-status")).toBe("Kept for this run only."));
    expect(h.callsTo("save_connection").map((c) => c.args)).toEqual([
      { name: "acme-prod", sessionOnly: false },
      { name: "acme-prod", sessionOnly: true },
    ]);
    expect(isVisible("keep-session")).toBe(false);
    expect(isVisible("error")).toBe(false);
  });

  it("keychain_locked also offers the session-only choice", async () => {
    await toResult({ save_connection: () => Promise.reject(ipcError("keychain_locked", "The keyring is locked")) });
    click("save-connection");
    await vi.waitFor(() => expect(text("error-code")).toBe("keychain_locked"));
    expect(isVisible("keep-session")).toBe(true);
  });

  it("other save errors do not offer the session-only choice", async () => {
    await toResult({ save_connection: () => Promise.reject(ipcError("profile_write_failed", "Disk full")) });
    click("save-connection");
    await vi.waitFor(() => expect(text("error-code")).toBe("profile_write_failed"));
    expect(isVisible("keep-session")).toBe(false);
  });
});

describe("clipboard", () => {
  it("copy buttons call the clipboard plugin and show Copied feedback", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const h = await setup();
    click("instance-next");
    await vi.waitFor(() => expect(isVisible("step-plugins")).toBe(true));
    await vi.waitFor(() => expect(button("plugins-next").disabled).toBe(false));
    click("plugins-next");
    await vi.waitFor(() => expect(isVisible("step-register")).toBe(true));

    click("copy-redirect");
    await vi.waitFor(() => expect(text("copy-redirect")).toBe("Copied"));
    const writes = h.callsTo("plugin:clipboard-manager|write_text");
    expect(writes).toHaveLength(1);
    expect(writes[0].args.text).toBe(REGISTRATION.redirect_url);
    expect(text("copy-announce")).toBe("Copied to clipboard");
    vi.advanceTimersByTime(COPY_FEEDBACK_MS + 10);
    expect(text("copy-redirect")).toBe("Copy");

    const linkButton = $("register-links").querySelector<HTMLButtonElement>("button.copy")!;
    linkButton.click();
    await vi.waitFor(() => expect(h.callsTo("plugin:clipboard-manager|write_text")).toHaveLength(2));
    expect(h.callsTo("plugin:clipboard-manager|write_text")[1].args.text).toBe(REGISTRATION.links[0].url);
  });

  it("copy-authorize copies the authorize URL; a clipboard failure is reported on the button", async () => {
    let failClipboard = false;
    const h = await setup({
      finish_consent: () => new Promise(() => {}),
      "plugin:clipboard-manager|write_text": () => (failClipboard ? Promise.reject("clipboard unavailable") : null),
    });
    await walkToConsent();
    click("consent-start");
    await vi.waitFor(() => expect(isVisible("copy-authorize")).toBe(true));
    click("copy-authorize");
    await vi.waitFor(() => expect(text("copy-authorize")).toBe("Copied"));
    expect(h.callsTo("plugin:clipboard-manager|write_text")[0].args.text).toBe(CONSENT.authorize_url);

    failClipboard = true;
    click("copy-authorize");
    await vi.waitFor(() => expect(text("copy-authorize")).toBe("Copy failed"));
    expect(text("copy-announce")).toContain("clipboard unavailable");
  });
});

describe("navigation", () => {
  it("Back returns to the previous step and clears the error", async () => {
    await setup({ set_client: () => Promise.reject(ipcError("invalid_client_id", "bad")) });
    click("instance-next");
    await waitVisible("step-plugins");
    await vi.waitFor(() => expect(button("plugins-next").disabled).toBe(false));
    click("plugins-next");
    await waitVisible("step-register");
    click("register-next");
    await waitVisible("step-client");
    click("client-next");
    await vi.waitFor(() => expect(isVisible("error")).toBe(true));
    click("client-back");
    expect(visibleSteps()).toEqual(["step-register"]);
    expect(isVisible("error")).toBe(false);
  });

  it("Enter in the instance field submits", async () => {
    const h = await setup();
    input("instance-input").dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await waitVisible("step-plugins");
    expect(h.callsTo("set_instance")).toHaveLength(1);
  });
});
