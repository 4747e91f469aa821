//! REST API under `/api/now`: authentication (Basic, Bearer, `x-sn-apikey`, session cookie,
//! MFA, Basic Auth Restriction), rate limiting, `ui/user/current_user` and the Table API
//! (servicenow.md §4, §5, checklist 4-8).

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, Response, StatusCode, Uri};
use serde::Serialize;

use crate::common::{json, json_raw, param, parse_pairs, rest_error, App, SessionCtx};
use crate::oauth::basic_credentials;
use crate::properties;
use crate::state::{Inner, User};
use crate::tables::{self, DisplayMode, Query, Render, WriteError};

/// Default and maximum `sysparm_limit` (APIS:c_TableAPI.md).
const DEFAULT_LIMIT: usize = 10_000;
/// sys_id of the simulated rate-limit rule (`X-RateLimit-Rule`).
pub const RATE_LIMIT_RULE: &str = "3f1dd0f1c0a8016401c5a33be04be4a1";

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

/// 401 in MFA mode: valid password without a valid one-time code (REST:c_RESTAPI.md).
fn mfa_required() -> Response<Body> {
    let mut res = not_authenticated();
    res.headers_mut()
        .insert("x-mfa_token", HeaderValue::from_static("invalid"));
    res
}

/// 403 from an ACL.
fn not_authorized() -> Response<Body> {
    rest_error(
        StatusCode::FORBIDDEN,
        "User Not Authorized",
        Some("Failed API level ACL Validation"),
        true,
    )
}

/// How a REST call was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    Basic,
    Bearer,
    ApiKey,
    Session,
}

enum HeaderAuth {
    Ok(User, AuthKind),
    Mfa,
    Failed,
}

fn list_contains(list: &str, item: &str) -> bool {
    list.split(',').any(|x| x.trim() == item)
}

/// Basic credentials, with MFA and Basic Auth Restriction.
fn basic_auth(inner: &Inner, user: &str, password: &str) -> HeaderAuth {
    let sw = &inner.switches;
    let (u, with_otp) = if sw.mfa {
        match inner.user(user).filter(|u| u.active) {
            Some(u)
                if !sw.mfa_code.is_empty()
                    && password == format!("{}{}", u.password, sw.mfa_code) =>
            {
                (u.clone(), true)
            }
            Some(u)
                if crate::state::constant_time_eq(u.password.as_bytes(), password.as_bytes()) =>
            {
                return HeaderAuth::Mfa
            }
            _ => return HeaderAuth::Failed,
        }
    } else {
        match inner.check_password(user, password) {
            Some(u) => (u.clone(), false),
            None => return HeaderAuth::Failed,
        }
    };
    // Basic Auth Restriction (§5): under enforcement only WSAO accounts, allowed roles or
    // users, or a valid MFA one-time password pass. UNCONFIRMED: the refusal (401 here).
    if inner.property_bool(properties::BASIC_AUTH_ENFORCE, false) && !with_otp {
        let roles = inner
            .property("glide.authenticate.basic_auth.allowed_roles")
            .unwrap_or_else(|| "snc_basic_auth_api_access".into());
        let users = inner
            .property("glide.authenticate.basic_auth.allowed_users")
            .unwrap_or_default();
        let allowed = u.web_service_access_only
            || u.has_role("snc_basic_auth_api_access")
            || u.roles.iter().any(|r| list_contains(&roles, r))
            || list_contains(&users, &u.user_name);
        if !allowed {
            return HeaderAuth::Failed;
        }
    }
    HeaderAuth::Ok(u, AuthKind::Basic)
}

