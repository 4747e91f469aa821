//! OAuth endpoints: `/oauth_auth.do` (GET and POST), `/login.do`, `/logout.do`,
//! `/oauth_token.do` (servicenow.md §1.3-1.6).

use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::header::{self, HeaderMap};
use axum::http::{Response, StatusCode, Uri};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::common::{
    html, json_raw, param, param_nonempty, parse_pairs, redirect, App, GrantTypeNote, NewSession,
    SessionCtx,
};
use crate::pages;
use crate::properties;
use crate::state::{constant_time_eq, OAuthClient};
use crate::switches::{ConfidentialPkce, DenyMode};

/// The one error body `oauth_token.do` returns for every failure (§1.5).
pub const TOKEN_ERROR_BODY: &str =
    r#"{"error_description":"access_denied","error":"server_error"}"#;

/// Parameters of `oauth_auth.do` that are not copied into the consent form.
const NOT_AUTHORIZE_PARAMS: &[&str] = &["action", "sysparm_ck"];

/// A validated authorization request.
struct AuthzRequest {
    client: OAuthClient,
    /// `response_type=token` (implicit grant).
    implicit: bool,
    /// The redirect URL that will be used: the requested one when registered, else the
    /// client's first registered URL.
    redirect_uri: String,
    state: String,
    code_challenge: Option<String>,
    /// The authorize parameters as received (for hidden inputs and `sysparm_goto`).
    params: Vec<(String, String)>,
}

impl AuthzRequest {
    fn authorize_path(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            ser.append_pair(k, v);
        }
        format!("/oauth_auth.do?{}", ser.finish())
    }
}

/// Validate the parameters of an authorize request, or return the page to show instead.
fn validate_authorize(
    app: &App,
    pairs: &[(String, String)],
) -> Result<AuthzRequest, Response<Body>> {
    let params: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !NOT_AUTHORIZE_PARAMS.contains(&k.as_str()))
        .cloned()
        .collect();
    let client = {
        let inner = app.lock();
        param(pairs, "client_id").and_then(|id| inner.client(id).cloned())
    };
    // UNCONFIRMED: the real page and status for an unknown client_id were not captured.
    let Some(client) = client else {
        return Err(html(
            StatusCode::BAD_REQUEST,
            pages::oauth_error("Invalid client_id"),
        ));
    };
    let (oauth_active, state_required, strict, confidential_pkce) = {
        let inner = app.lock();
        (
            inner.oauth_active(),
            inner.property_bool(properties::STATE_REQUIRED, true),
            inner.switches.redirect_strict,
            inner.switches.confidential_pkce,
        )
    };
    // UNCONFIRMED page text.
    if !oauth_active {
        return Err(html(
            StatusCode::BAD_REQUEST,
            pages::oauth_error("OAuth is not active on this instance"),
        ));
    }
    // Code and implicit flows. UNCONFIRMED page text.
    let implicit = match param(pairs, "response_type") {
        Some("code") => false,
        Some("token") => true,
        _ => {
            return Err(html(
                StatusCode::BAD_REQUEST,
                pages::oauth_error("Unsupported response_type"),
            ))
        }
    };
    // glide.oauth.state.parameter.required=true (default since Madrid): 200 page, no code.
    let state = match param_nonempty(pairs, "state") {
        Some(s) => s,
        None if state_required => return Err(html(StatusCode::OK, pages::missing_state())),
        None => "",
    };
    // Documented: exact match against a registered URL, else the first registered URL
    // (switch `redirect_strict`: refuse instead; UNCONFIRMED page).
    let requested = param(pairs, "redirect_uri");
    let redirect_uri = match requested {
        Some(r) if client.redirect_urls.iter().any(|u| u == r) => r.to_string(),
        Some(_) if strict => {
            return Err(html(
                StatusCode::BAD_REQUEST,
                pages::oauth_error("Invalid redirect_uri"),
            ));
        }
        _ => match client.redirect_urls.first() {
            Some(first) => first.clone(),
            None => {
                // UNCONFIRMED text.
                return Err(html(
                    StatusCode::BAD_REQUEST,
                    pages::oauth_error("No redirect URL is registered for this client"),
                ));
            }
        },
    };
    // PKCE: S256 only. Public / PKCE-required clients must send a challenge.
    // UNCONFIRMED: status and text of the real error pages.
    let challenge = param_nonempty(pairs, "code_challenge");
    let method = param(pairs, "code_challenge_method");
    let code_challenge = match challenge {
        Some(c) => {
            if method != Some("S256") {
                return Err(html(
                    StatusCode::BAD_REQUEST,
                    pages::oauth_error("Unsupported code_challenge_method: S256 is required"),
                ));
            }
            if !is_pkce_value(c) {
                return Err(html(
                    StatusCode::BAD_REQUEST,
                    pages::oauth_error("Invalid code_challenge"),
                ));
            }
            // A confidential client's challenge, per the (UNCONFIRMED) switch.
            let ignored = !client.public_client
                && !client.pkce_required
                && confidential_pkce == ConfidentialPkce::Ignore;
            (!ignored).then(|| c.to_string())
        }
        None if !implicit && (client.public_client || client.pkce_required) => {
            return Err(html(
                StatusCode::BAD_REQUEST,
                pages::oauth_error("PKCE is required for this client: send code_challenge with code_challenge_method=S256"),
            ));
        }
        None => None,
    };
    Ok(AuthzRequest {
        client,
        implicit,
        redirect_uri,
        state: state.to_string(),
        code_challenge,
        params,
    })
}

