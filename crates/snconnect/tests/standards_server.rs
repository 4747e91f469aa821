//! snconnect against a strict, standards-compliant OAuth 2.0 server reached only through
//! custom URLs: `tests/oauth-server/server.mjs` (the certified `oidc-provider` on loopback)
//! with `tests/support/browser_standin.py` as `$BROWSER` submitting its login and consent
//! forms, and a private Secret Service (`tests/support/secret_service.rs`) as the keychain.
//!
//! Nothing here is ServiceNow-specific: the server knows RFC 6749 (code, refresh,
//! client_credentials), RFC 7636 (PKCE S256, required for the public client), RFC 7009
//! (revocation) and RFC 7662 (introspection). The tests drive the real `snconnect` binary
//! and prove each step on the server's side: its `GET /__test/events` counters and RFC 7662
//! introspection (by the confidential client) of the very tokens the CLI keeps in the
//! keychain.
//!
//! Needs `node` (20.19+) and `tests/oauth-server/node_modules`: run `scripts/setup.sh --test`.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::secret_service::SecretService;
use support::{free_port, keychain_unlocked, loopback, repo_root, Cli, Run};

/// What a client sends to this server. Refresh tokens come with every authorization code
/// grant whatever the scope; `offline_access` itself is granted only together with
/// `prompt=consent` (OIDC Core §11), so the granted scope may come back as just `openid`.
const SCOPE: &str = "openid offline_access";
/// Scope for client_credentials (a plain resource scope the server knows).
const CC_SCOPE: &str = "api";
/// Access token lifetime the server is started with.
const ACCESS_TTL: u64 = 3600;
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);
const SERVER_STOP_TIMEOUT: Duration = Duration::from_secs(5);
const CLI_TIMEOUT: Duration = Duration::from_secs(120);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---- the standards server -------------------------------------------------------------------

struct OAuthServer {
    child: Option<Child>,
    /// The server's lifeline (`--exit-on-stdin-eof`): dropping it asks for a clean exit.
    stdin: Option<ChildStdin>,
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    public_client_id: String,
    confidential_client_id: String,
    client_secret: String,
    dir: tempfile::TempDir,
}

impl OAuthServer {
    /// Starts `node tests/oauth-server/server.mjs` with `redirect_port`'s loopback callback
    /// registered, and waits (bounded) for its `ready` line.
    fn start(redirect_port: u16) -> OAuthServer {
        let server_dir = repo_root().join("tests/oauth-server");
        match Command::new("node").arg("--version").output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "`node --version` failed ({}): Node.js 20.19+ is needed for the standards OAuth \
                 server; run scripts/setup.sh --test",
                o.status
            ),
            Err(e) => panic!(
                "`node` is not runnable ({e}): Node.js 20.19+ is needed for the standards OAuth \
                 server (tests/oauth-server); install it, then run scripts/setup.sh --test"
            ),
        }
        assert!(
            server_dir.join("node_modules/oidc-provider").is_dir(),
            "{} is missing: run scripts/setup.sh --test (or `npm ci` in tests/oauth-server)",
            server_dir.join("node_modules/oidc-provider").display()
        );

        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("confidential_client_secret");
        let stderr = std::fs::File::create(dir.path().join("server.stderr")).unwrap();
        let mut child = Command::new("node")
            .arg(server_dir.join("server.mjs"))
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .arg("--redirect-uri")
            .arg(loopback(redirect_port))
            .arg("--secret-file")
            .arg(&secret_file)
            .arg("--access-token-ttl")
            .arg(ACCESS_TTL.to_string())
            .current_dir(&server_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning node tests/oauth-server/server.mjs");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let mut server = OAuthServer {
            child: Some(child),
            stdin,
            issuer: String::new(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            revocation_endpoint: String::new(),
            introspection_endpoint: String::new(),
            public_client_id: String::new(),
            confidential_client_id: String::new(),
            client_secret: String::new(),
            dir,
        };

        // Read stdout on a thread, so a server that neither prints nor exits cannot hang us.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => panic!(
                    "the OAuth server did not print `ready` within {SERVER_START_TIMEOUT:?} \
                     ({e:?}); its stderr:\n{}",
                    server.stderr()
                ),
            };
            if line == "ready" {
                break;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.to_string();
            match key {
                "issuer" => server.issuer = value,
                "authorization_endpoint" => server.authorization_endpoint = value,
                "token_endpoint" => server.token_endpoint = value,
                "revocation_endpoint" => server.revocation_endpoint = value,
                "introspection_endpoint" => server.introspection_endpoint = value,
                "public_client_id" => server.public_client_id = value,
                "confidential_client_id" => server.confidential_client_id = value,
                _ => {}
            }
        }
        server.client_secret = std::fs::read_to_string(&secret_file)
            .expect("the server wrote the client secret file")
            .trim()
            .to_string();
        assert!(
            !server.issuer.is_empty() && server.client_secret.len() >= 32,
            "incomplete server info; stderr:\n{}",
            server.stderr()
        );
        server
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.stderr")).unwrap_or_default()
    }

    /// `GET /__test/events`: the server's counters.
    fn events(&self) -> Value {
        let (status, body) = http(&format!("{}/__test/events", self.issuer), None);
        assert_eq!(status, 200, "events endpoint: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// RFC 7662 introspection by the confidential client (client_secret_post): the HTTP
    /// status and the JSON answer. (oidc-provider answers 400 for a JWT such as an ID token.)
    fn introspect_raw(&self, token: &str) -> (u16, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("client_id", &self.confidential_client_id)
            .append_pair("client_secret", &self.client_secret)
            .finish();
        let (status, text) = http(&self.introspection_endpoint, Some(&body));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn introspect(&self, token: &str) -> Value {
        let (status, json) = self.introspect_raw(token);
        assert_eq!(
            status, 200,
            "introspection answered {status}: {}",
            json["error"]
        );
        json
    }

    fn is_active(&self, token: &str) -> bool {
        let (status, json) = self.introspect_raw(token);
        status == 200 && json["active"] == Value::Bool(true)
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        // Close the lifeline: the server exits cleanly (removing its secret file)…
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + SERVER_STOP_TIMEOUT;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => return,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    // …or is killed.
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return;
                    }
                }
            }
        }
    }
}

