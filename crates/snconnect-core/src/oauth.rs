//! OAuth 2.0 grants through the `oauth2` crate, with ServiceNow's endpoints by default.
//!
//! Token calls go through the one configured reqwest client (no redirects, no cookies). The
//! transport captures the last response so that non-JSON answers — a hibernation page, an SSO
//! login page, an edge 502 — are classified instead of surfacing as a parse error.
//!
//! ServiceNow answers almost every token failure with one generic body,
//! `401 {"error_description":"access_denied","error":"server_error"}`; that maps to
//! `token_request_denied`, and callers that can run probes refine it.

use crate::error::{Code, Diagnosis};
use crate::http::{classify_non_json, classify_transport};
use crate::instance::InstanceUrl;
use crate::secret::Secret;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, RevocationUrl, Scope, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use url::Url;

/// The `oauth2` client with authorization and token URLs set (typestate parameters).
type SnClient = oauth2::Client<
    BasicErrorResponse,
    BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// Where the grants go. ServiceNow's by default; any standards server via custom URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Option<Url>,
}

impl Endpoints {
    pub fn servicenow(instance: &InstanceUrl) -> Self {
        Endpoints {
            auth_url: instance.join("oauth_auth.do"),
            token_url: instance.join("oauth_token.do"),
            revoke_url: Some(instance.join("oauth_revoke_token.do")),
        }
    }
}

/// An OAuth client registration as the user gave it. The secret is absent for public clients.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub endpoints: Endpoints,
    pub scope: Option<String>,
}

/// The tokens from one grant. Only [`Secret`]s: this type cannot reach a file or the UI.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<SystemTime>,
    pub scope: Option<String>,
}

/// A prepared browser sign-in: the URL to open, and what must be kept to finish it.
#[derive(Debug)]
pub struct AuthorizeRequest {
    pub url: Url,
    pub state: Secret,
    pub pkce_verifier: Option<Secret>,
    pub redirect_url: String,
}

/// A random `state`: ServiceNow requires it non-empty and without special characters.
fn random_state() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

impl ClientRegistration {
    fn oauth_client(&self, redirect_url: Option<&str>) -> Result<SnClient, Diagnosis> {
        if self.client_id.trim().is_empty() {
            return Err(Diagnosis::usage(
                "client ID",
                "it is empty; copy it from the OAuth registry record",
            ));
        }
        let mut client = BasicClient::new(ClientId::new(self.client_id.trim().to_string()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::from_url(self.endpoints.auth_url.clone()))
            .set_token_uri(TokenUrl::from_url(self.endpoints.token_url.clone()));
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        if let Some(r) = redirect_url {
            let r = RedirectUrl::new(r.to_string()).map_err(|e| {
                Diagnosis::usage("redirect URL", format!("{r:?} is not a URL: {e}"))
            })?;
            client = client.set_redirect_uri(r);
        }
        Ok(client)
    }

    /// Builds the authorize URL for the code flow (with PKCE S256 when `pkce`).
    pub fn authorize_request(
        &self,
        redirect_url: &str,
        pkce: bool,
    ) -> Result<AuthorizeRequest, Diagnosis> {
        let client = self.oauth_client(Some(redirect_url))?;
        let state = random_state();
        let state_for_url = state.clone();
        let mut req = client.authorize_url(move || CsrfToken::new(state_for_url));
        if let Some(scope) = &self.scope {
            for s in scope.split_whitespace() {
                req = req.add_scope(Scope::new(s.to_string()));
            }
        }
        let mut verifier = None;
        if pkce {
            let (challenge, v) = PkceCodeChallenge::new_random_sha256();
            req = req.set_pkce_challenge(challenge);
            verifier = Some(Secret::new(v.secret().clone()));
        }
        let (url, _) = req.url();
        Ok(AuthorizeRequest {
            url,
            state: Secret::new(state),
            pkce_verifier: verifier,
            redirect_url: redirect_url.to_string(),
        })
    }

    /// authorization_code grant.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &Secret,
        redirect_url: &str,
        pkce_verifier: Option<&Secret>,
    ) -> Result<TokenSet, Diagnosis> {
        let client = self.oauth_client(Some(redirect_url))?;
        let capture = Capture::default();
        let mut req = client.exchange_code(AuthorizationCode::new(code.expose().to_string()));
        if let Some(v) = pkce_verifier {
            req = req.set_pkce_verifier(PkceCodeVerifier::new(v.expose().to_string()));
        }
        let result = req.request_async(&capture.client(http)).await;
        finish(result, &capture, Grant::AuthorizationCode)
    }