/// RFC 7636 §4.1 / §4.2 alphabet and length (43-128 unreserved characters).
fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `redirect` with query parameters appended (`?` or `&`), before any fragment.
pub fn with_query(redirect: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match redirect.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (redirect, None),
    };
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let sep = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    let mut out = format!("{base}{sep}{}", ser.finish());
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn login_page(app: &App, goto: &str, error: Option<&str>) -> Response<Body> {
    let hint = if app.settings.demo_hint {
        app.lock().user("admin").map(|u| u.password.clone())
    } else {
        None
    };
    html(StatusCode::OK, pages::login(goto, error, hint.as_deref()))
}

/// `(name, value)` pairs with `state` left out when it is empty (state not required).
fn with_state<'a>(mut pairs: Vec<(&'a str, &'a str)>, state: &'a str) -> Vec<(&'a str, &'a str)> {
    if !state.is_empty() {
        pairs.push(("state", state));
    }
    pairs
}

fn issue_code_redirect(app: &App, req: &AuthzRequest, user: &str) -> Response<Body> {
    if req.implicit {
        // c_OAuthImplicitGrants.md: the redirect carries the access token; no refresh token.
        let (token, expires_in) = app.lock().access_token_for(&req.client, user);
        let expires = expires_in.to_string();
        return redirect(&with_query(
            &req.redirect_uri,
            &with_state(
                vec![
                    ("access_token", &token),
                    ("token_type", "Bearer"),
                    ("expires_in", &expires),
                    ("scope", "useraccount"),
                ],
                &req.state,
            ),
        ));
    }
    let code = app.lock().issue_code(
        &req.client.client_id,
        user,
        &req.redirect_uri,
        req.code_challenge.clone(),
    );
    redirect(&with_query(
        &req.redirect_uri,
        &with_state(vec![("code", &code)], &req.state),
    ))
}

fn consent_page(app: &App, req: &AuthzRequest, sess: &SessionCtx, user: &str) -> Response<Body> {
    let display = app
        .lock()
        .user(user)
        .map(|u| u.display_name())
        .unwrap_or_else(|| user.to_string());
    let mut hidden = req.params.clone();
    hidden.push(("sysparm_ck".to_string(), sess.ck.clone()));
    let not_you = {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("sysparm_goto", &req.authorize_path());
        format!("/logout.do?{}", ser.finish())
    };
    html(
        StatusCode::OK,
        pages::consent(&req.client.name, &display, &hidden, &not_you),
    )
}

/// The logged-in user of the session, if the user still exists and is active.
fn session_user(app: &App, sess: &SessionCtx) -> Option<String> {
    let user = sess.user.as_deref()?;
    let inner = app.lock();
    inner
        .user(user)
        .filter(|u| u.active)
        .map(|u| u.user_name.clone())
}

/// `GET /oauth_auth.do`.
pub async fn authorize_get(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    uri: Uri,
) -> Response<Body> {
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let req = match validate_authorize(&app, &pairs) {
        Ok(r) => r,
        Err(page) => return page,
    };
    if app.settings.auto_approve {
        let user = app.settings.auto_approve_user.clone();
        let known = app.lock().user(&user).is_some_and(|u| u.active);
        if !known {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::oauth_error("auto_approve_user does not exist"),
            );
        }
        return issue_code_redirect(&app, &req, &user);
    }
    match session_user(&app, &sess) {
        // sysparm_goto = the original path and query, byte for byte.
        None => {
            let original = uri
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| req.authorize_path());
            login_page(&app, &original, None)
        }
        Some(user) => consent_page(&app, &req, &sess, &user),
    }
}

