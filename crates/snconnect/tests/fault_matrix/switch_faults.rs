//! snsim's fault switches (latency, slow body, dropped connection, 500, malformed JSON, wrong
//! content type, rate limit, instance states, untrusted certificate) across the commands that
//! reach an instance: the basic test, verify with each auth method, an OAuth token refresh, a
//! bearer test and a browser login. Two worlds run side by side: A (basic and verify), B (the
//! saved OAuth profile). Every row: fault on → command → fault off → keep profiles checked.

use crate::harness::{Check, Env, CONSENT};
use crate::table::{row, Row};
use snsim::{InstanceState, Switches};

/// What a row runs.
#[derive(Clone, Copy, Debug)]
enum Cmd {
    /// `test keep` (basic auth: current_user, a sys_user read).
    TestKeep,
    /// `test dead` (a saved profile whose instance does not listen).
    TestDead,
    /// `test keep-pkce` (Bearer with the stored access token).
    TestPkce,
    /// `token refresh keep-pkce` (refresh grant with the stored refresh token).
    RefreshPkce,
    /// `login keep-pkce` (browser consent through the stand-in, then the code exchange).
    LoginPkce,
    VerifyBasic,
    VerifyApiKey,
    VerifyPassword,
    VerifyClientCredentials,
    /// `verify --auth oauth-code` (browser consent, confidential client).
    VerifyCode,
}

struct Fault {
    fault: &'static str,
    set: fn(&mut Switches),
    cmd: Cmd,
    /// Global flags before the command (`--timeout 1`).
    flags: &'static [&'static str],
    exit: i32,
    code: &'static str,
    known: Option<&'static str>,
}

const TOKEN: &str = "/oauth_token.do";

fn latency(s: &mut Switches) {
    s.faults.latency_ms = 4000;
}
fn latency_token(s: &mut Switches) {
    latency(s);
    s.faults.path_prefix = TOKEN.into();
}
fn slow_body(s: &mut Switches) {
    s.faults.slow_body_ms = 4000;
}
fn slow_body_token(s: &mut Switches) {
    slow_body(s);
    s.faults.path_prefix = TOKEN.into();
}
fn slow_body_tolerable(s: &mut Switches) {
    s.faults.slow_body_ms = 600;
}
fn drop_all(s: &mut Switches) {
    s.faults.drop_connection = true;
}
fn drop_token(s: &mut Switches) {
    drop_all(s);
    s.faults.path_prefix = TOKEN.into();
}
fn drop_api(s: &mut Switches) {
    drop_all(s);
    s.faults.path_prefix = "/api/".into();
}
fn status_500(s: &mut Switches) {
    s.faults.status_500 = true;
}
fn status_500_token(s: &mut Switches) {
    status_500(s);
    s.faults.path_prefix = TOKEN.into();
}
fn malformed(s: &mut Switches) {
    s.faults.malformed_json = true;
}
fn malformed_token(s: &mut Switches) {
    malformed(s);
    s.faults.path_prefix = TOKEN.into();
}
fn malformed_table(s: &mut Switches) {
    malformed(s);
    s.faults.path_prefix = "/api/now/table/".into();
}
fn wrong_type(s: &mut Switches) {
    s.faults.wrong_content_type = true;
}
fn wrong_type_token(s: &mut Switches) {
    wrong_type(s);
    s.faults.path_prefix = TOKEN.into();
}
fn wrong_type_api(s: &mut Switches) {
    wrong_type(s);
    s.faults.path_prefix = "/api/".into();
}
fn rate_limit(s: &mut Switches) {
    s.rate_limit_per_hour = Some(0);
}
fn hibernating(s: &mut Switches) {
    s.instance_state = InstanceState::Hibernating;
}
fn edge502(s: &mut Switches) {
    s.instance_state = InstanceState::Edge502;
}
fn api_login_page(s: &mut Switches) {
    s.instance_state = InstanceState::ApiLoginPage;
}
fn untrusted(s: &mut Switches) {
    s.untrusted_certificate = true;
}
fn nothing(_: &mut Switches) {}

