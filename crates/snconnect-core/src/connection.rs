//! A connection: a profile, its secrets and its tokens, with the operations every host offers
//! (sign in, test, token status/refresh/revoke/reset).
//!
//! The CLI and the desktop app both go through here. `verify` (nothing written anywhere) is the
//! same code with a [`MemoryStore`](crate::keychain::MemoryStore) and a profile that is never
//! saved.

use crate::conn_test::{test_tables, ApiAuth, ApiKeyIn, Check, TestReport, DEFAULT_API_KEY_PARAM};
use crate::error::{Code, Diagnosis};
use crate::instance::InstanceUrl;
use crate::keychain::{account, SecretStore};
use crate::oauth::{ClientRegistration, Endpoints, Grant, TokenSet};
use crate::probe::{refine_token_denied, ProbeInput};
use crate::profiles::{AuthMethod, Profile, TokenMeta};
use crate::secret::Secret;
use crate::token::{Renewal, TokenManager, TokenStatus, DEFAULT_MARGIN};
use std::sync::Arc;
use std::time::Instant;
use url::Url;

/// Keychain entry names (account `<profile>/<what>`).
pub const PASSWORD: &str = "password";
pub const CLIENT_SECRET: &str = "client_secret";
pub const API_KEY: &str = "api_key";

/// Which secrets a method needs at rest (besides the tokens).
pub fn secrets_needed(method: AuthMethod) -> &'static [&'static str] {
    match method {
        AuthMethod::Basic => &[PASSWORD],
        AuthMethod::ApiKey => &[API_KEY],
        AuthMethod::OauthCode | AuthMethod::OauthClientCredentials => &[CLIENT_SECRET],
        AuthMethod::OauthCodePkce => &[],
        AuthMethod::OauthPassword => &[CLIENT_SECRET, PASSWORD],
    }
}

/// Every keychain entry a profile may own (for removal).
pub fn all_entries(profile: &str) -> Vec<String> {
    [
        PASSWORD,
        CLIENT_SECRET,
        API_KEY,
        crate::token::ACCESS_TOKEN,
        crate::token::REFRESH_TOKEN,
    ]
    .iter()
    .map(|w| account(profile, w))
    .collect()
}

pub fn is_oauth(method: AuthMethod) -> bool {
    !matches!(method, AuthMethod::Basic | AuthMethod::ApiKey)
}

/// Checks what a profile needs, naming the field and the fix (before anything is saved).
pub fn validate_profile(p: &Profile) -> Result<InstanceUrl, Diagnosis> {
    crate::profiles::validate_name(&p.name)?;
    let instance = InstanceUrl::parse(&p.instance)?;
    let need = |field: &str, v: &Option<String>, why: &str| {
        if v.as_deref().is_none_or(|s| s.trim().is_empty()) {
            Err(Diagnosis::usage(field, why.to_string()))
        } else {
            Ok(())
        }
    };
    match p.auth {
        AuthMethod::Basic => need("--username", &p.username, "basic auth needs --username")?,
        AuthMethod::OauthPassword => {
            need(
                "--username",
                &p.username,
                "the password grant needs --username",
            )?;
            need(
                "--client-id",
                &p.client_id,
                "the password grant needs --client-id",
            )?;
        }
        AuthMethod::ApiKey => {
            if let Some(param) = &p.api_key_param {
                let valid = !param.is_empty()
                    && param
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !valid {
                    return Err(Diagnosis::usage(
                        "--api-key-param",
                        format!("{param:?} must be a header or parameter name (letters, digits, '-', '_', '.')"),
                    ));
                }
            }
        }
        AuthMethod::OauthCode | AuthMethod::OauthCodePkce | AuthMethod::OauthClientCredentials => {
            need(
                "--client-id",
                &p.client_id,
                "OAuth needs the client ID from the instance's application registry (--client-id)",
            )?
        }
    }
    endpoints_for(p, &instance)?;
    Ok(instance)
}

