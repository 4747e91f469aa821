//! The command line's clap definitions: every command, flag and help text (the commands
//! themselves are in `cmd/`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use snconnect_core::conn_test::ApiKeyIn;
use snconnect_core::loopback::{redirect_url, DEFAULT_REDIRECT_PORT};
use snconnect_core::oauth::Grant;
use snconnect_core::parity;
use snconnect_core::presets::{PresetInputs, Target};
use snconnect_core::profiles::{AuthMethod, Profile};
use snconnect_core::Diagnosis;
use std::path::PathBuf;

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
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct GlobalOpts {
    /// Print one JSON object on stdout instead of human output.
    #[arg(long, global = true)]
    pub json: bool,
    /// Config directory (default: the platform config dir).
    #[arg(long, global = true, env = "SNCONNECT_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Extra trusted CA certificate (PEM), e.g. a corporate TLS-inspection root.
    #[arg(long, global = true, env = "SNCONNECT_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Use this proxy for every request (default: the system proxy settings).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Use no proxy at all.
    #[arg(long, global = true)]
    pub no_proxy: bool,
    /// Per-request timeout in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Keep secrets and tokens in memory for this run only (when the keychain is unavailable).
    #[arg(long, global = true)]
    pub no_keychain: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    Preflight(PreflightArgs),
    /// Create the OAuth endpoint on the instance (admin), or --guided steps and a read-back, or --remove.
    Register(RegisterArgs),
    /// Migrate a connection: preflight → register (or --client-id) → consent → parity test → save.
    Migrate(MigrateArgs),
    /// The accounts that still depend on basic auth, and the restriction settings (admin).
    Inventory(InventoryArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthArg {
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
pub enum KeyInArg {
    Header,
    Query,
}

/// How to reach and authenticate to an instance (profile add, verify).
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Instance: a name (acme), a host (acme.service-now.com) or a URL.
    #[arg(long, value_name = "URL")]
    pub instance: String,
    /// Authentication method.
    #[arg(long, value_enum)]
    pub auth: AuthArg,
    /// User name (basic, oauth-password).
    #[arg(long)]
    pub username: Option<String>,
    /// OAuth client ID from the instance's application registry.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Loopback port for the sign-in redirect (register http://127.0.0.1:PORT/callback).
    #[arg(long, value_name = "N")]
    pub redirect_port: Option<u16>,
    /// Registered fallback port, tried in order when the redirect port is busy (repeatable).
    #[arg(long = "fallback-port", value_name = "N")]
    pub fallback_ports: Vec<u16>,
    /// Custom authorization URL (default: <instance>/oauth_auth.do).
    #[arg(long, value_name = "URL")]
    pub auth_url: Option<String>,
    /// Custom token URL (default: <instance>/oauth_token.do).
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// Custom revocation URL (default: <instance>/oauth_revoke_token.do).
    #[arg(long, value_name = "URL")]
    pub revoke_url: Option<String>,
    /// OAuth scope(s), space separated.
    #[arg(long)]
    pub scope: Option<String>,
    /// API key parameter name (default x-sn-apikey).
    #[arg(long, value_name = "NAME")]
    pub api_key_param: Option<String>,
    /// Where the API key goes.
    #[arg(long, value_enum, value_name = "header|query")]
    pub api_key_in: Option<KeyInArg>,
    /// Refresh token lifespan in seconds (the registry's Refresh Token Lifespan; default 8640000).
    #[arg(long, value_name = "SECONDS")]
    pub refresh_token_lifespan: Option<u64>,
}

impl ConnArgs {
    pub fn profile(&self, name: &str) -> Profile {
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
pub struct ConsentArgs {
    /// Do not open a browser; print the authorize URL only.
    #[arg(long)]
    pub no_browser: bool,
    /// How long to wait for the browser sign-in, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = snconnect_core::signin::DEFAULT_CONSENT_TIMEOUT.as_secs())]
    pub consent_timeout: u64,
    /// Read the URL the browser was redirected to from stdin (the paste fallback), also when
    /// stdin is not a terminal.
    #[arg(long)]
    pub paste: bool,
}

/// An admin account for the probes that split a generic token refusal.
#[derive(Args, Debug, Clone)]
pub struct AdminArgs {
    /// Admin user for diagnosis probes (password: SNCONNECT_ADMIN_PASSWORD or a prompt).
    #[arg(long, value_name = "USER")]
    pub admin_username: Option<String>,
}

/// The reads that prove a connection (test, verify).
#[derive(Args, Debug, Clone)]
pub struct TableArgs {
    /// Read one row of TABLE instead of sys_user (repeatable): the table the integration really
    /// uses, so ACLs that hide its rows show up as rows_hidden_by_acl.
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub tables: TableArgs,
    #[command(flatten)]
    pub consent: ConsentArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum ProfileCmd {
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
pub struct LoginArgs {
    pub name: String,
    /// Only obtain and store the tokens; skip the connection test.
    #[arg(long)]
    pub no_test: bool,
    #[command(flatten)]
    pub consent: ConsentArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The profile to test.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub name: Option<String>,
    /// Test every saved profile.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub tables: TableArgs,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
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
pub struct ReportArgs {
    pub name: String,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

// ---- the migration assistant (preflight, register, migrate) and the inventory --------------

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantArg {
    Code,
    Password,
    ClientCredentials,
}

impl From<GrantArg> for Grant {
    fn from(g: GrantArg) -> Grant {
        match g {
            GrantArg::Code => Grant::AuthorizationCode,
            GrantArg::Password => Grant::Password,
            GrantArg::ClientCredentials => Grant::ClientCredentials,
        }
    }
}

/// The admin account: the instance, the user, its password from SNCONNECT_PASSWORD.
#[derive(Args, Debug, Clone)]
pub struct AdminLogin {
    /// Instance: a name (acme), a host (acme.service-now.com) or a URL.
    #[arg(long, value_name = "URL")]
    pub instance: String,
    /// The admin account (password: SNCONNECT_PASSWORD or a hidden prompt).
    #[arg(long, value_name = "ADMIN")]
    pub username: String,
}

/// Which integration the connection is for.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Target preset: qlik, boomi, alchemer, automate365, postman, custom, snconnect.
    #[arg(long, value_name = "PRESET", default_value = "snconnect")]
    pub target: String,
    /// Boomi Integration account ID (for its callback URL).
    #[arg(long, value_name = "ID")]
    pub boomi_account: Option<String>,
    /// Alchemer/tray region: us (US/CA), eu, au.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The target's redirect URL (Qlik's, or a custom target's; repeatable).
    #[arg(long = "redirect-url", value_name = "URL")]
    pub redirect_urls: Vec<String>,
    /// snconnect's own loopback port (http://127.0.0.1:PORT/callback is registered too).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REDIRECT_PORT)]
    pub redirect_port: u16,
}

impl TargetArgs {
    pub fn target(&self) -> Result<Target, Diagnosis> {
        Target::from_preset(
            &self.target,
            &PresetInputs {
                boomi_account_id: self.boomi_account.clone(),
                region: self.region.clone(),
                redirect_urls: self.redirect_urls.clone(),
            },
        )
    }

    /// The target's callbacks first, then ours.
    pub fn redirect_urls(&self, target: &Target) -> Vec<String> {
        let mut urls = target.redirect_urls();
        let ours = redirect_url(self.redirect_port);
        if !urls.contains(&ours) {
            urls.push(ours);
        }
        urls
    }
}

#[derive(Args, Debug)]
pub struct PreflightArgs {
    #[command(flatten)]
    pub admin: AdminLogin,
    /// The grant the connection will use (decides whether the ROPC and client-credentials
    /// properties matter).
    #[arg(long, value_enum, default_value = "code")]
    pub grant: GrantArg,
}

#[derive(Args, Debug)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub admin: AdminLogin,
    /// Name of the OAuth endpoint to create.
    #[arg(long, value_name = "APP", required_unless_present_any = ["remove", "guided"])]
    pub name: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// A public client (PKCE, no secret) instead of a confidential one.
    #[arg(long)]
    pub public: bool,
    /// Save a profile with the new client under this name (default: the endpoint name).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Do not create anything: print the steps to register by hand, and with --client-id
    /// read back the registered redirect URLs and compare them.
    #[arg(long)]
    pub guided: bool,
    /// With --guided: the client ID of an endpoint registered by hand.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Remove the endpoint snconnect created (its sys_id, as printed at creation).
    #[arg(long, value_name = "SYS_ID", conflicts_with_all = ["guided", "name"])]
    pub remove: Option<String>,
    /// Print the generated client secret on this terminal (never in --json output).
    #[arg(long)]
    pub reveal_secret: bool,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub admin: AdminLogin,
    /// The profile to save the migrated connection as.
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Use this existing client instead of registering one (secret: SNCONNECT_CLIENT_SECRET
    /// unless --public).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// A public client (PKCE, no secret).
    #[arg(long)]
    pub public: bool,
    /// The account whose basic auth is being replaced, for the parity test (password:
    /// SNCONNECT_BASIC_PASSWORD; default: the admin account).
    #[arg(long, value_name = "USER")]
    pub basic_username: Option<String>,
    /// Tables to compare (comma separated; default sys_user,incident).
    #[arg(long, value_delimiter = ',', value_name = "TABLES")]
    pub tables: Vec<String>,
    /// Rows per table to compare.
    #[arg(long, value_name = "N", default_value_t = parity::DEFAULT_ROWS)]
    pub rows: usize,
    #[command(flatten)]
    pub consent: ConsentArgs,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Instance: a name (acme), a host (acme.service-now.com) or a URL.
    #[arg(long, value_name = "URL")]
    pub instance: String,
    /// The admin account (password: SNCONNECT_ADMIN_PASSWORD, --admin-password-stdin, or a
    /// hidden prompt).
    #[arg(long, visible_alias = "admin-user", value_name = "ADMIN")]
    pub admin_username: String,
    /// Read the admin password from the first line of stdin.
    #[arg(long)]
    pub admin_password_stdin: bool,
}