const T1: &[&str] = &["--timeout", "1"];

fn mk(
    fault: &'static str,
    set: fn(&mut Switches),
    cmd: Cmd,
    flags: &'static [&'static str],
    exit: i32,
    code: &'static str,
) -> Fault {
    Fault {
        fault,
        set,
        cmd,
        flags,
        exit,
        code,
        known: None,
    }
}

/// 500 at the token endpoint: the instance failed, so the code is `instance_unavailable`, as a
/// 500 from the Table API is (it was `unexpected_response` until classify_non_json counted
/// every 5xx).
const TOKEN_500: Option<&str> = None;

fn faults_a() -> Vec<Fault> {
    use Cmd::*;
    let f = mk;
    vec![
        f(
            "latency 4 s > --timeout 1 s",
            latency,
            TestKeep,
            T1,
            1,
            "request_timeout",
        ),
        f(
            "slow body over 4 s > --timeout 1 s",
            slow_body,
            TestKeep,
            T1,
            1,
            "request_timeout",
        ),
        f(
            "slow body over 0.6 s (within the timeout: tolerated)",
            slow_body_tolerable,
            TestKeep,
            &[],
            0,
            "ok",
        ),
        f(
            "dropped connection (every request)",
            drop_all,
            TestKeep,
            &[],
            1,
            "unexpected_response",
        ),
        f(
            "500 on every path",
            status_500,
            TestKeep,
            &[],
            1,
            "instance_unavailable",
        ),
        f(
            "malformed JSON (truncated body)",
            malformed,
            TestKeep,
            &[],
            1,
            "unexpected_response",
        ),
        f(
            "wrong content type (JSON as text/html)",
            wrong_type,
            TestKeep,
            &[],
            1,
            "unexpected_html",
        ),
        f(
            "rate limit (429 + Retry-After)",
            rate_limit,
            TestKeep,
            &[],
            1,
            "rate_limited",
        ),
        f(
            "instance hibernating (200 HTML page)",
            hibernating,
            TestKeep,
            &[],
            1,
            "instance_hibernating",
        ),
        f(
            "untrusted certificate (second CA)",
            untrusted,
            TestKeep,
            &[],
            1,
            "tls_untrusted_certificate",
        ),
        f(
            "edge 502 on every path",
            edge502,
            TestKeep,
            &[],
            1,
            "instance_unavailable",
        ),
        f(
            "instance down (nothing listens)",
            nothing,
            TestDead,
            &[],
            1,
            "connection_refused",
        ),
        f(
            "API answers the HTML login page",
            api_login_page,
            VerifyBasic,
            &[],
            1,
            "unexpected_html",
        ),
        f(
            "dropped connection (every request)",
            drop_all,
            VerifyApiKey,
            &[],
            1,
            "unexpected_response",
        ),
        f(
            "malformed JSON on the Table API only",
            malformed_table,
            VerifyApiKey,
            &[],
            1,
            "unexpected_response",
        ),
        f(
            "untrusted certificate (second CA)",
            untrusted,
            VerifyApiKey,
            &[],
            1,
            "tls_untrusted_certificate",
        ),
        f(
            "slow token body over 4 s > --timeout 1 s",
            slow_body_token,
            VerifyPassword,
            T1,
            1,
            "request_timeout",
        ),
        f(
            "token answer as text/html",
            wrong_type_token,
            VerifyPassword,
            &[],
            1,
            "unexpected_html",
        ),
        f(
            "rate limit on the API after the token",
            rate_limit,
            VerifyPassword,
            &[],
            1,
            "rate_limited",
        ),
        Fault {
            known: TOKEN_500,
            ..f(
                "500 at the token endpoint",
                status_500_token,
                VerifyClientCredentials,
                &[],
                1,
                "instance_unavailable",
            )
        },
        f(
            "instance hibernating (token endpoint too)",
            hibernating,
            VerifyClientCredentials,
            &[],
            1,
            "instance_hibernating",
        ),
        f(
            "token endpoint latency 4 s > --timeout 1 s, after the consent",
            latency_token,
            VerifyCode,
            T1,
            1,
            "request_timeout",
        ),
    ]
}

