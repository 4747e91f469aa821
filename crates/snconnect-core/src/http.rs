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
}

/// Builds the configured client. Cheap to clone; build once per run.
pub fn build_client(cfg: &HttpConfig) -> Result<reqwest::Client, Diagnosis> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
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
        ProxyMode::Manual(url) => builder.proxy(reqwest::Proxy::all(url).map_err(|e| {
            Diagnosis::usage("--proxy", format!("{url:?} is not a proxy URL: {e}"))
        })?),
    };
    builder.build().map_err(|e| {
        Diagnosis::new(Code::UnexpectedResponse).with_detail(format!("HTTP client: {e}"))
    })
}

/// Classifies a transport-level failure (no HTTP response was received).
pub fn classify_transport(err: &reqwest::Error) -> Diagnosis {
    let chain = error_chain(err);
    let lower = chain.to_ascii_lowercase();
    let code = if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated")
    {
        Code::DnsFailure
    } else if lower.contains("unknownissuer")
        || lower.contains("unknown issuer")
        || lower.contains("invalidcertificate")
        || lower.contains("invalid peer certificate")
        || lower.contains("self-signed")
        || lower.contains("notvalidforname")
    {
        Code::TlsUntrustedCertificate
    } else if lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("rustls")
        // rustls on a port that does not speak TLS: "received corrupt message of type
        // InvalidContentType" (reqwest calls it a connect error).
        || lower.contains("corrupt message")
    {
        Code::TlsHandshakeFailed
    } else if err.is_timeout() && (err.is_connect() || lower.contains("connect")) {
        Code::ConnectTimeout
    } else if err.is_timeout() {
        Code::RequestTimeout
    } else if err.is_connect() || lower.contains("connection refused") {
        Code::ConnectionRefused
    } else {
        // A body or decode failure, or something reqwest could not name more precisely.
        Code::UnexpectedResponse
    };
    Diagnosis::new(code).with_detail(strip_urls(&chain))
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
    if matches!(status, 502..=504) {
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
