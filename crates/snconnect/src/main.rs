//! `snconnect`: the command line over snconnect-core.
//!
//! Secrets never come from argv: `SNCONNECT_PASSWORD`, `SNCONNECT_CLIENT_SECRET`,
//! `SNCONNECT_API_KEY`, `SNCONNECT_ADMIN_PASSWORD`, or a hidden prompt when stdin is a terminal.
//! Exit status: 0 success; 1 the connection or check failed (diagnosis printed);
//! 2 usage or local configuration error.

mod inventory;
mod migrate;
mod output;

use clap::{Args, Parser, Subcommand, ValueEnum};
use output::{exit_status, Outcome};
use serde_json::{json, Value};
use snconnect_core::browser::{BrowserLauncher, NoBrowser, SystemBrowser};
use snconnect_core::conn_test::ApiAuth;
use snconnect_core::conn_test::ApiKeyIn;
use snconnect_core::connection::{
    all_entries, is_oauth, secrets_needed, validate_profile, AdminCredentials, Connection,
    CLIENT_SECRET, PASSWORD,
};
use snconnect_core::http::{build_client, HttpConfig, ProxyMode};
use snconnect_core::keychain::{account, KeyringStore, MemoryStore, SecretStore};
use snconnect_core::probe::read_refresh_lifespan;
use snconnect_core::profiles::{
    default_config_dir, platform_config_dir, AuthMethod, LastTest, Profile, ProfileStore, TokenMeta,
};
use snconnect_core::report::SupportReport;
use snconnect_core::signin::{check_pasted, save_profile, SignIn, SignInOutcome, TOKEN_ENTRIES};
use snconnect_core::token::status_of;
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const AFTER_HELP: &str = "\
Secrets are never taken from arguments. They come from the environment or a hidden prompt:
  SNCONNECT_PASSWORD        basic auth and the password grant (the user's password)
  SNCONNECT_CLIENT_SECRET   OAuth confidential clients
  SNCONNECT_API_KEY         API key auth
  SNCONNECT_ADMIN_PASSWORD  the admin account (--admin-username) used to diagnose refusals,
                            and for `inventory` (or --admin-password-stdin)
Secrets and tokens are kept only in the OS keychain (--no-keychain: for this run only).

Auth methods: basic, api-key, oauth-code (confidential client), oauth-code-pkce (public
client), oauth-password (password grant), oauth-client-credentials.

Exit status: 0 success, 1 the connection or check failed (a diagnosis code is printed),
2 usage or local configuration error.";

#[derive(Parser, Debug)]
#[command(
    name = "snconnect",
    version,
    about = "Check, sign in to, test and migrate ServiceNow connections (basic auth and OAuth 2.0).",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct GlobalOpts {
    /// Print one JSON object on stdout instead of human output.
    #[arg(long, global = true)]
    json: bool,
    /// Config directory (default: the platform config dir).
    #[arg(long, global = true, env = "SNCONNECT_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// Extra trusted CA certificate (PEM), e.g. a corporate TLS-inspection root.
    #[arg(long, global = true, env = "SNCONNECT_CA_FILE", value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Use this proxy for every request (default: the system proxy settings).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "no_proxy")]
    proxy: Option<String>,
    /// Use no proxy at all.
    #[arg(long, global = true)]
    no_proxy: bool,
    /// Per-request timeout in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Keep secrets and tokens in memory for this run only (when the keychain is unavailable).
    #[arg(long, global = true)]
    no_keychain: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign in and test a connection with nothing written anywhere (no profile, no keychain entry).
    Verify(VerifyArgs),
    /// Named connections: add, list, show, remove, export, import.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Obtain and store tokens for a profile (browser consent for the code flows), then test.
    Login(LoginArgs),
    /// The one-click test of a saved connection (or of all of them).
    Test(TestArgs),
    /// Token lifecycle of a profile.
    #[command(subcommand)]
    Token(TokenCmd),
    /// A redacted support report for a profile (Markdown; JSON with --json).
    Report(ReportArgs),
    /// Instance and OAuth readiness checks with the admin's basic credentials (SNCONNECT_PASSWORD).
    Preflight(migrate::PreflightArgs),
    /// Create the OAuth endpoint on the instance (admin), or --guided steps and a read-back, or --remove.
    Register(migrate::RegisterArgs),
    /// Migrate a connection: preflight → register (or --client-id) → consent → parity test → save.
    Migrate(migrate::MigrateArgs),
    /// The accounts that still depend on basic auth, and the restriction settings (admin).
    Inventory(inventory::InventoryArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum AuthArg {
    /// User name + password (SNCONNECT_PASSWORD).
    Basic,
    /// API key (SNCONNECT_API_KEY) in a header or query parameter.
    ApiKey,
    /// OAuth authorization code, confidential client (SNCONNECT_CLIENT_SECRET).
    OauthCode,
    /// OAuth authorization code + PKCE, public client (no secret).
    OauthCodePkce,
    /// OAuth password grant (SNCONNECT_PASSWORD and SNCONNECT_CLIENT_SECRET).
    OauthPassword,
    /// OAuth client credentials (SNCONNECT_CLIENT_SECRET).
    OauthClientCredentials,
}

impl From<AuthArg> for AuthMethod {
    fn from(a: AuthArg) -> Self {
        match a {
            AuthArg::Basic => AuthMethod::Basic,
            AuthArg::ApiKey => AuthMethod::ApiKey,
            AuthArg::OauthCode => AuthMethod::OauthCode,
            AuthArg::OauthCodePkce => AuthMethod::OauthCodePkce,
            AuthArg::OauthPassword => AuthMethod::OauthPassword,
            AuthArg::OauthClientCredentials => AuthMethod::OauthClientCredentials,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum KeyInArg {
    Header,
    Query,
}

/// How to reach and authenticate to an instance (profile add, verify).
#[derive(Args, Debug, Clone)]
struct ConnArgs {
    /// Instance: a name (acme), a host (acme.service-now.com) or a URL.
    #[arg(long, value_name = "URL")]
    instance: String,
    /// Authentication method.
    #[arg(long, value_enum)]
    auth: AuthArg,
    /// User name (basic, oauth-password).
    #[arg(long)]
    username: Option<String>,
    /// OAuth client ID from the instance's application registry.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Loopback port for the sign-in redirect (register http://127.0.0.1:PORT/callback).
    #[arg(long, value_name = "N")]
    redirect_port: Option<u16>,
    /// Registered fallback port, tried in order when the redirect port is busy (repeatable).
    #[arg(long = "fallback-port", value_name = "N")]
    fallback_ports: Vec<u16>,
    /// Custom authorization URL (default: <instance>/oauth_auth.do).
    #[arg(long, value_name = "URL")]
    auth_url: Option<String>,
    /// Custom token URL (default: <instance>/oauth_token.do).
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// Custom revocation URL (default: <instance>/oauth_revoke_token.do).
    #[arg(long, value_name = "URL")]
    revoke_url: Option<String>,
    /// OAuth scope(s), space separated.
    #[arg(long)]
    scope: Option<String>,
    /// API key parameter name (default x-sn-apikey).
    #[arg(long, value_name = "NAME")]
    api_key_param: Option<String>,
    /// Where the API key goes.
    #[arg(long, value_enum, value_name = "header|query")]
    api_key_in: Option<KeyInArg>,
    /// Refresh token lifespan in seconds (the registry's Refresh Token Lifespan; default 8640000).
    #[arg(long, value_name = "SECONDS")]
    refresh_token_lifespan: Option<u64>,
}

impl ConnArgs {
    fn profile(&self, name: &str) -> Profile {
        Profile {
            name: name.to_string(),
            instance: self.instance.clone(),
            auth: self.auth.into(),
            username: self.username.clone().filter(|s| !s.trim().is_empty()),
            client_id: self
                .client_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            redirect_port: self.redirect_port,
            fallback_ports: self.fallback_ports.clone(),
            scope: self.scope.clone(),
            auth_url: self.auth_url.clone(),
            token_url: self.token_url.clone(),
            revoke_url: self.revoke_url.clone(),
            api_key_param: self.api_key_param.clone(),
            api_key_in: self.api_key_in.map(|k| match k {
                KeyInArg::Header => ApiKeyIn::Header,
                KeyInArg::Query => ApiKeyIn::Query,
            }),
            refresh_token_lifespan: self.refresh_token_lifespan,
            registered_sys_id: None,
            tokens: None,
            last_test: None,
        }
    }
}

/// Browser sign-in options (verify, login).
#[derive(Args, Debug, Clone)]
struct ConsentArgs {
    /// Do not open a browser; print the authorize URL only.
    #[arg(long)]
    no_browser: bool,
    /// How long to wait for the browser sign-in, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = snconnect_core::signin::DEFAULT_CONSENT_TIMEOUT.as_secs())]
    consent_timeout: u64,
    /// Read the URL the browser was redirected to from stdin (the paste fallback), also when
    /// stdin is not a terminal.
    #[arg(long)]
    paste: bool,
}

/// An admin account for the probes that split a generic token refusal.
#[derive(Args, Debug, Clone)]
struct AdminArgs {
    /// Admin user for diagnosis probes (password: SNCONNECT_ADMIN_PASSWORD or a prompt).
    #[arg(long, value_name = "USER")]
    admin_username: Option<String>,
}

/// The reads that prove a connection (test, verify).
#[derive(Args, Debug, Clone)]
struct TableArgs {
    /// Read one row of TABLE instead of sys_user (repeatable): the table the integration really
    /// uses, so ACLs that hide its rows show up as rows_hidden_by_acl.
    #[arg(long = "table", value_name = "TABLE")]
    tables: Vec<String>,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    tables: TableArgs,
    #[command(flatten)]
    consent: ConsentArgs,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per run
enum ProfileCmd {
    /// Save a named connection (its secrets go to the keychain).
    Add {
        name: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Store (or replace) a profile's secrets from the environment or a prompt.
    Secret { name: String },
    /// List the saved connections with their token status.
    List,
    /// Show one connection (never its secrets).
    Show { name: String },
    /// Remove a connection and its keychain entries (no server-side revocation: see `token revoke`).
    Remove { name: String },
    /// Print profiles (all, or the named ones) as an import file. Never carries secrets.
    Export {
        names: Vec<String>,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import profiles from an export file (add their secrets with `profile secret NAME`).
    Import { file: PathBuf },
}

#[derive(Args, Debug)]
struct LoginArgs {
    name: String,
    /// Only obtain and store the tokens; skip the connection test.
    #[arg(long)]
    no_test: bool,
    #[command(flatten)]
    consent: ConsentArgs,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Args, Debug)]
struct TestArgs {
    /// The profile to test.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    name: Option<String>,
    /// Test every saved profile.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    tables: TableArgs,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Subcommand, Debug)]
enum TokenCmd {
    /// connected, expires_soon, expired or needs_reauth, with the expiry times.
    Status { name: String },
    /// Refresh now (or renew the grant when no refresh token can).
    Refresh {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Revoke the tokens on the server, then forget them here.
    Revoke { name: String },
    /// Forget the tokens here only (nothing is sent to the server).
    Reset { name: String },
}

#[derive(Args, Debug)]
struct ReportArgs {
    name: String,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    admin: AdminArgs,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SNCONNECT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let json = cli.global.json;
    let outcome = runtime.block_on(run(cli));
    outcome.emit(json);
    ExitCode::from(exit_status(&outcome))
}

/// What every command needs: the one HTTP client, the secret store, the profile store.
struct Ctx {
    /// Secrets for this run only (`--no-keychain`): saved profiles take theirs from the
    /// environment on each run.
    no_keychain: bool,
    json: bool,
    http: reqwest::Client,
    store: Arc<dyn SecretStore>,
    profiles: ProfileStore,
}

impl Ctx {
    fn new(g: &GlobalOpts) -> Result<Ctx, Diagnosis> {
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
            http: build_client(&cfg)?,
            store,
            profiles: ProfileStore::new(dir),
        })
    }

    /// Progress lines for a person; quiet in --json mode unless stderr is a terminal.
    fn say(&self, line: impl AsRef<str>) {
        if !self.json || std::io::stderr().is_terminal() {
            eprintln!("{}", line.as_ref());
        }
    }
}

async fn run(cli: Cli) -> Outcome {
    let ctx = match Ctx::new(&cli.global) {
        Ok(c) => c,
        Err(d) => return Outcome::failed(d),
    };
    let result = match cli.command {
        Command::Verify(a) => verify(&ctx, a).await,
        Command::Profile(p) => profile_cmd(&ctx, p).await,
        Command::Login(a) => login(&ctx, a).await,
        Command::Test(a) => test(&ctx, a).await,
        Command::Token(t) => token_cmd(&ctx, t).await,
        Command::Report(a) => report(&ctx, a).await,
        Command::Preflight(a) => migrate::preflight(&ctx, a).await,
        Command::Register(a) => migrate::register(&ctx, a).await,
        Command::Migrate(a) => migrate::migrate(&ctx, a).await,
        Command::Inventory(a) => inventory::inventory(&ctx, a).await,
    };
    result.unwrap_or_else(Outcome::failed)
}

/// A secret from the environment, else a hidden prompt on a terminal, else a usage error.
fn read_secret(env: &str, prompt: &str) -> Result<Secret, Diagnosis> {
    if let Ok(v) = std::env::var(env) {
        if !v.is_empty() {
            return Ok(Secret::new(v));
        }
    }
    if std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| Diagnosis::usage(env, format!("could not read the hidden prompt: {e}")))?;
        if !v.is_empty() {
            return Ok(Secret::new(v));
        }
    }
    Err(Diagnosis::usage(env, format!("set {env} or run in a terminal to be prompted (secrets are never taken from arguments)")))
}

/// The secrets a profile's method needs, read from the environment or prompts.
fn read_profile_secrets(p: &Profile) -> Result<Vec<(&'static str, Secret)>, Diagnosis> {
    secrets_needed(p.auth)
        .iter()
        .map(|&what| {
            let s = match what {
                PASSWORD => read_secret(
                    "SNCONNECT_PASSWORD",
                    &format!(
                        "Password for {}",
                        p.username.as_deref().unwrap_or("the user")
                    ),
                ),
                CLIENT_SECRET => read_secret("SNCONNECT_CLIENT_SECRET", "Client secret"),
                _ => read_secret("SNCONNECT_API_KEY", "API key"),
            }?;
            Ok((what, s))
        })
        .collect()
}

fn admin_credentials(a: &AdminArgs) -> Result<Option<AdminCredentials>, Diagnosis> {
    match a.admin_username.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(u) => Ok(Some(AdminCredentials {
            username: u.to_string(),
            password: read_secret("SNCONNECT_ADMIN_PASSWORD", &format!("Password for {u}"))?,
        })),
    }
}

/// A keychain call off the async workers, its failure pointing at `--no-keychain`.
async fn keychain<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Diagnosis> + Send + 'static,
) -> Result<T, Diagnosis> {
    snconnect_core::keychain::blocking(f)
        .await
        .map_err(keychain_hint)
}

async fn store_secrets(
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

async fn open(ctx: &Ctx, name: &str, admin: &AdminArgs) -> Result<Connection, Diagnosis> {
    let mut profile = ctx.profiles.get(name)?;
    let admin = admin_credentials(admin)?;
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
    let conn = Connection::open(profile, ctx.http.clone(), ctx.store.clone())
        .await
        .map_err(keychain_hint)?;
    // Tokens in the keychain are shared with every other snconnect process (the app, cron):
    // refreshes are serialised across processes and re-read what another one stored.
    let conn = if ctx.no_keychain {
        conn
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
    let Some(lifespan) = read_refresh_lifespan(&ctx.http, &instance, &auth, &client_id).await
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

fn keychain_hint(d: Diagnosis) -> Diagnosis {
    if matches!(d.code, Code::KeychainUnavailable | Code::KeychainLocked) {
        let detail = format!(
            "{}; to keep secrets for this run only, add --no-keychain",
            d.detail.as_deref().unwrap_or("keychain error")
        );
        return Diagnosis::new(d.code).with_detail(detail);
    }
    d
}

/// Records token facts after an operation (a failure here is reported, not hidden).
async fn save_meta(ctx: &Ctx, conn: &Connection) -> Result<(), Diagnosis> {
    if let Some(meta) = conn.changed_meta().await {
        ctx.profiles.set_tokens(&conn.profile.name, meta)?;
    }
    Ok(())
}

/// The CLI name of a method (`oauth-code-pkce`).
fn method_name(m: AuthMethod) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn profile_json(p: &Profile) -> Value {
    serde_json::to_value(p.for_export()).expect("profiles are plain data")
}

fn token_json(meta: Option<TokenMeta>, conn_auth: AuthMethod) -> Value {
    let m = meta.unwrap_or_default();
    let renewable = matches!(
        conn_auth,
        AuthMethod::OauthClientCredentials | AuthMethod::OauthPassword
    );
    let status = status_of(meta.as_ref(), snconnect_core::token::now_secs(), renewable);
    json!({
        "status": status.as_str(),
        "has_access_token": m.has_access_token,
        "has_refresh_token": m.has_refresh_token,
        "obtained_at": meta.map(|m| m.obtained_at),
        "access_expires_at": m.access_expires_at,
        "refresh_expires_at": m.refresh_expires_at,
    })
}

// ---------------------------------------------------------------------------------- profiles

async fn profile_cmd(ctx: &Ctx, cmd: ProfileCmd) -> Result<Outcome, Diagnosis> {
    match cmd {
        ProfileCmd::Add { name, conn } => {
            let profile = conn.profile(&name);
            validate_profile(&profile)?;
            let secrets = read_profile_secrets(&profile)?;
            // A changed connection invalidates stored tokens; the same grant keeps them.
            let old = ctx
                .profiles
                .load()?
                .profiles
                .into_iter()
                .find(|p| p.name == name);
            let same_grant = old.as_ref().is_some_and(|o| {
                o.instance == profile.instance
                    && o.auth == profile.auth
                    && o.client_id == profile.client_id
                    && o.username == profile.username
            });
            let mut profile = profile;
            let keep: &'static [&'static str] = if same_grant {
                profile.tokens = old.and_then(|o| o.tokens);
                TOKEN_ENTRIES
            } else {
                &[]
            };
            let stored = save_profile(
                &ctx.profiles,
                ctx.store.clone(),
                profile.clone(),
                secrets,
                keep,
            )
            .await
            .map_err(keychain_hint)?;
            let kind = ctx.store.kind();
            let mut o = Outcome::ok();
            o.field("profile", profile_json(&profile));
            o.field("stored_secrets", json!(stored));
            o.field("secret_store", json!(kind));
            o.line(format!(
                "✓ Saved profile {name} ({}) in {}",
                profile.instance,
                ctx.profiles.path().display()
            ));
            if !stored.is_empty() {
                o.line(format!(
                    "  secrets ({}) stored in the {kind}",
                    stored.join(", ")
                ));
            }
            if kind == "session" && !stored.is_empty() {
                o.line("  (--no-keychain: they are gone when this command ends; give them through the environment again with --no-keychain on each run)");
            }
            if is_oauth(profile.auth) {
                o.line(format!("  next: snconnect login {name}"));
            }
            Ok(o)
        }
        ProfileCmd::Secret { name } => {
            let profile = ctx.profiles.get(&name)?;
            let secrets = read_profile_secrets(&profile)?;
            let stored = store_secrets(ctx, &name, secrets).await?;
            let mut o = Outcome::ok();
            o.field("stored_secrets", json!(stored));
            o.line(format!(
                "✓ Stored {} for {name} in the {}",
                if stored.is_empty() {
                    "nothing (this method needs no secret)".to_string()
                } else {
                    stored.join(", ")
                },
                ctx.store.kind()
            ));
            Ok(o)
        }
        ProfileCmd::List => {
            let file = ctx.profiles.load()?;
            let mut o = Outcome::ok();
            let rows: Vec<Value> = file
                .profiles
                .iter()
                .map(|p| {
                    let mut v = json!({
                        "name": p.name, "instance": p.instance, "auth": p.auth,
                        "client_id": p.client_id, "username": p.username,
                    });
                    if is_oauth(p.auth) {
                        v["token"] = token_json(p.tokens, p.auth);
                    }
                    v
                })
                .collect();
            if rows.is_empty() {
                o.line(
                    "No profiles yet: snconnect profile add NAME --instance URL --auth METHOD …",
                );
            }
            for (p, r) in file.profiles.iter().zip(&rows) {
                o.line(format!(
                    "{:<20} {:<18} {:<40} {}",
                    p.name,
                    r["auth"].as_str().unwrap_or(""),
                    p.instance,
                    r["token"]["status"].as_str().unwrap_or("")
                ));
            }
            o.field("profiles", Value::Array(rows));
            Ok(o)
        }
        ProfileCmd::Show { name } => {
            let p = ctx.profiles.get(&name)?;
            let mut o = Outcome::ok();
            let pretty = serde_json::to_string_pretty(&profile_json(&p)).unwrap_or_default();
            o.lines.extend(pretty.lines().map(str::to_string));
            o.field("profile", profile_json(&p));
            if is_oauth(p.auth) {
                let t = token_json(p.tokens, p.auth);
                o.line(format!(
                    "token status: {}",
                    t["status"].as_str().unwrap_or("")
                ));
                o.field("token", t);
            }
            Ok(o)
        }
        ProfileCmd::Remove { name } => {
            ctx.profiles.get(&name)?;
            let (store, n) = (ctx.store.clone(), name.clone());
            keychain(move || {
                for acct in all_entries(&n) {
                    store.delete(&acct)?;
                }
                Ok(())
            })
            .await?;
            ctx.profiles.remove(&name)?;
            let mut o = Outcome::ok();
            o.field("removed", json!(name));
            o.line(format!("✓ Removed {name} and its keychain entries (tokens were not revoked on the server; use `token revoke` for that)"));
            Ok(o)
        }
        ProfileCmd::Export { names, out } => {
            let doc = ctx.profiles.export(&names)?;
            let text = serde_json::to_string_pretty(&doc).expect("profiles are plain data") + "\n";
            let mut o = Outcome::ok();
            match out {
                Some(path) => {
                    write_file(&path, text.as_bytes())?;
                    o.field("file", json!(path.display().to_string()));
                    o.field("profiles", json!(doc.profiles.len()));
                    o.line(format!(
                        "✓ Exported {} profile(s) to {} (no secrets)",
                        doc.profiles.len(),
                        path.display()
                    ));
                }
                None => {
                    o.field("export", serde_json::to_value(&doc).expect("plain data"));
                    o.raw = Some(text);
                }
            }
            Ok(o)
        }
        ProfileCmd::Import { file } => {
            let origin = file.display().to_string();
            let bytes = std::fs::read(&file)
                .map_err(|e| Diagnosis::usage(&origin, format!("cannot read it: {e}")))?;
            let names = ctx.profiles.import(&bytes, &origin)?;
            let mut o = Outcome::ok();
            o.line(format!("✓ Imported {}", names.join(", ")));
            o.line("  add secrets with `snconnect profile secret NAME` (they are never exported), then `snconnect login NAME`");
            o.field("imported", json!(names));
            Ok(o)
        }
    }
}

fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), Diagnosis> {
    std::fs::write(path, bytes).map_err(|e| {
        Diagnosis::new(Code::ConfigUnwritable).with_detail(format!("{}: {e}", path.display()))
    })
}

// ------------------------------------------------------------------------- sign-in and tests

/// Signs in through the core's sign-in session (the same one the desktop wizard drives),
/// printing the browser prompts and reading pasted redirects from stdin.
async fn sign_in(
    ctx: &Ctx,
    conn: Arc<Connection>,
    consent: &ConsentArgs,
    test: bool,
) -> SignInOutcome {
    let browser: Arc<dyn BrowserLauncher> = if consent.no_browser {
        Arc::new(NoBrowser)
    } else {
        Arc::new(SystemBrowser)
    };
    let timeout = Duration::from_secs(consent.consent_timeout.max(1));
    let session = match SignIn::begin(conn, timeout, browser).await {
        Ok(s) => s,
        Err(d) => return SignInOutcome::failed(keychain_hint(d)),
    };
    if let (Some(url), Some(redirect)) = (session.authorize_url(), session.redirect_url()) {
        ctx.say(format!(
            "Sign in and approve access in your browser. If no window appeared, open:\n  {url}"
        ));
        if let Some(Err(d)) = session.browser() {
            ctx.say(format!(
                "(no browser was opened: {})",
                d.detail.as_deref().unwrap_or(d.message.as_str())
            ));
        }
        ctx.say(format!("Waiting for the redirect to {redirect} …"));
        if let (true, Some(tx)) = (
            consent.paste || std::io::stdin().is_terminal(),
            session.paste_sender(),
        ) {
            ctx.say("If the browser cannot reach this computer, paste the address it was redirected to here and press Enter.");
            std::thread::spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    if line.trim().is_empty() {
                        continue;
                    }
                    if let Err(d) = check_pasted(&line) {
                        eprintln!("{}", d.detail.unwrap_or(d.message));
                        continue;
                    }
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            });
        }
    }
    let mut out = session.finish(test, &mut |_| {}).await;
    out.diagnosis = keychain_hint(out.diagnosis);
    out
}

/// The CLI outcome of a sign-in: the test's when it ran, else the sign-in's failure.
fn signed_outcome(out: SignInOutcome, instance: &InstanceUrl) -> Outcome {
    let mut o = match out.test {
        Some(report) => Outcome::from_test(report),
        None => {
            let mut o = Outcome::failed(out.diagnosis);
            o.instance = Some(instance.to_string());
            o
        }
    };
    o.checks = out.checks;
    o.authorize_url = out.authorize_url;
    o
}

async fn verify(ctx: &Ctx, a: VerifyArgs) -> Result<Outcome, Diagnosis> {
    // Nothing written anywhere: a profile that is never saved, secrets in memory only.
    let profile = a.conn.profile("verify");
    validate_profile(&profile)?;
    let secrets = read_profile_secrets(&profile)?;
    let admin = admin_credentials(&a.admin)?;
    let memory: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    for (what, s) in &secrets {
        memory.set(&account("verify", what), s)?;
    }
    let conn = Arc::new(
        Connection::open(profile, ctx.http.clone(), memory)
            .await?
            .with_tables(a.tables.tables.clone())?
            .with_admin(admin),
    );
    let out = sign_in(ctx, conn.clone(), &a.consent, true).await;
    Ok(signed_outcome(out, &conn.instance))
}

async fn login(ctx: &Ctx, a: LoginArgs) -> Result<Outcome, Diagnosis> {
    let conn = open(ctx, &a.name, &a.admin).await?;
    if is_oauth(conn.profile.auth) {
        // Fail before the consent, not after it: tokens issued and then not storable would
        // be orphaned on the server.
        let (store, acct) = (ctx.store.clone(), account(&a.name, "write-check"));
        keychain(move || {
            store.set(&acct, &Secret::new("snconnect keychain write check"))?;
            store.delete(&acct)
        })
        .await?;
    }
    let conn = Arc::new(conn);
    let out = sign_in(ctx, conn.clone(), &a.consent, !a.no_test).await;
    save_meta(ctx, &conn).await?;
    let signed_only = a.no_test && out.ok();
    let mut o = signed_outcome(out, &conn.instance);
    if signed_only {
        o.diagnosis = Outcome::ok().diagnosis;
        o.line(format!(
            "✓ Signed in; tokens stored in the {}",
            ctx.store.kind()
        ));
    }
    if is_oauth(conn.profile.auth) {
        o.field(
            "token",
            token_json(conn.token_meta().await, conn.profile.auth),
        );
    }
    Ok(o)
}

async fn test_one(ctx: &Ctx, name: &str, admin: &AdminArgs, tables: &TableArgs) -> Outcome {
    let conn = match open(ctx, name, admin)
        .await
        .and_then(|c| c.with_tables(tables.tables.clone()))
    {
        Ok(c) => c,
        Err(d) => {
            let mut o = Outcome::failed(d);
            o.field("profile", json!(name));
            return o;
        }
    };
    let report = conn.test().await;
    // The dashboard's "last test" (the app shows what a terminal or cron job found), and the
    // token facts when this process changed them.
    let saved = ctx
        .profiles
        .record_test(name, LastTest::of(&report), conn.changed_meta().await);
    let mut o = Outcome::from_test(report);
    o.field("profile", json!(name));
    if is_oauth(conn.profile.auth) {
        o.field(
            "token",
            token_json(conn.token_meta().await, conn.profile.auth),
        );
    }
    if let Err(d) = saved {
        o.line(format!(
            "  (token facts not saved: {}: {})",
            d.code,
            d.detail.unwrap_or_default()
        ));
    }
    o
}

async fn test(ctx: &Ctx, a: TestArgs) -> Result<Outcome, Diagnosis> {
    if let Some(name) = &a.name {
        return Ok(test_one(ctx, name, &a.admin, &a.tables).await);
    }
    let names: Vec<String> = ctx
        .profiles
        .load()?
        .profiles
        .into_iter()
        .map(|p| p.name)
        .collect();
    if names.is_empty() {
        return Err(Diagnosis::usage(
            "--all",
            "there are no saved profiles to test; add one with `snconnect profile add`",
        ));
    }
    let mut results = Vec::new();
    for n in &names {
        results.push(test_one(ctx, n, &a.admin, &a.tables).await);
    }
    Ok(Outcome::all(results))
}

// ----------------------------------------------------------------------------------- tokens

async fn token_cmd(ctx: &Ctx, cmd: TokenCmd) -> Result<Outcome, Diagnosis> {
    let none = AdminArgs {
        admin_username: None,
    };
    let (name, admin) = match &cmd {
        TokenCmd::Status { name } | TokenCmd::Revoke { name } | TokenCmd::Reset { name } => {
            (name.clone(), none)
        }
        TokenCmd::Refresh { name, admin } => (name.clone(), admin.clone()),
    };
    if let TokenCmd::Status { .. } = cmd {
        // Status reads only the profile file: no keychain prompt, no network.
        let p = ctx.profiles.get(&name)?;
        if !is_oauth(p.auth) {
            return Err(Diagnosis::usage(
                "profile",
                format!("{name} uses {}, which has no tokens", method_name(p.auth)),
            ));
        }
        let t = token_json(p.tokens, p.auth);
        let mut o = Outcome::ok();
        o.line(status_line(&name, &t));
        o.merge(t);
        return Ok(o);
    }
    let conn = open(ctx, &name, &admin).await?;
    let result = match cmd {
        TokenCmd::Refresh { .. } => conn.refresh().await.map(|_| "refreshed"),
        TokenCmd::Revoke { .. } => conn
            .revoke()
            .await
            .map(|_| "revoked on the server and forgotten here"),
        TokenCmd::Reset { .. } => conn
            .reset()
            .await
            .map(|_| "forgotten here (not revoked on the server)"),
        TokenCmd::Status { .. } => unreachable!("handled above"),
    };
    save_meta(ctx, &conn).await?;
    let t = token_json(
        conn.token_meta()
            .await
            .filter(|m| m.has_access_token || m.has_refresh_token),
        conn.profile.auth,
    );
    let mut o = match result {
        Ok(what) => {
            let mut o = Outcome::ok();
            o.line(format!("✓ Tokens of {name} {what}"));
            o
        }
        Err(d) => Outcome::failed(keychain_hint(d)),
    };
    o.line(status_line(&name, &t));
    o.merge(t);
    Ok(o)
}

fn status_line(name: &str, t: &Value) -> String {
    let when = |k: &str| {
        t[k].as_u64()
            .map(snconnect_core::report::rfc3339)
            .unwrap_or_else(|| "—".into())
    };
    format!(
        "{name}: {} (access token until {}, refresh token until {})",
        t["status"].as_str().unwrap_or(""),
        when("access_expires_at"),
        when("refresh_expires_at")
    )
}

// ----------------------------------------------------------------------------------- report

async fn report(ctx: &Ctx, a: ReportArgs) -> Result<Outcome, Diagnosis> {
    let conn = open(ctx, &a.name, &a.admin).await?;
    let test = conn.test().await;
    save_meta(ctx, &conn).await?;
    let meta = conn.token_meta().await;
    let status = conn.token_status().await;
    let report = SupportReport::new(Some(&conn.profile), &test, status, meta);
    let markdown = report.to_markdown();
    let mut o = Outcome::from_test(test);
    match &a.out {
        Some(path) => {
            let bytes = if ctx.json {
                serde_json::to_vec_pretty(&report.to_json()).expect("plain data")
            } else {
                markdown.into_bytes()
            };
            write_file(path, &bytes)?;
            o.line(format!("report written to {}", path.display()));
            o.field("file", json!(path.display().to_string()));
        }
        None => o.raw = Some(markdown),
    }
    o.field("report", report.to_json());
    Ok(o)
}
