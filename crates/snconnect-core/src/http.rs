//! The one HTTP client, and the classification of transport failures and odd responses.
//!
//! Every request snconnect makes goes through a client from [`build_client`]: rustls with the OS
//! roots (plus an optional extra CA), system proxy or a manual one or none, connect and total
//! timeouts, **no redirects** (oauth2's SSRF advice; a 302 from an instance is a finding, not
//! something to follow), **no cookie store** (a leftover ServiceNow session cookie must never make
//! a test pass), and a User-Agent.

use crate::error::{Code, Diagnosis};
use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

pub const USER_AGENT: &str = concat!("snconnect/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyMode {
    /// HTTP(S)_PROXY / NO_PROXY and the OS settings reqwest understands.
    #[default]
    System,
    /// Never use a proxy.
    None,
    /// Use this proxy URL for everything.
    Manual(String),
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Extra trusted CA certificates, PEM (from `--ca-file`, or the demo simulator).
    pub extra_ca_pem: Vec<Vec<u8>>,
    pub proxy: ProxyMode,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            extra_ca_pem: Vec::new(),
            proxy: ProxyMode::System,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl HttpConfig {
    /// Adds the PEM file at `path` as a trusted CA; errors name the file.
    pub fn add_ca_file(&mut self, path: &PathBuf) -> Result<(), Diagnosis> {
        let pem = std::fs::read(path).map_err(|e| {
            Diagnosis::usage("--ca-file", format!("cannot read {}: {e}", path.display()))
        })?;
        reqwest::Certificate::from_pem(&pem).map_err(|e| {
            Diagnosis::usage(
                "--ca-file",
                format!("{} is not a PEM certificate: {e}", path.display()),
            )
        })?;
        self.extra_ca_pem.push(pem);
        Ok(())
    }

    /// Checks a manual proxy URL now, so the error names `--proxy` before any work is done
    /// (the client itself may be built later, on first use).
    pub fn check_proxy(&self) -> Result<(), Diagnosis> {
        if let ProxyMode::Manual(url) = &self.proxy {
            manual_proxy(url)?;
        }
        Ok(())
    }
}

fn manual_proxy(url: &str) -> Result<reqwest::Proxy, Diagnosis> {
    reqwest::Proxy::all(url)
        .map_err(|e| Diagnosis::usage("--proxy", format!("{url:?} is not a proxy URL: {e}")))
}

/// Builds the configured client. Cheap to clone; build once per run.
pub fn build_client(cfg: &HttpConfig) -> Result<reqwest::Client, Diagnosis> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(SystemResolver))
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.request_timeout)
        .user_agent(USER_AGENT);
    for pem in &cfg.extra_ca_pem {
        let cert = reqwest::Certificate::from_pem(pem)
            .map_err(|e| Diagnosis::usage("--ca-file", format!("not a PEM certificate: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    builder = match &cfg.proxy {
        ProxyMode::System => builder,
        ProxyMode::None => builder.no_proxy(),
        ProxyMode::Manual(url) => builder.proxy(manual_proxy(url)?),
    };
    builder.build().map_err(|e| {
        Diagnosis::new(Code::UnexpectedResponse).with_detail(format!("HTTP client: {e}"))
    })
}

/// A host name that did not resolve: our resolver's own error type, so a DNS failure is
/// recognised by its type in the error chain, not by the wording of a library's message.
#[derive(Debug)]
pub struct DnsFailed {
    host: String,
    source: Option<std::io::Error>,
}

impl std::fmt::Display for DnsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(e) => write!(f, "could not resolve {}: {e}", self.host),
            None => write!(f, "could not resolve {}: no address", self.host),
        }
    }
}

