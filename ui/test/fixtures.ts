// Answers of the fake Rust side, typed with the generated types.
import type {
  AppInfo,
  Check,
  ConnectionSummary,
  ConnectionTest,
  Created,
  CredentialsState,
  HandoffCard,
  InstanceSet,
  MethodInfo,
  ParityReport,
  PreflightCheck,
  PreflightReport,
  PresetInfo,
  RegistrationGuide,
  Saved,
  SignInResult,
  SignInStart,
} from "../src/gen/ipc";

export const PRESETS: PresetInfo[] = [
  { id: "snconnect", name: "snconnect (this app)", needs: "none", grant: "authorization_code" },
  { id: "qlik", name: "Qlik Automate", needs: "redirect_url", grant: "authorization_code" },
  { id: "boomi", name: "Boomi", needs: "boomi_account", grant: "authorization_code" },
  { id: "alchemer", name: "Alchemer", needs: "region", grant: "authorization_code" },
  { id: "automate365", name: "Automate365", needs: "none", grant: "authorization_code" },
  { id: "postman", name: "Postman", needs: "none", grant: "authorization_code" },
  { id: "custom", name: "Something else", needs: "redirect_url", grant: "authorization_code" },
];

// As src-tauri's commands::methods() lists them.
export const METHODS: MethodInfo[] = [
  { method: "oauth-code", label: "OAuth authorization code (confidential client)", needs_consent: true, fields: ["client_id", "client_secret", "scope"] },
  { method: "oauth-code-pkce", label: "OAuth authorization code + PKCE (public client)", needs_consent: true, fields: ["client_id", "scope"] },
  { method: "oauth-password", label: "OAuth password grant", needs_consent: false, fields: ["client_id", "client_secret", "username", "password", "scope"] },
  { method: "oauth-client-credentials", label: "OAuth client credentials", needs_consent: false, fields: ["client_id", "client_secret", "scope"] },
  { method: "basic", label: "Basic auth (user name + password)", needs_consent: false, fields: ["username", "password"] },
  { method: "api-key", label: "API key", needs_consent: false, fields: ["api_key", "api_key_param", "api_key_in"] },
];

export const APP_INFO: AppInfo = {
  version: "0.1.0",
  demo: null,
  redirect_url: "http://127.0.0.1:53682/callback",
  saved_connections: 2,
  presets: PRESETS,
  methods: METHODS,
  demo_available: true,
};

export const DEMO_APP_INFO: AppInfo = {
  ...APP_INFO,
  saved_connections: 0,
  demo: { instance: "http://127.0.0.1:41234/", admin_username: "admin", note: "Demo mode: a simulated instance runs inside the app." },
};

export const INSTANCE_SET: InstanceSet = {
  instance: "https://acme.service-now.com/",
  host: "acme.service-now.com",
  target_name: "snconnect",
  redirect_urls: ["http://127.0.0.1:53682/callback"],
  has_admin: true,
  admin_username: "admin",
  has_basic: false,
  basic_username: null,
};

export const NO_ADMIN_SET: InstanceSet = { ...INSTANCE_SET, has_admin: false, admin_username: null };

const link = (label: string, path: string) => ({ label, url: `https://acme.service-now.com/${path}` });

export const PF_PLUGIN: PreflightCheck = {
  id: "oauth_plugin", title: "OAuth 2.0 plugin is active", state: "pass", finding: "com.snc.platform.security.oauth is active",
  code: "ok", fix: null, links: [], ms: 40,
};
export const PF_PLUGIN_INACTIVE: PreflightCheck = {
  ...PF_PLUGIN, state: "fail", finding: "com.snc.platform.security.oauth is not active", code: "plugin_inactive",
  fix: "Activate the OAuth 2.0 plugin in All Available Applications.", links: [link("All Available Applications", "$allappsmgmt.do")],
};
export const PF_PROPERTY: PreflightCheck = {
  id: "oauth_property", title: "OAuth property is true", state: "fail", finding: "com.snc.platform.security.oauth.is.active is false",
  code: "oauth_property_disabled", fix: "Set com.snc.platform.security.oauth.is.active to true.", links: [link("System properties", "sys_properties_list.do")], ms: 20,
};
export const PF_ROLE: PreflightCheck = {
  id: "admin_role", title: "Account may create OAuth clients", state: "unknown", finding: "this account cannot read sys_user_has_role",
  code: "insufficient_role", fix: "Ask an admin to confirm the oauth_admin role.", links: [], ms: 12,
};

