//! Helpers shared by the integration tests: real HTTP(S) clients against a running sim.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use snsim::{RunningSim, SimConfig};

pub const GENERIC_TOKEN_ERROR: &str =
    r#"{"error_description":"access_denied","error":"server_error"}"#;
pub const REDIRECT: &str = "http://127.0.0.1:8765/callback";
pub const JSON_CT: &str = "application/json;charset=UTF-8";

pub async fn start(cfg: SimConfig) -> RunningSim {
    RunningSim::start(cfg).await.expect("sim starts")
}

pub async fn start_default() -> RunningSim {
    start(SimConfig::default()).await
}

fn builder(sim: &RunningSim) -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(20));
    if let Some(pem) = sim.ca_pem() {
        b = b
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA pem"));
    }
    b
}

/// A cookie-less API client that trusts the sim's CA and does not follow redirects.
pub fn client(sim: &RunningSim) -> reqwest::Client {
    builder(sim).build().expect("client")
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser(sim: &RunningSim) -> reqwest::Client {
    builder(sim).cookie_store(true).build().expect("client")
}

pub fn url(sim: &RunningSim, path_and_query: &str) -> String {
    sim.base_url()
        .join(path_and_query.trim_start_matches('/'))
        .expect("url")
        .to_string()
}

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .expect("ascii header")
}

/// The headers every instance response carries, plus the JSON ones (§4.1).
pub fn assert_json_headers(h: &HeaderMap, logged_in: bool) {
    assert_eq!(header(h, "content-type"), JSON_CT);
    assert_eq!(header(h, "server"), "snow_adc");
    assert_eq!(
        header(h, "x-is-logged-in"),
        if logged_in { "true" } else { "false" }
    );
    assert_eq!(
        header(h, "cache-control"),
        "no-cache,no-store,must-revalidate,max-age=-1"
    );
    assert_eq!(header(h, "pragma"), "no-store,no-cache");
    assert_eq!(header(h, "expires"), "0");
    let tx = header(h, "x-transaction-id");
    assert!(
        tx.len() >= 16 && tx.bytes().all(|b| b.is_ascii_hexdigit()),
        "{tx}"
    );
    let cookies: Vec<&str> = h
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("JSESSIONID=") && c.contains("; Path=/; HttpOnly")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("glide_session_store=")),
        "{cookies:?}"
    );
}

/// Decode the few HTML entities the sim emits.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// `(name, value)` of every `<input>` with a name, in document order.
pub fn inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect()
}

/// Query parameters of a `Location` URL.
pub fn location_params(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .expect("absolute location")
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn get_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn authorize_url(sim: &RunningSim, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut u = sim.base_url().join("oauth_auth.do").unwrap();
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", client_id);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

/// Log in through `/login.do` with a browser client, returning after the 302.
pub async fn login(sim: &RunningSim, b: &reqwest::Client, user: &str, password: &str, goto: &str) {
    let res = b
        .post(url(sim, "/login.do"))
        .form(&[
            ("user_name", user),
            ("user_password", password),
            ("sysparm_goto", goto),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302, "login should redirect");
    assert_eq!(header(res.headers(), "location"), goto);
}

/// Drive the browser flow for an authorize URL (log in, consent with `action`), returning
/// the final 302 `Location`.
pub async fn browser_flow(sim: &RunningSim, authorize: &str, action: &str) -> String {
    let res = browser_flow_response(sim, authorize, action).await;
    assert_eq!(res.status(), 302);
    header(res.headers(), "location").to_string()
}

/// Like [`browser_flow`], returning the response to the consent form.
pub async fn browser_flow_response(
    sim: &RunningSim,
    authorize: &str,
    action: &str,
) -> reqwest::Response {
    let b = browser(sim);
    let res = b.get(authorize).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"<form method="post" action="/login.do" id="loginForm">"#));
    let goto = get_param(&inputs(&page), "sysparm_goto")
        .expect("sysparm_goto")
        .to_string();
    login(sim, &b, "admin", "Admin#1234", &goto).await;
    let consent = b
        .get(url(sim, &goto))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(consent.contains("<h1>Authorize</h1>"), "{consent}");
    let mut form = inputs(&consent);
    form.push(("action".into(), action.into()));
    b.post(url(sim, "/oauth_auth.do"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// A token call with a form body.
pub async fn token(sim: &RunningSim, form: &[(&str, &str)]) -> reqwest::Response {
    client(sim)
        .post(url(sim, "/oauth_token.do"))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn password_grant(sim: &RunningSim) -> serde_json::Value {
    let secret = sim.confidential_client_secret().to_string();
    let res = token(
        sim,
        &[
            ("grant_type", "password"),
            ("client_id", snsim::CONFIDENTIAL_CLIENT_ID),
            ("client_secret", &secret),
            ("username", "admin"),
            ("password", "Admin#1234"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}
