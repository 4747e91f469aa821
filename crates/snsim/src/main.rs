//! `snsim`: run the ServiceNow instance simulator until SIGINT/SIGTERM.
//!
//! Prints `key=value` lines on stdout, then `ready`. The client secret is never printed: it is
//! written to a 0600 file whose path is printed instead.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use snsim::{InstanceState, RunningSim, Scenario, SimConfig, Switches, SEEDED_USERS};

const LONG_ABOUT: &str = "ServiceNow instance simulator (not a real instance) for tests and demos.

Serves /oauth_auth.do (login and consent pages), /oauth_token.do, /oauth_revoke_token.do, \
/oauth_revoke.do, /api/now/ui/user/current_user and the Table API (sys_user, sys_user_role, \
sys_user_has_role, sys_properties, v_plugin, sys_plugins, oauth_entity, oauth_entity_profile, \
oauth_entity_scope, oauth_credential, sys_db_object, incident), plus a control API under \
/__snsim/. On start it prints key=value lines (base_url, ca_file, client ids, the paths of the \
client secret and API key files, users) and then `ready` on stdout, and serves until SIGINT or \
SIGTERM.

Token grants: authorization_code (confidential, PKCE public), password, refresh_token, \
client_credentials (property + application user), JWT bearer (verifier key on the entity).

Seeded users: admin / Admin#1234 (admin), abel.tuter / Abel#1234 (itil), no.roles / None#1234 \
(no roles), oauth.admin / OAuth#1234 (oauth_admin); integration accounts on basic auth: \
svc.qlik / Qlik#1234 and svc.boomi / Boomi#1234 (itil, web service access only), svc.reporting \
/ Report#1234 (itil, snc_basic_auth_api_access), svc.legacy / Legacy#1234 (itil, web service \
access only, inactive).

SCENARIOS (--scenario FILE, TOML):
  [switches]
  instance_state = \"hibernating\"     # normal | hibernating | edge502 | sso | api_login_page
  redirect_strict = false            # refuse unregistered redirect_uri (default: first URL)
  deny = \"redirect\"                  # redirect (error=access_denied) | page
  confidential_pkce = \"verify\"      # verify | ignore: a confidential client's PKCE challenge
  refresh_echo = false               # refresh grant echoes refresh_token
  basic_client_auth = true           # client auth by HTTP Basic at oauth_token.do
  public_client_refresh = true       # public PKCE client may refresh
  json_token_body_status = 400       # status for a JSON body at oauth_token.do
  session_cookie_auth = true         # a logged-in session cookie authenticates REST calls
  api_key_auth = true                # x-sn-apikey header or query parameter
  mfa = false                        # Basic needs password+mfa_code, else 401 X-MFA_TOKEN: invalid
  mfa_code = \"123456\"
  scope_restricted = false           # Bearer on the Table API -> 403 Missing required api access scope
  plugin_active_format = \"true\"      # true | active
  rate_limit_per_hour = 100          # per user, Table API; 429 + X-RateLimit-* + Retry-After
  untrusted_certificate = false      # serve a leaf from a CA not in ca_file
  denied_tables = [\"sys_user_has_role\"] # table-level ACL: 403 for non-admins
  basic_auth_properties_need_security_admin = false # glide.authenticate.basic_auth.* rows
                                     # hidden from users without security_admin (admin too)
  [switches.hidden_fields]
  sys_user = [\"email\"]               # field-level ACL: hidden from non-admins
  [switches.faults]
  latency_ms = 0                     # delay before answering
  slow_body_ms = 0                   # body in chunks spread over this time
  drop_connection = false            # close the connection without a response
  status_500 = false                 # 500 with the REST error body
  malformed_json = false             # truncated JSON body
  wrong_content_type = false         # text/html content type on any body
  path_prefix = \"\"                   # only paths starting with this
  count = 3                          # only the next N matching requests
  [properties]                       # sys_properties, which drive platform behaviour:
  \"glide.oauth.inbound.client.credential.grant_type.enabled\" = \"true\"
  \"glide.oauth.inbound.ropc.grant_type.disabled\" = \"true\"
  \"glide.oauth.state.parameter.required\" = \"false\"
  \"glide.oauth.allow.parameters.in.post.body.only\" = \"false\"
  \"com.snc.platform.security.oauth.is.active\" = \"false\"
  \"glide.authenticate.basic_auth.restriction.enforce\" = \"true\"

Flags apply after the scenario file. Tests change everything at run time through the control \
API: GET/POST/PUT /__snsim/switches (POST merges JSON), GET/POST /__snsim/properties, \
GET|DELETE /__snsim/requests, GET /__snsim/requests/count?path=&grant_type=, /__snsim/issued, \
/__snsim/clients, /__snsim/info, POST /__snsim/expire_tokens, /__snsim/advance_clock?seconds=N, \
/__snsim/revoke?token=, /__snsim/reset_switches.";

#[derive(Debug, Parser)]
#[command(
    name = "snsim",
    version,
    about = "ServiceNow instance simulator (not a real instance) for tests and demos",
    long_about = LONG_ABOUT
)]
struct Args {
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,