export function report(checks: PreflightCheck[], diagnosis: PreflightReport["diagnosis"] = OK): PreflightReport {
  return {
    instance: INSTANCE_SET.instance,
    user: { user_sys_id: "6816f79cc0a8016401c5a33be04be441", user_name: "admin", user_display_name: "System Administrator" },
    roles: ["admin"],
    release: "Zurich",
    checks,
    can_register: true,
    diagnosis,
  };
}

export const OK = { code: "ok", message: "OK", remediation: null, detail: null } as const satisfies SignInResult["diagnosis"];

export const GUIDE: RegistrationGuide = {
  redirect_urls: ["http://127.0.0.1:53682/callback", "https://oauth.pstmn.io/v1/callback"],
  steps: ["All > System OAuth > Application Registry > New.", "Create an OAuth API endpoint for external clients."],
  links: [link("Application Registry", "oauth_entity_list.do")],
  can_create: true,
};

export const CREATED: Created = {
  sys_id: "0a1b2c3d4e5f",
  name: "snconnect acme.service-now.com",
  client_id: "f3c1a2b4d5e6f7a8b9c0d1e2f3a4b5c6",
  public_client: false,
  redirect_urls: ["http://127.0.0.1:53682/callback"],
  access_token_lifespan: 1800,
  refresh_token_lifespan: 8640000,
  record_url: "https://acme.service-now.com/oauth_entity.do?sys_id=0a1b2c3d4e5f",
  fields_set: ["name", "client_id", "redirect_url", "public_client"],
};

export const CREATED_CREDS: CredentialsState = {
  method: "oauth-code", username: null, client_id: CREATED.client_id, api_key_param: null, api_key_in: null, scope: null,
  has_password: false, has_client_secret: true, has_api_key: false, secret_from_registration: true, needs_consent: true,
};

export function credState(over: Partial<CredentialsState> = {}): CredentialsState {
  return {
    method: "basic", username: null, client_id: null, api_key_param: null, api_key_in: null, scope: null,
    has_password: false, has_client_secret: false, has_api_key: false, secret_from_registration: false, needs_consent: false, ...over,
  };
}

export const CONSENT_START: SignInStart = {
  needs_consent: true,
  authorize_url: "https://acme.service-now.com/oauth_auth.do?response_type=code&client_id=f3c1",
  redirect_url: "http://127.0.0.1:53682/callback",
  browser_opened: true,
  browser_error: null,
  timeout_s: 125,
};

export const DIRECT_START: SignInStart = { ...CONSENT_START, needs_consent: false, authorize_url: null, redirect_url: null };

export const CHECKS: Check[] = [
  { name: "Token request", ok: true, code: "ok", ms: 31 },
  { name: "Current user", ok: true, code: "ok", ms: 22 },
  { name: "Read sys_user", ok: true, code: "ok", ms: 18 },
];

export const RESULT_OK: SignInResult = {
  ok: true,
  diagnosis: OK,
  checks: CHECKS,
  identity: { user_sys_id: "6816f79cc0a8016401c5a33be04be441", user_name: "svc.integration", user_display_name: "Integration Service" },
  roles: ["itil", "rest_api_explorer"],
  latency_ms: 71.4,
  parity: null,
  support_text: "snconnect 0.1.0\ninstance https://acme.service-now.com/\nresult ok",
};

