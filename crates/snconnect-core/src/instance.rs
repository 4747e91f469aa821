//! Instance URL normalisation.
//!
//! Accepted forms: a bare name (`acme` → `https://acme.service-now.com/`), a host
//! (`acme.service-now.com`, `x.servicenowservices.com`, a custom domain), or a URL, with or
//! without a path such as `/api/now/v2` (Boomi's "base URL" form) — the path is dropped, the
//! instance is its origin. https only; plain http is accepted for loopback addresses
//! (127.0.0.0/8, ::1, localhost) so local simulators work.

use crate::error::{Code, Diagnosis};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

/// A normalised instance base URL: scheme, host and optional port, path `/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct InstanceUrl(Url);

impl InstanceUrl {
    pub fn parse(input: &str) -> Result<Self, Diagnosis> {
        let raw = input.trim();
        let bad = |why: &str| {
            Diagnosis::new(Code::InvalidInstanceUrl).with_detail(format!("instance {raw:?}: {why}"))
        };
        if raw.is_empty() {
            return Err(bad("it is empty"));
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(bad("it contains spaces"));
        }
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else if is_bare_name(raw) {
            format!("https://{}.service-now.com/", raw.to_ascii_lowercase())
        } else {
            format!("https://{raw}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(Diagnosis::new(Code::InsecureUrlRefused)
                    .with_detail(format!("instance {raw:?} uses http://")))
            }
            other => return Err(bad(&format!("unsupported scheme {other}://"))),
        }
        if url.host().is_none() {
            return Err(bad("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "credentials do not belong in the URL; snconnect asks for them separately",
            ));
        }
        let mut origin = url.clone();
        origin.set_path("/");
        origin.set_query(None);
        origin.set_fragment(None);
        Ok(InstanceUrl(origin))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host (and port, when not the default), for labels and reports.
    pub fn host_label(&self) -> String {
        let host = self.0.host_str().unwrap_or_default();
        match self.0.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// `path` joined to the instance root, e.g. `oauth_token.do`.
    pub fn join(&self, path: &str) -> Url {
        self.0
            .join(path.trim_start_matches('/'))
            .expect("a relative path joins onto an http(s) origin")
    }

    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.0)
    }
}

impl fmt::Display for InstanceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

fn is_bare_name(s: &str) -> bool {
    !s.contains('.')
        && !s.contains(':')
        && !s.contains('/')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.eq_ignore_ascii_case("localhost")
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        InstanceUrl::parse(s).unwrap().to_string()
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(norm("acme"), "https://acme.service-now.com/");
        assert_eq!(norm("  ACME "), "https://acme.service-now.com/");
        assert_eq!(norm("dev8954"), "https://dev8954.service-now.com/");
        assert_eq!(
            norm("acme.service-now.com"),
            "https://acme.service-now.com/"
        );
        assert_eq!(
            norm("x.servicenowservices.com"),
            "https://x.servicenowservices.com/"
        );
        assert_eq!(norm("itsm.example.org"), "https://itsm.example.org/");
        assert_eq!(
            norm("https://acme.service-now.com"),
            "https://acme.service-now.com/"
        );
        assert_eq!(
            norm("https://dev8954.service-now.com/api/now/v2"),
            "https://dev8954.service-now.com/"
        );
        assert_eq!(
            norm("https://acme.service-now.com/now/nav/ui?x=1#f"),
            "https://acme.service-now.com/"
        );
        assert_eq!(
            norm("https://acme.service-now.com:8443/"),
            "https://acme.service-now.com:8443/"
        );
        assert_eq!(
            norm("http://127.0.0.1:9000/api/now/v2"),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(norm("http://127.3.4.5:1"), "http://127.3.4.5:1/");
        assert_eq!(norm("http://[::1]:9000"), "http://[::1]:9000/");
        assert_eq!(norm("http://localhost:9000"), "http://localhost:9000/");
    }

    #[test]
    fn refused_forms() {
        let code = |s: &str| InstanceUrl::parse(s).unwrap_err().code;
        assert_eq!(code(""), Code::InvalidInstanceUrl);
        assert_eq!(code("acme corp"), Code::InvalidInstanceUrl);
        assert_eq!(code("ftp://acme.service-now.com"), Code::InvalidInstanceUrl);
        assert_eq!(
            code("https://user:pw@acme.service-now.com"),
            Code::InvalidInstanceUrl
        );
        assert_eq!(
            code("http://acme.service-now.com"),
            Code::InsecureUrlRefused
        );
        assert_eq!(code("http://10.0.0.5"), Code::InsecureUrlRefused);
    }

    #[test]
    fn errors_name_the_field() {
        let d = InstanceUrl::parse("acme corp").unwrap_err();
        assert!(d.detail.unwrap().starts_with("instance \"acme corp\""));
    }

    #[test]
    fn join_and_label() {
        let i = InstanceUrl::parse("https://acme.service-now.com/api/now/v2").unwrap();
        assert_eq!(
            i.join("/oauth_token.do").as_str(),
            "https://acme.service-now.com/oauth_token.do"
        );
        assert_eq!(i.host_label(), "acme.service-now.com");
        assert_eq!(
            InstanceUrl::parse("http://127.0.0.1:9/")
                .unwrap()
                .host_label(),
            "127.0.0.1:9"
        );
    }
}
