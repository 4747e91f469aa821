//! `snconnect`: the command line over snconnect-core.
//!
//! Secrets never come from argv: `SNCONNECT_PASSWORD`, `SNCONNECT_CLIENT_SECRET`,
//! `SNCONNECT_API_KEY`, or a hidden prompt when stdin is a terminal.
//! Exit status: 0 success; 1 the connection or check failed (diagnosis printed);
//! 2 usage or local configuration error.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use snconnect_core::browser::{BrowserLauncher, NoBrowser, SystemBrowser};
use snconnect_core::conn_test::{test_connection, ApiAuth, Check, TestReport};
use snconnect_core::http::{build_client, HttpConfig, ProxyMode};
use snconnect_core::loopback::DEFAULT_REDIRECT_PORT;
use snconnect_core::oauth::{ClientRegistration, Endpoints};
use snconnect_core::verify::{begin_consent, ConsentOptions};
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "snconnect",
    version,
    about = "Check, sign in to and test ServiceNow connections (basic auth and OAuth 2.0).",
    after_help = "Secrets are never taken from arguments. Set SNCONNECT_PASSWORD (basic auth, password grant),\n\
                  SNCONNECT_CLIENT_SECRET or SNCONNECT_API_KEY, or type them at the hidden prompt.\n\n\
                  Exit status: 0 success, 1 the connection or check failed (a diagnosis code is printed),\n\
                  2 usage or local configuration error."
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
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign in and test a connection with nothing written anywhere (no profile, no keychain entry).
    Verify(VerifyArgs),
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum AuthArg {
    /// User name + password (SNCONNECT_PASSWORD).
    Basic,
    /// OAuth authorization code, confidential client (SNCONNECT_CLIENT_SECRET).
    OauthCode,
    /// OAuth authorization code + PKCE, public client (no secret).
    OauthCodePkce,
    /// OAuth password grant (SNCONNECT_PASSWORD and SNCONNECT_CLIENT_SECRET).
    OauthPassword,
}

#[derive(Args, Debug)]
struct VerifyArgs {
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
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REDIRECT_PORT)]
    redirect_port: u16,
    /// Custom authorization URL (default: <instance>/oauth_auth.do).
    #[arg(long, value_name = "URL")]
    auth_url: Option<String>,
    /// Custom token URL (default: <instance>/oauth_token.do).
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// OAuth scope(s), space separated.
    #[arg(long)]
    scope: Option<String>,
    /// Do not open a browser; print the authorize URL only.
    #[arg(long)]
    no_browser: bool,
    /// How long to wait for the browser sign-in, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    consent_timeout: u64,
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
    emit(json, &outcome);
    ExitCode::from(exit_status(&outcome.diagnosis))
}

/// What a command produced, for printing.
struct Outcome {
    diagnosis: Diagnosis,
    instance: Option<String>,
    report: Option<TestReport>,
    checks: Vec<Check>,
    authorize_url: Option<String>,
}

impl Outcome {
    fn failed(d: Diagnosis) -> Self {
        Outcome {
            diagnosis: d,
            instance: None,
            report: None,
            checks: Vec::new(),
            authorize_url: None,
        }
    }
}

fn exit_status(d: &Diagnosis) -> u8 {
    match d.code {
        Code::Ok => 0,
        Code::UsageError
        | Code::InvalidInstanceUrl
        | Code::InsecureUrlRefused
        | Code::ConfigUnreadable
        | Code::ConfigUnwritable
        | Code::KeychainUnavailable
        | Code::KeychainLocked
        | Code::CallbackPortInUse => 2,
        _ => 1,
    }
}

async fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::Verify(args) => verify(&cli.global, args)
            .await
            .unwrap_or_else(Outcome::failed),
    }
}

fn http_config(g: &GlobalOpts) -> Result<HttpConfig, Diagnosis> {
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
    Ok(cfg)
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

fn parse_url(field: &str, value: &Option<String>) -> Result<Option<url::Url>, Diagnosis> {
    value
        .as_deref()
        .map(|v| {
            url::Url::parse(v)
                .map_err(|e| Diagnosis::usage(field, format!("{v:?} is not a URL: {e}")))
        })
        .transpose()
}

fn require<'a>(field: &str, value: &'a Option<String>, why: &str) -> Result<&'a str, Diagnosis> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Diagnosis::usage(field, why.to_string()))
}