/// Authenticate an API call: `Basic`, `Bearer`, `x-sn-apikey` (header or query parameter)
/// and, like the platform, a logged-in session cookie (switch `session_cookie_auth`) even
/// when the presented credentials are wrong. On success the session becomes bound to the
/// user (as on a real instance).
pub fn authenticate(
    app: &App,
    headers: &HeaderMap,
    query: &[(String, String)],
    sess: &SessionCtx,
) -> Result<(User, AuthKind), Response<Body>> {
    let mut inner = app.lock();
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let api_key = headers
        .get("x-sn-apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| param(query, "x-sn-apikey").map(str::to_string));
    let result = match auth {
        Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
            match basic_credentials(headers) {
                Some((u, p)) => basic_auth(&inner, &u, &p),
                None => HeaderAuth::Failed,
            }
        }
        Some(v) if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") => {
            match inner.bearer_user(v[7..].trim()) {
                Some(u) => HeaderAuth::Ok(u.clone(), AuthKind::Bearer),
                None => HeaderAuth::Failed,
            }
        }
        Some(_) => HeaderAuth::Failed,
        None => match api_key {
            Some(k) if inner.switches.api_key_auth => match inner.api_key_user(&k) {
                Some(u) => HeaderAuth::Ok(u.clone(), AuthKind::ApiKey),
                None => HeaderAuth::Failed,
            },
            _ => HeaderAuth::Failed,
        },
    };
    let result = match result {
        HeaderAuth::Ok(u, k) => Ok((u, k)),
        other => {
            let from_session = if inner.switches.session_cookie_auth {
                sess.user
                    .as_deref()
                    .and_then(|u| inner.user(u))
                    .filter(|u| u.active)
                    .cloned()
            } else {
                None
            };
            match (from_session, other) {
                (Some(u), _) => Ok((u, AuthKind::Session)),
                (None, HeaderAuth::Mfa) => Err(mfa_required()),
                (None, _) => Err(not_authenticated()),
            }
        }
    };
    if let Ok((u, _)) = &result {
        inner.bind_session_user(&sess.id, &u.user_name);
    }
    result
}

/// REST content negotiation: JSON only.
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

/// Two `Authorization` headers: the `snow_adc` edge answers 400 (§4.2). UNCONFIRMED body.
fn check_duplicate_auth(headers: &HeaderMap) -> Result<(), Response<Body>> {
    if headers.get_all(header::AUTHORIZATION).iter().count() > 1 {
        let mut res = Response::new(Body::from(
            "<html>\n<head><title>400 Bad Request</title></head>\n<body>\n<center><h1>400 Bad Request</h1></center>\n<hr><center>snow_adc</center>\n</body>\n</html>\n",
        ));
        *res.status_mut() = StatusCode::BAD_REQUEST;
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        return Err(res);
    }
    Ok(())
}

