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
}

impl User {
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
    #[allow(dead_code)] // read by the oauth_entity table (later slice)
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
}

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tls: bool,
    pub auto_approve: bool,
    pub auto_approve_user: String,
    pub demo_hint: bool,
    pub accept_basic_client_auth: bool,
    pub post_body_only: bool,
    pub allow_public_client_refresh: bool,
    pub api_session_auth: bool,
    pub json_token_body_status: u16,
}

#[derive(Debug)]
pub struct SimState {
    pub settings: Settings,
    inner: Mutex<Inner>,
}

impl SimState {
    pub fn new(cfg: &SimConfig, confidential_secret: String) -> SimState {
        let settings = Settings {
            tls: cfg.tls,
            auto_approve: cfg.auto_approve,
            auto_approve_user: cfg.auto_approve_user.clone(),
            demo_hint: cfg.demo_hint,
            accept_basic_client_auth: cfg.accept_basic_client_auth,
            post_body_only: cfg.post_body_only,
            allow_public_client_refresh: cfg.allow_public_client_refresh,
            api_session_auth: cfg.api_session_auth,
            json_token_body_status: cfg.json_token_body_status,
        };
        let mut inner = Inner {
            users: seed_users(),
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
            },
        ];
        inner.issued.push(confidential_secret);
        SimState {
            settings,
            inner: Mutex::new(inner),
        }
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
