//! The loopback redirect listener: every registered port busy, a busy port with a free
//! fallback, hostile callbacks while `login` waits (then the right one still completes), a
//! browser that never comes back, a denied consent, and Ctrl-C of the waiting CLI.

use crate::harness::{Check, Env, CLI_TIMEOUT, CONSENT};
use crate::support::running::Running;
use crate::table::{row, Row};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const G: &str = "loopback";

/// One HTTP/1.1 GET of `target` on the loopback listener at `port`: the status code.
fn get(port: u16, target: &str) -> Result<u16, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.set_write_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: hostile-page\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP answer ({} bytes)", buf.len()))
}

/// Whether 127.0.0.1:`port` can be bound (the listener is gone).
fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn wait_for_file(path: &Path, running: &mut Running, within: Duration) -> Result<String, String> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.trim().is_empty() {
                return Ok(s.trim().to_string());
            }
        }
        if !running.is_running() {
            return Err("the CLI ended before the browser stand-in captured the address".into());
        }
        if Instant::now() >= deadline {
            return Err(format!("no captured address within {within:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `login keep-pkce` with the stand-in signing in and approving but stopping short of the
/// loopback (capture mode); `hostile(port, real)` then acts on the waiting listener, the CLI
/// must still be waiting, and the real callback must complete the sign-in.
fn hostile(
    env: &Env,
    name: &str,
    c: &mut Check,
    hostile: impl FnOnce(u16, &url::Url) -> Result<String, String>,
) {
    let captured = env.scratch.path().join(format!("captured-{name}"));
    let mode = env.standin_mode(name, &format!("capture {}", captured.display()));
    let mode = mode.display().to_string();
    let (cmd, what) = env.cli.command(
        true,
        &["login", "keep-pkce", "--consent-timeout", CONSENT],
        &[("STANDIN_MODE_FILE", &mode)],
    );
    let mut running = Running::spawn(cmd, what);
    let real = match wait_for_file(&captured, &mut running, Duration::from_secs(30)) {
        Ok(r) => r,
        Err(e) => {
            c.problem(e);
            if let Ok(f) = running.wait(Duration::from_secs(5)) {
                c.outcome(&f.run, 0, "ok");
            }
            return;
        }
    };
    let real = url::Url::parse(&real).expect("the captured callback address");
    let port = real.port().expect("a loopback port");
    match hostile(port, &real) {
        Ok(answers) => c.note(format!("hostile answered {answers}")),
        Err(e) => c.problem(format!("hostile callback: {e}")),
    }
    std::thread::sleep(Duration::from_millis(300));
    c.require(
        running.is_running(),
        "a callback without the sign-in's own state ended the wait",
    );
    // The real callback (a browser would retry a connection closed unanswered).
    let target = format!("{}?{}", real.path(), real.query().unwrap_or(""));
    let mut status = get(port, &target);
    for _ in 0..3 {
        if status.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        status = get(port, &target);
    }
    match status {
        Ok(s) if (200..400).contains(&s) => c.note(format!("real callback {s}")),
        other => c.problem(format!("the real callback got {other:?}")),
    }
    match running.wait(CLI_TIMEOUT) {
        Ok(f) => {
            env.cli.record(&f.run);
            c.outcome(&f.run, 0, "ok");
        }
        Err(e) => c.problem(e),
    }
    c.after(env.after(true));
}

/// 4xx answers only, as "400, 400".
fn all_refused(answers: Vec<Result<u16, String>>) -> Result<String, String> {
    let mut out = Vec::new();
    for a in answers {
        match a {
            Ok(s) if (400..500).contains(&s) => out.push(s.to_string()),
            other => return Err(format!("expected a 4xx refusal, got {other:?}")),
        }
    }
    Ok(out.join(", "))
}

fn state_of(real: &url::Url) -> String {
    real.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn code_of(real: &url::Url) -> String {
    real.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub fn group() -> Vec<Row> {
    let env = Env::start(3);
    let (p, f1, f2) = (env.sim.ports[0], env.sim.ports[1], env.sim.ports[2]);
    env.add_keep();
    env.add_keep_pkce(&[f1, f2]);
    let url = env.sim.url();
    let public = env.sim.sim.public_client_id().to_string();
    let mut rows = Vec::new();

    rows.push(row(
        G,
        format!("redirect port {p} and both fallbacks {f1}, {f2} held by another program"),
        "login keep-pkce",
        "callback_port_in_use (exit 2)",
        None,
        |c| {
            let held: Vec<TcpListener> = [p, f1, f2]
                .iter()
                .filter_map(|port| TcpListener::bind(("127.0.0.1", *port)).ok())
                .collect();
            c.require(held.len() == 3, "could not hold all three ports");
            let run = env.exec(&["login", "keep-pkce", "--consent-timeout", CONSENT], &[]);
            drop(held);
            c.outcome(&run, 2, "callback_port_in_use");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        format!("redirect port {p} and fallback {f1} held"),
        "verify --auth oauth-code-pkce --redirect-port --fallback-port",
        "callback_port_in_use (exit 2)",
        None,
        |c| {
            let held: Vec<TcpListener> = [p, f1]
                .iter()
                .filter_map(|port| TcpListener::bind(("127.0.0.1", *port)).ok())
                .collect();
            c.require(held.len() == 2, "could not hold both ports");
            let (ps, f1s) = (p.to_string(), f1.to_string());
            let run = env.exec(
                &[
                    "verify",
                    "--instance",
                    &url,
                    "--auth",
                    "oauth-code-pkce",
                    "--client-id",
                    &public,
                    "--redirect-port",
                    &ps,
                    "--fallback-port",
                    &f1s,
                    "--consent-timeout",
                    CONSENT,
                ],
                &[],
            );
            drop(held);
            c.outcome(&run, 2, "callback_port_in_use");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        format!("redirect port {p} held, fallback {f1} free (tolerated)"),
        "login keep-pkce",
        "ok on the fallback (exit 0)",
        None,
        |c| {
            let held = TcpListener::bind(("127.0.0.1", p));
            c.require(held.is_ok(), "could not hold the redirect port");
            let run = env.exec(&["login", "keep-pkce", "--consent-timeout", CONSENT], &[]);
            drop(held);
            c.outcome(&run, 0, "ok");
            let authorize = serde_json::from_str::<serde_json::Value>(run.stdout.trim())
                .ok()
                .and_then(|j| j["authorize_url"].as_str().map(str::to_string))
                .unwrap_or_default();
            c.require(
                authorize.contains(&format!("127.0.0.1%3A{f1}%2Fcallback")),
                format!("the sign-in did not use fallback {f1}: {authorize}"),
            );
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "hostile callback: a code without state",
        "login keep-pkce (waiting)",
        "400, still waiting; then ok (exit 0)",
        None,
        |c| {
            hostile(&env, "nostate", c, |port, _| {
                all_refused(vec![get(port, "/callback?code=forged-code")])
            })
        },
    ));

    rows.push(row(
        G,
        "hostile callback: the real code with a wrong state",
        "login keep-pkce (waiting)",
        "400, still waiting; then ok (exit 0)",
        None,
        |c| {
            hostile(&env, "wrongstate", c, |port, real| {
                let wrong = "x".repeat(state_of(real).len().max(8));
                let code = code_of(real);
                all_refused(vec![
                    get(port, &format!("/callback?code={code}&state={wrong}")),
                    get(port, &format!("/callback?code={code}&state=")),
                ])
            })
        },
    ));

    rows.push(row(
        G,
        "hostile callback: error=access_denied without state (and with a wrong one)",
        "login keep-pkce (waiting)",
        "400, still waiting; then ok (exit 0)",
        None,
        |c| {
            hostile(&env, "errornostate", c, |port, _| {
                all_refused(vec![
                    get(
                        port,
                        "/callback?error=access_denied&error_description=forged",
                    ),
                    get(port, "/callback?error=server_error&state=forged-state"),
                ])
            })
        },
    ));

    rows.push(row(
        G,
        "hostile: 20 idle pre-connects (limit 16), a garbage request, a POST",
        "login keep-pkce (waiting)",
        "refused, still waiting; then ok (exit 0)",
        None,
        |c| {
            hostile(&env, "flood", c, |port, _| {
                let idle: Vec<TcpStream> = (0..20)
                    .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
                    .collect();
                std::thread::sleep(Duration::from_millis(300));
                // Over the bound: closed by the listener at once.
                let mut closed = 0;
                for mut s in &idle {
                    s.set_read_timeout(Some(Duration::from_millis(50))).ok();
                    let mut b = [0u8; 1];
                    match s.read(&mut b) {
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        _ => closed += 1,
                    }
                }
                drop(idle);
                std::thread::sleep(Duration::from_millis(300));
                let mut garbage = TcpStream::connect(("127.0.0.1", port))
                    .map_err(|e| format!("connect: {e}"))?;
                garbage.write_all(b"\x16\x03\x01 not http\r\n\r\n").ok();
                let mut sink = Vec::new();
                garbage.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let _ = garbage.read_to_end(&mut sink);
                let post = {
                    let mut s = TcpStream::connect(("127.0.0.1", port))
                        .map_err(|e| format!("connect: {e}"))?;
                    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                    s.write_all(b"POST /callback?code=forged&state=forged HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok();
                    let mut b = Vec::new();
                    let _ = s.read_to_end(&mut b);
                    String::from_utf8_lossy(&b)
                        .split_whitespace()
                        .nth(1)
                        .and_then(|x| x.parse::<u16>().ok())
                        .ok_or_else(|| "no answer to the POST".to_string())
                };
                let post = all_refused(vec![post])?;
                Ok(format!(
                    "{closed} of 20 idle connections closed at once, garbage dropped, POST {post}"
                ))
            })
        },
    ));

    rows.push(row(
        G,
        "the browser never comes back (stand-in stalls)",
        "login keep-pkce --consent-timeout 2",
        "callback_timeout (exit 1)",
        None,
        |c| {
            let mode = env.standin_mode("stall", "stall");
            let mode = mode.display().to_string();
            let run = env.exec(
                &["login", "keep-pkce", "--consent-timeout", "2"],
                &[("STANDIN_MODE_FILE", &mode)],
            );
            c.outcome(&run, 1, "callback_timeout");
            c.require(
                port_free(p),
                format!("port {p} still held after the timeout"),
            );
            c.note(format!("port {p} free"));
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "consent denied in the browser (error=access_denied with the right state)",
        "login keep-pkce",
        "consent_denied (exit 1)",
        None,
        |c| {
            let mode = env.standin_mode("deny", "deny");
            let mode = mode.display().to_string();
            let run = env.exec(
                &["login", "keep-pkce", "--consent-timeout", CONSENT],
                &[("STANDIN_MODE_FILE", &mode)],
            );
            c.outcome(&run, 1, "consent_denied");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "cancel: Ctrl-C (SIGINT) while the CLI waits for the browser",
        "login keep-pkce (waiting)",
        "cancelled (exit 1), printed as JSON; port freed",
        None,
        |c| {
            let mode = env.standin_mode("cancel", "stall");
            let mode = mode.display().to_string();
            let stalls = env.cli.standin_log().matches("stall").count();
            let (cmd, what) = env.cli.command(
                true,
                &["login", "keep-pkce", "--consent-timeout", "60"],
                &[("STANDIN_MODE_FILE", &mode)],
            );
            let mut running = Running::spawn(cmd, what);
            let deadline = Instant::now() + Duration::from_secs(30);
            while env.cli.standin_log().matches("stall").count() == stalls {
                if Instant::now() >= deadline || !running.is_running() {
                    c.problem("the sign-in never reached the browser");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            c.require(
                !port_free(p),
                format!("nothing listens on {p} while waiting"),
            );
            let sent = running.signal("INT");
            c.require(sent, "could not send SIGINT");
            match running.wait(Duration::from_secs(10)) {
                Ok(f) => {
                    env.cli.record(&f.run);
                    let code = crate::harness::code_of(&f.run);
                    c.got = if code == "-" {
                        f.describe()
                    } else {
                        format!("{code} ({})", f.describe())
                    };
                    c.require(
                        !f.run.stderr.contains("panicked") && f.run.code != 101,
                        format!("panicked: {}", crate::harness::tail(&f.run.stderr, 3)),
                    );
                    // The CLI stops its listener on Ctrl-C and says so with the stable code.
                    c.require(
                        code == "cancelled" && f.signal().is_none(),
                        format!("ended with {} / {code}", f.describe()),
                    );
                }
                Err(e) => c.problem(format!("not ended by SIGINT: {e}")),
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while !port_free(p) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            c.require(
                port_free(p),
                format!("port {p} still held after the cancel"),
            );
            c.note(format!("port {p} free"));
            c.after(env.after(true));
        },
    ));

    let mut scan = row(
        G,
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
    scan.is_fault = false;
    rows.push(scan);
    rows
}