    /// password grant (resource owner password credentials; the Postman walkthrough).
    pub async fn password_grant(
        &self,
        http: &reqwest::Client,
        username: &str,
        password: &Secret,
    ) -> Result<TokenSet, Diagnosis> {
        let client = self.oauth_client(None)?;
        let capture = Capture::default();
        let user = ResourceOwnerUsername::new(username.to_string());
        let pass = ResourceOwnerPassword::new(password.expose().to_string());
        let mut req = client.exchange_password(&user, &pass);
        if let Some(scope) = &self.scope {
            for s in scope.split_whitespace() {
                req = req.add_scope(Scope::new(s.to_string()));
            }
        }
        let result = req.request_async(&capture.client(http)).await;
        finish(result, &capture, Grant::Password)
    }

    /// client_credentials grant (Washington DC and later; ServiceNow needs the enabling property
    /// and an OAuth Application User on the registry record). No refresh token is expected.
    pub async fn client_credentials(&self, http: &reqwest::Client) -> Result<TokenSet, Diagnosis> {
        if self.client_secret.is_none() {
            return Err(Diagnosis::usage(
                "client secret",
                "the client credentials grant needs the client secret (SNCONNECT_CLIENT_SECRET)",
            ));
        }
        let client = self.oauth_client(None)?;
        let capture = Capture::default();
        let mut req = client.exchange_client_credentials();
        if let Some(scope) = &self.scope {
            for s in scope.split_whitespace() {
                req = req.add_scope(Scope::new(s.to_string()));
            }
        }
        let result = req.request_async(&capture.client(http)).await;
        finish(result, &capture, Grant::ClientCredentials)
    }

    /// Server-side revocation of a token (RFC 7009 body: `token`, `token_type_hint`, client
    /// authentication in the body). ServiceNow's `oauth_revoke_token.do` takes the same form.
    /// Over https this goes through the `oauth2` crate; the crate refuses plain-http revocation
    /// URLs, so for a loopback http URL (a local simulator or test server; `InstanceUrl` and
    /// the custom-URL parser accept http only there) the same form is posted directly.
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        token: &Secret,
        kind: TokenKind,
    ) -> Result<(), Diagnosis> {
        let Some(url) = self.endpoints.revoke_url.clone() else {
            return Err(Diagnosis::usage(
                "--revoke-url",
                "this connection has no revocation URL; add one, or use `token reset` for a local reset",
            ));
        };
        let started = std::time::Instant::now();
        let result = if url.scheme() == "https" {
            self.revoke_via_oauth2(http, url, token, kind).await
        } else {
            self.revoke_via_form(http, url, token, kind).await
        };
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "revocation"
        );
        result
    }

    async fn revoke_via_oauth2(
        &self,
        http: &reqwest::Client,
        url: Url,
        token: &Secret,
        kind: TokenKind,
    ) -> Result<(), Diagnosis> {
        let mut client = BasicClient::new(ClientId::new(self.client_id.trim().to_string()))
            .set_auth_type(AuthType::RequestBody)
            .set_revocation_url(RevocationUrl::from_url(url));
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        let revocable = match kind {
            TokenKind::Access => {
                StandardRevocableToken::AccessToken(AccessToken::new(token.expose().to_string()))
            }
            TokenKind::Refresh => {
                StandardRevocableToken::RefreshToken(RefreshToken::new(token.expose().to_string()))
            }
        };
        let capture = Capture::default();
        let req = client.revoke_token(revocable).map_err(|e| {
            Diagnosis::usage("--revoke-url", format!("not usable for revocation: {e}"))
        })?;
        let result = req.request_async(&capture.client(http)).await;
        result.map_err(|e| {
            classify_failure(e, &capture, |status, err| {
                Diagnosis::new(Code::TokenRequestDenied).with_detail(format!(
                    "revocation endpoint: HTTP {status} error={}",
                    err.error()
                ))
            })
        })
    }

    async fn revoke_via_form(
        &self,
        http: &reqwest::Client,
        url: Url,
        token: &Secret,
        kind: TokenKind,
    ) -> Result<(), Diagnosis> {
        let hint = match kind {
            TokenKind::Access => "access_token",
            TokenKind::Refresh => "refresh_token",
        };
        let mut form = vec![
            ("token", token.expose()),
            ("token_type_hint", hint),
            ("client_id", self.client_id.trim()),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose()));
        }
        let resp = http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| classify_transport(&e))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = crate::http::read_body(resp, crate::http::MAX_OAUTH_BODY).await?;
        if status == 200 {
            // A hibernating instance answers 200 with its HTML page on every path.
            if content_type.contains("text/html") {
                let d = classify_non_json(status, &content_type, &body);
                if d.code == Code::InstanceHibernating {
                    return Err(d);
                }
            }
            return Ok(());
        }
        if content_type.contains("json") {
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_default();
            let code = if error == "invalid_client" {
                Code::InvalidClient
            } else {
                Code::TokenRequestDenied
            };
            return Err(Diagnosis::new(code)
                .with_detail(format!("revocation endpoint: HTTP {status} error={error}")));
        }
        Err(classify_non_json(status, &content_type, &body))
    }

    /// refresh_token grant. When the server returns no new refresh token, the old one is kept.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &Secret,
    ) -> Result<TokenSet, Diagnosis> {
        let client = self.oauth_client(None)?;
        let capture = Capture::default();
        let rt = RefreshToken::new(refresh_token.expose().to_string());
        let result = client
            .exchange_refresh_token(&rt)
            .request_async(&capture.client(http))
            .await;
        let mut tokens = finish(result, &capture, Grant::Refresh)?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }
}

