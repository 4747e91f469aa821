import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { CredentialsState } from "../src/gen/ipc";
import type { CredentialsRequest } from "../src/gen/ipc";
import Credentials from "../src/screens/Credentials.svelte";
import { callsTo, ipcError, lastArgs, on } from "./backend";
import { CREATED, CREATED_CREDS, METHODS, credState } from "./fixtures";
import { choose, click, deferred, el, flush, has, renderScreen, text, type, wizardAt } from "./helpers";

const ALL = ["username", "password", "client-id", "client-secret", "api-key", "api-key-param", "api-key-in", "scope"];

function shownFields(): string[] {
  return ALL.filter(has);
}

function req(): CredentialsRequest {
  return lastArgs("set_credentials").req as CredentialsRequest;
}

describe("Credentials", () => {
  it("each of the six methods shows exactly its fields", async () => {
    const w = wizardAt("credentials");
    renderScreen(Credentials, w);
    expect(METHODS.map((m) => has(`method-${m.method}`))).toEqual([true, true, true, true, true, true]);
    for (const m of METHODS) {
      await click(`method-${m.method}`);
      expect(el<HTMLInputElement>(`method-${m.method}`).checked).toBe(true);
      expect(shownFields(), m.method).toEqual(ALL.filter((f) => m.fields.map((x) => x.replace(/_/g, "-")).includes(f)));
    }
  });

  it("validates as you type: required, client ID without spaces, api-key-param charset", async () => {
    const w = wizardAt("credentials");
    renderScreen(Credentials, w);
    await click("method-oauth-client-credentials");
    await click("credentials-next");
    expect(text("field-error-client-id")).toBe("Required: enter the client ID.");
    expect(text("field-error-client-secret")).toBe("Required: enter the client secret.");
    expect(has("field-error-scope")).toBe(false); // optional
    expect(callsTo("set_credentials")).toHaveLength(0);
    await type("client-id", "abc def");
    expect(text("field-error-client-id")).toContain("has no spaces");
    await type("client-id", "abcdef");
    expect(has("field-error-client-id")).toBe(false);

    await click("method-api-key");
    await type("api-key-param", "x sn/apikey");
    expect(text("field-error-api-key-param")).toContain("Use only letters, digits, '.', '_' and '-'");
    await type("api-key-param", "x-sn-apikey");
    expect(has("field-error-api-key-param")).toBe(false);
    expect(text("field-error-api-key")).toBe("Required: enter the API key.");

    await click("method-basic");
    expect(text("field-error-username")).toBe("Required: enter the user name.");
    expect(text("field-error-password")).toBe("Required: enter the password.");
  });

  it("sends only the method's fields, the secrets once; a basic sign-in goes on to Test", async () => {
    on({ set_credentials: () => credState({ method: "basic", username: "svc", has_password: true }) });
    const w = wizardAt("credentials");
    renderScreen(Credentials, w);
    await click("method-basic");
    await type("username", " svc ");
    await type("password", "pw 1");
    await click("credentials-next");
    expect(req()).toEqual({
      method: "basic", username: "svc", password: "pw 1", client_id: null, client_secret: null, api_key: null,
      api_key_param: null, api_key_in: null, scope: null,
    });
    expect(w.creds.password).toBe("");
    expect(w.step).toBe("test");
  });

  it("API key in a query parameter", async () => {
    on({ set_credentials: () => credState({ method: "api-key", has_api_key: true }) });
    renderScreen(Credentials, wizardAt("credentials"));
    await click("method-api-key");
    await type("api-key", "k-123");
    await choose("api-key-in", "query");
    await click("credentials-next");
    expect(req()).toMatchObject({ method: "api-key", api_key: "k-123", api_key_param: "x-sn-apikey", api_key_in: "query" });
  });

  it("a code grant goes on to Consent", async () => {
    on({ set_credentials: () => credState({ method: "oauth-code-pkce", client_id: "pub", needs_consent: true }) });
    const w = wizardAt("credentials");
    renderScreen(Credentials, w);
    await click("method-oauth-code-pkce");
    await type("client-id", "pub");
    await click("credentials-next"); // a public client: no secret needed
    expect(req()).toMatchObject({ method: "oauth-code-pkce", client_id: "pub", client_secret: null, scope: null });
    expect(w.step).toBe("consent");
  });

  it("prefilled after Create it for me: client ID, and the secret stays in snconnect", async () => {
    on({ set_credentials: () => CREATED_CREDS });
    const w = wizardAt("credentials");
    w.created = CREATED;
    w.credentialsAccepted(CREATED_CREDS);
    renderScreen(Credentials, w);
    expect(el<HTMLInputElement>("method-oauth-code").checked).toBe(true);
    expect(el<HTMLInputElement>("client-id").value).toBe(CREATED.client_id);
    expect(text("client-secret-note")).toBe(
      "The client secret was generated on the instance and stays in snconnect — it never passes through this window.",
    );
    expect(text("client-secret-held")).toBe("held in memory — type to replace");
    await click("credentials-next");
    expect(req()).toMatchObject({ client_id: CREATED.client_id, client_secret: null }); // null = keep the held one
  });

  it("a set_credentials usage error naming a field marks it", async () => {
    on({ set_credentials: () => Promise.reject(ipcError("usage_error", "client_id: not a client ID of this instance")) });
    const w = wizardAt("credentials");
    renderScreen(Credentials, w);
    await click("method-oauth-code");
    await type("client-id", "abc");
    await type("client-secret", "s3cret");
    await click("credentials-next");
    expect(text("error-code")).toBe("usage_error");
    expect(text("field-error-client-id")).toBe("not a client ID of this instance");
    expect(el("client-id").getAttribute("aria-invalid")).toBe("true");
    expect(el<HTMLInputElement>("client-secret").value).toBe(""); // sent once, cleared
    expect(w.step).toBe("credentials");
  });

  it("Back keeps the method and what was typed", async () => {
    const w = wizardAt("credentials");
    const r = renderScreen(Credentials, w);
    await click("method-oauth-password");
    await type("username", "svc");
    await click("nav-back");
    expect(w.step).toBe("register");
    r.unmount();
    w.go("credentials");
    renderScreen(Credentials, w);
    expect(el<HTMLInputElement>("method-oauth-password").checked).toBe(true);
    expect(el<HTMLInputElement>("username").value).toBe("svc");
  });

  it("a held client secret belongs to its client: another client ID needs its own secret", async () => {
    const w = wizardAt("credentials");
    w.credentialsAccepted(CREATED_CREDS);
    renderScreen(Credentials, w);
    expect(has("client-secret-held")).toBe(true);
    await type("client-id", "another-client");
    expect(has("client-secret-held")).toBe(false);
    expect(has("client-secret-note")).toBe(false);
    await click("credentials-next");
    expect(text("field-error-client-secret")).toBe("Required: enter the client secret.");
    expect(callsTo("set_credentials")).toHaveLength(0);
  });

  it("submits on Enter; Progress after 300 ms", async () => {
    vi.useFakeTimers();
    const answer = deferred<CredentialsState>();
    on({ set_credentials: () => answer.promise });
    const w = wizardAt("credentials");
    renderScreen(Credentials, w);
    await click("method-basic");
    await type("username", "svc");
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    await user.type(el("password"), "pw{Enter}");
    await flush();
    expect(req()).toMatchObject({ method: "basic", username: "svc", password: "pw" });
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(text("progress")).toBe("Checking the credentials…");
    answer.resolve(credState({ method: "basic", username: "svc", has_password: true }));
    await flush();
    expect(w.step).toBe("test");
  });
});
