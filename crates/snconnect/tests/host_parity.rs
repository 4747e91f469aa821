//! The CLI's half of the host-parity cases (`tests/host-parity.json`): each failure driven
//! through `snconnect verify` must end in the code the window shows for it
//! (`tests/e2e/test_parity.py` runs the same cases through the app). Both hosts call the
//! core's one sign-in session, so a drift here is a second implementation creeping back.

mod support;

use serde_json::Value;
use snsim::{RunningSim, SimConfig};
use support::{free_port, loopback, repo_root, snconnect, Run};

#[tokio::test(flavor = "multi_thread")]
async fn every_case_ends_in_the_same_code_as_in_the_window() {
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/host-parity.json")).unwrap(),
    )
    .unwrap();
    let port = free_port();
    let sim = RunningSim::start(SimConfig {
        redirect_urls: vec![loopback(port)],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let mode_file = home.path().join("standin-mode");
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        std::fs::write(&mode_file, case["browser"].as_str().unwrap()).unwrap();
        let public = case["client"] == "public";
        let client_id = if public {
            sim.public_client_id().to_string()
        } else {
            sim.confidential_client_id().to_string()
        };
        let mut cmd = snconnect(home.path(), Some(sim.ca_file().unwrap()));
        cmd.args(["--json", "verify", "--instance", sim.base_url().as_str()])
            .args([
                "--redirect-port",
                &port.to_string(),
                "--consent-timeout",
                "3",
            ])
            .args(["--client-id", &client_id, "--auth"])
            .arg(if public {
                "oauth-code-pkce"
            } else {
                "oauth-code"
            })
            .env("STANDIN_MODE_FILE", &mode_file);
        if let Some(s) = case["secret"].as_str() {
            cmd.env("SNCONNECT_CLIENT_SECRET", s);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let json = Run::from_output("snconnect --json verify", &out).json();
        assert_eq!(
            (out.status.code(), json["code"].as_str()),
            (Some(1), case["code"].as_str()),
            "{}: {json}",
            case["name"]
        );
        // The checks up to the failure are kept, whatever the failure.
        assert_eq!(
            json["checks"][0]["name"], "consent",
            "{}: {json}",
            case["name"]
        );
    }
}
