//! `snsim`: a local ServiceNow instance simulator, for tests and the desktop app's demo mode.
//!
//! It answers like an instance on the wire (servicenow.md): the OAuth authorization and token
//! endpoints with ServiceNow's quirks (generic 401 `access_denied` for every token failure,
//! `expires_in` = lifespan − 1, the same access token while one is valid, redirect fallback to
//! the first registered URL, "Missing State parameter in request."), HTML login and consent
//! pages, revocation, `current_user`, the Table API for the tables snconnect uses (with ACLs,
//! property-driven behaviour and seed data like a fresh developer instance), API keys, MFA and
//! Basic Auth Restriction modes, instance states (hibernating, edge 502, SSO), faults and rate
//! limiting, all switchable at run time ([`Switches`], [`RunningSim::set_switches`], the
//! `/__snsim/` control API). It serves HTTPS with a throwaway CA by default.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = snsim::RunningSim::start(snsim::SimConfig::default()).await?;
//! println!("{} trusts {:?}", sim.base_url(), sim.ca_file());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

// Handlers return a ready `Response` as the error of early-exit helpers; it is built once per
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use url::Url;

mod api;
mod common;
mod control;
mod jwt;
mod oauth;
mod pages;
mod seed;
mod server;
mod state;
mod switches;
mod tables;
mod tls;

pub use pages::HIBERNATING_PAGE;
pub use state::LoggedRequest;
pub use switches::{
    ConfidentialPkce, DenyMode, Faults, InstanceState, PluginActiveFormat, Scenario, Switches,
};

/// sys_id of the out-of-box `admin` user (PySNC tests).
pub const ADMIN_SYS_ID: &str = "6816f79cc0a8016401c5a33be04be441";
/// client_id of the seeded confidential client "snconnect (confidential)".
pub const CONFIDENTIAL_CLIENT_ID: &str = "7f9c2ba4e88f827d616045507605853e";
/// client_id of the seeded public PKCE client "snconnect (public, PKCE)".
pub const PUBLIC_CLIENT_ID: &str = "3c6e0b8a9c15224a8228b9a98ca1531d";
/// The default registered redirect URL of both seeded clients.
pub const DEFAULT_REDIRECT_URL: &str = "http://127.0.0.1:8765/callback";
/// The seeded users' names, in order.
pub const SEEDED_USERS: &[&str] = &[
    "admin",
    "abel.tuter",
    "no.roles",
    "oauth.admin",
    "svc.qlik",
    "svc.boomi",
    "svc.reporting",
    "svc.legacy",
];
/// Names of the `sys_properties` that drive behaviour (servicenow.md §1.2, §1.3, §1.5, §3, §5).
pub mod properties {
    /// `true` enables the client_credentials grant (absent on a fresh instance).
    pub const CLIENT_CREDENTIALS: &str = "glide.oauth.inbound.client.credential.grant_type.enabled";
    /// `true` refuses the password (ROPC) grant (absent on a fresh instance).
    pub const ROPC_DISABLED: &str = "glide.oauth.inbound.ropc.grant_type.disabled";
    /// `true` (default): `oauth_auth.do` needs a non-empty `state`.
    pub const STATE_REQUIRED: &str = "glide.oauth.state.parameter.required";
    /// `true` (default): query-string parameters at `oauth_token.do` get the generic 401.
    pub const POST_BODY_ONLY: &str = "glide.oauth.allow.parameters.in.post.body.only";
    /// `true` (default): the OAuth endpoints work at all.
    pub const OAUTH_ACTIVE: &str = "com.snc.platform.security.oauth.is.active";
    /// `true`: Basic Auth Restriction is enforced for REST calls.
    pub const BASIC_AUTH_ENFORCE: &str = "glide.authenticate.basic_auth.restriction.enforce";
    /// The prefix of every Basic Auth Restriction property (§5).
    pub const BASIC_AUTH_PREFIX: &str = "glide.authenticate.basic_auth.";
    /// `true`: Basic Auth Restriction is active (seed data only; enforcement follows `…enforce`).
    pub const BASIC_AUTH_ACTIVE: &str = "glide.authenticate.basic_auth.restriction.active";
    /// The enforcement date (seeded "2026-09-30"; the value format is UNCONFIRMED).
    pub const BASIC_AUTH_ENFORCEMENT_DATE: &str =
        "glide.authenticate.basic_auth.restriction.enforcement_date";
    /// The decision for accounts nobody decided on (seeded "maintain").
    pub const BASIC_AUTH_DEFAULT_DECISION: &str =
        "glide.authenticate.basic_auth.restriction.default_decision";
    /// Comma-separated roles that keep basic auth under enforcement.
    pub const BASIC_AUTH_ALLOWED_ROLES: &str = "glide.authenticate.basic_auth.allowed_roles";
    /// Comma-separated user names that keep basic auth under enforcement.
    pub const BASIC_AUTH_ALLOWED_USERS: &str = "glide.authenticate.basic_auth.allowed_users";
    /// The release name (default "Zurich").
    pub const BUILDNAME: &str = "glide.buildname";
}

