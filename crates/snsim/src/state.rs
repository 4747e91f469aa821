//! The simulated instance's data: users, OAuth clients (`oauth_entity`), sessions, codes,
//! tokens, the request log and a controllable clock.
//!
//! Everything lives behind one `std::sync::Mutex`; no lock is ever held across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::distributions::{Distribution, Uniform};
use rand::Rng;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::switches::Switches;
use crate::tables::Record;
use crate::{SimConfig, ADMIN_SYS_ID, CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};

/// Authorization codes live this long (sim clock seconds).
pub const CODE_LIFETIME_SECS: u64 = 60;
/// Idle lifetime of a UI/API session (matches `glide_session_store` Max-Age=1800).
pub const SESSION_IDLE_SECS: u64 = 1800;
/// Above this many sessions, idle ones are pruned.
const SESSION_PRUNE_THRESHOLD: usize = 5_000;

const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `n` random URL-safe characters (the alphabet of ServiceNow's opaque tokens).
pub fn random_url_safe(n: usize) -> String {
    let mut rng = rand::thread_rng();
    let pick = Uniform::from(0..URL_SAFE.len());
    (0..n)
        .map(|_| URL_SAFE[pick.sample(&mut rng)] as char)
        .collect()
}

/// `n` random hex characters (lower case), like a sys_id or a transaction id.
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// One entry of the request log (see [`crate::RunningSim::requests`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    /// Path only, never the query string (which can carry codes or state).
    pub path: String,
    /// The `grant_type` of an `/oauth_token.do` call, when one was sent.
    pub grant_type: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone)]
pub struct User {
    pub sys_id: String,
    pub user_name: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub active: bool,
    pub web_service_access_only: bool,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }

    pub fn initials(&self) -> String {
        [&self.first_name, &self.last_name]
            .iter()
            .filter_map(|s| s.chars().next())
            .flat_map(char::to_uppercase)
            .collect()
    }

    /// The avatar path as `current_user` reports it (`/<sys_id>.iix?t=small`).
    pub fn avatar(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.user_name.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("/{hex}.iix?t=small")
    }
}

/// An `oauth_entity` record of type `client` (an inbound OAuth client).
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub sys_id: String,
    pub name: String,
    pub client_id: String,
    /// `None` for public clients.
    pub client_secret: Option<String>,
    pub public_client: bool,
    pub pkce_required: bool,
    pub redirect_urls: Vec<String>,
    pub active: bool,
    pub access_token_lifespan: u64,
    pub refresh_token_lifespan: u64,
    /// `oauth_application_user` (sys_id): the user a client_credentials token acts as.
    pub application_user: Option<String>,
    pub logo_url: String,
    pub comments: String,
    pub default_grant_type: String,
    /// PEM of the JWT verifier key (JWT bearer grant), and its DER.
    pub jwt_public_key: Option<String>,
    pub jwt_spki: Option<Vec<u8>>,
}

/// A REST API key (`x-sn-apikey`) acting as a user.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub sys_id: String,
    pub name: String,
    pub token: String,
    pub user: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub glide_session_store: String,
    /// `user_name` once logged in.
    pub user: Option<String>,
    /// Anti-CSRF token (`sysparm_ck`) for the forms rendered in this session.
    pub ck: String,
    pub last_seen: u64,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub user: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires_at: u64,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub client_id: String,
    pub user: String,
    pub expires_at: u64,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub client_id: String,
    pub user: String,
    pub expires_at: u64,
}

