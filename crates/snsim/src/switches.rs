//! Runtime switches: every behaviour that is UNCONFIRMED in servicenow.md, plus instance
//! states and faults. One serde struct serves the TOML scenario file (`[switches]`), the
//! control API (`POST /__snsim/switches`, a JSON merge) and [`crate::RunningSim::set_switches`].
//!
//! Behaviour that a real instance drives from a system property (state parameter required,
//! post-body-only, client-credentials and ROPC grants, Basic Auth Restriction, OAuth active)
//! is *not* here: it lives in the `sys_properties` table (scenario `[properties]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the instance answers as a whole (servicenow.md §6.2, §6.3; checklist 9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// A working instance.
    #[default]
    Normal,
    /// A hibernating developer instance: every path answers 200 with the hibernation page.
    Hibernating,
    /// The `snow_adc` edge answers 502 on every path (seen while a PDI wakes up).
    Edge502,
    /// SSO: UI paths (`*.do`, `/`) redirect (302) to the identity provider's HTML login;
    /// the REST API still answers JSON.
    Sso,
    /// API paths answer 200 with the HTML login page instead of JSON (a proxy or a UI-only
    /// path in front of the API).
    ApiLoginPage,
}

/// What `POST /oauth_auth.do` does after **Deny** (UNCONFIRMED, §1.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyMode {
    /// 302 to the redirect URL with `error=access_denied&error_description=…&state=…`
    /// (RFC 6749 §4.1.2.1).
    #[default]
    Redirect,
    /// Stay on the instance: 200 HTML "Access denied" page, no redirect.
    Page,
}

/// What `oauth_auth.do` does with a PKCE challenge from a **confidential** client. RFC 9700
/// §2.1.1 asks clients to send one on every code flow; how an instance treats it is
/// UNCONFIRMED (§1.3, PKCE is documented for public clients only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfidentialPkce {
    /// The challenge is kept with the code and `oauth_token.do` checks the verifier.
    #[default]
    Verify,
    /// The challenge is dropped; the verifier at `oauth_token.do` is ignored.
    Ignore,
}

/// How `v_plugin.active` / `sys_plugins.active` read (UNCONFIRMED, §3, open question 8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginActiveFormat {
    /// `"true"` / `"false"`.
    #[default]
    True,
    /// `"active"` / `"inactive"`.
    Active,
}

/// Injected faults (never on `/__snsim/`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Delay before answering, in milliseconds.
    pub latency_ms: u64,
    /// Stream the response body in small chunks spread over this many milliseconds.
    pub slow_body_ms: u64,
    /// Close the connection without a complete response.
    pub drop_connection: bool,
    /// Answer 500 with the REST error body.
    pub status_500: bool,
    /// Answer 200 `application/json` with a truncated (malformed) JSON body.
    pub malformed_json: bool,
    /// Keep the body but send `Content-Type: text/html;charset=UTF-8`.
    pub wrong_content_type: bool,
    /// Only paths starting with this prefix get the faults ("" = every path).
    pub path_prefix: String,
    /// Apply the faults to this many more matching requests, then switch them off
    /// (`None` = until changed).
    pub count: Option<u64>,
}

impl Faults {
    pub fn any(&self) -> bool {
        self.latency_ms > 0
            || self.slow_body_ms > 0
            || self.drop_connection
            || self.status_500
            || self.malformed_json
            || self.wrong_content_type
    }
}

