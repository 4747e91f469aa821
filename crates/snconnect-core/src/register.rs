//! Registering the OAuth endpoint on the instance: automated (an admin creates the
//! `oauth_entity` through the Table API) or guided (the steps, then a read-back of the
//! registered redirect URLs).
//!
//! The automated path creates exactly one `oauth_entity` record and nothing else, reads back
//! the generated client ID, and returns the secret (generated here, 40 URL-safe characters) as
//! a [`Secret`] for the caller to put straight into the keychain. [`remove`] deletes that one
//! record again.
//!
//! ServiceNow silently uses the first registered redirect URL when the one a client sends does
//! not match, so a sign-in "times out" instead of failing. [`check_redirect`] reads the record
//! back and names that case `redirect_uri_mismatch`.

use crate::conn_test::{json_body, ApiAuth};
use crate::error::{Code, Diagnosis};
use crate::instance::InstanceUrl;
use crate::probe::{read_oauth_entity, str_field, Reading};
use crate::secret::Secret;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Serialize;

/// What to create.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub name: String,
    /// The target's callback(s) first, then snconnect's loopback URL.
    pub redirect_urls: Vec<String>,
    /// Public client: PKCE, no secret.
    pub public_client: bool,
    pub access_token_lifespan: u64,
    pub refresh_token_lifespan: u64,
}

impl NewEndpoint {
    pub fn new(name: &str, redirect_urls: Vec<String>, public_client: bool) -> Self {
        NewEndpoint {
            name: name.to_string(),
            redirect_urls,
            public_client,
            access_token_lifespan: 1800,
            refresh_token_lifespan: 8_640_000,
        }
    }
}

/// What was created (no secret in here: it is returned beside it).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub sys_id: String,
    pub name: String,
    pub client_id: String,
    pub public_client: bool,
    pub redirect_urls: Vec<String>,
    pub access_token_lifespan: u64,
    pub refresh_token_lifespan: u64,
    /// The record in the instance UI.
    pub record_url: String,
    /// Every field snconnect set, for "show exactly what was created".
    pub fields_set: Vec<String>,
}

fn random_secret() -> Secret {
    Secret::new(
        rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(40)
            .map(char::from)
            .collect::<String>(),
    )
}

/// The separator between redirect URLs in `oauth_entity.redirect_url` (comma; the platform's
/// separator is unconfirmed, and a comma is what the platform's own forms show).
pub const REDIRECT_SEPARATOR: &str = ",";

/// Creates the endpoint as `admin`. 403 → `insufficient_role` with what to do instead.
pub async fn create(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    admin: &ApiAuth,
    req: &NewEndpoint,
) -> Result<(Created, Option<Secret>), Diagnosis> {
    if req.name.trim().is_empty() {
        return Err(Diagnosis::usage("--name", "the endpoint needs a name"));
    }
    if req.redirect_urls.is_empty() {
        return Err(Diagnosis::usage(
            "--redirect-url",
            "at least one redirect URL is needed",
        ));
    }
    for u in &req.redirect_urls {
        url::Url::parse(u)
            .map_err(|e| Diagnosis::usage("--redirect-url", format!("{u:?}: {e}")))?;
    }
    let secret = (!req.public_client).then(random_secret);
    let mut body = serde_json::json!({
        "name": req.name,
        "type": "client",
        "active": "true",
        "redirect_url": req.redirect_urls.join(REDIRECT_SEPARATOR),
        "public_client": req.public_client.to_string(),
        "pkce_required": req.public_client.to_string(),
        "default_grant_type": "authorization_code",
        "access_token_lifespan": req.access_token_lifespan.to_string(),
        "refresh_token_lifespan": req.refresh_token_lifespan.to_string(),
        "comments": "Created by snconnect",
    });
    let fields_set: Vec<String> = body
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .chain(secret.iter().map(|_| "client_secret".to_string()))
        .collect();
    if let Some(s) = &secret {
        body["client_secret"] = serde_json::Value::String(s.expose().to_string());
    }
    let resp = admin
        .apply(
            http.post(instance.join("api/now/table/oauth_entity"))
                .header(reqwest::header::ACCEPT, "application/json")
                .json(&body),
        )
        .send()
        .await
        .map_err(|e| crate::http::classify_transport(&e))?;
    let result = json_body(resp, admin).await.map_err(refusal)?;
    let row = &result["result"];
    let client_id = str_field(row, "client_id");
    let sys_id = str_field(row, "sys_id");
    if client_id.is_empty() || sys_id.is_empty() {
        return Err(Diagnosis::new(Code::UnexpectedResponse)
            .with_detail("oauth_entity was created but the answer has no client_id/sys_id"));
    }
    let created = Created {
        record_url: instance
            .join(&format!("oauth_entity.do?sys_id={sys_id}"))
            .to_string(),
        sys_id,
        name: req.name.clone(),
        client_id,
        public_client: req.public_client,
        redirect_urls: req.redirect_urls.clone(),
        access_token_lifespan: req.access_token_lifespan,
        refresh_token_lifespan: req.refresh_token_lifespan,
        fields_set,
    };
    tracing::info!(client_id = %created.client_id, "oauth_entity created");
    Ok((created, secret))
}