/// The mutable part of the instance.
#[derive(Debug, Default)]
pub struct Inner {
    pub users: Vec<User>,
    pub clients: Vec<OAuthClient>,
    pub sessions: HashMap<String, Session>,
    pub codes: HashMap<String, AuthCode>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// Every code, access token and refresh token ever issued, plus client secrets.
    pub issued: Vec<String>,
    pub requests: Vec<LoggedRequest>,
    /// Seconds added to the wall clock (see `advance_clock`).
    pub clock_offset: u64,
    /// Runtime switches.
    pub switches: Switches,
    /// Plain tables (everything but sys_user, sys_user_has_role, oauth_entity and
    /// oauth_credential, which are views of the structs above).
    pub tables: BTreeMap<String, Vec<Record>>,
    pub api_keys: Vec<ApiKey>,
    /// Rate limiting: user → (window start, count).
    pub rate: HashMap<String, (u64, u64)>,
}

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tls: bool,
    pub auto_approve: bool,
    pub auto_approve_user: String,
    pub demo_hint: bool,
    /// `https://127.0.0.1:PORT` (no trailing slash), for `Link` headers and reference links.
    pub base: String,
}

#[derive(Debug)]
pub struct SimState {
    pub settings: Settings,
    /// Mirrors `switches.untrusted_certificate` for the TLS certificate resolver.
    pub untrusted_cert: Arc<AtomicBool>,
    inner: Mutex<Inner>,
}

/// The initial switches: `cfg.switches` with the older single-purpose config fields applied.
pub fn initial_switches(cfg: &SimConfig) -> Switches {
    let mut s = cfg.switches.clone();
    s.basic_client_auth = cfg.accept_basic_client_auth;
    s.public_client_refresh = cfg.allow_public_client_refresh;
    s.session_cookie_auth = cfg.api_session_auth;
    s.json_token_body_status = cfg.json_token_body_status;
    s
}

impl SimState {
    pub fn new(
        cfg: &SimConfig,
        confidential_secret: String,
        api_key: String,
        base: String,
        untrusted_cert: Arc<AtomicBool>,
    ) -> SimState {
        let settings = Settings {
            tls: cfg.tls,
            auto_approve: cfg.auto_approve,
            auto_approve_user: cfg.auto_approve_user.clone(),
            demo_hint: cfg.demo_hint,
            base,
        };
        let switches = initial_switches(cfg);
        untrusted_cert.store(switches.untrusted_certificate, Ordering::SeqCst);
        let mut inner = Inner {
            users: seed_users(),
            switches,
            ..Inner::default()
        };
        inner.clients = vec![
            OAuthClient {
                sys_id: "b1f5c1a0db6e1010a0c3f0c8f49619aa".into(),
                name: "snconnect (confidential)".into(),
                client_id: CONFIDENTIAL_CLIENT_ID.into(),
                client_secret: Some(confidential_secret.clone()),
                public_client: false,
                pkce_required: false,
                redirect_urls: cfg.redirect_urls.clone(),
                active: true,
                access_token_lifespan: cfg.access_token_lifespan,
                refresh_token_lifespan: cfg.refresh_token_lifespan,
                application_user: None,
                logo_url: String::new(),
                comments: String::new(),
                default_grant_type: "authorization_code".into(),
                jwt_public_key: None,
                jwt_spki: None,
            },
            OAuthClient {
                sys_id: "c2a6d2b1dc7f2121b1d4a1d9a5a72abb".into(),
                name: "snconnect (public, PKCE)".into(),
                client_id: PUBLIC_CLIENT_ID.into(),
                client_secret: None,
                public_client: true,
                pkce_required: true,
                redirect_urls: cfg.redirect_urls.clone(),
                active: true,
                access_token_lifespan: cfg.access_token_lifespan,
                refresh_token_lifespan: cfg.refresh_token_lifespan,
                application_user: None,
                logo_url: String::new(),
                comments: String::new(),
                default_grant_type: "authorization_code".into(),
                jwt_public_key: None,
                jwt_spki: None,
            },
        ];
        inner.issued.push(confidential_secret);
        crate::seed::seed_tables(&mut inner, cfg);
        inner.api_keys.push(ApiKey {
            sys_id: "d3b7e3c2ed8a3232c2e5b2eab6b83bcc".into(),
            name: "snsim admin key".into(),
            token: api_key.clone(),
            user: "admin".into(),
            active: true,
        });
        inner.issued.push(api_key);
        SimState {
            settings,
            untrusted_cert,
            inner: Mutex::new(inner),
        }
    }