fn faults_b() -> Vec<Fault> {
    use Cmd::*;
    let f = mk;
    vec![
        f(
            "token endpoint latency 4 s > --timeout 1 s",
            latency_token,
            RefreshPkce,
            T1,
            1,
            "request_timeout",
        ),
        f(
            "token endpoint drops the connection",
            drop_token,
            RefreshPkce,
            &[],
            1,
            "unexpected_response",
        ),
        Fault {
            known: TOKEN_500,
            ..f(
                "500 at the token endpoint",
                status_500_token,
                RefreshPkce,
                &[],
                1,
                "instance_unavailable",
            )
        },
        f(
            "malformed token JSON",
            malformed_token,
            RefreshPkce,
            &[],
            1,
            "unexpected_response",
        ),
        f(
            "instance hibernating",
            hibernating,
            RefreshPkce,
            &[],
            1,
            "instance_hibernating",
        ),
        f(
            "untrusted certificate (second CA)",
            untrusted,
            RefreshPkce,
            &[],
            1,
            "tls_untrusted_certificate",
        ),
        f(
            "edge 502 on every path",
            edge502,
            RefreshPkce,
            &[],
            1,
            "instance_unavailable",
        ),
        f(
            "API drops the connection (Bearer)",
            drop_api,
            TestPkce,
            &[],
            1,
            "unexpected_response",
        ),
        f(
            "API answers JSON as text/html (Bearer)",
            wrong_type_api,
            TestPkce,
            &[],
            1,
            "unexpected_html",
        ),
        f(
            "rate limit (Bearer)",
            rate_limit,
            TestPkce,
            &[],
            1,
            "rate_limited",
        ),
        Fault {
            known: TOKEN_500,
            ..f(
                "500 at the token endpoint after the consent",
                status_500_token,
                LoginPkce,
                &[],
                1,
                "instance_unavailable",
            )
        },
        f(
            "instance hibernating: the browser gets the hibernation page",
            hibernating,
            LoginPkce,
            &[],
            1,
            "callback_timeout",
        ),
    ]
}