fn counter(events: &Value, path: &[&str]) -> u64 {
    let mut v = events;
    for p in path {
        v = &v[*p];
    }
    v.as_u64().unwrap_or(0)
}

/// A minimal HTTP/1.0 client (no chunked bodies) over loopback, for the server's test
/// endpoint and introspection. `body` is sent form-urlencoded with POST. Bounded by timeouts.
fn http(url: &str, body: Option<&str>) -> (u16, String) {
    let u = url::Url::parse(url).unwrap();
    let host = u.host_str().unwrap();
    let addr: SocketAddr = format!("{host}:{}", u.port_or_known_default().unwrap())
        .parse()
        .unwrap();
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(HTTP_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(HTTP_TIMEOUT)).unwrap();
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let request = match body {
        Some(b) => format!(
            "POST {target} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
            addr,
            b.len()
        ),
        None => {
            format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n")
        }
    };
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reading the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

// ---- the CLI ---------------------------------------------------------------------------------

struct Env {
    server: OAuthServer,
    keychain: SecretService,
    redirect_port: u16,
    /// Its own config dir and HOME, the keychain's bus; stdout + stderr of every run, for the
    /// leak check.
    cli: Cli,
    /// Every secret the keychain ever held (whole items, and the tokens inside them).
    secrets_seen: Mutex<BTreeSet<String>>,
}

fn env() -> Env {
    let keychain = keychain_unlocked();
    let redirect_port = free_port();
    let server = OAuthServer::start(redirect_port);
    let cli = Cli::in_temp_dirs(None, keychain.env(), CLI_TIMEOUT);
    Env {
        server,
        keychain,
        redirect_port,
        cli,
        secrets_seen: Mutex::new(BTreeSet::new()),
    }
}

impl Env {
    /// Runs `snconnect --json --config-dir <dir> ARGS` with `envs` added, bounded by
    /// CLI_TIMEOUT. Returns (exit code, the one JSON object on stdout).
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> (i32, Value) {
        let run = self.cli.exec(true, args, envs);
        (run.code, run.json_with_ok_and_code())
    }

    /// As `run`, and asserts exit 0, `ok: true`, `code: "ok"`.
    fn run_ok(&self, args: &[&str], envs: &[(&str, &str)]) -> Value {
        let (code, json) = self.run(args, envs);
        assert_eq!(
            (code, &json["ok"], json["code"].as_str()),
            (0, &Value::Bool(true), Some("ok")),
            "`snconnect {}` failed: {json}\nstderr: {}\nserver stderr: {}",
            args.join(" "),
            self.cli.last_stderr(),
            self.server.stderr()
        );
        json
    }

    /// `profile add NAME --instance <issuer> --auth AUTH --client-id ID` plus the custom URL
    /// flags the auth method uses; a confidential client's secret goes in through the env.
    fn profile_add(&self, name: &str, auth: &str, client_id: &str, secret: Option<&str>) {
        let s = &self.server;
        let port = self.redirect_port.to_string();
        let mut args = vec![
            "profile",
            "add",
            name,
            "--instance",
            &s.issuer,
            "--auth",
            auth,
            "--client-id",
            client_id,
            "--token-url",
            &s.token_endpoint,
            "--revoke-url",
            &s.revocation_endpoint,
        ];
        if auth == "oauth-client-credentials" {
            args.extend(["--scope", CC_SCOPE]);
        } else {
            args.extend([
                "--auth-url",
                &s.authorization_endpoint,
                "--scope",
                SCOPE,
                "--redirect-port",
                &port,
            ]);
        }
        let envs: Vec<(&str, &str)> = secret
            .map(|v| vec![("SNCONNECT_CLIENT_SECRET", v)])
            .unwrap_or_default();
        self.run_ok(&args, &envs);
    }

    /// `login NAME --no-test` ($BROWSER is the stand-in on every run).
    fn login(&self, name: &str) -> (i32, Value) {
        self.run(&["login", name, "--no-test"], &[])
    }

    fn status(&self, name: &str) -> Value {
        let json = self.run_ok(&["token", "status", name], &[]);
        assert!(
            json["has_refresh_token"].is_boolean(),
            "token status without has_refresh_token: {json}"
        );
        for field in ["access_expires_at", "refresh_expires_at"] {
            assert!(
                json[field].is_null() || json[field].is_u64(),
                "{field} must be unix seconds or null: {json}"
            );
        }
        json
    }

    /// Reads the keychain now and remembers every secret in it: each whole item, and each
    /// token inside an item that is JSON (strings the server says are live tokens, and JWTs).
    /// Returns the live tokens (RFC 7662 `active: true`) found.
    fn snapshot_keychain(&self) -> Vec<String> {
        let items: Vec<String> = self
            .keychain
            .stored_secrets()
            .into_iter()
            .filter(|s| s != "<unreadable>" && !s.is_empty())
            .collect();
        let mut live = Vec::new();
        let mut seen = self.secrets_seen.lock().unwrap();
        for item in &items {
            seen.insert(item.clone());
            let mut candidates = Vec::new();
            match serde_json::from_str::<Value>(item) {
                Ok(v) => strings_in(&v, &mut candidates),
                Err(_) => candidates.push(item.clone()),
            }
            for c in candidates {
                if c.len() < 16 || c.contains(char::is_whitespace) || c.contains("://") {
                    continue;
                }
                if self.server.is_active(&c) {
                    live.push(c.clone());
                    seen.insert(c);
                } else if c == self.server.client_secret || looks_like_jwt(&c) {
                    seen.insert(c);
                }
            }
        }
        live
    }

    /// No secret the keychain ever held, nor the client secret, appears in any CLI output
    /// or in any file under the config dir or HOME.
    fn assert_nothing_leaked(&self) {
        let mut secrets = self.secrets_seen.lock().unwrap().clone();
        secrets.insert(self.server.client_secret.clone());
        assert!(
            secrets.len() >= 2,
            "the keychain should have held the tokens: {} secrets seen",
            secrets.len()
        );
        self.cli.assert_no_secret_leaked(&secrets);
    }
}

fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_in(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings_in(x, out)),
        _ => {}
    }
}

fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && s.len() > 40
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

// ---- the tests -------------------------------------------------------------------------------

/// (a) Public client, auth code + PKCE: login, status, refresh (twice: this server rotates a
/// public client's refresh token on every refresh, so the second refresh only works if the
/// CLI stored the new one, RFC 6749 §6), revoke, then needs_reauth.
#[test]
fn pkce_public_client_login_status_refresh_revoke() {
    let e = env();
    let s = &e.server;
    e.profile_add("std-pkce", "oauth-code-pkce", &s.public_client_id, None);

    let (code, json) = e.login("std-pkce");
    assert_eq!(
        (code, json["code"].as_str()),
        (0, Some("ok")),
        "login: {json}\nserver stderr: {}",
        s.stderr()
    );
    let ev = s.events();
    assert_eq!(counter(&ev, &["grants", "authorization_code"]), 1, "{ev}");
    assert_eq!(counter(&ev, &["logins"]), 1, "the stand-in signed in: {ev}");
    assert_eq!(counter(&ev, &["consents"]), 1, "the stand-in allowed: {ev}");

    let st = e.status("std-pkce");
    assert_eq!(st["status"], "connected", "{st}");
    assert_eq!(st["has_refresh_token"], true, "{st}");
    let exp = st["access_expires_at"]
        .as_u64()
        .unwrap_or_else(|| panic!("access_expires_at: {st}"));
    let t = now();
    assert!(
        exp > t + ACCESS_TTL / 2 && exp <= t + ACCESS_TTL + 60,
        "access_expires_at {exp} is not about now + {ACCESS_TTL}s ({t}): {st}"
    );
    let live = e.snapshot_keychain();
    assert!(
        live.len() >= 2,
        "the keychain should hold a live access token and refresh token, found {} live",
        live.len()
    );

    for n in 1..=2u64 {
        e.run_ok(&["token", "refresh", "std-pkce"], &[]);
        let ev = s.events();
        assert_eq!(
            counter(&ev, &["grants", "refresh_token"]),
            n,
            "refresh #{n}: {ev}"
        );
        assert_eq!(counter(&ev, &["refresh_tokens_rotated"]), n, "{ev}");
        assert_eq!(
            counter(&ev, &["grants_revoked"]),
            0,
            "a spent refresh token was replayed (the server then revokes the grant): {ev}"
        );
    }
    let st = e.status("std-pkce");
    assert_eq!(st["status"], "connected", "{st}");
    assert_eq!(st["has_refresh_token"], true, "{st}");
    let live = e.snapshot_keychain();
    assert!(live.len() >= 2, "live tokens after refresh: {}", live.len());

    let before = s.events();
    e.run_ok(&["token", "revoke", "std-pkce"], &[]);
    let ev = s.events();
    assert!(
        counter(&ev, &["revocation_requests"]) > counter(&before, &["revocation_requests"]),
        "no RFC 7009 request reached the server: {ev}"
    );
    assert!(
        counter(&ev, &["revoked", "refresh_token"]) + counter(&ev, &["revoked", "access_token"])
            >= 1,
        "the server revoked nothing: {ev}"
    );
    for token in &live {
        assert!(
            !s.is_active(token),
            "a token the CLI held is still active after `token revoke`"
        );
    }
    let st = e.status("std-pkce");
    assert_eq!(st["status"], "needs_reauth", "{st}");
    assert_eq!(st["has_refresh_token"], false, "{st}");

    e.assert_nothing_leaked();
}

