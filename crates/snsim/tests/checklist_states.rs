//! Checklist items 9-10 and the faults/control API: instance states (hibernating, edge 502,
//! SSO, HTML login on API paths), injected faults, the untrusted certificate, switches over
//! the control API. Real TLS throughout.

mod common;

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use snsim::{Faults, InstanceState, SimConfig, CONFIDENTIAL_CLIENT_ID};

fn admin() -> String {
    format!("Basic {}", STANDARD.encode("admin:Admin#1234"))
}

async fn api(sim: &snsim::RunningSim, path: &str) -> reqwest::Result<reqwest::Response> {
    client(sim)
        .get(url(sim, path))
        .header("accept", "application/json")
        .header("authorization", admin())
        .send()
        .await
}

/// The hibernation page, byte for byte as the simulator serves it; the reference gives the
/// title, heading, text and button link, asserted separately below.
const HIBERNATION_MARKERS: &[&str] = &[
    "<title>Instance Hibernating page</title>",
    "<h1>Your instance is hibernating</h1>",
    "Sign in to the site to wake your instance",
    "href=\"https://developer.servicenow.com/dev.do#!/home?wu=true\"",
];

#[tokio::test(flavor = "multi_thread")]
async fn hibernating_every_path_answers_200_with_the_page() {
    let sim = start_default().await;
    sim.update_switches(|s| s.instance_state = InstanceState::Hibernating);
    let c = client(&sim);
    let mut bodies = Vec::new();
    let responses = vec![
        api(&sim, "/api/now/table/sys_user?sysparm_limit=1")
            .await
            .unwrap(),
        c.post(url(&sim, "/oauth_token.do"))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap(),
        c.get(url(&sim, "/login.do")).send().await.unwrap(),
        c.get(url(&sim, "/stats.do")).send().await.unwrap(),
        c.get(url(&sim, "/api/x_custom/scripted/thing"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    ];
    for res in responses {
        assert_eq!(res.status(), 200);
        assert_eq!(header(res.headers(), "content-type"), "text/html");
        assert_eq!(header(res.headers(), "server"), "snow_adc");
        assert!(res.headers().get("set-cookie").is_none());
        bodies.push(res.text().await.unwrap());
    }
    for b in &bodies {
        assert_eq!(
            b,
            snsim::HIBERNATING_PAGE,
            "the same static page on every path"
        );
        for m in HIBERNATION_MARKERS {
            assert!(b.contains(m), "{m}");
        }
    }
    // The control API still answers; waking up restores JSON.
    let log: Vec<snsim::LoggedRequest> = c
        .get(url(&sim, "/__snsim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 5);
    sim.update_switches(|s| s.instance_state = InstanceState::Normal);
    let res = api(&sim, "/api/now/table/sys_user?sysparm_limit=1")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_json_headers(res.headers(), true);
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_502_on_every_path() {
    let sim = start_default().await;
    sim.update_switches(|s| s.instance_state = InstanceState::Edge502);
    let res = api(&sim, "/api/now/table/sys_user").await.unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(header(res.headers(), "content-type"), "text/html");
    assert_eq!(header(res.headers(), "server"), "snow_adc");
    assert!(res.text().await.unwrap().contains("502 Bad Gateway"));
    let res = token(&sim, &[("grant_type", "password")]).await;
    assert_eq!(res.status(), 502);
}

#[tokio::test(flavor = "multi_thread")]
async fn sso_redirects_ui_paths_and_the_api_stays_json() {
    let sim = start_default().await;
    sim.update_switches(|s| s.instance_state = InstanceState::Sso);
    let authorize = authorize_url(
        &sim,
        CONFIDENTIAL_CLIENT_ID,
        &[("redirect_uri", REDIRECT), ("state", "s")],
    );
    let res = client(&sim).get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let loc = header(res.headers(), "location").to_string();
    let base = sim.base_url().as_str().trim_end_matches('/').to_string();
    assert!(
        loc.starts_with(&format!("{base}/idp/login?RelayState=%2Foauth_auth.do")),
        "{loc}"
    );
    let b = browser(&sim);
    let page = b.get(&loc).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("single sign-on"));
    // Signing in at the simulated IdP returns to the instance with a session; UI paths
    // then work (the consent page shows).
    let mut form = inputs(&page);
    form.retain(|(k, _)| k != "username");
    form.push(("username".into(), "admin@example.com".into()));
    let res = b
        .post(url(&sim, "/idp/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let back = header(res.headers(), "location").to_string();
    assert!(back.starts_with("/oauth_auth.do?"), "{back}");
    let consent = b.get(url(&sim, &back)).send().await.unwrap();
    assert_eq!(consent.status(), 200);
    assert!(consent.text().await.unwrap().contains("<h1>Authorize</h1>"));
    // The REST API answers 401 JSON, not a redirect (§6.3).
    let res = client(&sim)
        .get(url(&sim, "/api/now/table/sys_user"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_json_headers(res.headers(), false);
    // The token endpoint still works.
    password_grant(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_login_page_state_serves_html_on_api_paths() {
    let sim = start_default().await;
    sim.update_switches(|s| s.instance_state = InstanceState::ApiLoginPage);
    let res = api(&sim, "/api/now/table/sys_user").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), "content-type"),
        "text/html;charset=UTF-8"
    );
    let text = res.text().await.unwrap();
    assert!(text.contains(r#"<form method="post" action="/login.do" id="loginForm">"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_latency_and_count() {
    let sim = start_default().await;
    sim.update_switches(|s| {
        s.faults = Faults {
            latency_ms: 800,
            count: Some(1),
            ..Faults::default()
        }
    });
    let t = Instant::now();
    assert_eq!(
        api(&sim, "/api/now/table/sys_user").await.unwrap().status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(800));
    // Used up: back to no faults.
    assert_eq!(sim.switches().faults, Faults::default());
    let t = Instant::now();
    api(&sim, "/api/now/table/sys_user").await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(800));
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_500_only_under_the_path_prefix() {
    let sim = start_default().await;
    sim.update_switches(|s| {
        s.faults = Faults {
            status_500: true,
            path_prefix: "/api/".into(),
            ..Faults::default()
        }
    });
    let res = api(&sim, "/api/now/table/sys_user").await.unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(header(res.headers(), "content-type"), JSON_CT);
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"error":{"message":"Internal Server Error","detail":"snsim injected fault"},"status":"failure"}"#
    );
    password_grant(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_malformed_json_and_wrong_content_type() {
    let sim = start_default().await;
    sim.update_switches(|s| s.faults.malformed_json = true);
    let res = api(&sim, "/api/now/table/sys_user").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "content-type"), JSON_CT);
    let text = res.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    sim.update_switches(|s| {
        s.faults = Faults {
            wrong_content_type: true,
            ..Faults::default()
        }
    });
    let res = api(&sim, "/api/now/table/sys_user?sysparm_limit=1")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), "content-type"),
        "text/html;charset=UTF-8"
    );
    let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(v["result"][0]["user_name"], "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_slow_body_delivers_everything_slowly() {
    let sim = start_default().await;
    sim.update_switches(|s| s.faults.slow_body_ms = 400);
    let t = Instant::now();
    let res = api(&sim, "/api/now/table/sys_user").await.unwrap();
    let text = res.text().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"].as_array().unwrap().len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_dropped_connection() {
    let sim = start_default().await;
    sim.update_switches(|s| s.faults.drop_connection = true);
    assert!(api(&sim, "/api/now/table/sys_user").await.is_err());
    let res = client(&sim)
        .post(url(&sim, "/oauth_token.do"))
        .form(&[("grant_type", "password")])
        .send()
        .await;
    assert!(res.is_err());
    sim.update_switches(|s| s.faults = Faults::default());
    assert_eq!(
        api(&sim, "/api/now/table/sys_user").await.unwrap().status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_certificate_fault() {
    let sim = start_default().await;
    sim.update_switches(|s| s.untrusted_certificate = true);
    let err = api(&sim, "/api/now/table/sys_user").await.unwrap_err();
    let chain = format!("{err:?}");
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("certificate"),
        "{chain}"
    );
    sim.update_switches(|s| s.untrusted_certificate = false);
    assert_eq!(
        api(&sim, "/api/now/table/sys_user").await.unwrap().status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn control_api_switches_and_properties() {
    let sim = start_default().await;
    let c = client(&sim);
    let v: serde_json::Value = c
        .get(url(&sim, "/__snsim/switches"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["instance_state"], "normal");
    assert_eq!(v["session_cookie_auth"], true);
    assert_eq!(v["basic_client_auth"], true);
    let res = c
        .post(url(&sim, "/__snsim/switches"))
        .json(&serde_json::json!({"instance_state": "hibernating", "faults": {"latency_ms": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(sim.switches().instance_state, InstanceState::Hibernating);
    assert_eq!(sim.switches().faults.latency_ms, 1);
    let res = c
        .post(url(&sim, "/__snsim/switches"))
        .json(&serde_json::json!({"no_such_switch": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = c
        .post(url(&sim, "/__snsim/reset_switches"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(sim.switches(), snsim::Switches::default());
    let res = c
        .post(url(&sim, "/__snsim/properties"))
        .json(&serde_json::json!({"glide.oauth.inbound.ropc.grant_type.disabled": "true"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let props: serde_json::Value = c
        .get(url(&sim, "/__snsim/properties"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        props["glide.oauth.inbound.ropc.grant_type.disabled"],
        "true"
    );
    assert_eq!(props["glide.buildname"], "Zurich");
    let res = c
        .delete(url(&sim, "/__snsim/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(sim.requests().is_empty());
    let info: serde_json::Value = c
        .get(url(&sim, "/__snsim/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["api_keys"][0]["token"], sim.api_key());
    assert_eq!(info["users"].as_array().unwrap().len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn switches_from_the_config() {
    let sim = start(SimConfig {
        switches: snsim::Switches {
            instance_state: InstanceState::Edge502,
            ..snsim::Switches::default()
        },
        properties: vec![("glide.buildname".into(), "Yokohama".into())],
        ..SimConfig::default()
    })
    .await;
    assert_eq!(api(&sim, "/").await.unwrap().status(), 502);
    assert_eq!(sim.property("glide.buildname").as_deref(), Some("Yokohama"));
}
