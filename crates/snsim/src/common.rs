//! Response building blocks shared by every endpoint, and the middleware that gives each
//! response the headers, session cookies and request-log entry a real instance would.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use serde::Serialize;

use crate::state::{random_hex, LoggedRequest, SimState};

/// Reserved prefix of the control API (never exists on a real instance).
pub const CONTROL_PREFIX: &str = "/__snsim/";

pub const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";
pub const HTML_CONTENT_TYPE: &str = "text/html;charset=UTF-8";

static X_IS_LOGGED_IN: HeaderName = HeaderName::from_static("x-is-logged-in");
static X_TRANSACTION_ID: HeaderName = HeaderName::from_static("x-transaction-id");

/// The session the request arrived with (or the anonymous one created for it).
#[derive(Debug, Clone)]
pub struct SessionCtx {
    pub id: String,
    pub user: Option<String>,
    pub ck: String,
}

/// Response extension: the handler replaced the session (login, logout); send its cookies.
#[derive(Debug, Clone)]
pub struct NewSession(pub String);

/// Response extension: the `grant_type` of a token call, for the request log.
#[derive(Debug, Clone)]
pub struct GrantTypeNote(pub String);

/// The shared application state handed to every handler.
pub type App = Arc<SimState>;

/// Parse `a=b&c=d` (query string or form body) into ordered pairs.
pub fn parse_pairs(s: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s).into_owned().collect()
}

/// First value of `name` among `pairs`.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// First non-empty value of `name` among `pairs`.
pub fn param_nonempty<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    param(pairs, name).filter(|v| !v.is_empty())
}

fn set_no_cache(h: &mut HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache,no-store,must-revalidate,max-age=-1"),
    );
    h.insert(
        header::PRAGMA,
        HeaderValue::from_static("no-store,no-cache"),
    );
    h.insert(header::EXPIRES, HeaderValue::from_static("0"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A JSON response with the instance's JSON headers (§4.1).
pub fn json_raw(status: StatusCode, body: String, logged_in: bool) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    set_no_cache(h);
    h.insert(
        X_IS_LOGGED_IN.clone(),
        HeaderValue::from_static(if logged_in { "true" } else { "false" }),
    );
    res
}

/// Serialize `value` (field order = struct order) into a JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T, logged_in: bool) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string());
    json_raw(status, body, logged_in)
}

/// The REST error body `{"error":{"message":…,"detail":…},"status":"failure"}` (§4.2).
#[derive(Debug, Serialize)]
pub struct RestError<'a> {
    pub error: RestErrorInner<'a>,
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RestErrorInner<'a> {
    pub message: &'a str,
    pub detail: Option<&'a str>,
}

pub fn rest_error(
    status: StatusCode,
    message: &str,
    detail: Option<&str>,
    logged_in: bool,
) -> Response<Body> {
    json(
        status,
        &RestError {
            error: RestErrorInner { message, detail },
            status: "failure",
        },
        logged_in,
    )
}

/// An HTML page.
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(HTML_CONTENT_TYPE),
    );
    set_no_cache(h);
    res
}

/// A 302 to `location`.
pub fn redirect(location: &str) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::FOUND;
    match HeaderValue::from_str(location) {
        Ok(v) => {
            res.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => {
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    set_no_cache(res.headers_mut());
    res
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

fn append_session_cookies(h: &mut HeaderMap, tls: bool, jsessionid: &str, store: &str) {
    let secure = if tls { "; Secure" } else { "" };
    let same_site = if tls { "; SameSite=None" } else { "" };
    let cookies = [
        format!("JSESSIONID={jsessionid}; Path=/; HttpOnly{secure}"),
        format!("glide_session_store={store}; Max-Age=1800; Path=/; HttpOnly{same_site}{secure}"),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
}

/// Middleware for every request: session cookie handling, `Server`/`X-Transaction-ID`
/// headers, HSTS under TLS, `X-Is-Logged-In` default, and the request log.
pub async fn instance_layer(
    State(app): State<App>,
    mut req: Request,
    next: Next,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().to_string();

    if path.starts_with(CONTROL_PREFIX) {
        let mut res = next.run(req).await;
        let h = res.headers_mut();
        h.insert(header::SERVER, HeaderValue::from_static("snow_adc"));
        return res;
    }

    // Session: reuse a live JSESSIONID, else create an anonymous session (a real instance
    // creates one for every cookie-less call).
    let presented = cookie(req.headers(), "JSESSIONID");
    let (ctx, created) = {
        let mut inner = app.lock();
        let existing = presented
            .as_deref()
            .and_then(|id| inner.touch_session(id).map(|s| (id.to_string(), s)));
        match existing {
            Some((id, s)) => (
                SessionCtx {
                    id,
                    user: s.user,
                    ck: s.ck,
                },
                false,
            ),
            None => {
                let id = inner.new_session(None);
                let ck = inner
                    .sessions
                    .get(&id)
                    .map(|s| s.ck.clone())
                    .unwrap_or_default();
                (SessionCtx { id, user: None, ck }, true)
            }
        }
    };
    req.extensions_mut().insert(ctx.clone());

    let mut res = next.run(req).await;

    let new_sid = res.extensions().get::<NewSession>().map(|n| n.0.clone());
    let cookie_sid = new_sid.clone().or_else(|| created.then(|| ctx.id.clone()));
    let login_sid = new_sid.unwrap_or_else(|| ctx.id.clone());
    let grant_type = res.extensions().get::<GrantTypeNote>().map(|g| g.0.clone());
    let status = res.status().as_u16();

    let (cookie_pair, session_logged_in) = {
        let mut inner = app.lock();
        inner.requests.push(LoggedRequest {
            method,
            path,
            grant_type,
            status,
        });
        let pair = cookie_sid.and_then(|id| {
            inner
                .sessions
                .get(&id)
                .map(|s| (id.clone(), s.glide_session_store.clone()))
        });
        let logged_in = inner
            .sessions
            .get(&login_sid)
            .is_some_and(|s| s.user.is_some());
        (pair, logged_in)
    };

    let h = res.headers_mut();
    if let Some((id, store)) = cookie_pair {
        append_session_cookies(h, app.settings.tls, &id, &store);
    }
    if !h.contains_key(&X_IS_LOGGED_IN) {
        h.insert(
            X_IS_LOGGED_IN.clone(),
            HeaderValue::from_static(if session_logged_in { "true" } else { "false" }),
        );
    }
    h.insert(header::SERVER, HeaderValue::from_static("snow_adc"));
    if let Ok(v) = HeaderValue::from_str(&random_hex(32)) {
        h.insert(X_TRANSACTION_ID.clone(), v);
    }
    if app.settings.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    res
}

/// Minimal HTML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; JSESSIONID=ABC; glide_session_store=X"),
        );
        assert_eq!(cookie(&h, "JSESSIONID").as_deref(), Some("ABC"));
        assert_eq!(cookie(&h, "nope"), None);
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