/// Rate limiting: returns the headers to add, or the 429 response.
fn rate_limit(app: &App, user: &str) -> Result<Vec<(&'static str, String)>, Response<Body>> {
    let mut inner = app.lock();
    let Some(limit) = inner.switches.rate_limit_per_hour else {
        return Ok(Vec::new());
    };
    let now = inner.now();
    let entry = inner.rate.entry(user.to_string()).or_insert((now, 0));
    if now >= entry.0 + 3600 {
        *entry = (now, 0);
    }
    let reset = entry.0 + 3600;
    entry.1 += 1;
    let headers = vec![
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-rule", RATE_LIMIT_RULE.to_string()),
    ];
    if entry.1 > limit {
        let body = format!(
            r#"{{"error":{{"message":"Rate limit exceeded","detail":"Rate limit of {limit} requests per hour for Table API exceeded"}},"status":"failure"}}"#
        );
        let mut res = json_raw(StatusCode::TOO_MANY_REQUESTS, body, true);
        for (k, v) in headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                res.headers_mut().insert(k, v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&reset.saturating_sub(now).max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(res);
    }
    Ok(headers)
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
    uri: Uri,
) -> Response<Body> {
    let query = parse_pairs(uri.query().unwrap_or("").as_bytes());
    if let Err(res) = check_duplicate_auth(&headers) {
        return res;
    }
    let (user, _) = match authenticate(&app, &headers, &query, &sess) {
        Ok(u) => u,
        Err(res) => return res,
    };
    if let Err(res) = check_accept(&headers) {
        return res;
    }
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

fn flag(pairs: &[(String, String)], name: &str) -> bool {
    param(pairs, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Everything a Table API call needs.
struct TableCall<'a> {
    app: &'a App,
    method: Method,
    version: Version,
    table: &'a str,
    sys_id: Option<&'a str>,
    headers: &'a HeaderMap,
    uri: &'a Uri,
    body: &'a Bytes,
    sess: &'a SessionCtx,
}

fn render_one(
    inner: &Inner,
    app: &App,
    table: &str,
    user: &User,
    pairs: &[(String, String)],
    rec: &tables::Record,
) -> String {
    let fields = fields_param(pairs);
    let hidden = hidden_fields(inner, table, user);
    Render {
        inner,
        table,
        fields: &fields,
        display: DisplayMode::parse(param(pairs, "sysparm_display_value")),
        exclude_reference_link: flag(pairs, "sysparm_exclude_reference_link"),
        hidden: &hidden,
        base: &app.settings.base,
    }
    .record(rec)
}

fn hidden_fields(inner: &Inner, table: &str, user: &User) -> Vec<String> {
    if user.is_admin() {
        return Vec::new();
    }
    inner
        .switches
        .hidden_fields
        .get(table)
        .cloned()
        .unwrap_or_default()
}

fn table_call(c: TableCall<'_>) -> Response<Body> {
    let pairs = parse_pairs(c.uri.query().unwrap_or("").as_bytes());
    if let Err(res) = check_duplicate_auth(c.headers) {
        return res;
    }
    let (user, kind) = match authenticate(c.app, c.headers, &pairs, c.sess) {
        Ok(u) => u,
        Err(res) => return res,
    };
    if let Err(res) = check_accept(c.headers) {
        return res;
    }
    let rate_headers = match rate_limit(c.app, &user.user_name) {
        Ok(h) => h,
        Err(res) => return res,
    };
    let mut res = table_call_inner(&c, &pairs, &user, kind);
    for (k, v) in rate_headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.headers_mut().insert(k, v);
        }
    }
    res
}

fn table_call_inner(
    c: &TableCall<'_>,
    pairs: &[(String, String)],
    user: &User,
    kind: AuthKind,
) -> Response<Body> {
    // A REST API auth scope guards the Table API and the token lacks it (§1.5, §2.3).
    if kind == AuthKind::Bearer && c.app.lock().switches.scope_restricted {
        return rest_error(
            StatusCode::FORBIDDEN,
            "Missing required api access scope",
            None,
            true,
        );
    }
    if tables::schema(c.table).is_none() {
        return invalid_table(c.table);
    }
    let write = c.method != Method::GET && c.method != Method::HEAD;
    let allowed = tables::table_allowed(&c.app.lock(), c.table, write, user);
    if !allowed {
        return not_authorized();
    }
    match (c.method.clone(), c.sys_id) {
        (Method::GET | Method::HEAD, None) => list(c, pairs, user),
        (Method::GET | Method::HEAD, Some(id)) => {
            let inner = c.app.lock();
            let Some(all) = tables::rows(&inner, c.table) else {
                return invalid_table(c.table);
            };
            match all.iter().find(|r| r.get("sys_id") == Some(id)) {
                Some(r) if tables::row_visible(&inner, c.table, user, r) => json_raw(
                    StatusCode::OK,
                    format!(
                        "{{\"result\":{}}}",
                        render_one(&inner, c.app, c.table, user, pairs, r)
                    ),
                    true,
                ),
                _ => no_record(),
            }
        }
        (Method::POST, None) => {
            let body = match json_object(c.body) {
                Ok(b) => b,
                Err(res) => return res,
            };
            let mut inner = c.app.lock();
            match tables::insert(&mut inner, c.table, &body, &user.user_name) {
                Ok(id) => {
                    let rec = tables::rows(&inner, c.table)
                        .unwrap_or_default()
                        .into_iter()
                        .find(|r| r.get("sys_id") == Some(id.as_str()));
                    let text = rec
                        .map(|r| render_one(&inner, c.app, c.table, user, pairs, &r))
                        .unwrap_or_else(|| "{}".into());
                    let mut res =
                        json_raw(StatusCode::CREATED, format!("{{\"result\":{text}}}"), true);
                    let loc = format!("{}/api/now/table/{}/{id}", c.app.settings.base, c.table);
                    if let Ok(v) = HeaderValue::from_str(&loc) {
                        res.headers_mut().insert(header::LOCATION, v);
                    }
                    res
                }
                Err(e) => write_error(e),
            }
        }
        (Method::PATCH | Method::PUT, Some(id)) => {
            let body = match json_object(c.body) {
                Ok(b) => b,
                Err(res) => return res,
            };
            let mut inner = c.app.lock();
            match tables::update(&mut inner, c.table, id, &body, &user.user_name) {
                Ok(()) => {
                    let rec = tables::rows(&inner, c.table)
                        .unwrap_or_default()
                        .into_iter()
                        .find(|r| r.get("sys_id") == Some(id));
                    let text = rec
                        .map(|r| render_one(&inner, c.app, c.table, user, pairs, &r))
                        .unwrap_or_else(|| "{}".into());
                    json_raw(StatusCode::OK, format!("{{\"result\":{text}}}"), true)
                }
                Err(e) => write_error(e),
            }
        }
        (Method::DELETE, Some(id)) => {
            let mut inner = c.app.lock();
            match tables::delete(&mut inner, c.table, id) {
                Ok(()) => {
                    let mut res = Response::new(Body::empty());
                    *res.status_mut() = StatusCode::NO_CONTENT;
                    res.headers_mut()
                        .insert("x-is-logged-in", HeaderValue::from_static("true"));
                    res
                }
                Err(e) => write_error(e),
            }
        }
        _ => rest_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Supported",
            Some("Requested method is not supported by the resource"),
            true,
        ),
    }
}

