//! `/api/now/...` over real TLS (and plain HTTP).

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use snsim::{SimConfig, ADMIN_SYS_ID};

const NOT_AUTHENTICATED: &str = r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#;

fn basic(user: &str, pw: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pw}")))
}

async fn get(sim: &snsim::RunningSim, path: &str, auth: Option<&str>) -> reqwest::Response {
    let mut req = client(sim)
        .get(url(sim, path))
        .header("accept", "application/json");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

async fn assert_401(res: reqwest::Response) {
    assert_eq!(res.status(), 401);
    assert_json_headers(res.headers(), false);
    assert_eq!(
        header(res.headers(), "www-authenticate"),
        r#"BASIC realm="Service-now""#
    );
    assert_eq!(res.text().await.unwrap(), NOT_AUTHENTICATED);
}

#[tokio::test(flavor = "multi_thread")]
async fn current_user_with_basic_and_bearer() {
    let sim = start_default().await;
    let res = get(
        &sim,
        "/api/now/ui/user/current_user",
        Some(&basic("admin", "Admin#1234")),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_json_headers(res.headers(), true);
    let body = res.text().await.unwrap();
    assert!(
        body.starts_with(&format!(
            r#"{{"result":{{"user_sys_id":"{ADMIN_SYS_ID}","user_name":"admin","user_display_name":"System Administrator","user_initials":"SA","user_avatar":""#
        )),
        "{body}"
    );
    assert!(body.ends_with(r#".iix?t=small"}}"#), "{body}");

    let tok = password_grant(&sim).await;
    let bearer = format!("Bearer {}", tok["access_token"].as_str().unwrap());
    let res = get(&sim, "/api/now/ui/user/current_user", Some(&bearer)).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["result"]["user_name"], "admin");

    // After expiry the bearer token is refused.
    sim.expire_access_tokens();
    assert_401(get(&sim, "/api/now/ui/user/current_user", Some(&bearer)).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_bad_credentials_get_401() {
    let sim = start_default().await;
    assert_401(get(&sim, "/api/now/ui/user/current_user", None).await).await;
    assert_401(
        get(
            &sim,
            "/api/now/table/sys_user",
            Some(&basic("admin", "wrong")),
        )
        .await,
    )
    .await;
    assert_401(get(&sim, "/api/now/table/sys_user", Some("Bearer nope")).await).await;
    // With session_cookie_auth off, a logged-in session cookie does not authenticate API
    // calls (the default honours it, like the platform).
    let sim = start(SimConfig {
        api_session_auth: false,
        ..SimConfig::default()
    })
    .await;
    let b = browser(&sim);
    login(&sim, &b, "admin", "Admin#1234", "/").await;
    let res = b
        .get(url(&sim, "/api/now/ui/user/current_user"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn session_cookie_auth_can_be_switched_on() {
    let sim = start(SimConfig {
        api_session_auth: true,
        ..SimConfig::default()
    })
    .await;
    let b = browser(&sim);
    login(&sim, &b, "abel.tuter", "Abel#1234", "/").await;
    let res = b
        .get(url(&sim, "/api/now/ui/user/current_user"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["result"]["user_name"], "abel.tuter");
}

#[tokio::test(flavor = "multi_thread")]
async fn sys_user_query_fields_limit_and_total_count() {
    let sim = start_default().await;
    let auth = basic("abel.tuter", "Abel#1234");
    for prefix in ["/api/now/table", "/api/now/v2/table", "/api/now/v1/table"] {
        let res = get(
            &sim,
            &format!(
                "{prefix}/sys_user?sysparm_query=user_name%3Dadmin&sysparm_limit=2&sysparm_fields=sys_id,user_name,name"
            ),
            Some(&auth),
        )
        .await;
        assert_eq!(res.status(), 200, "{prefix}");
        assert_json_headers(res.headers(), true);
        assert_eq!(header(res.headers(), "x-total-count"), "1");
        assert_eq!(
            res.text().await.unwrap(),
            format!(
                r#"{{"result":[{{"sys_id":"{ADMIN_SYS_ID}","user_name":"admin","name":"System Administrator"}}]}}"#
            )
        );
    }
    // Unknown fields in the query are silently dropped: all rows come back.
    let res = get(
        &sim,
        "/api/now/table/sys_user?sysparm_query=no_such_field%3Dadmin&sysparm_limit=2&sysparm_fields=user_name",
        Some(&auth),
    )
    .await;
    // Eight seeded users: four people and four integration accounts.
    assert_eq!(header(res.headers(), "x-total-count"), "8");
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"result":[{"user_name":"admin"},{"user_name":"abel.tuter"}]}"#
    );
    // Every value is a string.
    let res = get(&sim, "/api/now/table/sys_user", Some(&auth)).await;
    let v: serde_json::Value = res.json().await.unwrap();
    let rows = v["result"].as_array().unwrap();
    assert_eq!(rows.len(), 8);
    for row in rows {
        for (_, val) in row.as_object().unwrap() {
            assert!(val.is_string(), "{row}");
        }
    }
    // No hits: v2 gives [], v1 gives 404.
    let res = get(
        &sim,
        "/api/now/v2/table/sys_user?sysparm_query=user_name%3Dnobody",
        Some(&auth),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), "x-total-count"), "0");
    assert_eq!(res.text().await.unwrap(), r#"{"result":[]}"#);
    let res = get(
        &sim,
        "/api/now/v1/table/sys_user?sysparm_query=user_name%3Dnobody",
        Some(&auth),
    )
    .await;
    assert_eq!(res.status(), 404);
    // A single record.
    let res = get(
        &sim,
        &format!("/api/now/table/sys_user/{ADMIN_SYS_ID}?sysparm_fields=user_name"),
        Some(&auth),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        r#"{"result":{"user_name":"admin"}}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_table_is_400() {
    let sim = start_default().await;
    for user in [("admin", "Admin#1234"), ("no.roles", "None#1234")] {
        let res = get(
            &sim,
            "/api/now/table/x_no_such_table?sysparm_limit=1",
            Some(&basic(user.0, user.1)),
        )
        .await;
        assert_eq!(res.status(), 400);
        assert_json_headers(res.headers(), true);
        assert_eq!(
            res.text().await.unwrap(),
            r#"{"error":{"message":"Invalid table x_no_such_table","detail":null},"status":"failure"}"#
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_accept_is_400() {
    // reqwest always sends `Accept: */*`, so speak raw HTTP/1.1 to a plain-HTTP sim.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = start(SimConfig {
        tls: false,
        ..SimConfig::default()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    let request = format!(
        "GET /api/now/table/sys_user HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        sim.local_addr(),
        basic("admin", "Admin#1234")
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    let head_lc = head.to_ascii_lowercase();
    assert!(
        head_lc.contains("content-type: application/json;charset=utf-8"),
        "{head}"
    );
    assert!(head_lc.contains("server: snow_adc"), "{head}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["status"], "failure");
    assert!(v["error"]["message"].is_string());

    // An Accept that rules JSON out is refused too (406).
    let res = client(&sim)
        .get(url(&sim, "/api/now/table/sys_user"))
        .header("accept", "text/html")
        .header("authorization", basic("admin", "Admin#1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 406);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_headers_and_http_mode() {
    let sim = start_default().await;
    assert_eq!(sim.base_url().scheme(), "https");
    assert!(sim.base_url().as_str().ends_with('/'));
    assert!(sim.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    let ca_file = sim.ca_file().unwrap().to_path_buf();
    assert_eq!(
        std::fs::read_to_string(&ca_file).unwrap(),
        sim.ca_pem().unwrap()
    );
    let res = get(
        &sim,
        "/api/now/table/sys_user",
        Some(&basic("admin", "Admin#1234")),
    )
    .await;
    assert_eq!(
        header(res.headers(), "strict-transport-security"),
        "max-age=63072000; includeSubDomains"
    );
    // `localhost` is in the certificate too.
    let local = format!(
        "https://localhost:{}/api/now/ui/user/current_user",
        sim.base_url().port().unwrap()
    );
    let res = client(&sim)
        .get(local)
        .header("accept", "application/json")
        .header("authorization", basic("admin", "Admin#1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    sim.shutdown().await;
    assert!(!ca_file.exists(), "CA file removed with the sim");

    let sim = start(SimConfig {
        tls: false,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(sim.base_url().scheme(), "http");
    assert!(sim.ca_pem().is_none() && sim.ca_file().is_none());
    let res = get(
        &sim,
        "/api/now/ui/user/current_user",
        Some(&basic("no.roles", "None#1234")),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_json_headers(res.headers(), true);
    assert!(res.headers().get("strict-transport-security").is_none());
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["result"]["user_display_name"], "No Roles");
    assert_eq!(v["result"]["user_initials"], "NR");
    let tok = password_grant(&sim).await;
    assert_eq!(tok["token_type"], "Bearer");
}

#[tokio::test(flavor = "multi_thread")]
async fn control_api_and_request_log() {
    let sim = start_default().await;
    let _ = password_grant(&sim).await;
    let _ = get(&sim, "/api/now/table/sys_user", None).await;
    let c = client(&sim);
    let log: Vec<snsim::LoggedRequest> = c
        .get(url(&sim, "/__snsim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log, sim.requests());
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].grant_type.as_deref(), Some("password"));
    assert_eq!(log[1].path, "/api/now/table/sys_user");
    assert_eq!(log[1].grant_type, None);
    assert_eq!(log[1].status, 401);
    let issued: serde_json::Value = c
        .get(url(&sim, "/__snsim/issued"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secrets: Vec<String> = serde_json::from_value(issued["secrets"].clone()).unwrap();
    assert_eq!(secrets, sim.issued_secrets());
    assert_eq!(
        secrets.len(),
        4,
        "client secret + API key + access + refresh"
    );
    let clients: serde_json::Value = c
        .get(url(&sim, "/__snsim/clients"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let clients = clients["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    let conf = clients
        .iter()
        .find(|c| c["public_client"] == false)
        .unwrap();
    assert_eq!(conf["client_id"], sim.confidential_client_id());
    assert_eq!(conf["client_secret"], sim.confidential_client_secret());
    let public = clients.iter().find(|c| c["public_client"] == true).unwrap();
    assert_eq!(public["client_secret"], serde_json::Value::Null);
    let res = c
        .post(url(&sim, "/__snsim/advance_clock?seconds=10"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_api_path_and_page() {
    let sim = start_default().await;
    let res = get(
        &sim,
        "/api/now/nothing/here",
        Some(&basic("admin", "Admin#1234")),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_json_headers(res.headers(), true);
    assert_401(get(&sim, "/api/now/nothing/here", None).await).await;
    let res = get(&sim, "/nothing.do", None).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_sim_stops_the_server() {
    let sim = start(SimConfig {
        tls: false,
        ..SimConfig::default()
    })
    .await;
    let addr = sim.local_addr();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    drop(sim);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting after drop"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