/// How the simulator is started. (`Debug` redacts the client secret.)
#[derive(Clone)]
pub struct SimConfig {
    /// Address to bind (default 127.0.0.1).
    pub host: IpAddr,
    /// Port to bind; 0 picks a free port (default 0).
    pub port: u16,
    /// HTTPS with a throwaway CA generated at start (default true); false = plain HTTP.
    pub tls: bool,
    /// Skip the login and consent pages and approve as `auto_approve_user` (default false).
    pub auto_approve: bool,
    /// The user `auto_approve` approves as (default "admin").
    pub auto_approve_user: String,
    /// Registered redirect URLs of both seeded clients (default [`DEFAULT_REDIRECT_URL`]).
    pub redirect_urls: Vec<String>,
    /// Secret of the confidential client; `None` = 32 random URL-safe characters.
    pub confidential_client_secret: Option<String>,
    /// Show "Demo instance: sign in as admin / <password>" on the login page (default false).
    pub demo_hint: bool,
    /// Access token lifespan in seconds (default 1800; responses say `expires_in` 1799).
    pub access_token_lifespan: u64,
    /// Refresh token lifespan in seconds (default 8,640,000 = 100 days).
    pub refresh_token_lifespan: u64,
    /// Accept OAuth client authentication by HTTP Basic at `oauth_token.do` as well as in the
    /// body (default true; real behaviour UNCONFIRMED, §1.3).
    pub accept_basic_client_auth: bool,
    /// `glide.oauth.allow.parameters.in.post.body.only`: query-string parameters on
    /// `oauth_token.do` get the generic 401 (default true, as on new instances).
    pub post_body_only: bool,
    /// Let the public (PKCE) client use the refresh_token grant with its client_id alone
    /// (default true; real behaviour UNCONFIRMED, open question 3).
    pub allow_public_client_refresh: bool,
    /// Authenticate REST API calls from a logged-in session cookie, like the platform
    /// (default true; switch `session_cookie_auth`).
    pub api_session_auth: bool,
    /// Status for a non-form (e.g. JSON) body at `oauth_token.do` (default 400; the docs only
    /// say "an unspecified error").
    pub json_token_body_status: u16,
    /// Serve the `/__snsim/` control API (default true).
    pub control_api: bool,
    /// Initial runtime switches (see [`Switches`]). The older fields above win for the
    /// switches they name (`accept_basic_client_auth`, `allow_public_client_refresh`,
    /// `api_session_auth`, `json_token_body_status`).
    pub switches: Switches,
    /// `sys_properties` to create or overwrite at start (after the seed data).
    pub properties: Vec<(String, String)>,
    /// The seeded REST API key (`x-sn-apikey`) of `admin`; `None` = 40 random characters.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("auto_approve", &self.auto_approve)
            .field("auto_approve_user", &self.auto_approve_user)
            .field("redirect_urls", &self.redirect_urls)
            .field(
                "confidential_client_secret",
                &self
                    .confidential_client_secret
                    .as_ref()
                    .map(|_| "<redacted>"),
            )
            .field("demo_hint", &self.demo_hint)
            .field("access_token_lifespan", &self.access_token_lifespan)
            .field("refresh_token_lifespan", &self.refresh_token_lifespan)
            .field("accept_basic_client_auth", &self.accept_basic_client_auth)
            .field("post_body_only", &self.post_body_only)
            .field(
                "allow_public_client_refresh",
                &self.allow_public_client_refresh,
            )
            .field("api_session_auth", &self.api_session_auth)
            .field("json_token_body_status", &self.json_token_body_status)
            .field("control_api", &self.control_api)
            .field("switches", &self.switches)
            .field("properties", &self.properties)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: true,
            auto_approve: false,
            auto_approve_user: "admin".to_string(),
            redirect_urls: vec![DEFAULT_REDIRECT_URL.to_string()],
            confidential_client_secret: None,
            demo_hint: false,
            access_token_lifespan: 1800,
            refresh_token_lifespan: 8_640_000,
            accept_basic_client_auth: true,
            post_body_only: true,
            allow_public_client_refresh: true,
            api_session_auth: true,
            json_token_body_status: 400,
            control_api: true,
            switches: Switches::default(),
            properties: Vec::new(),
            api_key: None,
        }
    }
}