    /// TCP port to listen on; 0 picks a free port (read the actual one from `base_url=`).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Serve plain HTTP instead of HTTPS (no CA is generated and no `ca_file=` line printed).
    #[arg(long)]
    http: bool,

    /// Skip the login and consent pages: /oauth_auth.do immediately redirects with a code
    /// for the user given by --auto-approve-user.
    #[arg(long)]
    auto_approve: bool,

    /// The user --auto-approve approves as.
    #[arg(long, default_value = "admin", value_name = "USER")]
    auto_approve_user: String,

    /// A registered redirect URL of both seeded OAuth clients; repeat for several. The first
    /// one is the fallback for unregistered redirect_uri values (documented ServiceNow
    /// behaviour). Default: http://127.0.0.1:8765/callback
    #[arg(long = "redirect-url", value_name = "URL")]
    redirect_urls: Vec<String>,

    /// File for the confidential client's secret. If it exists and is not empty, its first
    /// line is used as the secret; otherwise a random secret is generated and written there
    /// (mode 0600). Without this flag the secret goes to a 0600 file in a temporary
    /// directory. Either way only the path is printed (`confidential_client_secret_file=`).
    #[arg(long, value_name = "PATH")]
    client_secret_file: Option<PathBuf>,

    /// Show "Demo instance: sign in as admin / <password>" on the login page.
    #[arg(long)]
    demo_hint: bool,

    /// A scenario file (TOML) with `[switches]` and `[properties]`; see SCENARIOS above.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,

    /// Instance state: normal, hibernating, edge502, sso or api_login_page.
    #[arg(long, value_name = "STATE")]
    state: Option<String>,

    /// Set one switch, e.g. `--set mfa=true`, `--set faults.latency_ms=200`,
    /// `--set deny=page` (values are JSON, or a string). Repeatable.
    #[arg(long = "set", value_name = "SWITCH=VALUE")]
    set: Vec<String>,

    /// Create or update a sys_properties record, e.g.
    /// `--property glide.oauth.inbound.client.credential.grant_type.enabled=true`. Repeatable.
    #[arg(long = "property", value_name = "NAME=VALUE")]
    property: Vec<String>,

    /// Also stop when stdin reaches its end: a parent that holds the other end of a pipe
    /// (snconnect-app's demo mode) takes the simulator with it even when it is killed.
    #[arg(long)]
    exit_with_stdin: bool,

    /// File for admin's REST API key (`x-sn-apikey`): read like --client-secret-file, else
    /// written 0600. Without the flag it goes to the temporary secret directory. Only the
    /// path is printed (`api_key_file=`).
    #[arg(long, value_name = "PATH")]
    api_key_file: Option<PathBuf>,
}

/// `a.b=value` as a JSON patch `{"a":{"b":value}}`.
fn switch_patch(spec: &str) -> Result<serde_json::Value, String> {
    let (key, value) = spec
        .split_once('=')
        .ok_or_else(|| format!("--set {spec}: expected SWITCH=VALUE"))?;
    let mut v: serde_json::Value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    for part in key.trim().rsplit('.') {
        let mut m = serde_json::Map::new();
        m.insert(part.to_string(), v);
        v = serde_json::Value::Object(m);
    }
    Ok(v)
}

/// The switches and properties from the scenario file and the flags.
fn scenario_from(args: &Args) -> Result<(Switches, Vec<(String, String)>), String> {
    let mut scenario = match &args.scenario {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("--scenario {}: {e}", p.display()))?;
            toml::from_str::<Scenario>(&text)
                .map_err(|e| format!("--scenario {}: {e}", p.display()))?
        }
        None => Scenario::default(),
    };
    let mut switches = scenario.switches.clone();
    if let Some(state) = &args.state {
        let mut name = state.to_ascii_lowercase().replace('-', "_");
        if name == "edge_502" {
            name = "edge502".into();
        }
        let s = serde_json::from_value::<InstanceState>(serde_json::Value::String(name)).map_err(
            |_| {
                format!(
                    "--state {state}: expected normal, hibernating, edge502, sso or api_login_page"
                )
            },
        )?;
        switches.instance_state = s;
    }
    for spec in &args.set {
        switches = switches
            .merged(switch_patch(spec)?)
            .map_err(|e| format!("--set {spec}: {e}"))?;
    }
    for spec in &args.property {
        let (k, v) = spec
            .split_once('=')
            .ok_or_else(|| format!("--property {spec}: expected NAME=VALUE"))?;
        scenario.properties.insert(k.to_string(), v.to_string());
    }
    Ok((switches, scenario.properties.into_iter().collect()))
}