    /// Replace the switches (keeps the TLS resolver in sync).
    pub fn set_switches(&self, s: Switches) {
        self.untrusted_cert
            .store(s.untrusted_certificate, Ordering::SeqCst);
        self.lock().switches = s;
    }

    /// Lock the state. A poisoned lock is recovered: the data stays usable for a simulator.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn seed_users() -> Vec<User> {
    let user = |sys_id: &str, name: &str, pw: &str, first: &str, last: &str, roles: &[&str]| User {
        sys_id: sys_id.into(),
        user_name: name.into(),
        password: pw.into(),
        first_name: first.into(),
        last_name: last.into(),
        email: format!("{name}@example.com"),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        active: true,
        web_service_access_only: false,
    };
    vec![
        user(
            ADMIN_SYS_ID,
            "admin",
            "Admin#1234",
            "System",
            "Administrator",
            &["admin"],
        ),
        user(
            "62826bf03710200044e0bfc8bcbe5df1",
            "abel.tuter",
            "Abel#1234",
            "Abel",
            "Tuter",
            &["itil"],
        ),
        user(
            "9d385017c611228701d22104cc95c371",
            "no.roles",
            "None#1234",
            "No",
            "Roles",
            &[],
        ),
        user(
            "46d44a23a9fe19810012d100cca80666",
            "oauth.admin",
            "OAuth#1234",
            "OAuth",
            "Admin",
            &["oauth_admin"],
        ),
        // Integration accounts that still depend on basic auth (servicenow.md §5, Basic Auth
        // Restriction): two web-service-access-only users, one ordinary account that keeps
        // basic auth through snc_basic_auth_api_access, and an inactive WSAO account.
        User {
            web_service_access_only: true,
            ..user(
                "5b3c9e1fdb2a4410a1f7e2c3b4d5e6f1",
                "svc.qlik",
                "Qlik#1234",
                "Qlik",
                "Integration",
                &["itil"],
            )
        },
        User {
            web_service_access_only: true,
            ..user(
                "7e4d0a2fdc3b5521b2a8f3d4c5e6f702",
                "svc.boomi",
                "Boomi#1234",
                "Boomi",
                "Integration",
                &["itil"],
            )
        },
        user(
            "8f5e1b3aed4c6632c3b9a4e5d6f70813",
            "svc.reporting",
            "Report#1234",
            "Reporting",
            "Integration",
            &["itil", "snc_basic_auth_api_access"],
        ),
        User {
            web_service_access_only: true,
            active: false,
            ..user(
                "9a6f2c4bfe5d7743d4cab5f6e7081924",
                "svc.legacy",
                "Legacy#1234",
                "Legacy",
                "Integration",
                &["itil"],
            )
        },
    ]
}

impl Inner {
    /// Seconds since the epoch on the simulated clock.
    pub fn now(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        wall + self.clock_offset
    }