impl StdError for DnsFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// The system resolver (getaddrinfo, off the async workers, as reqwest's default) reporting
/// failures as [`DnsFailed`].
struct SystemResolver;

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let failed = |source| -> Box<dyn StdError + Send + Sync> {
                Box::new(DnsFailed {
                    host: host.clone(),
                    source,
                })
            };
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| failed(Some(e)))?
                .collect();
            if addrs.is_empty() {
                return Err(failed(None));
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What the error chain holds, by type: our resolver's failure, a rustls error (directly or
/// inside an `io::Error`, as tokio-rustls reports it), the kinds of the `io::Error`s.
#[derive(Default)]
struct Causes<'a> {
    dns: bool,
    tls: Option<&'a rustls::Error>,
    io_kinds: Vec<std::io::ErrorKind>,
}

fn causes<'a>(err: &'a (dyn StdError + 'static)) -> Causes<'a> {
    let mut found = Causes::default();
    // Each error's source, and for an io::Error the error it wraps (its `source` skips that
    // one; reqwest nests io::Errors around rustls's), depth-bounded.
    let mut todo: Vec<&(dyn StdError + 'static)> = vec![err];
    let mut seen = 0;
    while let Some(e) = todo.pop() {
        seen += 1;
        if seen > 32 {
            break;
        }
        if e.downcast_ref::<DnsFailed>().is_some() {
            found.dns = true;
        }
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            found.tls.get_or_insert(t);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            found.io_kinds.push(io.kind());
            if let Some(inner) = io.get_ref() {
                todo.push(inner);
            }
        }
        if let Some(src) = e.source() {
            todo.push(src);
        }
    }
    found
}

/// Classifies a transport-level failure (no HTTP response was received) from the types in its
/// error chain and reqwest's own flags; the text is only the detail line.
pub fn classify_transport(err: &reqwest::Error) -> Diagnosis {
    let found = causes(err);
    let code = if found.dns {
        Code::DnsFailure
    } else if let Some(t) = found.tls {
        match t {
            rustls::Error::InvalidCertificate(_) => Code::TlsUntrustedCertificate,
            _ => Code::TlsHandshakeFailed,
        }
    } else if err.is_connect()
        && err.url().is_some_and(|u| u.scheme() == "https")
        && found.io_kinds.iter().any(|k| {
            matches!(
                k,
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            )
        })
    {
        // The TCP connection was made and the peer hung up during the TLS handshake.
        Code::TlsHandshakeFailed
    } else if err.is_timeout() && err.is_connect() {
        Code::ConnectTimeout
    } else if err.is_timeout() {
        Code::RequestTimeout
    } else if found
        .io_kinds
        .contains(&std::io::ErrorKind::ConnectionRefused)
        || err.is_connect()
    {
        Code::ConnectionRefused
    } else {
        // A body or decode failure, or something reqwest could not name more precisely.
        Code::UnexpectedResponse
    };
    Diagnosis::new(code).with_detail(strip_urls(&error_chain(err)))
}

/// The most snconnect reads of a REST answer (a 1,000-row Table API page is far less).
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// The most it reads of an OAuth endpoint's answer (a token response is a few hundred bytes).
pub const MAX_OAUTH_BODY: usize = 256 * 1024;

/// Reads a body up to `limit` bytes, chunk by chunk; `true` when it was longer (the rest is
/// not read). A hostile or broken server cannot make snconnect hold more than `limit`.
pub async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok((Vec::new(), true));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() + chunk.len() > limit {
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}

/// [`read_capped`] for the REST calls: a longer body is `unexpected_response`.
pub async fn read_body(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Diagnosis> {
    let status = resp.status().as_u16();
    match read_capped(resp, limit).await {
        Ok((body, false)) => Ok(body),
        Ok((_, true)) => Err(too_large(status, limit)),
        Err(e) => Err(classify_transport(&e)),
    }
}

pub fn too_large(status: u16, limit: usize) -> Diagnosis {
    Diagnosis::new(Code::UnexpectedResponse).with_detail(format!(
        "HTTP {status}: the answer is larger than {} KiB, more than snconnect reads",
        limit / 1024
    ))
}

/// The error and its sources, joined, for classification and detail lines.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut src = err.source();
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    parts.join(": ")
}

/// reqwest errors print the request URL, whose query may carry a code or token: drop it.
fn strip_urls(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            let t = w.trim_matches(|c| c == '(' || c == ')');
            match url::Url::parse(t) {
                Ok(u) if u.query().is_some() => {
                    let mut u = u;
                    u.set_query(None);
                    w.replace(t, u.as_str())
                }
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a response body looks like, for classifying non-JSON answers.
pub fn classify_non_json(status: u16, content_type: &str, body: &[u8]) -> Diagnosis {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).to_ascii_lowercase();
    let is_html = content_type.to_ascii_lowercase().contains("text/html")
        || text.trim_start().starts_with("<!doctype html")
        || text.trim_start().starts_with("<html");
    let detail = format!("HTTP {status}, Content-Type {content_type:?}");
    if is_html && (text.contains("hibernating") || text.contains("instance hibernating page")) {
        return Diagnosis::new(Code::InstanceHibernating).with_detail(detail);
    }
    // A server error, whatever its body (a token endpoint's 500 included): the instance side.
    if (500..=599).contains(&status) {
        return Diagnosis::new(Code::InstanceUnavailable).with_detail(detail);
    }
    if is_html {
        return Diagnosis::new(Code::UnexpectedHtml).with_detail(detail);
    }
    Diagnosis::new(Code::UnexpectedResponse).with_detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hibernation_page_is_recognised_even_with_200() {
        let page = b"<html><head><title>Instance Hibernating page</title></head><body><h1>Your instance is hibernating</h1></body></html>";
        assert_eq!(
            classify_non_json(200, "text/html", page).code,
            Code::InstanceHibernating
        );
    }

    #[test]
    fn other_bodies() {
        assert_eq!(
            classify_non_json(200, "text/html;charset=UTF-8", b"<html>login</html>").code,
            Code::UnexpectedHtml
        );
        assert_eq!(
            classify_non_json(502, "text/html", b"<html>Bad gateway</html>").code,
            Code::InstanceUnavailable
        );
        assert_eq!(
            classify_non_json(500, "text/plain", b"Internal Server Error").code,
            Code::InstanceUnavailable
        );
        assert_eq!(
            classify_non_json(200, "application/json", b"{not json").code,
            Code::UnexpectedResponse
        );
    }

    #[test]
    fn url_queries_are_stripped_from_details() {
        let s = strip_urls(
            "error sending request for url (http://127.0.0.1:1/callback?code=SECRET&state=x)",
        );
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("http://127.0.0.1:1/callback"), "{s}");
    }

    #[tokio::test]
    async fn refused_connection_is_classified() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = build_client(&HttpConfig::default()).unwrap();
        let err = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify_transport(&err).code, Code::ConnectionRefused);
    }

    #[tokio::test]
    async fn bodies_are_read_up_to_a_limit() {
        let resp = |n: usize| reqwest::Response::from(http::Response::new(vec![b'x'; n]));
        assert_eq!(read_body(resp(10), 10).await.unwrap().len(), 10);
        let d = read_body(resp(11), 10).await.unwrap_err();
        assert_eq!(d.code, Code::UnexpectedResponse);
        assert!(d.detail.unwrap().contains("larger than"), "names why");
        let (start, more) = read_capped(resp(MAX_OAUTH_BODY + 1), MAX_OAUTH_BODY)
            .await
            .unwrap();
        assert!(more && start.len() <= MAX_OAUTH_BODY);
    }

    #[tokio::test]
    async fn an_unresolvable_host_is_found_by_type() {
        // RFC 6761: .invalid never resolves.
        let client = build_client(&HttpConfig::default()).unwrap();
        let err = client
            .get("https://snconnect-test.invalid/")
            .send()
            .await
            .unwrap_err();
        assert!(
            causes(&err).dns,
            "our resolver's DnsFailed is in the chain: {err:?}"
        );
        assert_eq!(classify_transport(&err).code, Code::DnsFailure);
    }

    #[test]
    fn bad_proxy_names_the_field() {
        let cfg = HttpConfig {
            proxy: ProxyMode::Manual("::not a url::".into()),
            ..Default::default()
        };
        let d = build_client(&cfg).unwrap_err();
        assert!(d.detail.unwrap().starts_with("--proxy"));
    }
}