/// (b) Confidential client, auth code: the secret goes in once at `profile add` (env only)
/// and must come from the keychain at login and refresh.
#[test]
fn confidential_code_client_login_and_refresh() {
    let e = env();
    let s = &e.server;
    e.profile_add(
        "std-conf",
        "oauth-code",
        &s.confidential_client_id,
        Some(&s.client_secret),
    );

    let (code, json) = e.login("std-conf");
    assert_eq!(
        (code, json["code"].as_str()),
        (0, Some("ok")),
        "login: {json}\nserver stderr: {}",
        s.stderr()
    );
    let ev = s.events();
    assert_eq!(counter(&ev, &["grants", "authorization_code"]), 1, "{ev}");
    let st = e.status("std-conf");
    assert_eq!(st["status"], "connected", "{st}");
    assert_eq!(st["has_refresh_token"], true, "{st}");
    assert!(e.snapshot_keychain().len() >= 2, "live tokens after login");

    e.run_ok(&["token", "refresh", "std-conf"], &[]);
    let ev = s.events();
    assert_eq!(counter(&ev, &["grants", "refresh_token"]), 1, "{ev}");
    assert_eq!(
        ev["grant_errors"],
        serde_json::json!({}),
        "no failed token request: {ev}"
    );
    let st = e.status("std-conf");
    assert_eq!(st["status"], "connected", "{st}");
    assert_eq!(st["has_refresh_token"], true, "{st}");
    assert!(
        e.snapshot_keychain().len() >= 2,
        "live tokens after refresh"
    );

    e.assert_nothing_leaked();
}

