//! Response building blocks shared by every endpoint, and the middleware that gives each
//! response the headers, session cookies and request-log entry a real instance would.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use hyper::body::Frame;
use serde::Serialize;

use crate::pages;
use crate::state::{random_hex, LoggedRequest, SimState};
use crate::switches::{Faults, InstanceState};

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

/// Response extension: the accept loop closes the connection instead of answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// A response body sent in chunks with a pause between them (the "slow body" fault).
struct SlowBody {
    chunks: VecDeque<Bytes>,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for SlowBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.chunks.is_empty() {
            return Poll::Ready(None);
        }
        if let Some(s) = this.sleep.as_mut() {
            if s.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.sleep = Some(Box::pin(tokio::time::sleep(this.delay)));
        Poll::Ready(this.chunks.pop_front().map(|c| Ok(Frame::data(c))))
    }
}

/// The UI paths an SSO instance redirects to its identity provider.
fn is_ui_path(path: &str) -> bool {
    path == "/"
        || (path.ends_with(".do")
            && !matches!(
                path,
                "/oauth_token.do" | "/oauth_revoke_token.do" | "/oauth_revoke.do"
            ))
}

fn edge_html(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// The request carries the cookie of a logged-in session.
fn logged_in(app: &App, headers: &HeaderMap) -> bool {
    cookie(headers, "JSESSIONID").is_some_and(|id| {
        app.lock()
            .sessions
            .get(&id)
            .is_some_and(|s| s.user.is_some())
    })
}

/// The faults that apply to this request (and consume one of `count`).
fn take_faults(app: &App, path: &str) -> Option<Faults> {
    let mut inner = app.lock();
    let f = &mut inner.switches.faults;
    if !f.any() || !path.starts_with(f.path_prefix.as_str()) {
        return None;
    }
    let applied = f.clone();
    if let Some(n) = f.count.as_mut() {
        if *n == 0 {
            return None;
        }
        *n -= 1;
        if *n == 0 {
            *f = Faults::default();
        }
    }
    Some(applied)
}

/// Outermost middleware: instance states (hibernating, edge 502, SSO, HTML login on API
/// paths) and injected faults, on every path but `/__snsim/`.
pub async fn edge_layer(State(app): State<App>, req: Request, next: Next) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path.starts_with(CONTROL_PREFIX) {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let state = app.lock().switches.instance_state;
    let short = match state {
        InstanceState::Normal => None,
        // §6.2: every path, `Accept` ignored, no error status.
        InstanceState::Hibernating => {
            Some(edge_html(StatusCode::OK, "text/html", pages::hibernating()))
        }
        InstanceState::Edge502 => Some(edge_html(
            StatusCode::BAD_GATEWAY,
            "text/html",
            pages::bad_gateway(),
        )),
        InstanceState::Sso if is_ui_path(&path) && !logged_in(&app, req.headers()) => {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            ser.append_pair(
                "RelayState",
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/"),
            );
            Some(redirect(&format!(
                "{}/idp/login?{}",
                app.settings.base,
                ser.finish()
            )))
        }
        InstanceState::ApiLoginPage if path.starts_with("/api/") => {
            Some(html(StatusCode::OK, pages::login("/", None, None)))
        }
        _ => None,
    };
    if let Some(mut res) = short {
        res.headers_mut()
            .insert(header::SERVER, HeaderValue::from_static("snow_adc"));
        app.lock().requests.push(LoggedRequest {
            method,
            path,
            grant_type: None,
            status: res.status().as_u16(),
        });
        return res;
    }

    let Some(faults) = take_faults(&app, &path) else {
        return next.run(req).await;
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.drop_connection {
        app.lock().requests.push(LoggedRequest {
            method,
            path,
            grant_type: None,
            status: 0,
        });
        let mut res = Response::new(Body::empty());
        res.extensions_mut().insert(DropConnection);
        return res;
    }
    if faults.status_500 {
        // UNCONFIRMED body: the REST error shape with a generic message.
        let mut res = rest_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            Some("snsim injected fault"),
            false,
        );
        res.headers_mut()
            .insert(header::SERVER, HeaderValue::from_static("snow_adc"));
        app.lock().requests.push(LoggedRequest {
            method,
            path,
            grant_type: None,
            status: 500,
        });
        return res;
    }
    let mut res = next.run(req).await;
    if faults.malformed_json {
        let (mut parts, _) = res.into_parts();
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        res = Response::from_parts(parts, Body::from("{\"result\":[{\"sys_id\":\"6816f79c"));
    }
    if faults.wrong_content_type {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(HTML_CONTENT_TYPE),
        );
    }
    if faults.slow_body_ms > 0 {
        let (mut parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        parts.headers.remove(header::CONTENT_LENGTH);
        let n = 8usize;
        let size = bytes.len().div_ceil(n).max(1);
        let chunks: VecDeque<Bytes> = (0..bytes.len())
            .step_by(size)
            .map(|i| bytes.slice(i..(i + size).min(bytes.len())))
            .collect();
        let pieces = chunks.len().max(1) as u64;
        let body = SlowBody {
            chunks,
            delay: Duration::from_millis(faults.slow_body_ms / pieces),
            sleep: None,
        };
        res = Response::from_parts(parts, Body::new(body));
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
