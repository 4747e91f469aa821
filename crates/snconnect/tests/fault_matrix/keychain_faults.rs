//! The keychain: no session bus at all, a bus with no Secret Service on it, the login
//! collection locked under a saved profile (then unlocked again with its password), and locked
//! half-way through a save of two secrets.

use crate::harness::{Check, Env, CLI_TIMEOUT, CONSENT};
use crate::support::keyring_control::{lock, unlock, BareBus, CallWatch};
use crate::support::running::Running;
use crate::table::{row, Row};
use std::time::Duration;

const G: &str = "keychain";
const NO_BUS: &str = "unix:path=/nonexistent/snconnect-fault-matrix-no-bus";

/// `profile add NAME --auth basic` (password from the environment).
fn add_basic<'a>(name: &'a str, url: &'a str) -> Vec<&'a str> {
    vec![
        "profile",
        "add",
        name,
        "--instance",
        url,
        "--auth",
        "basic",
        "--username",
        "admin",
    ]
}

/// `name` is not listed (nothing half-saved claims to be a profile).
fn not_listed(env: &Env, c: &mut Check, name: &str) {
    let list = env.exec(&["profile", "list"], &[]);
    let names = crate::harness::profile_names(&list);
    c.require(
        !names.iter().any(|n| n == name),
        format!("{name} was saved without its secret"),
    );
}

/// Runs `body` with the login collection locked, then unlocks it again.
fn locked(env: &Env, c: &mut Check, body: impl FnOnce(&mut Check)) {
    if let Err(e) = lock(&env.keychain) {
        c.problem(format!("could not lock the keychain: {e}"));
        return;
    }
    body(c);
    if let Err(e) = unlock(&env.keychain) {
        c.problem(format!("could not unlock the keychain again: {e}"));
    }
}