fn refusal(d: Diagnosis) -> Diagnosis {
    if d.code == Code::AclForbidden {
        return Diagnosis::new(Code::InsufficientRole).with_detail(format!(
            "{}; creating an OAuth endpoint needs admin or oauth_admin. Ask an admin, or follow the guided steps (snconnect register --guided) and give snconnect the client ID",
            d.detail.unwrap_or_default()
        ));
    }
    d
}

/// Deletes the record [`create`] made (by sys_id).
pub async fn remove(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    admin: &ApiAuth,
    sys_id: &str,
) -> Result<(), Diagnosis> {
    if sys_id.len() != 32 || !sys_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Diagnosis::usage(
            "sys_id",
            format!("{sys_id:?} is not a sys_id"),
        ));
    }
    let resp = admin
        .apply(
            http.delete(instance.join(&format!("api/now/table/oauth_entity/{sys_id}")))
                .header(reqwest::header::ACCEPT, "application/json"),
        )
        .send()
        .await
        .map_err(|e| crate::http::classify_transport(&e))?;
    if resp.status().as_u16() == 204 || resp.status().is_success() {
        return Ok(());
    }
    Err(json_body(resp, admin)
        .await
        .map(|_| Diagnosis::new(Code::UnexpectedResponse))
        .unwrap_or_else(refusal))
}

/// The client's registered redirect URLs, when this account may read the registry.
pub async fn registered_redirects(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    admin: &ApiAuth,
    client_id: &str,
) -> Result<Reading<Option<Vec<String>>>, Diagnosis> {
    Ok(
        match read_oauth_entity(http, instance, admin, client_id).await? {
            Reading::NotAllowed => Reading::NotAllowed,
            Reading::Known(None) => Reading::Known(None),
            Reading::Known(Some(row)) => {
                Reading::Known(Some(split_redirects(&str_field(&row, "redirect_url"))))
            }
        },
    )
}

/// Splits `redirect_url` on commas (and, leniently, newlines and whitespace).
pub fn split_redirects(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `Ok` when `ours` is registered (exactly); `redirect_uri_mismatch` naming what is registered
/// (and which one ServiceNow would fall back to) otherwise; `invalid_client` when the client
/// ID does not exist. `Ok(false)` = could not check (no access).
pub async fn check_redirect(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    admin: &ApiAuth,
    client_id: &str,
    ours: &str,
) -> Result<bool, Diagnosis> {
    match registered_redirects(http, instance, admin, client_id).await? {
        Reading::NotAllowed => Ok(false),
        Reading::Known(None) => Err(Diagnosis::new(Code::InvalidClient).with_detail(format!(
            "no OAuth application on the instance has client ID {client_id}"
        ))),
        Reading::Known(Some(urls)) => compare_redirects(&urls, ours).map(|_| true),
    }
}

/// Pure comparison behind [`check_redirect`].
pub fn compare_redirects(registered: &[String], ours: &str) -> Result<(), Diagnosis> {
    if registered.iter().any(|u| u == ours) {
        return Ok(());
    }
    let detail = match registered.first() {
        Some(first) => format!(
            "the instance has {} registered and not {ours}; ServiceNow silently redirects to the first one ({first}) instead",
            registered.join(", ")
        ),
        None => format!("the OAuth application has no redirect URL; register {ours}"),
    };
    Err(Diagnosis::new(Code::RedirectUriMismatch).with_detail(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_split_and_compared() {
        let urls = split_redirects("https://a.example/cb, http://127.0.0.1:8765/callback\nx://y");
        assert_eq!(urls.len(), 3);
        assert!(compare_redirects(&urls, "http://127.0.0.1:8765/callback").is_ok());
        let d = compare_redirects(&urls, "http://127.0.0.1:9999/callback").unwrap_err();
        assert_eq!(d.code, Code::RedirectUriMismatch);
        assert!(d
            .detail
            .unwrap()
            .contains("first one (https://a.example/cb)"));
        assert_eq!(
            compare_redirects(&[], "http://x/").unwrap_err().code,
            Code::RedirectUriMismatch
        );
    }
}