/// Which token a revocation names (`token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    Password,
    ClientCredentials,
    Refresh,
}

/// What the token endpoint actually sent, kept for classification.
#[derive(Default)]
struct Capture(
    Mutex<Option<(u16, String, Vec<u8>)>>,
    /// The answer was longer than `MAX_OAUTH_BODY` (only its start was read).
    std::sync::atomic::AtomicBool,
);

impl Capture {
    async fn send(
        &self,
        http: &reqwest::Client,
        req: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, reqwest::Error> {
        let req = reqwest::Request::try_from(req)?;
        let resp = http.execute(req).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let (body, too_large) = crate::http::read_capped(resp, crate::http::MAX_OAUTH_BODY).await?;
        self.1.store(too_large, std::sync::atomic::Ordering::SeqCst);
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        *self.0.lock().expect("capture lock") = Some((status.as_u16(), content_type, body.clone()));
        let mut out = oauth2::http::Response::builder().status(status);
        for (k, v) in headers.iter() {
            out = out.header(k, v);
        }
        // Too large: oauth2 gets nothing to parse, and the failure is classified from the flag.
        let body = if too_large { Vec::new() } else { body };
        Ok(out
            .body(body)
            .expect("status and headers came from a valid response"))
    }

    fn client<'a>(&'a self, http: &'a reqwest::Client) -> CapturingClient<'a> {
        CapturingClient {
            http,
            capture: self,
        }
    }

    fn taken(&self) -> Option<(u16, String, Vec<u8>)> {
        self.0.lock().expect("capture lock").take()
    }
}

/// The `oauth2` HTTP client: our one reqwest client, recording the response. A named type
/// (rather than a closure) so the request future is `Send` for every lifetime, as Tauri's
/// async commands require.
struct CapturingClient<'a> {
    http: &'a reqwest::Client,
    capture: &'a Capture,
}

impl<'c> oauth2::AsyncHttpClient<'c> for CapturingClient<'_> {
    type Error = reqwest::Error;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, reqwest::Error>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.capture.send(self.http, request))
    }
}