/// `POST /oauth_auth.do`: the consent form (`action=allow|deny`).
pub async fn authorize_post(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    body: Bytes,
) -> Response<Body> {
    let pairs = parse_pairs(&body);
    let req = match validate_authorize(&app, &pairs) {
        Ok(r) => r,
        Err(page) => return page,
    };
    let Some(user) = session_user(&app, &sess) else {
        return login_page(&app, &req.authorize_path(), None);
    };
    // Anti-CSRF: the form must come from a page rendered in this session.
    // UNCONFIRMED: the real instance's reaction to a bad sysparm_ck.
    let ck_ok = param(&pairs, "sysparm_ck")
        .is_some_and(|ck| constant_time_eq(ck.as_bytes(), sess.ck.as_bytes()));
    if !ck_ok {
        return html(
            StatusCode::BAD_REQUEST,
            pages::oauth_error("Invalid security token (sysparm_ck)"),
        );
    }
    match param(&pairs, "action") {
        Some("allow") => issue_code_redirect(&app, &req, &user),
        // UNCONFIRMED: the redirect after Deny is not documented; this is RFC 6749 §4.1.2.1.
        // The user stays logged in ("you are not logged out").
        Some("deny") => match app.lock().switches.deny {
            DenyMode::Redirect => redirect(&with_query(
                &req.redirect_uri,
                &with_state(
                    vec![
                        ("error", "access_denied"),
                        (
                            "error_description",
                            "The user denied the authorization request",
                        ),
                    ],
                    &req.state,
                ),
            )),
            DenyMode::Page => html(StatusCode::OK, pages::access_denied()),
        },
        _ => html(
            StatusCode::BAD_REQUEST,
            pages::oauth_error("Missing action"),
        ),
    }
}

/// Accept only a relative path (`/…`, not `//…` nor `/\…`) as a post-login target.
pub fn safe_goto(goto: Option<&str>) -> String {
    match goto {
        Some(g)
            if g.starts_with('/')
                && !g.starts_with("//")
                && !g.starts_with("/\\")
                && !g.chars().any(|c| c.is_control()) =>
        {
            g.to_string()
        }
        _ => "/".to_string(),
    }
}

/// `GET /login.do`.
pub async fn login_get(State(app): State<App>, uri: Uri) -> Response<Body> {
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let goto = safe_goto(param(&pairs, "sysparm_goto"));
    login_page(&app, &goto, None)
}

/// `POST /login.do`: good credentials start a new session bound to the user.
pub async fn login_post(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    body: Bytes,
) -> Response<Body> {
    let pairs = parse_pairs(&body);
    let goto = safe_goto(param(&pairs, "sysparm_goto"));
    let user_name = param(&pairs, "user_name").unwrap_or("");
    let password = param(&pairs, "user_password").unwrap_or("");
    let new_id = {
        let mut inner = app.lock();
        match inner
            .check_password(user_name, password)
            .map(|u| u.user_name.clone())
        {
            Some(user) => {
                // A fresh session id on login (no session fixation).
                inner.logout_session(&sess.id);
                Some(inner.new_session(Some(user)))
            }
            None => None,
        }
    };
    match new_id {
        Some(id) => {
            let mut res = redirect(&goto);
            res.extensions_mut().insert(NewSession(id));
            res
        }
        None => login_page(&app, &goto, Some("User name or password invalid")),
    }
}

/// `GET /logout.do`: end the session, then go to `sysparm_goto` (relative) or the login page.
pub async fn logout(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    uri: Uri,
) -> Response<Body> {
    let pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    let goto = match param(&pairs, "sysparm_goto") {
        Some(g) => safe_goto(Some(g)),
        None => "/login.do".to_string(),
    };
    let id = {
        let mut inner = app.lock();
        inner.logout_session(&sess.id);
        inner.new_session(None)
    };
    let mut res = redirect(&goto);
    res.extensions_mut().insert(NewSession(id));
    res
}

/// The token success body; field order is the wire order.
#[derive(Debug, Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: &'static str,
    token_type: &'static str,
    expires_in: u64,
}

fn token_error(status: StatusCode) -> Response<Body> {
    json_raw(status, TOKEN_ERROR_BODY.to_string(), false)
}

