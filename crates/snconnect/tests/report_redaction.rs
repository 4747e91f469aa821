//! The redaction guard (`SupportReport::redact`) on what the CLI prints about a connection,
//! end to end: the real binary against snsim over real TLS, secrets in a private Secret
//! Service.
//!
//! The case: a password stored for `svc.reporting` that is its own user name (a slip when the
//! variable was set, or an account whose password is its name). When that password is used,
//! the grant is refused and the probe that splits the refusal says "basic auth as svc.reporting
//! was refused too": the password, quoted in the diagnosis's detail. `report` (Markdown on
//! stdout, JSON in a file), `test` and `verify` must print `[redacted]` in its place.
//!
//! For a saved connection the password is used when the grant is renewed: the profile first
//! signs in with the real password, then the slip is stored (`profile secret`) and the
//! refresh token runs out (the simulator's clock moves past its lifespan), so the next test
//! renews the password grant with the stored password.

mod support;

use serde_json::Value;
use snsim::{RunningSim, SimConfig};
use std::time::Duration;
use support::{keychain_unlocked, Cli};

/// Bound for one CLI run.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// A seeded account whose real password is something else.
const USER: &str = "svc.reporting";
/// The password the person gave: the user name.
const PASSWORD: &str = USER;
/// What the probe's note becomes once the password is redacted.
const REDACTED_NOTE: &str = "probe: basic auth as [redacted] was refused too";

fn sim() -> (tokio::runtime::Runtime, RunningSim) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(RunningSim::start(SimConfig {
            // Shorter than the 60 s refresh margin: every use of the connection renews.
            access_token_lifespan: 30,
            ..SimConfig::default()
        }))
        .expect("start snsim");
    (rt, sim)
}

/// The password is nowhere in what `r` printed, and the diagnosis says what happened.
fn assert_redacted(r: &support::Run, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "`{}` printed the password:\n{text}",
        r.what
    );
    assert!(
        text.contains(REDACTED_NOTE),
        "`{}` does not show the redacted probe note:\n{text}\nstderr: {}",
        r.what,
        r.stderr
    );
}

fn assert_failed_json(r: &support::Run) -> Value {
    assert_eq!(r.code, 1, "`{}`: {}\n{}", r.what, r.stdout, r.stderr);
    let j = r.json_with_ok_and_code();
    assert_eq!(j["code"], "invalid_user_credentials", "{j}");
    assert_redacted(r, &r.stdout);
    j
}

#[test]
fn a_password_quoted_by_a_diagnosis_is_redacted_in_report_test_and_verify() {
    let keychain = keychain_unlocked();
    let (_rt, sim) = sim();
    let url = sim.base_url().to_string();
    let cli = Cli::in_temp_dirs(
        Some(sim.ca_file().unwrap().to_path_buf()),
        keychain.env(),
        CLI_TIMEOUT,
    );
    let real = sim.user_password(USER).unwrap();
    let client_secret = ("SNCONNECT_CLIENT_SECRET", sim.confidential_client_secret());
    let conn = [
        "--instance",
        &url,
        "--auth",
        "oauth-password",
        "--client-id",
        sim.confidential_client_id(),
        "--username",
        USER,
    ];
    let mut add = vec!["profile", "add", "weak"];
    add.extend_from_slice(&conn);
    let right = [client_secret, ("SNCONNECT_PASSWORD", real.as_str())];
    let r = cli.exec(true, &add, &right);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = cli.exec(true, &["login", "weak"], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The slip, then the refresh token's lifespan (100 days) passes.
    let slip = [client_secret, ("SNCONNECT_PASSWORD", PASSWORD)];
    let r = cli.exec(true, &["profile", "secret", "weak"], &slip);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    sim.advance_clock(Duration::from_secs(8_640_000 + 3600));

    // report: Markdown on stdout, the diagnosis lines after it.
    let r = cli.exec(false, &["report", "weak"], &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("# snconnect support report")
            && r.stdout.contains("`invalid_user_credentials`")
            && r.stdout.contains("**Detail:**"),
        "not the failed report: {}",
        r.stdout
    );
    assert_redacted(&r, &r.stdout);

    // report --json --out FILE: the file, and the report and diagnosis on stdout.
    let file = cli.home.path().join("report.json");
    let r = cli.exec(
        true,
        &["report", "weak", "--out", file.to_str().unwrap()],
        &[],
    );
    let j = assert_failed_json(&r);
    let detail = j["report"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(REDACTED_NOTE), "{j}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_redacted(&r, &written);
    let report: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(report["code"], "invalid_user_credentials", "{report}");

    // test, and test --all: the same failure detail.
    let r = cli.exec(true, &["test", "weak"], &[]);
    assert_failed_json(&r);
    let r = cli.exec(false, &["test", "--all"], &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_redacted(&r, &r.stdout);

    // verify: nothing saved, the slip given directly.
    let mut verify = vec!["verify"];
    verify.extend_from_slice(&conn);
    let r = cli.exec(true, &verify, &slip);
    assert_failed_json(&r);
    let r = cli.exec(false, &verify, &slip);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_redacted(&r, &r.stdout);
}
