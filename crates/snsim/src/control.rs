//! The control API under `/__snsim/` (a prefix that never exists on a real instance).
//! It is not logged in the request log and creates no sessions.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Response, StatusCode, Uri};
use serde_json::json;

use crate::common::{json as json_response, param, parse_pairs, App};
use crate::switches::Switches;

fn bad_request(msg: String) -> Response<Body> {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": msg }), false)
}

/// `DELETE /__snsim/requests`: empty the request log.
pub async fn clear_requests(State(app): State<App>) -> Response<Body> {
    app.lock().requests.clear();
    json_response(StatusCode::OK, &json!({ "cleared": true }), false)
}

/// `GET /__snsim/requests/count?path=/oauth_token.do&grant_type=refresh_token&method=POST&status=200`:
/// `{"count":N}` of logged requests matching every given filter.
pub async fn count_requests(State(app): State<App>, uri: Uri) -> Response<Body> {
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let path = param(&pairs, "path");
    let prefix = param(&pairs, "path_prefix");
    let grant = param(&pairs, "grant_type");
    let method = param(&pairs, "method");
    let status = param(&pairs, "status").and_then(|s| s.parse::<u16>().ok());
    let n = app
        .lock()
        .requests
        .iter()
        .filter(|r| path.is_none_or(|p| r.path == p))
        .filter(|r| prefix.is_none_or(|p| r.path.starts_with(p)))
        .filter(|r| grant.is_none_or(|g| r.grant_type.as_deref() == Some(g)))
        .filter(|r| method.is_none_or(|m| r.method.eq_ignore_ascii_case(m)))
        .filter(|r| status.is_none_or(|s| r.status == s))
        .count();
    json_response(StatusCode::OK, &json!({ "count": n }), false)
}

/// `GET /__snsim/switches`: the current switches.
pub async fn get_switches(State(app): State<App>) -> Response<Body> {
    let s = app.lock().switches.clone();
    json_response(StatusCode::OK, &s, false)
}

/// `POST /__snsim/switches` with a JSON object: merged into the current switches
/// (nested objects key by key). Answers the new switches; unknown keys → 400.
pub async fn merge_switches(State(app): State<App>, body: Bytes) -> Response<Body> {
    let patch: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let current = app.lock().switches.clone();
    match current.merged(patch) {
        Ok(s) => {
            app.set_switches(s.clone());
            json_response(StatusCode::OK, &s, false)
        }
        Err(e) => bad_request(format!("invalid switches: {e}")),
    }
}

/// `PUT /__snsim/switches`: replace every switch (missing keys take their defaults).
pub async fn put_switches(State(app): State<App>, body: Bytes) -> Response<Body> {
    match serde_json::from_slice::<Switches>(&body) {
        Ok(s) => {
            app.set_switches(s.clone());
            json_response(StatusCode::OK, &s, false)
        }
        Err(e) => bad_request(format!("invalid switches: {e}")),
    }
}

/// `POST /__snsim/reset_switches`: back to the defaults.
pub async fn reset_switches(State(app): State<App>) -> Response<Body> {
    app.set_switches(Switches::default());
    json_response(StatusCode::OK, &Switches::default(), false)
}

/// `GET /__snsim/properties`: every sys_properties name → value.
pub async fn get_properties(State(app): State<App>) -> Response<Body> {
    let inner = app.lock();
    let map: serde_json::Map<String, serde_json::Value> = inner
        .tables
        .get("sys_properties")
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r.get("name").unwrap_or("").to_string(),
                        json!(r.get("value").unwrap_or("")),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    json_response(StatusCode::OK, &map, false)
}

/// `POST /__snsim/properties` with `{"name":"value",…}`: create or update properties.
pub async fn set_properties(State(app): State<App>, body: Bytes) -> Response<Body> {
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        match serde_json::from_slice(&body) {
            Ok(m) => m,
            Err(e) => return bad_request(format!("expected a JSON object: {e}")),
        };
    let mut inner = app.lock();
    for (k, v) in &map {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        inner.set_property(k, &v);
    }
    json_response(StatusCode::OK, &json!({ "updated": map.len() }), false)
}

/// `POST /__snsim/revoke?token=…`: revoke a token (like `oauth_revoke_token.do`).
pub async fn revoke(State(app): State<App>, uri: Uri) -> Response<Body> {
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let found = param(&pairs, "token").is_some_and(|t| app.lock().revoke(t));
    json_response(StatusCode::OK, &json!({ "revoked": found }), false)
}

/// `GET /__snsim/info`: users (with passwords and roles) and the API key, for tests that
/// run `snsim` as a process.
pub async fn info(State(app): State<App>) -> Response<Body> {
    let inner = app.lock();
    let users: Vec<_> = inner
        .users
        .iter()
        .map(|u| {
            json!({
                "user_name": u.user_name,
                "password": u.password,
                "sys_id": u.sys_id,
                "roles": u.roles,
            })
        })
        .collect();
    let keys: Vec<_> = inner
        .api_keys
        .iter()
        .map(|k| json!({ "sys_id": k.sys_id, "name": k.name, "user": k.user, "token": k.token }))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "base_url": app.settings.base, "users": users, "api_keys": keys }),
        false,
    )
}

/// `GET /__snsim/requests`: the request log.
pub async fn requests(State(app): State<App>) -> Response<Body> {
    let log = app.lock().requests.clone();
    json_response(StatusCode::OK, &log, false)
}

/// `GET /__snsim/issued`: `{"secrets":[…]}`, every code/token issued plus client secrets.
pub async fn issued(State(app): State<App>) -> Response<Body> {
    let secrets = app.lock().issued.clone();
    json_response(StatusCode::OK, &json!({ "secrets": secrets }), false)
}

/// `POST /__snsim/expire_tokens`: expire every access token.
pub async fn expire_tokens(State(app): State<App>) -> Response<Body> {
    let n = app.lock().expire_access_tokens();
    json_response(StatusCode::OK, &json!({ "expired": n }), false)
}

/// `POST /__snsim/advance_clock?seconds=N`: move the simulated clock forward.
pub async fn advance_clock(State(app): State<App>, uri: Uri) -> Response<Body> {
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let Some(secs) = param(&pairs, "seconds").and_then(|s| s.parse::<u64>().ok()) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "seconds=<non-negative integer> is required" }),
            false,
        );
    };
    let mut inner = app.lock();
    inner.clock_offset = inner.clock_offset.saturating_add(secs);
    let now = inner.now();
    json_response(
        StatusCode::OK,
        &json!({ "now": now, "offset": inner.clock_offset }),
        false,
    )
}

/// `GET /__snsim/clients`: the registered OAuth clients, secrets included (for tests and the
/// demo's end-to-end run, which types the confidential secret like an admin would).
pub async fn clients(State(app): State<App>) -> Response<Body> {
    let inner = app.lock();
    let clients: Vec<_> = inner
        .clients
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "public_client": c.public_client,
                "redirect_urls": c.redirect_urls,
                "sys_id": c.sys_id,
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "clients": clients }), false)
}