/// Every runtime switch; `Default` = the likeliest real behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    /// Normal, hibernating, edge 502, SSO, or HTML login page on API paths.
    pub instance_state: InstanceState,
    /// `oauth_auth.do` refuses an unregistered `redirect_uri` (400 page) instead of the
    /// documented fallback to the first registered URL (default false).
    pub redirect_strict: bool,
    /// What Deny does (default redirect with `error=access_denied`; UNCONFIRMED).
    pub deny: DenyMode,
    /// A confidential client's PKCE challenge: verified (default) or ignored (UNCONFIRMED).
    pub confidential_pkce: ConfidentialPkce,
    /// The refresh_token grant echoes the (same) `refresh_token` (default false: "returns
    /// only an access token"; UNCONFIRMED whether it is echoed).
    pub refresh_echo: bool,
    /// `oauth_token.do` accepts client authentication by HTTP Basic as well as in the body
    /// (default true; UNCONFIRMED, §1.3).
    pub basic_client_auth: bool,
    /// The public (PKCE) client may use the refresh_token grant with its client_id alone
    /// (default true; UNCONFIRMED, open question 3).
    pub public_client_refresh: bool,
    /// Status for a non-form (JSON) body at `oauth_token.do` (default 400; the docs say "an
    /// unspecified error"), with the generic `access_denied` body.
    pub json_token_body_status: u16,
    /// REST calls without credentials are authenticated by a logged-in session cookie
    /// (default true, like the platform, §6.4).
    pub session_cookie_auth: bool,
    /// `x-sn-apikey` (header or query parameter) authenticates REST calls (default true).
    pub api_key_auth: bool,
    /// MFA for REST: Basic with a valid password but no one-time code → 401 with
    /// `X-MFA_TOKEN: invalid`; the password followed by `mfa_code` passes (default false).
    pub mfa: bool,
    /// The code accepted in MFA mode, appended to the password (default "123456").
    pub mfa_code: String,
    /// OAuth Bearer tokens are refused on the Table API with 403 "Missing required api
    /// access scope" (default false).
    pub scope_restricted: bool,
    /// Value format of plugin `active` (default "true"; UNCONFIRMED).
    pub plugin_active_format: PluginActiveFormat,
    /// Field-level ACLs: table → fields hidden from every user without the `admin` role
    /// (default none).
    pub hidden_fields: BTreeMap<String, Vec<String>>,
    /// Table-level ACLs: tables refused (403 "User Not Authorized") to every user without the
    /// `admin` role, reads included (default none).
    pub denied_tables: Vec<String>,
    /// The `sys_properties` rows named `glide.authenticate.basic_auth.*` (Basic Auth
    /// Restriction) are hidden from every user without `security_admin`, admin included:
    /// 200 with the rows left out, still counted in `X-Total-Count` (default false;
    /// UNCONFIRMED, §5: the Basic Auth Restriction Properties page needs security_admin).
    pub basic_auth_properties_need_security_admin: bool,
    /// Inbound REST rate limit, requests per user per hour on `/api/` (default off).
    pub rate_limit_per_hour: Option<u64>,
    /// Injected faults (default none).
    pub faults: Faults,
    /// Serve a leaf certificate signed by a second CA that is not in `ca_pem()` (TLS only).
    pub untrusted_certificate: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            instance_state: InstanceState::Normal,
            redirect_strict: false,
            deny: DenyMode::Redirect,
            confidential_pkce: ConfidentialPkce::Verify,
            refresh_echo: false,
            basic_client_auth: true,
            public_client_refresh: true,
            json_token_body_status: 400,
            session_cookie_auth: true,
            api_key_auth: true,
            mfa: false,
            mfa_code: "123456".to_string(),
            scope_restricted: false,
            plugin_active_format: PluginActiveFormat::True,
            hidden_fields: BTreeMap::new(),
            denied_tables: Vec::new(),
            basic_auth_properties_need_security_admin: false,
            rate_limit_per_hour: None,
            faults: Faults::default(),
            untrusted_certificate: false,
        }
    }
}

/// A scenario file (TOML): `[switches]` and `[properties]` (sys_properties name → value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    pub switches: Switches,
    pub properties: BTreeMap<String, String>,
}

/// Merge `patch` into `base` (objects key by key, anything else replaced).
pub fn merge_json(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge_json(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

impl Switches {
    /// `self` with a JSON object merged in (unknown keys are an error).
    pub fn merged(&self, patch: serde_json::Value) -> Result<Switches, serde_json::Error> {
        let mut v = serde_json::to_value(self)?;
        merge_json(&mut v, patch);
        serde_json::from_value(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_other_fields() {
        let s = Switches::default();
        let m = s
            .merged(serde_json::json!({"faults": {"latency_ms": 5}, "mfa": true}))
            .unwrap();
        assert!(m.mfa);
        assert_eq!(m.faults.latency_ms, 5);
        assert!(m.basic_client_auth);
        assert!(s.merged(serde_json::json!({"nope": 1})).is_err());
    }

    #[test]
    fn state_names() {
        let names: Vec<_> = [
            InstanceState::Normal,
            InstanceState::Hibernating,
            InstanceState::Edge502,
            InstanceState::Sso,
            InstanceState::ApiLoginPage,
        ]
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
        assert_eq!(
            names,
            ["normal", "hibernating", "edge502", "sso", "api_login_page"]
        );
    }

    #[test]
    fn scenario_toml() {
        let s: Scenario = toml::from_str(
            "[switches]\ninstance_state = \"edge502\"\n[switches.faults]\nlatency_ms = 5\n[properties]\n\"a.b\" = \"c\"\n",
        )
        .unwrap();
        assert_eq!(s.switches.instance_state, InstanceState::Edge502);
        assert_eq!(s.switches.faults.latency_ms, 5);
        assert!(s.switches.basic_client_auth);
        assert_eq!(s.properties["a.b"], "c");
        assert!(!s.switches.basic_auth_properties_need_security_admin);
        let s: Scenario = toml::from_str(
            "[switches]\nbasic_auth_properties_need_security_admin = true\ndenied_tables = [\"sys_user_has_role\"]\n",
        )
        .unwrap();
        assert!(s.switches.basic_auth_properties_need_security_admin);
        assert_eq!(s.switches.denied_tables, ["sys_user_has_role"]);
    }
}