/// A custom endpoint URL: https, or http on a loopback address only.
pub fn parse_endpoint_url(field: &str, value: &str) -> Result<Url, Diagnosis> {
    let url = Url::parse(value.trim())
        .map_err(|e| Diagnosis::usage(field, format!("{value:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(a)) => a.is_loopback(),
                Some(url::Host::Ipv6(a)) => a.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(url)
            } else {
                Err(Diagnosis::new(Code::InsecureUrlRefused)
                    .with_detail(format!("{field} {value:?} uses http:// on a remote host")))
            }
        }
        other => Err(Diagnosis::usage(
            field,
            format!("{value:?}: unsupported scheme {other}://"),
        )),
    }
}

/// ServiceNow's endpoints unless the profile names custom ones.
pub fn endpoints_for(p: &Profile, instance: &InstanceUrl) -> Result<Endpoints, Diagnosis> {
    let mut e = Endpoints::servicenow(instance);
    if let Some(u) = &p.auth_url {
        e.auth_url = parse_endpoint_url("--auth-url", u)?;
    }
    if let Some(u) = &p.token_url {
        e.token_url = parse_endpoint_url("--token-url", u)?;
    }
    if let Some(u) = &p.revoke_url {
        e.revoke_url = Some(parse_endpoint_url("--revoke-url", u)?);
    }
    Ok(e)
}

/// The grant behind a method (for probes and reports).
pub fn grant_of(method: AuthMethod) -> Option<Grant> {
    match method {
        AuthMethod::OauthCode | AuthMethod::OauthCodePkce => Some(Grant::AuthorizationCode),
        AuthMethod::OauthPassword => Some(Grant::Password),
        AuthMethod::OauthClientCredentials => Some(Grant::ClientCredentials),
        AuthMethod::Basic | AuthMethod::ApiKey => None,
    }
}

/// Keychain calls block (D-Bus round trips): run them off the async workers.
async fn get_secret(
    store: &Arc<dyn SecretStore>,
    profile: &str,
    what: &'static str,
) -> Result<Option<Secret>, Diagnosis> {
    let (s, acct) = (store.clone(), account(profile, what));
    crate::keychain::blocking(move || s.get(&acct)).await
}

fn missing_secret(profile: &str, what: &str) -> Diagnosis {
    let env = match what {
        PASSWORD => "SNCONNECT_PASSWORD",
        CLIENT_SECRET => "SNCONNECT_CLIENT_SECRET",
        _ => "SNCONNECT_API_KEY",
    };
    Diagnosis::usage(
        what,
        format!("the keychain holds no {what} for profile {profile:?}; store it with `{env}=… snconnect profile secret {profile}` (if your keychain is locked, unlock it first)"),
    )
}

/// Admin credentials for the probes that split a generic token refusal.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    pub username: String,
    pub password: Secret,
}