async fn verify(g: &GlobalOpts, a: VerifyArgs) -> Result<Outcome, Diagnosis> {
    let instance = InstanceUrl::parse(&a.instance)?;
    let http = build_client(&http_config(g)?)?;
    let mut endpoints = Endpoints::servicenow(&instance);
    if let Some(u) = parse_url("--auth-url", &a.auth_url)? {
        endpoints.auth_url = u;
    }
    if let Some(u) = parse_url("--token-url", &a.token_url)? {
        endpoints.token_url = u;
    }
    let mut checks = Vec::new();
    let mut authorize_url = None;
    let auth = match a.auth {
        AuthArg::Basic => {
            let username =
                require("--username", &a.username, "basic auth needs --username")?.to_string();
            let password = read_secret("SNCONNECT_PASSWORD", &format!("Password for {username}"))?;
            ApiAuth::Basic { username, password }
        }
        AuthArg::OauthPassword => {
            let client_id = require(
                "--client-id",
                &a.client_id,
                "the password grant needs --client-id",
            )?
            .to_string();
            let username = require(
                "--username",
                &a.username,
                "the password grant needs --username",
            )?
            .to_string();
            let client_secret = read_secret("SNCONNECT_CLIENT_SECRET", "Client secret")?;
            let password = read_secret("SNCONNECT_PASSWORD", &format!("Password for {username}"))?;
            let reg = ClientRegistration {
                client_id,
                client_secret: Some(client_secret),
                endpoints,
                scope: a.scope.clone(),
            };
            let started = Instant::now();
            let tokens = reg.password_grant(&http, &username, &password).await;
            checks.push(Check::new("token", tokens.as_ref().map(|_| ()), started));
            match tokens {
                Ok(t) => ApiAuth::Bearer(t.access_token),
                Err(d) => {
                    return Ok(Outcome {
                        diagnosis: d,
                        instance: Some(instance.to_string()),
                        report: None,
                        checks,
                        authorize_url,
                    })
                }
            }
        }
        AuthArg::OauthCode | AuthArg::OauthCodePkce => {
            let client_id = require(
                "--client-id",
                &a.client_id,
                "the authorization code flow needs --client-id",
            )?
            .to_string();
            let pkce = a.auth == AuthArg::OauthCodePkce;
            let client_secret = if pkce {
                None
            } else {
                Some(read_secret("SNCONNECT_CLIENT_SECRET", "Client secret")?)
            };
            let reg = ClientRegistration {
                client_id,
                client_secret,
                endpoints,
                scope: a.scope.clone(),
            };
            let browser: Arc<dyn BrowserLauncher> = if a.no_browser {
                Arc::new(NoBrowser)
            } else {
                Arc::new(SystemBrowser)
            };
            let opts = ConsentOptions {
                ports: vec![a.redirect_port],
                pkce,
                timeout: Duration::from_secs(a.consent_timeout.max(1)),
            };
            let pending = begin_consent(&reg, &opts, browser).await?;
            authorize_url = Some(pending.authorize_url.to_string());
            if !g.json || std::io::stderr().is_terminal() {
                eprintln!("Sign in and approve access in your browser. If no window appeared, open:\n  {}", pending.authorize_url);
                if let Err(d) = &pending.browser {
                    eprintln!(
                        "(no browser was opened: {})",
                        d.detail.as_deref().unwrap_or(d.message.as_str())
                    );
                }
                eprintln!("Waiting for the redirect to {} …", pending.redirect_url);
            }
            match pending.finish(&http, &reg).await {
                Ok((tokens, c)) => {
                    checks.extend(c);
                    ApiAuth::Bearer(tokens.access_token)
                }
                Err((d, c)) => {
                    checks.extend(c);
                    return Ok(Outcome {
                        diagnosis: d,
                        instance: Some(instance.to_string()),
                        report: None,
                        checks,
                        authorize_url,
                    });
                }
            }
        }
    };
    let report = test_connection(&http, &instance, &auth).await;
    checks.extend(report.checks.iter().cloned());
    Ok(Outcome {
        diagnosis: report.diagnosis.clone(),
        instance: Some(instance.to_string()),
        report: Some(report),
        checks,
        authorize_url,
    })
}

fn emit(json: bool, o: &Outcome) {
    let d = &o.diagnosis;
    let identity = o.report.as_ref().and_then(|r| r.identity.as_ref());
    if json {
        let value = json!({
            "ok": d.code == Code::Ok,
            "code": d.code,
            "message": d.message,
            "remediation": d.remediation,
            "detail": d.detail,
            "instance": o.instance,
            "user": identity.map(|i| i.user_name.clone()),
            "user_display_name": identity.map(|i| i.user_display_name.clone()),
            "user_sys_id": identity.map(|i| i.user_sys_id.clone()),
            "latency_ms": o.report.as_ref().and_then(|r| r.latency_ms),
            "authorize_url": o.authorize_url,
            "checks": o.checks,
        });
        println!("{value}");
        return;
    }
    if d.code == Code::Ok {
        if let Some(i) = identity {
            println!(
                "✓ Connected to {} as {} ({})",
                o.instance.as_deref().unwrap_or("?"),
                i.user_display_name,
                i.user_name
            );
        }
    } else {
        println!("✗ {}: {}", d.code, d.message);
        if let Some(detail) = &d.detail {
            println!("  detail: {detail}");
        }
        if let Some(fix) = &d.remediation {
            println!("  fix:    {fix}");
        }
    }
    for c in &o.checks {
        println!(
            "  {:<22} {:<4} {:>6} ms  {}",
            c.name,
            if c.ok { "ok" } else { "FAIL" },
            c.ms,
            c.code
        );
    }
}
