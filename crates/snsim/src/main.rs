//! `snsim`: run the ServiceNow instance simulator until SIGINT/SIGTERM.
//!
//! Prints `key=value` lines on stdout, then `ready`. The client secret is never printed: it is
//! written to a 0600 file whose path is printed instead.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use snsim::{RunningSim, SimConfig, SEEDED_USERS};

#[derive(Debug, Parser)]
#[command(
    name = "snsim",
    version,
    about = "ServiceNow instance simulator (not a real instance) for tests and demos",
    long_about = "ServiceNow instance simulator (not a real instance) for tests and demos.\n\n\
        Serves /oauth_auth.do (login and consent pages), /oauth_token.do, \
        /api/now/ui/user/current_user and /api/now/table/sys_user, plus a control API under \
        /__snsim/. On start it prints key=value lines (base_url, ca_file, client ids, the path \
        of the client secret file, users) and then `ready` on stdout, and serves until SIGINT \
        or SIGTERM.\n\n\
        Seeded users: admin / Admin#1234, abel.tuter / Abel#1234, no.roles / None#1234."
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
    // The secret file: given (read or create) or in a private temporary directory.
    let mut secret_tempdir = None;
    let (secret_path, preset_secret) = match &args.client_secret_file {
        Some(p) => (p.clone(), read_existing_secret(p)?),
        None => {
            let dir = tempfile::Builder::new().prefix("snsim-secret-").tempdir()?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
            }
            let p = dir.path().join("client_secret");
            secret_tempdir = Some(dir);
            (p, None)
        }
    };

    let mut cfg = SimConfig {
        host: args.host,
        port: args.port,
        tls: !args.http,
        auto_approve: args.auto_approve,
        auto_approve_user: args.auto_approve_user.clone(),
        confidential_client_secret: preset_secret.clone(),
        demo_hint: args.demo_hint,
        ..SimConfig::default()
    };
    if !args.redirect_urls.is_empty() {
        cfg.redirect_urls = args.redirect_urls.clone();
    }

    let sim = RunningSim::start(cfg).await?;
    if preset_secret.is_none() {
        write_secret_file(&secret_path, sim.confidential_client_secret())?;
    }

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
    out.push_str(&format!("users={}\n", SEEDED_USERS.join(",")));
    out.push_str("ready\n");
    {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
    }

    wait_for_signal().await;
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