/// A connection ready to use.
pub struct Connection {
    pub profile: Profile,
    pub instance: InstanceUrl,
    http: reqwest::Client,
    reg: Option<ClientRegistration>,
    password: Option<Secret>,
    api_key: Option<Secret>,
    tokens: Option<TokenManager>,
    admin: Option<AdminCredentials>,
    /// The tables the test reads (`sys_user` when empty).
    tables: Vec<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("profile", &self.profile.name)
            .field("instance", &self.instance.as_str())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Loads the profile's secrets from `store` and prepares its tokens.
    pub async fn open(
        profile: Profile,
        http: reqwest::Client,
        store: Arc<dyn SecretStore>,
    ) -> Result<Connection, Diagnosis> {
        let instance = validate_profile(&profile)?;
        let name = profile.name.clone();
        let mut password = None;
        let mut client_secret = None;
        let mut api_key = None;
        for &what in secrets_needed(profile.auth) {
            let v = get_secret(&store, &name, what)
                .await?
                .ok_or_else(|| missing_secret(&name, what))?;
            match what {
                PASSWORD => password = Some(v),
                CLIENT_SECRET => client_secret = Some(v),
                _ => api_key = Some(v),
            }
        }
        let reg = if is_oauth(profile.auth) {
            Some(ClientRegistration {
                client_id: profile.client_id.clone().unwrap_or_default(),
                client_secret,
                endpoints: endpoints_for(&profile, &instance)?,
                scope: profile.scope.clone(),
            })
        } else {
            None
        };
        let tokens = match &reg {
            Some(reg) => {
                let renewal = match profile.auth {
                    AuthMethod::OauthClientCredentials => Renewal::ClientCredentials,
                    AuthMethod::OauthPassword => Renewal::Password {
                        username: profile.username.clone().unwrap_or_default(),
                        password: password.clone().expect("loaded above"),
                    },
                    _ => Renewal::None,
                };
                Some(
                    TokenManager::load(
                        &name,
                        reg.clone(),
                        renewal,
                        http.clone(),
                        store.clone(),
                        profile.tokens,
                        profile.refresh_token_lifespan,
                        DEFAULT_MARGIN,
                    )
                    .await?,
                )
            }
            None => None,
        };
        Ok(Connection {
            profile,
            instance,
            http,
            reg,
            password,
            api_key,
            tokens,
            admin: None,
            tables: Vec::new(),
        })
    }

    /// Tokens shared with other processes through the keychain and this profile file: every
    /// refresh runs under the profile's cross-process lock and records its token facts there.
    pub fn shared_with(mut self, profiles: crate::profiles::ProfileStore) -> Self {
        if let Some(t) = self.tokens.as_mut() {
            t.share_with(profiles);
        }
        self
    }

    /// Secrets and tokens for this run only (`--no-keychain`): a password or client-credentials
    /// connection obtains its token instead of asking for a login.
    pub fn run_only(mut self) -> Self {
        if let Some(t) = self.tokens.as_mut() {
            t.run_only();
        }
        self
    }

    /// The tables the test reads instead of `sys_user` (the ones the integration uses).
    pub fn with_tables(mut self, tables: Vec<String>) -> Result<Self, Diagnosis> {
        for t in &tables {
            crate::conn_test::validate_table(t)?;
        }
        self.tables = tables;
        Ok(self)
    }

    /// Admin credentials the probes may use after a generic token refusal.
    pub fn with_admin(mut self, admin: Option<AdminCredentials>) -> Self {
        self.admin = admin;
        self
    }

    /// The OAuth client (None for basic and API key).
    pub fn registration(&self) -> Option<&ClientRegistration> {
        self.reg.as_ref()
    }

