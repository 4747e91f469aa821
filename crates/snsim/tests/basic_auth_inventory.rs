//! What the basic-auth inventory reads (servicenow.md §5 "Basic Auth Restriction (2026)",
//! checklist 4, 5 and 7): the seeded integration accounts (web service access only, a holder of
//! `snc_basic_auth_api_access`, an inactive one), the restriction properties with the
//! enforcement date, the switch that hides those properties from accounts without
//! security_admin (admin included), and the table-level ACL switch. Real TLS throughout.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use serde_json::Value;
use snsim::{properties, RunningSim, ADMIN_SYS_ID};

fn basic(user: &str, pw: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pw}")))
}

fn admin() -> String {
    basic("admin", "Admin#1234")
}

/// GET `path` as `auth`: (status, X-Total-Count, body).
async fn get(sim: &RunningSim, path: &str, auth: &str) -> (u16, Option<String>, Value) {
    let res = client(sim)
        .get(url(sim, path))
        .header("accept", "application/json")
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let total = res
        .headers()
        .get("x-total-count")
        .map(|v| v.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    (
        status,
        total,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn column(body: &Value, field: &str) -> Vec<String> {
    body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result array: {body}"))
        .iter()
        .map(|r| r[field].as_str().unwrap_or("").to_string())
        .collect()
}

const PROPS: &str =
    "/api/now/table/sys_properties?sysparm_query=nameSTARTSWITHglide.authenticate.basic_auth.%5EORDERBYname&sysparm_fields=name,value";

#[tokio::test(flavor = "multi_thread")]
async fn seeded_integration_accounts() {
    let sim = start_default().await;
    let (status, total, body) = get(
        &sim,
        "/api/now/table/sys_user?sysparm_query=web_service_access_only%3Dtrue%5EORDERBYuser_name&sysparm_fields=sys_id,user_name,name,active,web_service_access_only",
        &admin(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(total.as_deref(), Some("3"));
    assert_eq!(
        body["result"],
        serde_json::json!([
            {"sys_id": "7e4d0a2fdc3b5521b2a8f3d4c5e6f702", "user_name": "svc.boomi", "name": "Boomi Integration", "active": "true", "web_service_access_only": "true"},
            {"sys_id": "9a6f2c4bfe5d7743d4cab5f6e7081924", "user_name": "svc.legacy", "name": "Legacy Integration", "active": "false", "web_service_access_only": "true"},
            {"sys_id": "5b3c9e1fdb2a4410a1f7e2c3b4d5e6f1", "user_name": "svc.qlik", "name": "Qlik Integration", "active": "true", "web_service_access_only": "true"},
        ])
    );
    // The role holders, dot-walked from sys_user_has_role (one query).
    let (status, _, body) = get(
        &sim,
        "/api/now/table/sys_user_has_role?sysparm_query=role.nameINsnc_basic_auth_api_access,no_such_role&sysparm_fields=user,user.user_name,user.web_service_access_only,role.name&sysparm_exclude_reference_link=true",
        &admin(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"],
        serde_json::json!([{
            "user": "8f5e1b3aed4c6632c3b9a4e5d6f70813",
            "user.user_name": "svc.reporting",
            "user.web_service_access_only": "false",
            "role.name": "snc_basic_auth_api_access",
        }])
    );
    // Each of them signs in with the documented password; the inactive one cannot.
    for (user, pw, want) in [
        ("svc.qlik", "Qlik#1234", 200),
        ("svc.boomi", "Boomi#1234", 200),
        ("svc.reporting", "Report#1234", 200),
        ("svc.legacy", "Legacy#1234", 401),
    ] {
        let (status, _, body) = get(
            &sim,
            "/api/now/table/incident?sysparm_limit=1",
            &basic(user, pw),
        )
        .await;
        assert_eq!(status, want, "{user}: {body}");
        assert_eq!(sim.user_password(user).as_deref(), Some(pw));
    }
    // Under enforcement they keep basic auth (WSAO or the role); an ordinary user does not.
    sim.set_property(properties::BASIC_AUTH_ENFORCE, "true");
    for (user, pw, want) in [
        ("svc.qlik", "Qlik#1234", 200),
        ("svc.reporting", "Report#1234", 200),
        ("abel.tuter", "Abel#1234", 401),
    ] {
        let (status, _, _) = get(
            &sim,
            "/api/now/table/incident?sysparm_limit=1",
            &basic(user, pw),
        )
        .await;
        assert_eq!(status, want, "{user} under enforcement");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restriction_properties_with_the_enforcement_date() {
    let sim = start_default().await;
    let (status, total, body) = get(&sim, PROPS, &admin()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(total.as_deref(), Some("6"));
    assert_eq!(
        body["result"],
        serde_json::json!([
            {"name": "glide.authenticate.basic_auth.allowed_roles", "value": "snc_basic_auth_api_access"},
            {"name": "glide.authenticate.basic_auth.allowed_users", "value": ""},
            {"name": "glide.authenticate.basic_auth.restriction.active", "value": "false"},
            {"name": "glide.authenticate.basic_auth.restriction.default_decision", "value": "maintain"},
            {"name": "glide.authenticate.basic_auth.restriction.enforce", "value": "false"},
            {"name": "glide.authenticate.basic_auth.restriction.enforcement_date", "value": "2026-09-30"},
        ])
    );
    assert_eq!(
        sim.property(properties::BASIC_AUTH_ENFORCEMENT_DATE)
            .as_deref(),
        Some("2026-09-30")
    );
    // Non-admins: every sys_properties row is hidden, still counted.
    let (status, total, body) = get(&sim, PROPS, &basic("abel.tuter", "Abel#1234")).await;
    assert_eq!((status, total.as_deref()), (200, Some("6")));
    assert_eq!(body["result"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_properties_can_need_security_admin() {
    let sim = start_default().await;
    sim.update_switches(|s| s.basic_auth_properties_need_security_admin = true);
    // Admin without security_admin: 200, the rows left out, the count ACL-blind.
    let (status, total, body) = get(&sim, PROPS, &admin()).await;
    assert_eq!((status, total.as_deref()), (200, Some("6")), "{body}");
    assert_eq!(body["result"], serde_json::json!([]));
    // One record by sys_id is "not found" like any hidden row.
    let (_, _, all) = get(
        &sim,
        "/api/now/table/sys_properties?sysparm_query=name%3Dglide.authenticate.basic_auth.restriction.enforce&sysparm_fields=sys_id",
        &admin(),
    )
    .await;
    assert_eq!(all["result"], serde_json::json!([]));
    // Other properties stay readable.
    let (_, total, body) = get(
        &sim,
        "/api/now/table/sys_properties?sysparm_query=name%3Dglide.buildname&sysparm_fields=value",
        &admin(),
    )
    .await;
    assert_eq!(total.as_deref(), Some("1"));
    assert_eq!(column(&body, "value"), ["Zurich"]);
    // Enforcement still reads the properties (the switch is a read ACL only).
    sim.set_property(properties::BASIC_AUTH_ENFORCE, "true");
    let (status, _, _) = get(
        &sim,
        "/api/now/table/incident?sysparm_limit=1",
        &basic("abel.tuter", "Abel#1234"),
    )
    .await;
    assert_eq!(status, 401);
    sim.set_property(properties::BASIC_AUTH_ENFORCE, "false");
    // With security_admin (elevated), admin sees them again.
    let res = client(&sim)
        .post(url(&sim, "/api/now/table/sys_user_has_role"))
        .header("accept", "application/json")
        .header("authorization", admin())
        .json(&serde_json::json!({"user": ADMIN_SYS_ID, "role": "security_admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (_, total, body) = get(&sim, PROPS, &admin()).await;
    assert_eq!(total.as_deref(), Some("6"));
    assert_eq!(column(&body, "name").len(), 6, "{body}");
    // Switched off: admin reads them without security_admin.
    sim.update_switches(|s| s.basic_auth_properties_need_security_admin = false);
    let (_, _, body) = get(&sim, PROPS, &basic("admin", "Admin#1234")).await;
    assert_eq!(column(&body, "name").len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_tables_refuse_non_admins() {
    let sim = start_default().await;
    let path = "/api/now/table/sys_user_has_role?sysparm_limit=1";
    let abel = basic("abel.tuter", "Abel#1234");
    assert_eq!(get(&sim, path, &abel).await.0, 200);
    sim.update_switches(|s| s.denied_tables = vec!["sys_user_has_role".into()]);
    let (status, _, body) = get(&sim, path, &abel).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["message"], "User Not Authorized");
    assert_eq!(get(&sim, path, &admin()).await.0, 200);
    // Other tables are unaffected.
    assert_eq!(
        get(&sim, "/api/now/table/sys_user?sysparm_limit=1", &abel)
            .await
            .0,
        200
    );
}