fn read_existing_secret(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let line = text.lines().next().unwrap_or("").trim().to_string();
            Ok((!line.is_empty()).then_some(line))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write `secret` to `path`, readable by the owner only.
fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")?;
    f.flush()
}

/// Until SIGINT or SIGTERM, or (with `--exit-with-stdin`) the end of stdin.
async fn wait_for_stop(exit_with_stdin: bool) {
    if !exit_with_stdin {
        return wait_for_signal().await;
    }
    let stdin_closed = async {
        use tokio::io::AsyncReadExt;
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        _ = wait_for_signal() => {}
        _ = stdin_closed => tracing::info!("stdin closed"),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let (switches, properties) = scenario_from(&args)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // The secret files: given (read or create) or in a private temporary directory.
    let secret_tempdir = {
        let dir = tempfile::Builder::new().prefix("snsim-secret-").tempdir()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        }
        dir
    };
    let (secret_path, preset_secret) = match &args.client_secret_file {
        Some(p) => (p.clone(), read_existing_secret(p)?),
        None => (secret_tempdir.path().join("client_secret"), None),
    };
    let (api_key_path, preset_key) = match &args.api_key_file {
        Some(p) => (p.clone(), read_existing_secret(p)?),
        None => (secret_tempdir.path().join("api_key"), None),
    };

    let mut cfg = SimConfig {
        host: args.host,
        port: args.port,
        tls: !args.http,
        auto_approve: args.auto_approve,
        auto_approve_user: args.auto_approve_user.clone(),
        confidential_client_secret: preset_secret.clone(),
        demo_hint: args.demo_hint,
        switches: switches.clone(),
        properties,
        api_key: preset_key.clone(),
        ..SimConfig::default()
    };
    // The older single-purpose fields win over `switches`; keep them in step.
    cfg.accept_basic_client_auth = switches.basic_client_auth;
    cfg.allow_public_client_refresh = switches.public_client_refresh;
    cfg.api_session_auth = switches.session_cookie_auth;
    cfg.json_token_body_status = switches.json_token_body_status;
    if !args.redirect_urls.is_empty() {
        cfg.redirect_urls = args.redirect_urls.clone();
    }

    let sim = RunningSim::start(cfg).await?;
    if preset_secret.is_none() {
        write_secret_file(&secret_path, sim.confidential_client_secret())?;
    }
    if preset_key.is_none() {
        write_secret_file(&api_key_path, sim.api_key())?;
    }
    // The demo account's password, for a host that signs in for the person (demo mode).
    let admin_password_path = secret_tempdir.path().join("admin_password");
    write_secret_file(
        &admin_password_path,
        &sim.user_password("admin").unwrap_or_default(),
    )?;

    let mut out = String::new();
    out.push_str("snsim: ServiceNow instance simulator (not a real instance)\n");
    out.push_str(&format!("base_url={}\n", sim.base_url()));
    if let Some(ca) = sim.ca_file() {
        out.push_str(&format!("ca_file={}\n", ca.display()));
    }
    out.push_str(&format!(
        "confidential_client_id={}\n",
        sim.confidential_client_id()
    ));
    out.push_str(&format!(
        "confidential_client_secret_file={}\n",
        secret_path.display()
    ));
    out.push_str(&format!("public_client_id={}\n", sim.public_client_id()));
    out.push_str(&format!("api_key_file={}\n", api_key_path.display()));
    out.push_str(&format!("users={}\n", SEEDED_USERS.join(",")));
    out.push_str(&format!(
        "admin_password_file={}\n",
        admin_password_path.display()
    ));
    out.push_str("ready\n");
    {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
    }

    wait_for_stop(args.exit_with_stdin).await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    drop(secret_tempdir);
    Ok(())
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("snsim=info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("snsim: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(args)) {
        eprintln!("snsim: {e}");
        std::process::exit(1);
    }
}