    /// The secrets this connection holds, for the redaction guard of reports it produces.
    pub fn secrets(&self) -> Vec<&Secret> {
        [
            self.password.as_ref(),
            self.api_key.as_ref(),
            self.reg.as_ref().and_then(|r| r.client_secret.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The HTTP client this connection uses (the host's one configured client).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The admin credentials the probes may use, if any.
    pub fn admin(&self) -> Option<&AdminCredentials> {
        self.admin.as_ref()
    }

    pub fn tokens(&self) -> Option<&TokenManager> {
        self.tokens.as_ref()
    }

    /// Token facts to record in the profile (None for basic and API key).
    pub async fn token_meta(&self) -> Option<TokenMeta> {
        match &self.tokens {
            Some(t) => Some(t.meta().await),
            None => None,
        }
    }

    /// The token facts to record in the profile file, when they differ from what was read
    /// at `open`: writing back unchanged facts could only undo what another process recorded
    /// meanwhile (a shared refresh records its own). `Some(None)`: the tokens are gone.
    pub async fn changed_meta(&self) -> Option<Option<TokenMeta>> {
        let meta = self.token_meta().await?;
        let meta = (meta.has_access_token || meta.has_refresh_token).then_some(meta);
        (meta != self.profile.tokens).then_some(meta)
    }

    pub async fn token_status(&self) -> Option<TokenStatus> {
        match &self.tokens {
            Some(t) => Some(t.status().await),
            None => None,
        }
    }

    fn oauth(&self) -> Result<(&ClientRegistration, &TokenManager), Diagnosis> {
        match (&self.reg, &self.tokens) {
            (Some(r), Some(t)) => Ok((r, t)),
            _ => Err(Diagnosis::usage(
                "profile",
                format!(
                    "profile {:?} uses {}, which has no OAuth tokens",
                    self.profile.name,
                    serde_json::to_value(self.profile.auth)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            )),
        }
    }

    /// Stores the tokens of a completed browser sign-in.
    pub async fn store_grant(&self, tokens: TokenSet) -> Result<TokenMeta, Diagnosis> {
        self.oauth()?.1.store_grant(tokens).await
    }

    /// The grants that need no browser: password and client credentials. Generic refusals
    /// are refined by the probes.
    pub async fn grant_without_browser(&self) -> Result<(TokenMeta, Check), Diagnosis> {
        let (reg, tokens) = self.oauth()?;
        let started = Instant::now();
        let result = match self.profile.auth {
            AuthMethod::OauthPassword => {
                let user = self.profile.username.clone().unwrap_or_default();
                let pw = self
                    .password
                    .as_ref()
                    .expect("loaded for the password grant");
                reg.password_grant(&self.http, &user, pw).await
            }
            AuthMethod::OauthClientCredentials => reg.client_credentials(&self.http).await,
            other => {
                return Err(Diagnosis::usage(
                    "--auth",
                    format!("{other:?} signs in through the browser"),
                ))
            }
        };
        let result = match result {
            Ok(t) => Ok(t),
            Err(d) => Err(self.refine(d).await),
        };
        let check = Check::new("token", result.as_ref().map(|_| ()), started);
        let meta = tokens.store_grant(result?).await?;
        Ok((meta, check))
    }

    /// Refines a generic token refusal with the probes this connection can run.
    pub async fn refine(&self, d: Diagnosis) -> Diagnosis {
        let Some(grant) = grant_of(self.profile.auth) else {
            return d;
        };
        let user = match (&self.profile.username, &self.password) {
            (Some(u), Some(p)) => Some((u.as_str(), p)),
            _ => None,
        };
        let input = ProbeInput {
            grant,
            client_id: self.profile.client_id.as_deref().unwrap_or(""),
            user,
            admin: self
                .admin
                .as_ref()
                .map(|a| (a.username.as_str(), &a.password)),
        };
        refine_token_denied(&self.http, &self.instance, input, d).await
    }

    /// After a sign-in that never came back: when admin credentials allow, read the registered
    /// redirect URLs and name a mismatch (ServiceNow silently redirects to the first registered
    /// URL, so the browser went elsewhere) instead of a bare timeout.
    pub async fn explain_callback_timeout(&self, d: Diagnosis, redirect_url: &str) -> Diagnosis {
        if d.code != Code::CallbackTimeout {
            return d;
        }
        let (Some(admin), Some(client_id)) = (&self.admin, &self.profile.client_id) else {
            return d;
        };
        let auth = ApiAuth::Basic {
            username: admin.username.clone(),
            password: admin.password.clone(),
        };
        match crate::register::check_redirect(
            &self.http,
            &self.instance,
            &auth,
            client_id,
            redirect_url,
        )
        .await
        {
            // Only a finding about the registration replaces the timeout; a failed read-back
            // (wrong admin password, network) must not be mistaken for the cause.
            Err(found) if matches!(found.code, Code::RedirectUriMismatch | Code::InvalidClient) => {
                found
            }
            _ => d,
        }
    }

    /// The one-click test: current_user and a table read, with the profile's credentials.
    /// OAuth: a valid token (refreshed before expiry), and one refresh + retry after a 401.
    pub async fn test(&self) -> TestReport {
        if is_oauth(self.profile.auth) {
            return self.test_oauth().await;
        }
        match self.api_auth().await {
            Ok(auth) => test_tables(&self.http, &self.instance, &auth, &self.tables).await,
            Err(d) => failed_report(&self.instance, Vec::new(), d),
        }
    }

    async fn test_oauth(&self) -> TestReport {
        let tokens = self.tokens.as_ref().expect("OAuth profiles have tokens");
        let started = Instant::now();
        let before = tokens.refresh_count();
        let token = tokens.access_token().await;
        let mut checks = Vec::new();
        // A check only when a request was made (a refresh or a renewed grant).
        let refreshed = tokens.refresh_count() > before;
        let token = match token {
            Ok(t) => {
                if refreshed {
                    checks.push(Check::new("token refresh", Ok(()), started));
                }
                t
            }
            Err(d) => {
                let d = self.refine(d).await;
                checks.push(Check::new("token refresh", Err(&d), started));
                return failed_report(&self.instance, checks, d);
            }
        };
        let first = test_tables(
            &self.http,
            &self.instance,
            &ApiAuth::Bearer(token.clone()),
            &self.tables,
        )
        .await;
        if first.diagnosis.code != Code::AccessTokenRejected {
            checks.extend(first.checks.iter().cloned());
            return TestReport { checks, ..first };
        }
        // A 401 with a token we believed valid: refresh once, retry once.
        checks.extend(first.checks.iter().cloned());
        let started = Instant::now();
        let retry_token = match tokens.refresh_after_rejection(&token).await {
            Ok(t) => {
                checks.push(Check::new("token refresh after 401", Ok(()), started));
                t
            }
            Err(d) => {
                checks.push(Check::new("token refresh after 401", Err(&d), started));
                return failed_report(&self.instance, checks, d);
            }
        };
        let second = test_tables(
            &self.http,
            &self.instance,
            &ApiAuth::Bearer(retry_token),
            &self.tables,
        )
        .await;
        checks.extend(second.checks.iter().cloned());
        TestReport { checks, ..second }
    }

    /// The credentials for one API call: the password or key, or a valid access token
    /// (refreshed first when it is about to expire).
    pub async fn api_auth(&self) -> Result<ApiAuth, Diagnosis> {
        Ok(match self.profile.auth {
            AuthMethod::Basic => ApiAuth::Basic {
                username: self.profile.username.clone().unwrap_or_default(),
                password: self.password.clone().expect("loaded for basic auth"),
            },
            AuthMethod::ApiKey => ApiAuth::ApiKey {
                key: self.api_key.clone().expect("loaded for API key auth"),
                param: self
                    .profile
                    .api_key_param
                    .clone()
                    .unwrap_or_else(|| DEFAULT_API_KEY_PARAM.to_string()),
                location: self.profile.api_key_in.unwrap_or(ApiKeyIn::Header),
            },
            _ => ApiAuth::Bearer(self.oauth()?.1.access_token().await?),
        })
    }

    /// The roles of `user_sys_id` as this connection sees them; `None` when ACLs hide them.
    pub async fn roles(&self, user_sys_id: &str) -> Option<Vec<String>> {
        let auth = self.api_auth().await.ok()?;
        crate::probe::roles_of(&self.http, &self.instance, &auth, user_sys_id)
            .await
            .ok()
            .flatten()
    }

    pub async fn refresh(&self) -> Result<TokenMeta, Diagnosis> {
        match self.oauth()?.1.refresh_now().await {
            Ok(m) => Ok(m),
            Err(d) => Err(self.refine(d).await),
        }
    }

    pub async fn revoke(&self) -> Result<(), Diagnosis> {
        self.oauth()?.1.revoke().await
    }

    pub async fn reset(&self) -> Result<(), Diagnosis> {
        self.oauth()?.1.reset().await
    }
}

fn failed_report(instance: &InstanceUrl, checks: Vec<Check>, d: Diagnosis) -> TestReport {
    TestReport {
        instance: instance.to_string(),
        identity: None,
        latency_ms: None,
        checks,
        diagnosis: d,
    }
}
