import { describe, expect, it, vi } from "vitest";
import type { CreatedEndpoint } from "../src/gen/ipc";
import Registration from "../src/screens/Registration.svelte";
import { backend, callsTo, ipcError, lastArgs, on } from "./backend";
import { CREATED, CREATED_CREDS, GUIDE } from "./fixtures";
import { click, deferred, el, flush, has, renderScreen, text, type, wizardAt } from "./helpers";

describe("Registration", () => {
  it("Create it for me → the card shows exactly what was created → Remove it again", async () => {
    on({ registration_guide: () => GUIDE, create_endpoint: () => ({ created: CREATED, credentials: CREATED_CREDS }), remove_endpoint: () => CREATED });
    const w = wizardAt("register");
    renderScreen(Registration, w);
    await flush();
    expect(el<HTMLInputElement>("endpoint-name").value).toBe("snconnect acme.service-now.com");
    expect(el<HTMLInputElement>("endpoint-public").checked).toBe(true); // the snconnect preset: a native app, PKCE
    await click("endpoint-public");
    await type("endpoint-name", "Qlik OAuth");
    await click("register-create");
    expect(lastArgs("create_endpoint")).toEqual({ name: "Qlik OAuth", publicClient: false });

    expect(text("created-name")).toBe(CREATED.name);
    expect(text("created-client-id")).toBe(CREATED.client_id);
    expect(text("created-redirects")).toBe(CREATED.redirect_urls.join(" "));
    expect(text("created-type")).toContain("Confidential");
    expect(text("created-fields")).toBe(CREATED.fields_set.join(", "));
    await click("open-link");
    expect(backend.opened).toEqual([CREATED.record_url]);
    expect(w.creds.client_id).toBe(CREATED.client_id);
    expect(w.credState?.secret_from_registration).toBe(true);
    expect(text("register-next")).toBe("Open browser and sign in");

    await click("register-remove");
    expect(callsTo("remove_endpoint")).toHaveLength(1);
    expect(text("removed-status")).toContain(`Removed "${CREATED.name}"`);
    expect(has("created-card")).toBe(false);
    expect(has("register-create")).toBe(true);
    expect(w.creds.client_id).toBe("");
    expect(w.credState).toBeNull();
    expect(text("register-next")).toBe("Next");
  });

  it("after a create, Next goes straight to Consent and starts the sign-in there", async () => {
    on({ registration_guide: () => GUIDE, create_endpoint: () => ({ created: CREATED, credentials: CREATED_CREDS }) });
    const w = wizardAt("register");
    renderScreen(Registration, w);
    await flush();
    await click("register-create");
    await click("register-next");
    expect(w.step).toBe("consent");
    expect(w.autoConsent).toBe(true);
    expect(w.previous("consent")).toBe("credentials"); // Credentials stays reachable with Back
  });

  it("create rejected with insufficient_role: the error, and the guided path is still there", async () => {
    on({
      registration_guide: () => GUIDE,
      create_endpoint: () => Promise.reject(ipcError("insufficient_role", null, "This account may not create OAuth clients.", "Ask for oauth_admin or use the guided steps.")),
    });
    const w = wizardAt("register");
    renderScreen(Registration, w);
    await flush();
    await click("register-create");
    expect(text("error-code")).toBe("insufficient_role");
    expect(text("error-remediation")).toContain("guided");
    expect(has("created-card")).toBe(false);
    await click("register-guided");
    expect(has("guided")).toBe(true);
    expect(el("register-guided").getAttribute("aria-pressed")).toBe("true");
    await click("register-next");
    expect(w.step).toBe("credentials");
  });

  it("an empty endpoint name is refused before calling", async () => {
    on({ registration_guide: () => GUIDE });
    renderScreen(Registration, wizardAt("register"));
    await flush();
    await type("endpoint-name", " ");
    await click("register-create");
    expect(text("field-error-endpoint_name")).toContain("Required");
    expect(callsTo("create_endpoint")).toHaveLength(0);
  });

  it("guided: steps, links, a Copy for each redirect URL, and the read-back per URL", async () => {
    on({
      registration_guide: () => GUIDE,
      check_redirects: () => [
        { url: GUIDE.redirect_urls[0], registered: true, problem: null },
        {
          url: GUIDE.redirect_urls[1],
          registered: false,
          problem: ipcError("redirect_uri_mismatch", null, "This redirect URL is not registered on the client.", "Add it to the Redirect URL field."),
        },
        { url: "https://third.example/cb", registered: null, problem: null },
      ],
    });
    const w = wizardAt("register");
    renderScreen(Registration, w);
    await flush();
    await click("register-guided");
    expect(text("guide-steps")).toContain(GUIDE.steps[0]);
    await click("copy-redirect-1");
    expect(backend.clipboard).toEqual([GUIDE.redirect_urls[1]]);
    expect(text("copy-redirect-1")).toBe("Copied");

    await click("guided-check");
    expect(text("field-error-guided_client_id")).toContain("Required");
    expect(callsTo("check_redirects")).toHaveLength(0);
    await type("guided-client-id", "abc123");
    await click("guided-check");
    expect(lastArgs("check_redirects")).toEqual({ clientId: "abc123" });
    expect(el("redirect-check-0").getAttribute("data-state")).toBe("registered");
    expect(el("redirect-check-1").getAttribute("data-state")).toBe("not-registered");
    expect(text("redirect-check-1")).toContain("redirect_uri_mismatch");
    expect(text("redirect-check-1")).toContain("Add it to the Redirect URL field.");
    expect(el("redirect-check-2").getAttribute("data-state")).toBe("unknown");

    await click("register-next");
    expect(w.step).toBe("credentials");
    expect(w.creds.client_id).toBe("abc123");
  });

  it("without admin credentials only the guided path, without the read-back", async () => {
    on({ registration_guide: () => ({ ...GUIDE, can_create: false }) });
    renderScreen(Registration, wizardAt("register", { admin: false }));
    await flush();
    expect(has("register-create")).toBe(false);
    expect(has("guided")).toBe(true);
    expect(text("create-unavailable")).toContain("needs an admin account");
    expect(has("guided-client-id")).toBe(false);
    await click("open-link");
    expect(backend.opened).toEqual([GUIDE.links[0].url]);
  });
});

describe("Registration in progress", () => {
  it("Progress after 300 ms while creating; a failed guide load offers Try again", async () => {
    vi.useFakeTimers();
    const create = deferred<CreatedEndpoint>();
    let n = 0;
    on({
      registration_guide: () => (n++ === 0 ? Promise.reject(ipcError("instance_unavailable")) : GUIDE),
      create_endpoint: () => create.promise,
    });
    renderScreen(Registration, wizardAt("register"));
    await flush();
    expect(text("error-code")).toBe("instance_unavailable");
    await click("register-retry");
    expect(has("register-create")).toBe(true);
    await click("register-create");
    expect(has("progress")).toBe(false);
    expect(el<HTMLButtonElement>("register-next").disabled).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Creating the OAuth client on the instance…");
    create.resolve({ created: CREATED, credentials: CREATED_CREDS });
    await flush();
    expect(has("progress")).toBe(false);
    expect(has("created-card")).toBe(true);
  });
});