fn write_error(e: WriteError) -> Response<Body> {
    match e {
        WriteError::NotFound => no_record(),
        WriteError::Forbidden => not_authorized(),
        WriteError::Invalid(msg) => rest_error(
            StatusCode::BAD_REQUEST,
            "Operation Failed",
            Some(&msg),
            true,
        ),
    }
}

/// The request body as a JSON object (UNCONFIRMED error text).
fn json_object(body: &Bytes) -> Result<serde_json::Map<String, serde_json::Value>, Response<Body>> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(rest_error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            Some("The payload is not valid JSON."),
            true,
        )),
    }
}

fn list(c: &TableCall<'_>, pairs: &[(String, String)], user: &User) -> Response<Body> {
    let inner = c.app.lock();
    let Some(all) = tables::rows(&inner, c.table) else {
        return invalid_table(c.table);
    };
    let query = Query::parse_for(param(pairs, "sysparm_query").unwrap_or(""), c.table);
    // glide.invalid_query.returns_no_rows=true: an invalid term empties the result
    // instead of being dropped (APIS:c_TableAPI.md).
    let no_rows =
        query.invalid && inner.property_bool("glide.invalid_query.returns_no_rows", false);
    let mut matching: Vec<_> = all
        .into_iter()
        .filter(|r| !no_rows && query.matches_in(&inner, c.table, r))
        .collect();
    query.sort(&inner, c.table, &mut matching);
    // ACL-blind (Lighthouse ADR): hidden rows are counted.
    let total = matching.len();
    let explicit_limit = param(pairs, "sysparm_limit").and_then(|l| l.trim().parse::<usize>().ok());
    let limit = explicit_limit.unwrap_or(DEFAULT_LIMIT).min(DEFAULT_LIMIT);
    let offset = param(pairs, "sysparm_offset")
        .and_then(|o| o.trim().parse::<usize>().ok())
        .unwrap_or(0);
    // The limit is applied before ACL evaluation (APIS:c_TableAPI.md).
    let page: Vec<String> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .filter(|r| tables::row_visible(&inner, c.table, user, r))
        .map(|r| render_one(&inner, c.app, c.table, user, pairs, r))
        .collect();
    drop(inner);
    // v1 "returns error code 404 with no results" (APIS:c_TableAPI.md).
    if page.is_empty() && c.version == Version::V1 {
        return no_record();
    }
    let body = format!("{{\"result\":[{}]}}", page.join(","));
    let mut res = json_raw(StatusCode::OK, body, true);
    if !flag(pairs, "sysparm_no_count") {
        if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
            res.headers_mut().insert("x-total-count", v);
        }
    }
    if !flag(pairs, "sysparm_suppress_pagination_header")
        && (explicit_limit.is_some() || total > limit)
        && limit > 0
    {
        if let Ok(v) = HeaderValue::from_str(&link_header(c, pairs, total, limit, offset)) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    res
}

