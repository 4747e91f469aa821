//! What every command shares: the run's context (config dir, secret store, the one HTTP client,
//! the output mode) and the connection plumbing over it (opening a saved profile, keychain
//! calls, recording token facts).

use crate::cli::{AdminArgs, GlobalOpts};
use crate::secrets::{admin_credentials, read_profile_secrets};
use snconnect_core::conn_test::ApiAuth;
use snconnect_core::connection::{is_oauth, AdminCredentials, Connection};
use snconnect_core::http::{build_client, HttpConfig, ProxyMode};
use snconnect_core::keychain::{account, KeyringStore, MemoryStore, SecretStore};
use snconnect_core::probe::read_refresh_lifespan;
use snconnect_core::profiles::{default_config_dir, platform_config_dir, Profile, ProfileStore};
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What every command needs: the one HTTP client, the secret store, the profile store.
pub struct Ctx {
    /// Secrets for this run only (`--no-keychain`): saved profiles take theirs from the
    /// environment on each run.
    pub no_keychain: bool,
    pub json: bool,
    /// The one HTTP client, built on first use: reading the system's certificate store is
    /// work `profile list` and friends never need.
    http: std::sync::OnceLock<reqwest::Client>,
    http_config: HttpConfig,
    pub store: Arc<dyn SecretStore>,
    pub profiles: ProfileStore,
}

impl Ctx {
    pub fn new(g: &GlobalOpts) -> Result<Ctx, Diagnosis> {
        let mut cfg = HttpConfig {
            request_timeout: Duration::from_secs(g.timeout.max(1)),
            proxy: match (&g.proxy, g.no_proxy) {
                (Some(p), _) => ProxyMode::Manual(p.clone()),
                (None, true) => ProxyMode::None,
                (None, false) => ProxyMode::System,
            },
            ..HttpConfig::default()
        };
        if let Some(path) = &g.ca_file {
            cfg.add_ca_file(path)?;
        }
        cfg.check_proxy()?;
        let dir = match &g.config_dir {
            Some(d) => d.clone(),
            None => default_config_dir()?,
        };
        let store: Arc<dyn SecretStore> = if g.no_keychain {
            Arc::new(MemoryStore::default())
        } else {
            Arc::new(KeyringStore::for_config_dir(
                &dir,
                platform_config_dir().as_deref(),
            ))
        };
        Ok(Ctx {
            no_keychain: g.no_keychain,
            json: g.json,
            http: std::sync::OnceLock::new(),
            http_config: cfg,
            store,
            profiles: ProfileStore::new(dir),
        })
    }

    /// The one HTTP client (built now if this is its first use).
    pub fn http(&self) -> Result<&reqwest::Client, Diagnosis> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let built = build_client(&self.http_config)?;
        Ok(self.http.get_or_init(|| built))
    }

    /// Progress lines for a person; quiet in --json mode unless stderr is a terminal.
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.json || std::io::stderr().is_terminal() {
            eprintln!("{}", line.as_ref());
        }
    }
}

/// A keychain call off the async workers, its failure pointing at `--no-keychain`.
pub async fn keychain<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Diagnosis> + Send + 'static,
) -> Result<T, Diagnosis> {
    snconnect_core::keychain::blocking(f)
        .await
        .map_err(keychain_hint)
}

pub fn keychain_hint(d: Diagnosis) -> Diagnosis {
    if matches!(d.code, Code::KeychainUnavailable | Code::KeychainLocked) {
        let detail = format!(
            "{}; to keep secrets for this run only, add --no-keychain",
            d.detail.as_deref().unwrap_or("keychain error")
        );
        return Diagnosis::new(d.code).with_detail(detail);
    }
    d
}