/// Client credentials from the body and (when accepted) an HTTP Basic header.
fn client_credentials(
    accept_basic: bool,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Option<(String, Option<String>)> {
    let body_id = param_nonempty(pairs, "client_id").map(str::to_string);
    let body_secret = param_nonempty(pairs, "client_secret").map(str::to_string);
    let basic = if accept_basic {
        basic_credentials(headers).map(|(id, secret)| {
            // RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (dec(&id), dec(&secret))
        })
    } else {
        None
    };
    match (body_id, basic) {
        (Some(id), Some((bid, bsecret))) => {
            if id != bid {
                return None;
            }
            Some((id, Some(bsecret).filter(|s| !s.is_empty()).or(body_secret)))
        }
        (Some(id), None) => Some((id, body_secret)),
        (None, Some((bid, bsecret))) => Some((bid, Some(bsecret).filter(|s| !s.is_empty()))),
        (None, None) => None,
    }
}

/// `user:password` from `Authorization: Basic …`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

fn secret_matches(client: &OAuthClient, secret: Option<&str>) -> bool {
    match (&client.client_secret, secret) {
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    }
}

fn pkce_matches(challenge: &str, verifier: Option<&str>) -> bool {
    let Some(v) = verifier else { return false };
    if !is_pkce_value(v) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// `POST /oauth_token.do`.
pub async fn token(
    State(app): State<App>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response<Body> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        // "application/json results in an unspecified error" (r_OAuthAPIRequestParameters.md).
        // UNCONFIRMED status/body; default 400 with the generic body.
        let status = StatusCode::from_u16(app.lock().switches.json_token_body_status)
            .unwrap_or(StatusCode::BAD_REQUEST);
        return token_error(status);
    }
    let mut pairs = parse_pairs(&body);
    // With glide.oauth.allow.parameters.in.post.body.only=false the query string counts too.
    let body_only = app.lock().property_bool(properties::POST_BODY_ONLY, true);
    if !body_only {
        pairs.extend(parse_pairs(uri.query().unwrap_or("").as_bytes()));
    }
    let grant_type = param(&pairs, "grant_type").unwrap_or("").to_string();
    let mut res = token_inner(&app, &headers, &uri, &pairs, &grant_type);
    if !grant_type.is_empty() {
        res.extensions_mut().insert(GrantTypeNote(grant_type));
    }
    res
}

fn token_inner(
    app: &App,
    headers: &HeaderMap,
    uri: &Uri,
    pairs: &[(String, String)],
    grant_type: &str,
) -> Response<Body> {
    let deny = || token_error(StatusCode::UNAUTHORIZED);
    let mut inner = app.lock();
    if !inner.oauth_active() {
        return deny();
    }
    // glide.oauth.allow.parameters.in.post.body.only: query-string parameters are refused.
    if inner.property_bool(properties::POST_BODY_ONLY, true)
        && uri.query().is_some_and(|q| !q.is_empty())
    {
        return deny();
    }
    let sw = inner.switches.clone();
    let Some((client_id, secret)) = client_credentials(sw.basic_client_auth, headers, pairs) else {
        return deny();
    };
    let Some(client) = inner.client(&client_id).cloned() else {
        return deny();
    };
    let confidential_ok = !client.public_client && secret_matches(&client, secret.as_deref());

    let (user, with_refresh) = match grant_type {
        "authorization_code" => {
            // The code is burnt as soon as it is presented (single use).
            let Some(code) = param(pairs, "code").and_then(|c| inner.take_code(c)) else {
                return deny();
            };
            if code.client_id != client.client_id {
                return deny();
            }
            if param(pairs, "redirect_uri") != Some(code.redirect_uri.as_str()) {
                return deny();
            }
            let verifier = param(pairs, "code_verifier");
            let pkce_ok = match &code.code_challenge {
                Some(ch) => pkce_matches(ch, verifier),
                None => true,
            };
            let client_ok = if client.public_client {
                code.code_challenge.is_some()
            } else {
                confidential_ok
            };
            if !(pkce_ok && client_ok) {
                return deny();
            }
            (code.user, true)
        }
        "password" => {
            if !confidential_ok || inner.property_bool(properties::ROPC_DISABLED, false) {
                return deny();
            }
            let user = param(pairs, "username").unwrap_or("");
            let password = param(pairs, "password").unwrap_or("");
            match inner.check_password(user, password) {
                Some(u) => (u.user_name.clone(), true),
                None => return deny(),
            }
        }
        "refresh_token" => {
            let client_ok = if client.public_client {
                sw.public_client_refresh
            } else {
                confidential_ok
            };
            if !client_ok {
                return deny();
            }
            let now = inner.now();
            let Some(rt) = param(pairs, "refresh_token")
                .and_then(|t| inner.refresh_tokens.get(t))
                .filter(|t| t.expires_at > now && t.client_id == client.client_id)
                .cloned()
            else {
                return deny();
            };
            // Refresh "returns only an access token" (switch `refresh_echo`).
            (rt.user, sw.refresh_echo)
        }
        // Since Washington DC: only with the property true and an OAuth Application User
        // on the entity; no refresh token (client-credentials.md; §1.4).
        "client_credentials" => {
            if !confidential_ok || !inner.property_bool(properties::CLIENT_CREDENTIALS, false) {
                return deny();
            }
            let Some(user) = client
                .application_user
                .as_deref()
                .and_then(|id| inner.user_by_sys_id(id).or_else(|| inner.user(id)))
                .map(|u| u.user_name.clone())
            else {
                return deny();
            };
            (user, false)
        }
        // JWT bearer (create-jwt-endpoint.md): the assertion is signed by the entity's
        // verifier key; `aud` = client_id; `sub` = user_name, email or sys_id; no refresh
        // token. Confidential clients also authenticate with their secret.
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            if !(client.public_client || confidential_ok) {
                return deny();
            }
            let now = inner.now();
            let Some(claims) = client.jwt_spki.as_deref().and_then(|spki| {
                param(pairs, "assertion")
                    .and_then(|a| crate::jwt::verify(a, spki, &client.client_id, now))
            }) else {
                return deny();
            };
            let Some(user) = inner
                .users
                .iter()
                .find(|u| {
                    u.user_name == claims.sub || u.email == claims.sub || u.sys_id == claims.sub
                })
                .map(|u| u.user_name.clone())
            else {
                return deny();
            };
            (user, false)
        }
        _ => return deny(),
    };
    if !inner.user(&user).is_some_and(|u| u.active) {
        return deny();
    }
    let (access, expires_in) = inner.access_token_for(&client, &user);
    let refresh = with_refresh.then(|| inner.refresh_token_for(&client, &user));
    drop(inner);
    let body = TokenResponse {
        access_token: &access,
        refresh_token: refresh.as_deref(),
        scope: "useraccount",
        token_type: "Bearer",
        expires_in,
    };
    let text = serde_json::to_string(&body).unwrap_or_default();
    json_raw(StatusCode::OK, text, false)
}

