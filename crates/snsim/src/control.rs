//! The control API under `/__snsim/` (a prefix that never exists on a real instance).
//! It is not logged in the request log and creates no sessions.

use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode, Uri};
use serde_json::json;

use crate::common::{json as json_response, param, parse_pairs, App};

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
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "clients": clients }), false)
}