pub async fn store_secrets(
    ctx: &Ctx,
    name: &str,
    secrets: Vec<(&'static str, Secret)>,
) -> Result<Vec<&'static str>, Diagnosis> {
    let store = ctx.store.clone();
    let name = name.to_string();
    keychain(move || {
        for (what, s) in &secrets {
            store.set(&account(&name, what), s)?;
        }
        Ok(secrets.iter().map(|(w, _)| *w).collect())
    })
    .await
}

/// A saved profile as a connection: its secrets from the keychain (or, with --no-keychain,
/// the environment), its tokens shared with every other snconnect process.
pub async fn open(ctx: &Ctx, name: &str, admin: &AdminArgs) -> Result<Connection, Diagnosis> {
    // The keychain session is negotiated while the profile file and the HTTP client load.
    ctx.store.prewarm();
    let profile = ctx.profiles.get(name)?;
    open_profile(ctx, profile, admin_credentials(admin)?).await
}

/// [`open`] for a profile already loaded, with the admin account already read (`test --all`
/// loads the file and asks for the admin password once, not once per profile).
pub async fn open_profile(
    ctx: &Ctx,
    mut profile: Profile,
    admin: Option<AdminCredentials>,
) -> Result<Connection, Diagnosis> {
    let name = profile.name.clone();
    let name = name.as_str();
    if let Some(a) = &admin {
        refresh_lifespan_from_instance(ctx, &mut profile, a).await?;
    }
    if ctx.no_keychain {
        // This run only: the profile's secrets come from the environment (or prompts).
        let secrets = read_profile_secrets(&profile)?;
        for (what, s) in &secrets {
            ctx.store.set(&account(name, what), s)?;
        }
    }
    let conn = Connection::open(profile, ctx.http()?.clone(), ctx.store.clone())
        .await
        .map_err(keychain_hint)?;
    // Tokens in the keychain are shared with every other snconnect process (the app, cron):
    // refreshes are serialised across processes and re-read what another one stored.
    let conn = if ctx.no_keychain {
        conn.run_only()
    } else {
        conn.shared_with(ctx.profiles.clone())
    };
    Ok(conn.with_admin(admin))
}

/// With admin access, the refresh token's lifespan comes from the client's registry record
/// (ServiceNow endpoints only), and a held refresh token's expiry follows it.
async fn refresh_lifespan_from_instance(
    ctx: &Ctx,
    profile: &mut Profile,
    admin: &AdminCredentials,
) -> Result<(), Diagnosis> {
    let (true, None, Some(client_id)) = (
        is_oauth(profile.auth),
        profile.token_url.as_ref(),
        profile.client_id.clone(),
    ) else {
        return Ok(());
    };
    let instance = InstanceUrl::parse(&profile.instance)?;
    let auth = ApiAuth::Basic {
        username: admin.username.clone(),
        password: admin.password.clone(),
    };
    let Some(lifespan) = read_refresh_lifespan(ctx.http()?, &instance, &auth, &client_id).await
    else {
        return Ok(());
    };
    if profile.refresh_token_lifespan == Some(lifespan) {
        return Ok(());
    }
    profile.refresh_token_lifespan = Some(lifespan);
    if let Some(t) = profile.tokens.as_mut().filter(|t| t.has_refresh_token) {
        t.refresh_expires_at = Some(t.obtained_at + lifespan);
    }
    ctx.profiles.upsert(profile.clone())?;
    ctx.say(format!(
        "Refresh Token Lifespan of this client on the instance: {lifespan} s (recorded in profile {})",
        profile.name
    ));
    Ok(())
}

/// Records token facts after an operation (a failure here is reported, not hidden).
pub async fn save_meta(ctx: &Ctx, conn: &Connection) -> Result<(), Diagnosis> {
    if let Some(meta) = conn.changed_meta().await {
        ctx.profiles.set_tokens(&conn.profile.name, meta)?;
    }
    Ok(())
}

pub fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), Diagnosis> {
    std::fs::write(path, bytes).map_err(|e| {
        Diagnosis::new(Code::ConfigUnwritable).with_detail(format!("{}: {e}", path.display()))
    })
}