/// `GET|POST /oauth_revoke_token.do` and `/oauth_revoke.do`: no authentication; the token
/// (access or refresh, `token` in the query or the form body) is marked expired
/// (t_RevokeOAuthToken.md). UNCONFIRMED: status and body (200, empty, even for an unknown
/// token) and whether revoking one kind also revokes the other (it does not here).
pub async fn revoke(State(app): State<App>, uri: Uri, body: Bytes) -> Response<Body> {
    let mut pairs = parse_pairs(uri.query().unwrap_or("").as_bytes());
    pairs.extend(parse_pairs(&body));
    if let Some(t) = param_nonempty(&pairs, "token") {
        app.lock().revoke(t);
    }
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::OK;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_appending() {
        assert_eq!(
            with_query(
                "http://127.0.0.1:8765/callback",
                &[("code", "a b"), ("state", "s&t")]
            ),
            "http://127.0.0.1:8765/callback?code=a+b&state=s%26t"
        );
        assert_eq!(
            with_query("http://h/cb?x=1#frag", &[("code", "c")]),
            "http://h/cb?x=1&code=c#frag"
        );
    }

    #[test]
    fn goto_is_relative_only() {
        assert_eq!(safe_goto(Some("/oauth_auth.do?a=b")), "/oauth_auth.do?a=b");
        assert_eq!(safe_goto(Some("https://evil.example/")), "/");
        assert_eq!(safe_goto(Some("//evil.example/")), "/");
        assert_eq!(safe_goto(Some("/\\evil.example/")), "/");
        assert_eq!(safe_goto(None), "/");
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, Some(verifier)));
        assert!(!pkce_matches(challenge, Some("x".repeat(43).as_str())));
        assert!(!pkce_matches(challenge, None));
    }
}