/// `Link: <…>;rel="first",<…>;rel="prev",<…>;rel="next",<…>;rel="last"` (§4.1).
fn link_header(
    c: &TableCall<'_>,
    pairs: &[(String, String)],
    total: usize,
    limit: usize,
    offset: usize,
) -> String {
    let url = |off: usize| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if k != "sysparm_offset" && k != "sysparm_limit" {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("sysparm_limit", &limit.to_string());
        ser.append_pair("sysparm_offset", &off.to_string());
        format!("<{}{}?{}>", c.app.settings.base, c.uri.path(), ser.finish())
    };
    let last = if total == 0 {
        0
    } else {
        ((total - 1) / limit) * limit
    };
    let mut parts = vec![format!("{};rel=\"first\"", url(0))];
    if offset > 0 {
        parts.push(format!(
            "{};rel=\"prev\"",
            url(offset.saturating_sub(limit))
        ));
    }
    if offset + limit < total {
        parts.push(format!("{};rel=\"next\"", url(offset + limit)));
    }
    parts.push(format!("{};rel=\"last\"", url(last)));
    parts.join(",")
}

/// `/api/now[/v1|/v2]/table/{table}[/{sys_id}]`, every method.
pub async fn table_any(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    Path(parts): Path<Vec<(String, String)>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response<Body> {
    let get = |k: &str| parts.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let version = match get("version") {
        None => Version::Latest,
        Some(v) => match parse_version(v) {
            Some(v) => v,
            None => {
                let q = parse_pairs(uri.query().unwrap_or("").as_bytes());
                return unknown_resource(&app, &headers, &q, &sess);
            }
        },
    };
    let table = get("table").unwrap_or("");
    let sys_id = get("sys_id");
    if sys_id.is_none() && !matches!(method, Method::GET | Method::HEAD | Method::POST)
        || sys_id.is_some() && method == Method::POST
    {
        let q = parse_pairs(uri.query().unwrap_or("").as_bytes());
        if let Err(res) = authenticate(&app, &headers, &q, &sess) {
            return res;
        }
        return rest_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not Supported",
            Some("Requested method is not supported by the resource"),
            true,
        );
    }
    table_call(TableCall {
        app: &app,
        method,
        version,
        table,
        sys_id,
        headers: &headers,
        uri: &uri,
        body: &body,
        sess: &sess,
    })
}

/// Any other `/api/…` path: authenticate first (as the real filter chain does), then 400.
pub fn unknown_resource(
    app: &App,
    headers: &HeaderMap,
    query: &[(String, String)],
    sess: &SessionCtx,
) -> Response<Body> {
    if let Err(res) = authenticate(app, headers, query, sess) {
        return res;
    }
    rest_error(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        None,
        true,
    )
}
