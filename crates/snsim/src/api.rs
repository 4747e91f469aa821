//! REST API under `/api/now`: authentication (Basic, Bearer), `ui/user/current_user` and
//! the Table API (servicenow.md §4).

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Response, StatusCode, Uri};
use serde::Serialize;

use crate::common::{json, json_raw, param, parse_pairs, rest_error, App, SessionCtx};
use crate::oauth::basic_credentials;
use crate::state::User;
use crate::tables::{self, Query};

/// Default and maximum `sysparm_limit` (APIS:c_TableAPI.md).
const DEFAULT_LIMIT: usize = 10_000;

/// 401 for missing or bad credentials (§4.2).
pub fn not_authenticated() -> Response<Body> {
    let mut res = rest_error(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        Some("Required to provide Auth information"),
        false,
    );
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("BASIC realm=\"Service-now\""),
    );
    res
}

/// Authenticate an API call: `Basic` user credentials or a valid `Bearer` access token.
/// The session cookie counts only when `api_session_auth` is on (off by default).
/// On success the session becomes bound to the user (as on a real instance).
pub fn authenticate(
    app: &App,
    headers: &HeaderMap,
    sess: &SessionCtx,
) -> Result<User, Response<Body>> {
    let mut inner = app.lock();
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let user = match auth {
        Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
            basic_credentials(headers).and_then(|(u, p)| inner.check_password(&u, &p).cloned())
        }
        Some(v) if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") => {
            inner.bearer_user(v[7..].trim()).cloned()
        }
        Some(_) => None,
        None if app.settings.api_session_auth => sess
            .user
            .as_deref()
            .and_then(|u| inner.user(u))
            .filter(|u| u.active)
            .cloned(),
        None => None,
    };
    match user {
        Some(u) => {
            inner.bind_session_user(&sess.id, &u.user_name);
            Ok(u)
        }
        None => Err(not_authenticated()),
    }
}

/// REST content negotiation: JSON only in this slice.
/// UNCONFIRMED: the real bodies for a missing or unsupported `Accept` were not captured;
/// the reference only says missing required headers give 400.
fn check_accept(headers: &HeaderMap) -> Result<(), Response<Body>> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Err(rest_error(
            StatusCode::BAD_REQUEST,
            "Missing required header: Accept",
            Some("Send Accept: application/json"),
            true,
        ));
    };
    let ok = accept.split(',').any(|part| {
        let media = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    });
    if ok {
        Ok(())
    } else {
        Err(rest_error(
            StatusCode::NOT_ACCEPTABLE,
            "Requested response content type is not supported",
            None,
            true,
        ))
    }
}

fn guard(app: &App, headers: &HeaderMap, sess: &SessionCtx) -> Result<User, Response<Body>> {
    let user = authenticate(app, headers, sess)?;
    check_accept(headers)?;
    Ok(user)
}

#[derive(Serialize)]
struct CurrentUser {
    user_sys_id: String,
    user_name: String,
    user_display_name: String,
    user_initials: String,
    user_avatar: String,
}

#[derive(Serialize)]
struct Wrapped<T> {
    result: T,
}

/// `GET /api/now/ui/user/current_user` (undocumented but widely used, §4.3).
pub async fn current_user(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    headers: HeaderMap,
) -> Response<Body> {
    let user = match guard(&app, &headers, &sess) {
        Ok(u) => u,
        Err(res) => return res,
    };
    json(
        StatusCode::OK,
        &Wrapped {
            result: CurrentUser {
                user_sys_id: user.sys_id.clone(),
                user_name: user.user_name.clone(),
                user_display_name: user.display_name(),
                user_initials: user.initials(),
                user_avatar: user.avatar(),
            },
        },
        true,
    )
}

/// Which Table API version a path used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Latest,
    V1,
    V2,
}

fn parse_version(v: &str) -> Option<Version> {
    match v {
        "v1" => Some(Version::V1),
        "v2" => Some(Version::V2),
        _ => None,
    }
}

fn invalid_table(table: &str) -> Response<Body> {
    rest_error(
        StatusCode::BAD_REQUEST,
        &format!("Invalid table {table}"),
        None,
        true,
    )
}

fn no_record() -> Response<Body> {
    // UNCONFIRMED detail text.
    rest_error(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
        true,
    )
}

fn fields_param(pairs: &[(String, String)]) -> Vec<String> {
    param(pairs, "sysparm_fields")
        .map(|f| {
            f.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn table_list(
    app: &App,
    headers: &HeaderMap,
    sess: &SessionCtx,
    version: Version,
    table: &str,
    uri: &Uri,
) -> Response<Body> {
    if let Err(res) = guard(app, headers, sess) {
        return res;
    }
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let Some(all) = tables::rows(&app.lock(), table) else {
        return invalid_table(table);
    };
    let query = Query::parse(param(&pairs, "sysparm_query").unwrap_or(""), &all);
    let matching: Vec<_> = all.into_iter().filter(|r| query.matches(r)).collect();
    let total = matching.len();
    let limit = param(&pairs, "sysparm_limit")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_LIMIT);
    let offset = param(&pairs, "sysparm_offset")
        .and_then(|o| o.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let fields = fields_param(&pairs);
    let page: Vec<String> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| r.to_json(&fields))
        .collect();
    // v1 "returns error code 404 with no results" (APIS:c_TableAPI.md).
    if page.is_empty() && version == Version::V1 {
        return no_record();
    }
    let body = format!("{{\"result\":[{}]}}", page.join(","));
    let mut res = json_raw(StatusCode::OK, body, true);
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        res.headers_mut().insert("x-total-count", v);
    }
    res
}

fn table_record(
    app: &App,
    headers: &HeaderMap,
    sess: &SessionCtx,
    table: &str,
    sys_id: &str,
    uri: &Uri,
) -> Response<Body> {
    if let Err(res) = guard(app, headers, sess) {
        return res;
    }
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let Some(all) = tables::rows(&app.lock(), table) else {
        return invalid_table(table);
    };
    match all.iter().find(|r| r.get("sys_id") == Some(sys_id)) {
        Some(r) => json_raw(
            StatusCode::OK,
            format!("{{\"result\":{}}}", r.to_json(&fields_param(&pairs))),
            true,
        ),
        None => no_record(),
    }
}

/// `GET /api/now/table/{table}`.
pub async fn table_latest(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    Path(table): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    table_list(&app, &headers, &sess, Version::Latest, &table, &uri)
}

/// `GET /api/now/{v1|v2}/table/{table}`.
pub async fn table_versioned(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    Path((version, table)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    match parse_version(&version) {
        Some(v) => table_list(&app, &headers, &sess, v, &table, &uri),
        None => unknown_resource(&app, &headers, &sess),
    }
}

/// `GET /api/now/table/{table}/{sys_id}`.
pub async fn record_latest(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    Path((table, sys_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    table_record(&app, &headers, &sess, &table, &sys_id, &uri)
}

/// `GET /api/now/{v1|v2}/table/{table}/{sys_id}`.
pub async fn record_versioned(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    Path((version, table, sys_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    match parse_version(&version) {
        Some(_) => table_record(&app, &headers, &sess, &table, &sys_id, &uri),
        None => unknown_resource(&app, &headers, &sess),
    }
}

/// Any other `/api/…` path: authenticate first (as the real filter chain does), then 400.
pub fn unknown_resource(app: &App, headers: &HeaderMap, sess: &SessionCtx) -> Response<Body> {
    if let Err(res) = authenticate(app, headers, sess) {
        return res;
    }
    rest_error(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        None,
        true,
    )
}