export function failed(code: SignInResult["diagnosis"]["code"], checks: Check[] = [CHECKS[0]]): SignInResult {
  return {
    ...RESULT_OK,
    ok: false,
    diagnosis: { code, message: `failed: ${code}`, remediation: `fix ${code}`, detail: `detail of ${code}` },
    checks,
    identity: null,
    roles: null,
    latency_ms: null,
    support_text: `snconnect 0.1.0\ncode ${code}\n(redacted)`,
  };
}

export const PARITY_SAFE: ParityReport = {
  basic_user: "svc.integration",
  oauth_user: "svc.integration",
  tables: [{ table: "incident", basic: { code: "ok", rows: 5, total: 5, fields: ["number"] }, oauth: { code: "ok", rows: 5, total: 5, fields: ["number"] }, differences: [] }],
  differences: [],
  safe: true,
  verdict: "OAuth sees the same data as basic auth: safe to switch.",
};

export const PARITY_MISMATCH: ParityReport = {
  ...PARITY_SAFE,
  oauth_user: "admin",
  tables: [{ table: "incident", basic: { code: "ok", rows: 5, total: 5, fields: ["number"] }, oauth: { code: "rows_hidden_by_acl", rows: 2, total: 5, fields: ["number"] }, differences: ["3 rows hidden"] }],
  differences: ["OAuth signs in as admin, basic auth as svc.integration", "incident: 3 rows hidden by ACLs"],
  safe: false,
  verdict: "Not the same data: do not switch yet.",
};

export const HANDOFF: HandoffCard = {
  target: "qlik",
  target_name: "Qlik Automate",
  grant: "authorization_code",
  fields: [
    { label: "Instance URL", value: "https://acme.service-now.com/", secret: false },
    { label: "Client ID", value: CREATED.client_id, secret: false },
    { label: "Client secret", value: null, secret: true },
  ],
  steps: ["Open the ServiceNow connection in Qlik Automate.", "Paste the values above and press Connect."],
};

export function saved(name: string, sessionOnly: boolean, handoff: HandoffCard | null = HANDOFF): Saved {
  return { name, stored: sessionOnly ? "session" : "keychain", profile_path: "/home/u/.config/snconnect/profiles.json", handoff };
}

/** A saved connection as list_connections describes it (an OAuth one, tested two minutes before NOW_S). */
export const NOW_S = 1_760_000_000;

export function summary(name: string, over: Partial<ConnectionSummary> = {}): ConnectionSummary {
  return {
    name,
    instance: "https://acme.service-now.com/",
    method: "oauth-code",
    user: "svc.integration",
    client_id: CREATED.client_id,
    badge: "connected",
    token_status: "connected",
    last_test: { at: NOW_S - 120, ok: true, code: "ok", latency_ms: 71, user: "Integration Service" },
    refresh_days_left: 87,
    refresh_lifespan_days: 100,
    ...over,
  };
}

/** test_saved's answer: success, or a failure with `code`. */
export function connTest(name: string, code: ConnectionTest["diagnosis"]["code"] = "ok", over: Partial<ConnectionSummary> = {}): ConnectionTest {
  const ok = code === "ok";
  return {
    name,
    ok,
    diagnosis: ok ? OK : { code, message: `failed: ${code}`, remediation: `fix ${code}`, detail: `detail of ${code}` },
    checks: ok ? CHECKS : [{ ...CHECKS[0], ok: false, code }],
    identity: ok ? RESULT_OK.identity : null,
    latency_ms: ok ? 71.4 : null,
    support_text: `snconnect 0.1.0\nprofile ${name}\ncode ${code}\n(redacted)`,
    summary: summary(name, {
      badge: ok ? "connected" : code === "refresh_token_expired" || code === "invalid_client" ? "needs_reauth" : "failing",
      last_test: { at: NOW_S, ok, code, latency_ms: ok ? 71 : null, user: ok ? "Integration Service" : null },
      ...over,
    }),
  };
}
