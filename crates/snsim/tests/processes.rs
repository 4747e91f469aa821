//! Tests that run processes: the `snsim` binary and `tests/support/browser_standin.py`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use snsim::{SimConfig, CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;

const STANDIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/support/browser_standin.py"
);

/// The `snsim` binary with `args`: no stdin, stdout piped for [`read_until_ready`], stderr
/// dropped, killed if the test ends first.
fn sim_command<const N: usize>(args: [&str; N]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snsim"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Read the binary's stdout up to `ready`, returning the lines.
async fn read_until_ready(child: &mut tokio::process::Child) -> Vec<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut out = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            let done = line == "ready";
            out.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("snsim printed ready in time");
    out
}

/// Stop the binary with SIGTERM (so it cleans up its temporary files) and wait for it.
async fn terminate(mut child: tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success());
        if sent {
            let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .expect("snsim exits after SIGTERM")
                .unwrap();
            assert!(
                status.success(),
                "snsim exit status after SIGTERM: {status}"
            );
            return;
        }
    }
    child.kill().await.unwrap();
}

fn value<'a>(lines: &'a [String], key: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_prints_its_settings_then_ready() {
    let mut child = sim_command(["--port", "0"]).spawn().expect("spawn snsim");
    let lines = read_until_ready(&mut child).await;
    assert_eq!(
        lines[0],
        "snsim: ServiceNow instance simulator (not a real instance)"
    );
    let keys: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l.split_once('=').expect("key=value").0)
        .collect();
    assert_eq!(
        keys,
        [
            "base_url",
            "ca_file",
            "confidential_client_id",
            "confidential_client_secret_file",
            "public_client_id",
            "api_key_file",
            "users",
            "admin_password_file"
        ]
    );
    assert_eq!(lines.last().unwrap(), "ready");
    let base = url::Url::parse(value(&lines, "base_url").unwrap()).unwrap();
    assert_eq!(base.scheme(), "https");
    assert_eq!(base.host_str(), Some("127.0.0.1"));
    assert_ne!(base.port(), Some(0));
    assert_eq!(base.path(), "/");
    assert_eq!(
        value(&lines, "confidential_client_id"),
        Some(CONFIDENTIAL_CLIENT_ID)
    );
    assert_eq!(value(&lines, "public_client_id"), Some(PUBLIC_CLIENT_ID));
    assert_eq!(
        value(&lines, "users"),
        Some("admin,abel.tuter,no.roles,oauth.admin,svc.qlik,svc.boomi,svc.reporting,svc.legacy")
    );
    // The API key file is 0600 and its content is not printed either.
    let key_path = value(&lines, "api_key_file").unwrap();
    let key = std::fs::read_to_string(key_path).unwrap();
    let key = key.trim();
    assert_eq!(key.len(), 40);
    assert!(!lines.iter().any(|l| l.contains(key)));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The demo admin's password: in a 0600 file, never printed.
    let pw_path = value(&lines, "admin_password_file").unwrap();
    assert_eq!(
        std::fs::read_to_string(pw_path).unwrap().trim(),
        "Admin#1234"
    );
    assert!(!lines.iter().any(|l| l.contains("Admin#1234")));

    // The secret file is 0600 and its content is not printed; the CA file works.
    let secret_path = value(&lines, "confidential_client_secret_file").unwrap();
    let secret = std::fs::read_to_string(secret_path).unwrap();
    let secret = secret.trim();
    assert_eq!(secret.len(), 32);
    assert!(!lines.iter().any(|l| l.contains(secret)));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(secret_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let ca = std::fs::read(value(&lines, "ca_file").unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let res = http
        .post(base.join("oauth_token.do").unwrap())
        .form(&[
            ("grant_type", "password"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", secret),
            ("username", "admin"),
            ("password", "Admin#1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let ca_path = std::path::PathBuf::from(value(&lines, "ca_file").unwrap());
    let secret_path = std::path::PathBuf::from(secret_path);
    terminate(child).await;
    #[cfg(unix)]
    {
        assert!(!ca_path.exists(), "CA file removed on SIGTERM");
        assert!(!secret_path.exists(), "secret file removed on SIGTERM");
    }
}

/// `--exit-with-stdin`: the simulator ends with the pipe its parent holds (the app's demo
/// mode), so a parent killed with `kill -9` leaves no simulator behind; without the flag a
/// closed stdin changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn binary_exits_when_its_stdin_closes() {
    for with_flag in [true, false] {
        let mut cmd = sim_command(["--port", "0", "--http"]);
        if with_flag {
            cmd.arg("--exit-with-stdin");
        }
        let mut child = cmd.stdin(Stdio::piped()).spawn().expect("spawn snsim");
        let lines = read_until_ready(&mut child).await;
        let pw_file = std::path::PathBuf::from(value(&lines, "admin_password_file").unwrap());
        drop(child.stdin.take());
        let exited = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        if with_flag {
            let status = exited.expect("snsim exits once stdin closes").unwrap();
            assert!(status.success(), "exit status: {status}");
            assert!(!pw_file.exists(), "its secret files are removed");
        } else {
            assert!(exited.is_err(), "without the flag it keeps serving");
            terminate(child).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_scenario_file_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        r#"
[switches]
instance_state = "hibernating"
refresh_echo = true

[switches.faults]
latency_ms = 0

[properties]
"glide.buildname" = "Yokohama"
"#,
    )
    .unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "given-api-key\n").unwrap();
    let mut child = sim_command(["--port", "0", "--http", "--scenario"])
        .arg(&scenario)
        .args(["--set", "mfa=true", "--set", "faults.count=5"])
        .args([
            "--property",
            "glide.oauth.inbound.ropc.grant_type.disabled=true",
        ])
        .arg("--api-key-file")
        .arg(&key_file)
        .spawn()
        .expect("spawn snsim");
    let lines = read_until_ready(&mut child).await;
    assert_eq!(
        value(&lines, "api_key_file"),
        Some(key_file.to_str().unwrap())
    );
    let base = url::Url::parse(value(&lines, "base_url").unwrap()).unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let res = http
        .get(base.join("api/now/table/sys_user").unwrap())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "content-type"), "text/html");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("<h1>Your instance is hibernating</h1>"));
    let sw: serde_json::Value = http
        .get(base.join("__snsim/switches").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sw["instance_state"], "hibernating");
    assert_eq!(sw["refresh_echo"], true);
    assert_eq!(sw["mfa"], true);
    assert_eq!(sw["faults"]["count"], 5);
    let props: serde_json::Value = http
        .get(base.join("__snsim/properties").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(props["glide.buildname"], "Yokohama");
    assert_eq!(
        props["glide.oauth.inbound.ropc.grant_type.disabled"],
        "true"
    );
    let info: serde_json::Value = http
        .get(base.join("__snsim/info").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["api_keys"][0]["token"], "given-api-key");
    terminate(child).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_help_documents_scenarios_and_switches() {
    let out = Command::new(env!("CARGO_BIN_EXE_snsim"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--scenario",
        "--state",
        "--set",
        "--property",
        "--api-key-file",
        "instance_state",
        "redirect_strict",
        "refresh_echo",
        "basic_client_auth",
        "session_cookie_auth",
        "mfa",
        "scope_restricted",
        "plugin_active_format",
        "rate_limit_per_hour",
        "untrusted_certificate",
        "hidden_fields",
        "denied_tables",
        "basic_auth_properties_need_security_admin",
        "svc.qlik",
        "drop_connection",
        "glide.oauth.inbound.client.credential.grant_type.enabled",
        "/__snsim/switches",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
    // A bad scenario file fails cleanly.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[switches]\nno_such_switch = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_snsim"))
        .arg("--scenario")
        .arg(&bad)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_switch"));
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_http_mode_and_given_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "given-secret-value\n").unwrap();
    let mut child = sim_command(["--port", "0", "--http", "--redirect-url"])
        .arg("http://127.0.0.1:5001/cb")
        .arg("--client-secret-file")
        .arg(&secret_file)
        .spawn()
        .expect("spawn snsim");
    let lines = read_until_ready(&mut child).await;
    assert!(value(&lines, "ca_file").is_none());
    assert_eq!(
        value(&lines, "confidential_client_secret_file"),
        Some(secret_file.to_str().unwrap())
    );
    let base = url::Url::parse(value(&lines, "base_url").unwrap()).unwrap();
    assert_eq!(base.scheme(), "http");
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .post(base.join("oauth_token.do").unwrap())
        .form(&[
            ("grant_type", "password"),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", "given-secret-value"),
            ("username", "admin"),
            ("password", "Admin#1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    terminate(child).await;
    // A given secret file is the caller's: it stays.
    assert!(secret_file.exists());
}

/// A one-shot loopback "redirect URI" listener: returns the request target it received.
async fn one_shot_callback(listener: TcpListener) -> String {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let target = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let body = "You can close this window.";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.unwrap();
    stream.shutdown().await.ok();
    target
}

async fn run_standin(
    sim: &snsim::RunningSim,
    authorize: &str,
    log: &std::path::Path,
    action: &str,
) -> std::process::Output {
    let child = Command::new("python3")
        .arg(STANDIN)
        .arg(authorize)
        .env("STANDIN_CA_FILE", sim.ca_file().unwrap())
        .env("STANDIN_LOG", log)
        .env("STANDIN_ACTION", action)
        .env_remove("STANDIN_USER")
        .env_remove("STANDIN_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 is needed to run tests/support/browser_standin.py");
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("stand-in finished in time")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_standin_completes_the_flow() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().unwrap().port()
    );
    let sim = start(SimConfig {
        redirect_urls: vec![redirect.clone()],
        ..SimConfig::default()
    })
    .await;
    let callback = tokio::spawn(one_shot_callback(listener));
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", &redirect), ("state", "standin-state")],
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("standin.log");
    let out = run_standin(&sim, &authorize, &log, "allow").await;
    assert!(
        out.status.success(),
        "stand-in failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = tokio::time::timeout(Duration::from_secs(10), callback)
        .await
        .unwrap()
        .unwrap();
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(target.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert!(target.starts_with("/callback?code="), "{target}");
    assert_eq!(get_param(&params, "state"), Some("standin-state"));
    let code = get_param(&params, "code").unwrap().to_string();

    // The code from the stand-in's callback redeems.
    let secret = sim.confidential_client_secret().to_string();
    let res = token(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("client_id", CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);

    // The log has the steps and no secrets.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("submit login form"), "{text}");
    assert!(text.contains("submit consent form action=allow"), "{text}");
    assert!(text.contains("callback GET"), "{text}");
    for secret in sim
        .issued_secrets()
        .iter()
        .map(String::as_str)
        .chain(["Admin#1234", "standin-state"])
    {
        assert!(!text.contains(secret), "log leaks a secret: {text}");
    }
    // The sim saw a login and a consent post.
    let paths: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(paths.contains(&"POST /login.do".to_string()), "{paths:?}");
    assert!(
        paths.contains(&"POST /oauth_auth.do".to_string()),
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_standin_fails_cleanly_on_a_bad_password() {
    let sim = start_default().await;
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "s")],
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("standin.log");
    let child = Command::new("python3")
        .arg(STANDIN)
        .arg(&authorize)
        .env("STANDIN_CA_FILE", sim.ca_file().unwrap())
        .env("STANDIN_LOG", &log)
        .env("STANDIN_PASSWORD", "wrong-password")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("login failed"));
    assert!(!std::fs::read_to_string(&log)
        .unwrap()
        .contains("wrong-password"));

    // Without the CA the stand-in refuses the certificate (verification stays on).
    let out = Command::new("python3")
        .arg(STANDIN)
        .arg(&authorize)
        .env_remove("STANDIN_CA_FILE")
        .env_remove("STANDIN_LOG")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
}