/// (c) Client credentials: login (no browser), status from the access token's expiry, no
/// refresh token, then `token revoke` revokes the access token on the server.
#[test]
fn client_credentials_login_status_revoke() {
    let e = env();
    let s = &e.server;
    e.profile_add(
        "std-cc",
        "oauth-client-credentials",
        &s.confidential_client_id,
        Some(&s.client_secret),
    );

    let (code, json) = e.login("std-cc");
    assert_eq!(
        (code, json["code"].as_str()),
        (0, Some("ok")),
        "login: {json}\nserver stderr: {}",
        s.stderr()
    );
    let ev = s.events();
    assert_eq!(counter(&ev, &["grants", "client_credentials"]), 1, "{ev}");
    assert_eq!(
        counter(&ev, &["logins"]),
        0,
        "no browser for client credentials"
    );

    let st = e.status("std-cc");
    assert_eq!(st["status"], "connected", "{st}");
    assert_eq!(st["has_refresh_token"], false, "{st}");
    let exp = st["access_expires_at"]
        .as_u64()
        .unwrap_or_else(|| panic!("access_expires_at: {st}"));
    assert!(exp > now(), "{st}");
    let live = e.snapshot_keychain();
    assert!(
        !live.is_empty(),
        "the keychain should hold the access token"
    );
    for token in &live {
        assert_eq!(
            s.introspect(token)["client_id"],
            s.confidential_client_id.as_str()
        );
    }

    e.run_ok(&["token", "revoke", "std-cc"], &[]);
    let ev = s.events();
    assert_eq!(
        counter(&ev, &["revoked", "client_credentials"]),
        1,
        "the access token was not revoked on the server: {ev}"
    );
    for token in &live {
        assert!(!s.is_active(token), "the access token is still active");
    }
    let st = e.status("std-cc");
    assert_ne!(
        st["status"], "connected",
        "a revoked token is not a connection: {st}"
    );

    e.assert_nothing_leaked();
}

/// (d) A wrong client secret: the strict server answers RFC 6749 `invalid_client` (401), and
/// the CLI says so with exit 1.
#[test]
fn wrong_client_secret_is_invalid_client() {
    let e = env();
    let s = &e.server;
    e.profile_add(
        "std-bad",
        "oauth-client-credentials",
        &s.confidential_client_id,
        Some("wrong-secret-0123456789abcdefghijklmnop"),
    );
    let (code, json) = e.login("std-bad");
    assert_eq!(
        (code, json["code"].as_str(), &json["ok"]),
        (1, Some("invalid_client"), &Value::Bool(false)),
        "{json}"
    );
    let ev = s.events();
    assert_eq!(counter(&ev, &["grant_errors", "invalid_client"]), 1, "{ev}");
    assert_eq!(counter(&ev, &["grants", "client_credentials"]), 0, "{ev}");

    // The wrong secret is a secret too: it is in the keychain only.
    e.snapshot_keychain();
    e.secrets_seen
        .lock()
        .unwrap()
        .insert("wrong-secret-0123456789abcdefghijklmnop".to_string());
    e.assert_nothing_leaked();
}

/// (e) Eight processes test one connection after its access token expired, against a server
/// that rotates the public client's refresh token on every use and revokes the grant when a
/// spent one is replayed (RFC 9700 §4.14.2): one refresh grant in all, every test passes, and
/// the connection still works afterwards (no reuse, no revocation).
#[test]
fn eight_processes_share_one_rotating_refresh() {
    let e = env();
    let s = &e.server;
    e.profile_add("rot", "oauth-code-pkce", &s.public_client_id, None);
    let (code, json) = e.login("rot");
    assert_eq!(code, 0, "login: {json}\nserver stderr: {}", s.stderr());
    e.snapshot_keychain();
    // As if the access token's lifetime had passed: every process sees it as expired.
    let path = e.cli.profiles_json();
    let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["profiles"][0]["tokens"]["access_expires_at"] = Value::from(1);
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    let before = s.events();

    let children: Vec<_> = (0..8)
        .map(|_| {
            let (mut cmd, _) = e.cli.command(true, &["test", "rot"], &[]);
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let run = Run::from_output(format!("test rot #{i}"), &out);
        e.cli.record(&run);
        assert_eq!(run.code, 0, "test #{i}: {}\n{}", run.stdout, run.stderr);
    }
    let ev = s.events();
    let grants = |ev: &Value| counter(ev, &["grants", "refresh_token"]);
    assert_eq!(
        grants(&ev) - grants(&before),
        1,
        "refresh grants for 8 processes: {ev}"
    );
    assert_eq!(
        counter(&ev, &["grants_revoked"]),
        0,
        "a spent refresh token was replayed: {ev}"
    );
    assert!(
        counter(&ev, &["api_requests"]) >= 16,
        "the tests read the API: {ev}"
    );
    // Still connected: a later test and a forced refresh work with the rotated token.
    e.run_ok(&["test", "rot"], &[]);
    e.run_ok(&["token", "refresh", "rot"], &[]);
    assert_eq!(counter(&s.events(), &["grants_revoked"]), 0);
    e.snapshot_keychain();
    e.assert_nothing_leaked();
}