fn finish(
    result: Result<BasicTokenResponse, RequestTokenError<reqwest::Error, BasicErrorResponse>>,
    capture: &Capture,
    grant: Grant,
) -> Result<TokenSet, Diagnosis> {
    match result {
        Ok(resp) => Ok(token_set_of(&resp, SystemTime::now())),
        Err(e) => Err(classify_failure(e, capture, |status, err| {
            classify_token_error(status, err, grant)
        })),
    }
}

/// The tokens of a token response received at `now`. An `expires_in` beyond what the clock
/// can hold (a hostile or broken server) counts as no known expiry rather than a panic.
pub fn token_set_of(resp: &BasicTokenResponse, now: SystemTime) -> TokenSet {
    TokenSet {
        access_token: Secret::new(resp.access_token().secret().clone()),
        refresh_token: resp
            .refresh_token()
            .map(|r| Secret::new(r.secret().clone())),
        expires_at: resp.expires_in().and_then(|d| now.checked_add(d)),
        scope: resp.scopes().map(|s| {
            s.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }),
    }
}

/// What a token endpoint's answer means, from its status, content type and body alone: the
/// tokens of a 200 JSON token response, else the diagnosis snconnect gives (the pure part of
/// every grant, and the fuzz target's entry point).
pub fn token_answer(
    status: u16,
    content_type: &str,
    body: &[u8],
    grant: Grant,
    now: SystemTime,
) -> Result<TokenSet, Diagnosis> {
    if content_type.contains("json") {
        if status == 200 {
            if let Ok(resp) = serde_json::from_slice::<BasicTokenResponse>(body) {
                return Ok(token_set_of(&resp, now));
            }
        } else if let Ok(err) = serde_json::from_slice::<BasicErrorResponse>(body) {
            return Err(classify_token_error(status, &err, grant));
        }
    }
    Err(non_json_or_malformed(status, content_type, body))
}

/// A failed `oauth2` request: transport errors and odd bodies classified the same way for
/// every endpoint; a well-formed error body through `on_server(status, body)`.
fn classify_failure<E: oauth2::ErrorResponse>(
    e: RequestTokenError<reqwest::Error, E>,
    capture: &Capture,
    on_server: impl FnOnce(u16, &E) -> Diagnosis,
) -> Diagnosis {
    if capture.1.load(std::sync::atomic::Ordering::SeqCst) {
        let status = capture.taken().map(|c| c.0).unwrap_or(0);
        return crate::http::too_large(status, crate::http::MAX_OAUTH_BODY);
    }
    match e {
        RequestTokenError::Request(e) => classify_transport(&e),
        RequestTokenError::ServerResponse(err) => {
            let status = capture.taken().map(|c| c.0).unwrap_or(0);
            on_server(status, &err)
        }
        RequestTokenError::Parse(_, body) => match capture.taken() {
            Some((status, ct, _)) => non_json_or_malformed(status, &ct, &body),
            None => Diagnosis::new(Code::UnexpectedResponse),
        },
        RequestTokenError::Other(msg) => match capture.taken() {
            Some((status, ct, body)) => non_json_or_malformed(status, &ct, &body),
            None => Diagnosis::new(Code::UnexpectedResponse).with_detail(msg),
        },
    }
}

fn non_json_or_malformed(status: u16, content_type: &str, body: &[u8]) -> Diagnosis {
    let d = classify_non_json(status, content_type, body);
    if d.code == Code::UnexpectedResponse {
        d.with_detail(format!("token endpoint: HTTP {status}, Content-Type {content_type:?}, body is not a token response"))
    } else {
        d
    }
}

fn classify_token_error(status: u16, err: &BasicErrorResponse, grant: Grant) -> Diagnosis {
    let description = err.error_description().map(String::as_str).unwrap_or("");
    let detail = format!(
        "token endpoint: HTTP {status} error={} error_description={}",
        err.error(),
        if description.is_empty() {
            "-"
        } else {
            description
        }
    );
    let code = match err.error() {
        BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
            Code::InvalidClient
        }
        BasicErrorResponseType::InvalidGrant if grant == Grant::Refresh => {
            Code::RefreshTokenExpired
        }
        BasicErrorResponseType::InvalidGrant if grant == Grant::Password => {
            Code::InvalidUserCredentials
        }
        // ServiceNow's generic answer to a refresh: the refresh token is expired or revoked
        // (a wrong client would have failed the original grant already).
        _ if grant == Grant::Refresh && description == "access_denied" => Code::RefreshTokenExpired,
        // ServiceNow's generic 401 server_error/access_denied, and everything else: the
        // caller may refine this with probes.
        _ => Code::TokenRequestDenied,
    };
    Diagnosis::new(code).with_detail(detail)
}