/// The command of `cmd` in `env`: (label, args, environment).
fn invocation(env: &Env, cmd: Cmd, flags: &[&str]) -> (String, Vec<String>, Vec<(String, String)>) {
    let url = env.sim.url();
    let conf = env.sim.sim.confidential_client_id().to_string();
    let secret = env.sim.sim.confidential_client_secret().to_string();
    let pw = env.sim.password("admin");
    let port = env.sim.port().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let e = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(k, x)| (k.to_string(), x.to_string()))
            .collect::<Vec<_>>()
    };
    let (label, args, envs) = match cmd {
        Cmd::TestKeep => ("test keep (basic)", s(&["test", "keep"]), vec![]),
        Cmd::TestDead => ("test dead (basic)", s(&["test", "dead"]), vec![]),
        Cmd::TestPkce => ("test keep-pkce (Bearer)", s(&["test", "keep-pkce"]), vec![]),
        Cmd::RefreshPkce => (
            "token refresh keep-pkce",
            s(&["token", "refresh", "keep-pkce"]),
            vec![],
        ),
        Cmd::LoginPkce => {
            // The hibernating instance never lets the browser come back: wait 3 s, not 25.
            (
                "login keep-pkce (browser)",
                s(&["login", "keep-pkce", "--consent-timeout", "3"]),
                vec![],
            )
        }
        Cmd::VerifyBasic => (
            "verify --auth basic",
            s(&[
                "verify",
                "--instance",
                &url,
                "--auth",
                "basic",
                "--username",
                "admin",
            ]),
            e(&[("SNCONNECT_PASSWORD", &pw)]),
        ),
        Cmd::VerifyApiKey => (
            "verify --auth api-key",
            s(&["verify", "--instance", &url, "--auth", "api-key"]),
            e(&[("SNCONNECT_API_KEY", env.sim.sim.api_key())]),
        ),
        Cmd::VerifyPassword => (
            "verify --auth oauth-password",
            s(&[
                "verify",
                "--instance",
                &url,
                "--auth",
                "oauth-password",
                "--client-id",
                &conf,
                "--username",
                "admin",
            ]),
            e(&[
                ("SNCONNECT_CLIENT_SECRET", &secret),
                ("SNCONNECT_PASSWORD", &pw),
            ]),
        ),
        Cmd::VerifyClientCredentials => (
            "verify --auth oauth-client-credentials",
            s(&[
                "verify",
                "--instance",
                &url,
                "--auth",
                "oauth-client-credentials",
                "--client-id",
                &conf,
            ]),
            e(&[("SNCONNECT_CLIENT_SECRET", &secret)]),
        ),
        Cmd::VerifyCode => (
            "verify --auth oauth-code (browser)",
            s(&[
                "verify",
                "--instance",
                &url,
                "--auth",
                "oauth-code",
                "--client-id",
                &conf,
                "--redirect-port",
                &port,
                "--consent-timeout",
                CONSENT,
            ]),
            e(&[("SNCONNECT_CLIENT_SECRET", &secret)]),
        ),
    };
    let mut all: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    all.extend(args);
    let label = if flags.is_empty() {
        label.to_string()
    } else {
        format!("{} {label}", flags.join(" "))
    };
    (label, all, envs)
}

fn run_faults(group: &'static str, env: &Env, faults: Vec<Fault>) -> Vec<Row> {
    faults
        .into_iter()
        .map(|f| {
            let (label, args, envs) = invocation(env, f.cmd, f.flags);
            let expected = format!("{} (exit {})", f.code, f.exit);
            row(group, f.fault, label, expected, f.known, |c: &mut Check| {
                env.sim.fault(f.set);
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let envv: Vec<(&str, &str)> =
                    envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let run = env.exec(&argv, &envv);
                env.sim.reset();
                c.outcome(&run, f.exit, f.code);
                c.after(env.after(true));
            })
        })
        .collect()
}

fn leak_row(group: &'static str, env: &Env) -> Row {
    let mut r = row(
        group,
        "(scan) every output and file of this group",
        "all runs above",
        "no issued secret",
        None,
        |c| {
            env.leak_scan();
            c.got = format!("{} runs scanned", env.cli.runs.borrow().len());
            c.note("nothing leaked");
        },
    );
    r.is_fault = false;
    r
}

/// World A: basic and verify paths.
pub fn group_a() -> Vec<Row> {
    let env = Env::start(1);
    env.sim.enable_client_credentials();
    env.add_keep();
    env.add_keep_pkce(&[]);
    let dead = format!("https://127.0.0.1:{}/", crate::support::free_port());
    let pw = env.sim.password("admin");
    crate::harness::must(
        &env.exec(
            &[
                "profile",
                "add",
                "dead",
                "--instance",
                &dead,
                "--auth",
                "basic",
                "--username",
                "admin",
            ],
            &[("SNCONNECT_PASSWORD", &pw)],
        ),
        "profile add dead",
    );
    let mut rows = run_faults("switch", &env, faults_a());
    rows.push(leak_row("switch", &env));
    rows
}

/// World B: the saved OAuth profile (refresh, Bearer test, browser login).
pub fn group_b() -> Vec<Row> {
    let env = Env::start(1);
    env.add_keep();
    env.add_keep_pkce(&[]);
    let mut rows = run_faults("switch", &env, faults_b());
    rows.push(leak_row("switch", &env));
    rows
}