    pub fn user(&self, user_name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.user_name == user_name)
    }

    /// The user if the name exists, is active and the password matches.
    pub fn check_password(&self, user_name: &str, password: &str) -> Option<&User> {
        self.user(user_name)
            .filter(|u| u.active && constant_time_eq(u.password.as_bytes(), password.as_bytes()))
    }

    pub fn user_by_sys_id(&self, sys_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.sys_id == sys_id)
    }

    /// A `sys_properties` value.
    pub fn property(&self, name: &str) -> Option<String> {
        self.tables
            .get("sys_properties")?
            .iter()
            .find(|r| r.get("name") == Some(name))
            .and_then(|r| r.get("value").map(str::to_string))
    }

    /// A true|false property; absent or unparsable = `default`.
    pub fn property_bool(&self, name: &str, default: bool) -> bool {
        match self.property(name).as_deref().map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            _ => default,
        }
    }

    /// Whether a plugin (`sys_plugins.source`) is active.
    pub fn plugin_active(&self, source: &str) -> bool {
        self.tables.get("sys_plugins").is_some_and(|rows| {
            rows.iter().any(|r| {
                r.get("source") == Some(source)
                    && r.get("active")
                        .is_some_and(|a| a == "true" || a == "active")
            })
        })
    }

    /// Activate or deactivate a plugin (`sys_plugins.source`). False when unknown.
    pub fn set_plugin_active(&mut self, source: &str, active: bool) -> bool {
        let Some(rows) = self.tables.get_mut("sys_plugins") else {
            return false;
        };
        match rows.iter_mut().find(|r| r.get("source") == Some(source)) {
            Some(r) => {
                r.set("active", if active { "true" } else { "false" });
                true
            }
            None => false,
        }
    }

    /// OAuth works: the `com.snc.platform.security.oauth` plugin is active and
    /// `com.snc.platform.security.oauth.is.active` is not false (§3).
    pub fn oauth_active(&self) -> bool {
        self.plugin_active("com.snc.platform.security.oauth")
            && self.property_bool(crate::properties::OAUTH_ACTIVE, true)
    }

    /// Create or update a `sys_properties` record.
    pub fn set_property(&mut self, name: &str, value: &str) {
        let now = crate::tables::glide_datetime(self.now());
        let rows = self.tables.entry("sys_properties".into()).or_default();
        if let Some(r) = rows.iter_mut().find(|r| r.get("name") == Some(name)) {
            r.set("value", value);
            r.set("sys_updated_on", &now);
            return;
        }
        rows.push(crate::seed::property_row(
            &random_hex(32),
            name,
            value,
            "",
            &now,
        ));
    }

    /// The user behind an active API key.
    pub fn api_key_user(&self, key: &str) -> Option<&User> {
        let k = self
            .api_keys
            .iter()
            .find(|k| k.active && constant_time_eq(k.token.as_bytes(), key.as_bytes()))?;
        self.user(&k.user).filter(|u| u.active)
    }

    /// Revoke an access or refresh token (marks it expired). True when it existed.
    pub fn revoke(&mut self, token: &str) -> bool {
        if let Some(t) = self.access_tokens.get_mut(token) {
            t.expires_at = 0;
            return true;
        }
        if let Some(t) = self.refresh_tokens.get_mut(token) {
            t.expires_at = 0;
            return true;
        }
        false
    }

    pub fn client(&self, client_id: &str) -> Option<&OAuthClient> {
        self.clients
            .iter()
            .find(|c| c.client_id == client_id && c.active)
    }

    // ---- sessions -------------------------------------------------------------------------

    /// Create an anonymous (or logged-in) session and return its `JSESSIONID`.
    pub fn new_session(&mut self, user: Option<String>) -> String {
        let now = self.now();
        if self.sessions.len() > SESSION_PRUNE_THRESHOLD {
            self.sessions
                .retain(|_, s| now.saturating_sub(s.last_seen) < SESSION_IDLE_SECS);
        }
        let id = random_hex(32).to_uppercase();
        self.sessions.insert(
            id.clone(),
            Session {
                glide_session_store: random_hex(32).to_uppercase(),
                user,
                ck: random_hex(64),
                last_seen: now,
            },
        );
        id
    }

    /// Look a session up and touch it; expired sessions are removed.
    pub fn touch_session(&mut self, id: &str) -> Option<Session> {
        let now = self.now();
        let alive = match self.sessions.get(id) {
            Some(s) => now.saturating_sub(s.last_seen) < SESSION_IDLE_SECS,
            None => return None,
        };
        if !alive {
            self.sessions.remove(id);
            return None;
        }
        let s = self.sessions.get_mut(id)?;
        s.last_seen = now;
        Some(s.clone())
    }

    pub fn bind_session_user(&mut self, id: &str, user: &str) {
        if let Some(s) = self.sessions.get_mut(id) {
            s.user = Some(user.to_string());
        }
    }

    pub fn logout_session(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    // ---- codes and tokens -----------------------------------------------------------------

    pub fn issue_code(
        &mut self,
        client_id: &str,
        user: &str,
        redirect_uri: &str,
        code_challenge: Option<String>,
    ) -> String {
        let code = random_url_safe(86);
        let expires_at = self.now() + CODE_LIFETIME_SECS;
        self.codes.insert(
            code.clone(),
            AuthCode {
                client_id: client_id.into(),
                user: user.into(),
                redirect_uri: redirect_uri.into(),
                code_challenge,
                expires_at,
                used: false,
            },
        );
        self.issued.push(code.clone());
        code
    }

    /// Consume a code: returns it only if it exists, is unused and unexpired. A presented
    /// code is burnt even when the rest of the request then fails (single use).
    pub fn take_code(&mut self, code: &str) -> Option<AuthCode> {
        let now = self.now();
        let c = self.codes.get_mut(code)?;
        if c.used || now >= c.expires_at {
            c.used = true;
            return None;
        }
        c.used = true;
        Some(c.clone())
    }

    /// The access token for a client+user: the current one (expiry extended, KB0791140) while
    /// one is valid, else a new one. Returns `(token, expires_in)`.
    pub fn access_token_for(&mut self, client: &OAuthClient, user: &str) -> (String, u64) {
        let now = self.now();
        let lifespan = client.access_token_lifespan;
        let existing = self
            .access_tokens
            .iter_mut()
            .find(|(_, t)| t.client_id == client.client_id && t.user == user && t.expires_at > now);
        if let Some((tok, rec)) = existing {
            rec.expires_at = now + lifespan;
            return (tok.clone(), lifespan.saturating_sub(1));
        }
        let tok = random_url_safe(86);
        self.access_tokens.insert(
            tok.clone(),
            AccessToken {
                client_id: client.client_id.clone(),
                user: user.into(),
                expires_at: now + lifespan,
            },
        );
        self.issued.push(tok.clone());
        (tok, lifespan.saturating_sub(1))
    }

    /// The refresh token for a client+user: the current one (expiry extended, KB0791140)
    /// while one is valid, else a new one.
    pub fn refresh_token_for(&mut self, client: &OAuthClient, user: &str) -> String {
        let now = self.now();
        let lifespan = client.refresh_token_lifespan;
        let existing = self
            .refresh_tokens
            .iter_mut()
            .find(|(_, t)| t.client_id == client.client_id && t.user == user && t.expires_at > now);
        if let Some((tok, rec)) = existing {
            rec.expires_at = now + lifespan;
            return tok.clone();
        }
        let tok = random_url_safe(86);
        self.refresh_tokens.insert(
            tok.clone(),
            RefreshToken {
                client_id: client.client_id.clone(),
                user: user.into(),
                expires_at: now + lifespan,
            },
        );
        self.issued.push(tok.clone());
        tok
    }

    /// The user behind a valid, unexpired access token.
    pub fn bearer_user(&self, token: &str) -> Option<&User> {
        let now = self.now();
        let t = self
            .access_tokens
            .get(token)
            .filter(|t| t.expires_at > now)?;
        self.user(&t.user).filter(|u| u.active)
    }

    /// Mark every access token expired.
    pub fn expire_access_tokens(&mut self) -> usize {
        let now = self.now();
        let mut n = 0;
        for t in self.access_tokens.values_mut() {
            if t.expires_at > now {
                n += 1;
            }
            t.expires_at = 0;
        }
        n
    }
}

/// Compare secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_86_url_safe_chars() {
        let t = random_url_safe(86);
        assert_eq!(t.len(), 86);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn initials_and_display_name() {
        let users = seed_users();
        assert_eq!(users[0].initials(), "SA");
        assert_eq!(users[0].display_name(), "System Administrator");
        assert_eq!(users[2].display_name(), "No Roles");
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