/// Seconds until `expires_at`, saturating at zero.
pub fn seconds_left(expires_at: Option<SystemTime>) -> Option<u64> {
    expires_at.map(|t| {
        t.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .as_secs()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(secret: Option<&str>) -> ClientRegistration {
        let inst = InstanceUrl::parse("acme").unwrap();
        ClientRegistration {
            client_id: "abc123".into(),
            client_secret: secret.map(Secret::new),
            endpoints: Endpoints::servicenow(&inst),
            scope: None,
        }
    }

    #[test]
    fn authorize_url_has_servicenow_shape() {
        let r = reg(None)
            .authorize_request("http://127.0.0.1:8765/callback", true)
            .unwrap();
        assert_eq!(r.url.path(), "/oauth_auth.do");
        let q: std::collections::HashMap<_, _> = r.url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "abc123");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:8765/callback");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], r.state.expose());
        assert!(r.state.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(r.pkce_verifier.is_some());
        let confidential = reg(Some("s"))
            .authorize_request("http://127.0.0.1:8765/callback", false)
            .unwrap();
        assert!(!confidential.url.as_str().contains("code_challenge"));
        assert!(!confidential.url.as_str().contains("client_secret"));
    }

    #[test]
    fn generic_access_denied_maps_to_token_request_denied() {
        let body = br#"{"error_description":"access_denied","error":"server_error"}"#;
        let err: BasicErrorResponse = serde_json::from_slice(body).unwrap();
        assert_eq!(
            classify_token_error(401, &err, Grant::AuthorizationCode).code,
            Code::TokenRequestDenied
        );
        let err: BasicErrorResponse =
            serde_json::from_slice(br#"{"error":"invalid_grant"}"#).unwrap();
        assert_eq!(
            classify_token_error(400, &err, Grant::Refresh).code,
            Code::RefreshTokenExpired
        );
        let err: BasicErrorResponse =
            serde_json::from_slice(br#"{"error":"invalid_client"}"#).unwrap();
        assert_eq!(
            classify_token_error(401, &err, Grant::AuthorizationCode).code,
            Code::InvalidClient
        );
    }

    #[test]
    fn empty_client_id_names_the_field() {
        let mut r = reg(None);
        r.client_id = "  ".into();
        let d = r
            .authorize_request("http://127.0.0.1:1/callback", true)
            .unwrap_err();
        assert!(d.detail.unwrap().starts_with("client ID"));
    }

    #[test]
    fn a_huge_expires_in_is_no_known_expiry_not_a_panic() {
        let body =
            br#"{"access_token":"a","token_type":"Bearer","expires_in":18446744073709551615}"#;
        let t = token_answer(
            200,
            "application/json",
            body,
            Grant::Refresh,
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(t.expires_at, None);
        let body = br#"{"access_token":"a","token_type":"Bearer","expires_in":1799,"refresh_token":"r","scope":"useraccount"}"#;
        let t = token_answer(
            200,
            "application/json",
            body,
            Grant::Refresh,
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(
            t.expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1799))
        );
        assert_eq!(t.scope.as_deref(), Some("useraccount"));
    }

    #[test]
    fn token_answers_that_are_not_tokens() {
        let d = token_answer(
            401,
            "application/json",
            br#"{"error_description":"access_denied","error":"server_error"}"#,
            Grant::Refresh,
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(d.code, Code::RefreshTokenExpired);
        let d = token_answer(
            200,
            "application/json",
            b"{}",
            Grant::Password,
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(d.code, Code::UnexpectedResponse);
        let d = token_answer(
            200,
            "text/html",
            b"<html>Your instance is hibernating</html>",
            Grant::Password,
            SystemTime::now(),
        )
        .unwrap_err();
        assert_ne!(d.code, Code::Ok);
    }
}