pub fn group() -> Vec<Row> {
    let env = Env::start(1);
    env.add_keep();
    env.add_keep_pkce(&[]);
    let url = env.sim.url();
    let pw = env.sim.password("admin");
    let mut rows = Vec::new();

    rows.push(row(
        G,
        "keychain absent (no session bus)",
        "profile add x --auth basic",
        "keychain_unavailable (exit 2)",
        None,
        |c| {
            let run = env.exec(
                &add_basic("x", &url),
                &[
                    ("SNCONNECT_PASSWORD", &pw),
                    ("DBUS_SESSION_BUS_ADDRESS", NO_BUS),
                ],
            );
            c.outcome(&run, 2, "keychain_unavailable");
            not_listed(&env, c, "x");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "keychain absent (no session bus)",
        "test keep",
        "keychain_unavailable (exit 2)",
        None,
        |c| {
            let run = env.exec(&["test", "keep"], &[("DBUS_SESSION_BUS_ADDRESS", NO_BUS)]);
            c.outcome(&run, 2, "keychain_unavailable");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "keychain absent (no session bus)",
        "login keep-pkce",
        "keychain_unavailable before the consent (exit 2)",
        None,
        |c| {
            let before = env.cli.standin_log().len();
            let run = env.exec(
                &["login", "keep-pkce", "--consent-timeout", CONSENT],
                &[("DBUS_SESSION_BUS_ADDRESS", NO_BUS)],
            );
            c.outcome(&run, 2, "keychain_unavailable");
            c.require(
                env.cli.standin_log().len() == before,
                "the browser was opened although the tokens could not be stored",
            );
            c.note("no browser opened");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "a session bus with no Secret Service on it",
        "profile add x --auth basic",
        "keychain_unavailable (exit 2)",
        None,
        |c| match BareBus::start() {
            Err(e) => c.problem(format!("could not start a bare bus: {e}")),
            Ok(bus) => {
                let run = env.exec(
                    &add_basic("x", &url),
                    &[
                        ("SNCONNECT_PASSWORD", &pw),
                        ("DBUS_SESSION_BUS_ADDRESS", &bus.address),
                    ],
                );
                c.outcome(&run, 2, "keychain_unavailable");
                not_listed(&env, c, "x");
                c.after(env.after(true));
            }
        },
    ));

    rows.push(row(
        G,
        "keychain locked after keep was saved",
        "profile add y --auth basic",
        "keychain_locked (exit 2)",
        None,
        |c| {
            locked(&env, c, |c| {
                let run = env.exec(&add_basic("y", &url), &[("SNCONNECT_PASSWORD", &pw)]);
                c.outcome(&run, 2, "keychain_locked");
            });
            not_listed(&env, c, "y");
            c.note("unlocked again");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "keychain locked",
        "test keep",
        "keychain_locked (exit 2)",
        None,
        |c| {
            locked(&env, c, |c| {
                let run = env.exec(&["test", "keep"], &[]);
                c.outcome(&run, 2, "keychain_locked");
            });
            c.note("unlocked again");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "keychain locked",
        "token refresh keep-pkce",
        "keychain_locked (exit 2)",
        None,
        |c| {
            locked(&env, c, |c| {
                let run = env.exec(&["token", "refresh", "keep-pkce"], &[]);
                c.outcome(&run, 2, "keychain_locked");
            });
            c.note("unlocked again");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "keychain locked",
        "login keep-pkce",
        "keychain_locked before the consent (exit 2)",
        None,
        |c| {
            let before = env.cli.standin_log().len();
            locked(&env, c, |c| {
                let run = env.exec(&["login", "keep-pkce", "--consent-timeout", CONSENT], &[]);
                c.outcome(&run, 2, "keychain_locked");
            });
            c.require(
                env.cli.standin_log().len() == before,
                "the browser was opened although the tokens could not be stored",
            );
            c.note("no browser opened; unlocked again");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "keychain locked",
        "profile remove keep",
        "keychain_locked (exit 2), keep still listed",
        None,
        |c| {
            locked(&env, c, |c| {
                let run = env.exec(&["profile", "remove", "keep"], &[]);
                c.outcome(&run, 2, "keychain_locked");
            });
            c.note("unlocked again");
            c.after(env.after(true));
        },
    ));

    rows.push(row(
        G,
        "keychain locked half-way through a save (after the 1st of 2 secrets)",
        "profile add half --auth oauth-password",
        "keychain_locked (exit 2), half not saved",
        None,
        |c| half_way(&env, c),
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

/// `profile add` of an oauth-password profile stores two secrets (client secret, then
/// password), each its own D-Bus `CreateItem`. `dbus-monitor` sees the first one; the CLI is
/// stopped (SIGSTOP) right there, the collection locked, the CLI continued: its second write
/// meets a locked keychain. When the CLI was quicker than the monitor (both or neither
/// written), the attempt is repeated with a new name.
fn half_way(env: &Env, c: &mut Check) {
    let url = env.sim.url();
    let conf = env.sim.sim.confidential_client_id().to_string();
    for attempt in 1..=6 {
        let name = format!("half{attempt}");
        let client_secret = format!("half-client-secret-{attempt}-{}", std::process::id());
        let password = format!("half-password-{attempt}-{}", std::process::id());
        let watch = match CallWatch::start(&env.keychain, "CreateItem") {
            Ok(w) => w,
            Err(e) => {
                c.problem(format!("dbus-monitor: {e}"));
                return;
            }
        };
        let (cmd, what) = env.cli.command(
            true,
            &[
                "profile",
                "add",
                &name,
                "--instance",
                &url,
                "--auth",
                "oauth-password",
                "--client-id",
                &conf,
                "--username",
                "admin",
            ],
            &[
                ("SNCONNECT_CLIENT_SECRET", &client_secret),
                ("SNCONNECT_PASSWORD", &password),
            ],
        );
        let running = Running::spawn(cmd, what);
        let seen = watch.next_call("CreateItem", Duration::from_secs(20));
        let stopped = seen && running.signal("STOP");
        if stopped {
            // Let the keyring finish the first write, then lock under the stopped CLI.
            std::thread::sleep(Duration::from_millis(300));
        }
        let locked = lock(&env.keychain);
        if stopped {
            running.signal("CONT");
        }
        drop(watch);
        let finished = running.wait(CLI_TIMEOUT);
        let unlocked = unlock(&env.keychain);
        if let Err(e) = &locked {
            c.problem(format!("could not lock: {e}"));
        }
        if let Err(e) = &unlocked {
            c.problem(format!("could not unlock again: {e}"));
        }
        let finished = match finished {
            Ok(f) => f,
            Err(e) => {
                c.problem(e);
                return;
            }
        };
        env.cli.record(&finished.run);
        let held = env.keychain.stored_secrets();
        let (has_cs, has_pw) = (held.contains(&client_secret), held.contains(&password));
        if has_cs && !has_pw {
            c.outcome(&finished.run, 2, "keychain_locked");
            not_listed(env, c, &name);
            c.note(format!(
                "attempt {attempt}: the 1st secret written, the 2nd refused; {name} not listed (its client secret is an orphan entry no profile uses)"
            ));
            // The same save once the keychain is unlocked works and claims the entry.
            let again = env.exec(
                &[
                    "profile",
                    "add",
                    &name,
                    "--instance",
                    &url,
                    "--auth",
                    "oauth-password",
                    "--client-id",
                    &conf,
                    "--username",
                    "admin",
                ],
                &[
                    ("SNCONNECT_CLIENT_SECRET", &client_secret),
                    ("SNCONNECT_PASSWORD", &password),
                ],
            );
            c.require(
                again.code == 0,
                format!(
                    "the retried save failed: {}",
                    crate::harness::code_of(&again)
                ),
            );
            let _ = env.exec(&["profile", "remove", &name], &[]);
            c.after(env.after(true));
            return;
        }
        // Not half-way: clean up and try again.
        c.note(format!(
            "attempt {attempt}: {} (client secret {}, password {})",
            crate::harness::code_of(&finished.run),
            if has_cs { "written" } else { "not written" },
            if has_pw { "written" } else { "not written" }
        ));
        let _ = env.exec(&["profile", "remove", &name], &[]);
    }
    c.problem("never caught the save between its two secrets in 6 attempts");
}