/// A simulator serving on the current tokio runtime. Dropping it stops the server
/// (in-flight connections get a short grace period); [`RunningSim::shutdown`] also waits.
pub struct RunningSim {
    base_url: Url,
    local_addr: SocketAddr,
    ca_pem: Option<String>,
    ca_path: Option<PathBuf>,
    state: Arc<state::SimState>,
    confidential_secret: String,
    api_key: String,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    // Declared last so the CA file outlives everything above it.
    _tempdir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim")
            .field("base_url", &self.base_url.as_str())
            .field("ca_file", &self.ca_path)
            .finish_non_exhaustive()
    }
}

impl RunningSim {
    /// Bind, spawn the server on the current tokio runtime, and return once listening.
    pub async fn start(cfg: SimConfig) -> std::io::Result<RunningSim> {
        let secret = match &cfg.confidential_client_secret {
            Some(s) if s.is_empty() => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "confidential_client_secret must not be empty",
                ))
            }
            Some(s) => s.clone(),
            None => state::random_url_safe(32),
        };
        let api_key = match &cfg.api_key {
            Some(k) if !k.is_empty() => k.clone(),
            _ => state::random_url_safe(40),
        };
        let listener = TcpListener::bind((cfg.host, cfg.port)).await?;
        let local_addr = listener.local_addr()?;
        let url_ip = match local_addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let scheme = if cfg.tls { "https" } else { "http" };
        let base_url = Url::parse(&format!(
            "{scheme}://{}/",
            SocketAddr::new(url_ip, local_addr.port())
        ))
        .map_err(std::io::Error::other)?;

        let untrusted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (acceptor, ca_pem, tempdir, ca_path) = if cfg.tls {
            let material = tls::generate(cfg.host, untrusted.clone())?;
            let dir = tempfile::Builder::new().prefix("snsim-").tempdir()?;
            let path = dir.path().join("snsim-ca.pem");
            std::fs::write(&path, material.ca_pem.as_bytes())?;
            (
                Some(TlsAcceptor::from(material.server_config)),
                Some(material.ca_pem),
                Some(dir),
                Some(path),
            )
        } else {
            (None, None, None, None)
        };

        let base = base_url.as_str().trim_end_matches('/').to_string();
        let state = Arc::new(state::SimState::new(
            &cfg,
            secret.clone(),
            api_key.clone(),
            base,
            untrusted,
        ));
        let router = server::router(state.clone(), cfg.control_api);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, acceptor, router, shutdown_rx));
        tracing::info!(base_url = %base_url, "snsim listening");

        Ok(RunningSim {
            base_url,
            local_addr,
            ca_pem,
            ca_path,
            state,
            confidential_secret: secret,
            api_key,
            shutdown_tx,
            task: Some(task),
            _tempdir: tempdir,
        })
    }

    /// The instance URL, e.g. `https://127.0.0.1:PORT/` (with a trailing slash).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// PEM of the throwaway CA certificate (when serving TLS).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The CA certificate written to a temporary file that lives as long as this value.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    pub fn confidential_client_id(&self) -> &str {
        CONFIDENTIAL_CLIENT_ID
    }

    pub fn confidential_client_secret(&self) -> &str {
        &self.confidential_secret
    }

    pub fn public_client_id(&self) -> &str {
        PUBLIC_CLIENT_ID
    }

    /// The password of a seeded user.
    pub fn user_password(&self, user_name: &str) -> Option<String> {
        self.state
            .lock()
            .user(user_name)
            .map(|u| u.password.clone())
    }

    /// Every access token, refresh token and code ever issued, plus client secrets and the
    /// API key (for leak scans).
    pub fn issued_secrets(&self) -> Vec<String> {
        self.state.lock().issued.clone()
    }

    /// The request log (control API calls excluded).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.lock().requests.clone()
    }

    /// Expire every access token now (refresh tokens stay valid). Returns how many were live.
    pub fn expire_access_tokens(&self) -> usize {
        self.state.lock().expire_access_tokens()
    }

    /// Move the simulated clock forward (token and code expiry follow it).
    pub fn advance_clock(&self, by: Duration) {
        let mut inner = self.state.lock();
        inner.clock_offset = inner.clock_offset.saturating_add(by.as_secs());
    }

    /// The seeded REST API key of `admin` (send it as `x-sn-apikey`).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The current runtime switches.
    pub fn switches(&self) -> Switches {
        self.state.lock().switches.clone()
    }

    /// Replace the runtime switches (takes effect for the next request or TLS handshake).
    pub fn set_switches(&self, switches: Switches) {
        self.state.set_switches(switches);
    }

    /// Change some switches: `sim.update_switches(|s| s.mfa = true)`.
    pub fn update_switches(&self, f: impl FnOnce(&mut Switches)) {
        let mut s = self.switches();
        f(&mut s);
        self.set_switches(s);
    }

    /// Create or update a `sys_properties` record (see [`properties`]).
    pub fn set_property(&self, name: &str, value: &str) {
        self.state.lock().set_property(name, value);
    }

    /// Activate or deactivate a plugin by id (`sys_plugins.source`, `v_plugin.id`), e.g.
    /// `com.snc.platform.security.oauth` (inactive = no OAuth). False when unknown.
    pub fn set_plugin_active(&self, id: &str, active: bool) -> bool {
        self.state.lock().set_plugin_active(id, active)
    }

    /// Make `client_id` a JWT API endpoint: JWT bearer assertions signed by the key whose
    /// SubjectPublicKeyInfo PEM is `public_key_pem` (RS256 or ES256) are accepted
    /// (the oauth_entity field `jwt_verifier_public_key`, an invented stand-in for the JWT
    /// verifier map). False when the client or the key is unknown or unreadable.
    pub fn set_jwt_verifier(&self, client_id: &str, public_key_pem: &str) -> bool {
        let Some(spki) = jwt::spki_from_pem(public_key_pem) else {
            return false;
        };
        let mut inner = self.state.lock();
        match inner.clients.iter_mut().find(|c| c.client_id == client_id) {
            Some(c) => {
                c.jwt_public_key = Some(public_key_pem.to_string());
                c.jwt_spki = Some(spki);
                true
            }
            None => false,
        }
    }

    /// A `sys_properties` value.
    pub fn property(&self, name: &str) -> Option<String> {
        self.state.lock().property(name)
    }

    /// How many logged requests match `path` (exact) and, when given, `grant_type`;
    /// e.g. `count_requests("/oauth_token.do", Some("refresh_token"))`.
    pub fn count_requests(&self, path: &str, grant_type: Option<&str>) -> usize {
        self.state
            .lock()
            .requests
            .iter()
            .filter(|r| {
                r.path == path && (grant_type.is_none() || r.grant_type.as_deref() == grant_type)
            })
            .count()
    }

    /// Empty the request log.
    pub fn clear_requests(&self) {
        self.state.lock().requests.clear();
    }

    /// Revoke an access or refresh token as `oauth_revoke_token.do` would.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.state.lock().revoke(token)
    }

    /// Stop accepting, let in-flight connections finish (up to a few seconds), and wait.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        // Stops the accept loop; the spawned task then drains connections on its own.
        let _ = self.shutdown_tx.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let cfg = SimConfig {
            confidential_client_secret: Some("s3cr3t-value".into()),
            ..SimConfig::default()
        };
        let text = format!("{cfg:?}");
        assert!(!text.contains("s3cr3t-value"));
        assert!(text.contains("<redacted>"));
    }
}
