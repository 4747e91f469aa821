//! The connection test: who am I (`/api/now/ui/user/current_user`) and can I read a table.
//!
//! Each request uses the one cookie-less client, so a session cookie from an earlier call can
//! never make a test pass. Every answer is classified: status, content type and body shape.

use crate::error::{Code, Diagnosis};
use crate::instance::InstanceUrl;
use crate::secret::Secret;
use serde::Serialize;
use std::time::Instant;

/// Where an API key goes: a request header or a query parameter (Automate365's "parameter
/// type"). ServiceNow's name for it is `x-sn-apikey`, in either place.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyIn {
    #[default]
    Header,
    Query,
}

/// ServiceNow's API key parameter name.
pub const DEFAULT_API_KEY_PARAM: &str = "x-sn-apikey";

/// How API calls authenticate.
#[derive(Debug, Clone)]
pub enum ApiAuth {
    Bearer(Secret),
    Basic {
        username: String,
        password: Secret,
    },
    ApiKey {
        key: Secret,
        param: String,
        location: ApiKeyIn,
    },
}

impl ApiAuth {
    /// The secret these credentials carry (for the redaction guard).
    pub fn secret(&self) -> &Secret {
        match self {
            ApiAuth::Bearer(t) => t,
            ApiAuth::Basic { password, .. } => password,
            ApiAuth::ApiKey { key, .. } => key,
        }
    }

    /// Adds the credentials to a request (always preemptively: ServiceNow's Attachment API
    /// answers 403 to clients that wait for a challenge).
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            ApiAuth::Bearer(t) => req.bearer_auth(t.expose()),
            ApiAuth::Basic { username, password } => {
                req.basic_auth(username, Some(password.expose()))
            }
            ApiAuth::ApiKey {
                key,
                param,
                location: ApiKeyIn::Header,
            } => req.header(param.as_str(), key.expose()),
            ApiAuth::ApiKey {
                key,
                param,
                location: ApiKeyIn::Query,
            } => req.query(&[(param.as_str(), key.expose())]),
        }
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub user_sys_id: String,
    pub user_name: String,
    pub user_display_name: String,
}

/// One step of a test, as the CLI JSON and the UI show it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub code: Code,
    pub ms: u64,
}

impl Check {
    pub fn new(name: &str, result: Result<(), &Diagnosis>, started: Instant) -> Self {
        Check {
            name: name.to_string(),
            ok: result.is_ok(),
            code: result.err().map(|d| d.code).unwrap_or(Code::Ok),
            ms: started.elapsed().as_millis() as u64,
        }
    }
}

/// The result of a connection test. Holds no secret, so it may be printed and serialized.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub instance: String,
    pub identity: Option<Identity>,
    pub latency_ms: Option<u64>,
    pub checks: Vec<Check>,
    /// `Code::Ok` when every check passed; otherwise the first failure.
    pub diagnosis: Diagnosis,
}

impl TestReport {
    pub fn ok(&self) -> bool {
        self.diagnosis.code == Code::Ok
    }
}

/// Runs the test: current_user, then a one-row read of `sys_user`.
pub async fn test_connection(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
) -> TestReport {
    test_tables(http, instance, auth, &[]).await
}

/// The table the read that proves a connection uses when none is named.
pub const DEFAULT_TEST_TABLE: &str = "sys_user";

/// Checks a table name the user gave (`--table`): the Table API's names are lower-case
/// letters, digits and underscores.
pub fn validate_table(name: &str) -> Result<(), Diagnosis> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Diagnosis::usage(
            "--table",
            format!(
                "{name:?} is not a table name (lower-case letters, digits and '_', e.g. incident)"
            ),
        ))
    }
}

/// current_user, then a one-row read of each of `tables` (`sys_user` when empty): the read that
/// proves a connection can be the table the integration really uses, so `rows_hidden_by_acl`
/// applies to it. Stops at the first failure.
pub async fn test_tables(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    tables: &[String],
) -> TestReport {
    let mut checks = Vec::new();
    let started = Instant::now();
    let who = current_user(http, instance, auth).await;
    checks.push(Check::new(
        "current_user",
        who.as_ref().map(|_| ()),
        started,
    ));
    let (identity, latency_ms) = match who {
        Ok(v) => (Some(v), Some(checks[0].ms)),
        Err(d) => {
            return TestReport {
                instance: instance.to_string(),
                identity: None,
                latency_ms: None,
                checks,
                diagnosis: d,
            }
        }
    };
    let default = [DEFAULT_TEST_TABLE.to_string()];
    let tables = if tables.is_empty() {
        &default[..]
    } else {
        tables
    };
    let mut diagnosis = Diagnosis::new(Code::Ok);
    for table in tables {
        let started = Instant::now();
        let read = table_read(http, instance, auth, table).await;
        checks.push(Check::new(
            &format!("table_read {table}"),
            read.as_ref().map(|_| ()),
            started,
        ));
        if let Err(d) = read {
            diagnosis = d;
            break;
        }
    }
    TestReport {
        instance: instance.to_string(),
        identity,
        latency_ms,
        checks,
        diagnosis,
    }
}

pub async fn current_user(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
) -> Result<Identity, Diagnosis> {
    let url = instance.join("api/now/ui/user/current_user");
    let body = get_json(http, url, auth).await?;
    let r = &body["result"];
    let field = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_string);
    match (field("user_sys_id"), field("user_name")) {
        (Some(sys_id), Some(name)) if !name.is_empty() => Ok(Identity {
            user_sys_id: sys_id,
            user_display_name: field("user_display_name").unwrap_or_else(|| name.clone()),
            user_name: name,
        }),
        _ => Err(Diagnosis::new(Code::UnexpectedResponse)
            .with_detail("current_user: no result.user_name in the response")),
    }
}

/// Reads one row; an empty result while `X-Total-Count` > 0 means ACLs hide the rows.
pub async fn table_read(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    table: &str,
) -> Result<usize, Diagnosis> {
    let r = table_query(http, instance, auth, table, "", "", 1).await?;
    let total = r.total.unwrap_or(0);
    if r.rows.is_empty() && total > 0 {
        return Err(Diagnosis::new(Code::RowsHiddenByAcl).with_detail(format!(
            "table {table}: X-Total-Count {total} but no rows returned"
        )));
    }
    Ok(r.rows.len())
}

/// Rows of a Table API query, with `X-Total-Count` (which ServiceNow computes before ACLs).
#[derive(Debug, Clone)]
pub struct TableRows {
    pub rows: Vec<serde_json::Value>,
    pub total: Option<u64>,
}

/// `GET /api/now/table/{table}?sysparm_query=…&sysparm_fields=…&sysparm_limit=…`, classified.
pub async fn table_query(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    table: &str,
    query: &str,
    fields: &str,
    limit: usize,
) -> Result<TableRows, Diagnosis> {
    let mut url = instance.join(&format!("api/now/table/{table}"));
    {
        let mut q = url.query_pairs_mut();
        if !query.is_empty() {
            q.append_pair("sysparm_query", query);
        }
        if !fields.is_empty() {
            q.append_pair("sysparm_fields", fields);
        }
        q.append_pair("sysparm_limit", &limit.to_string());
    }
    let resp = auth
        .apply(
            http.get(url)
                .header(reqwest::header::ACCEPT, "application/json"),
        )
        .send()
        .await
        .map_err(|e| crate::http::classify_transport(&e))?;
    let total: Option<u64> = resp
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = json_body(resp, auth).await?;
    let rows = body["result"].as_array().cloned().ok_or_else(|| {
        Diagnosis::new(Code::UnexpectedResponse)
            .with_detail(format!("table {table}: no result array"))
    })?;
    Ok(TableRows { rows, total })
}

async fn get_json(
    http: &reqwest::Client,
    url: url::Url,
    auth: &ApiAuth,
) -> Result<serde_json::Value, Diagnosis> {
    let resp = auth
        .apply(
            http.get(url)
                .header(reqwest::header::ACCEPT, "application/json"),
        )
        .send()
        .await
        .map_err(|e| crate::http::classify_transport(&e))?;
    json_body(resp, auth).await
}

/// ServiceNow's error JSON, `{"error":{"message":…,"detail":…}}`, as one line: the message,
/// then the detail in parentheses when it says something more.
pub fn error_text(j: &serde_json::Value) -> String {
    let field = |k: &str| {
        j["error"][k]
            .as_str()
            .map(|s| {
                s.trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(300)
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let (message, detail) = (field("message"), field("detail"));
    match (message.is_empty(), detail.is_empty() || detail == message) {
        (_, true) => message,
        (true, false) => detail,
        (false, false) => format!("{message} ({detail})"),
    }
}

/// Classifies a ServiceNow REST answer; returns the JSON body of a 2xx.
pub async fn json_body(
    resp: reqwest::Response,
    auth: &ApiAuth,
) -> Result<serde_json::Value, Diagnosis> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type").unwrap_or_default();
    let body = crate::http::read_body(resp, crate::http::MAX_BODY).await?;
    let json: Option<serde_json::Value> = if content_type.contains("json") {
        serde_json::from_slice(&body).ok()
    } else {
        None
    };
    let error_message = json.as_ref().map(error_text).unwrap_or_default();
    let detail = |extra: &str| {
        let mut d = format!("HTTP {status}");
        if !error_message.is_empty() {
            d.push_str(&format!(": {error_message}"));
        }
        d.push_str(extra);
        d
    };
    match status {
        200..=299 => match json {
            Some(j) if j.get("result").is_some() => Ok(j),
            Some(_) => Err(Diagnosis::new(Code::UnexpectedResponse)
                .with_detail(detail(", JSON without \"result\""))),
            None => Err(crate::http::classify_non_json(status, &content_type, &body)),
        },
        401 => {
            if header("x-mfa_token").is_some_and(|v| v.eq_ignore_ascii_case("invalid")) {
                return Err(
                    Diagnosis::new(Code::MfaRequired).with_detail(detail(", X-MFA_TOKEN: invalid"))
                );
            }
            let code = match auth {
                ApiAuth::Bearer(_) => Code::AccessTokenRejected,
                ApiAuth::Basic { .. } => Code::BasicAuthRejected,
                ApiAuth::ApiKey { .. } => Code::ApiKeyRejected,
            };
            Err(Diagnosis::new(code).with_detail(detail("")))
        }
        // Instances put "Missing required api access scope" in `message` or in `detail`.
        403 if error_message.to_ascii_lowercase().contains("scope") => {
            Err(Diagnosis::new(Code::ScopeForbidden).with_detail(detail("")))
        }
        403 => Err(Diagnosis::new(Code::AclForbidden).with_detail(detail(""))),
        429 => {
            let retry = header("retry-after")
                .map(|r| format!(", Retry-After: {r} s"))
                .unwrap_or_default();
            Err(Diagnosis::new(Code::RateLimited).with_detail(detail(&retry)))
        }
        _ if json.is_none() => Err(crate::http::classify_non_json(status, &content_type, &body)),
        500..=599 => Err(Diagnosis::new(Code::InstanceUnavailable).with_detail(detail(""))),
        _ => Err(Diagnosis::new(Code::UnexpectedResponse).with_detail(detail(""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> reqwest::Response {
        let r = http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
            .unwrap();
        reqwest::Response::from(r)
    }

    fn bearer() -> ApiAuth {
        ApiAuth::Bearer(crate::Secret::new("t"))
    }

    #[tokio::test]
    async fn scope_forbidden_whether_the_phrase_is_in_message_or_in_detail() {
        for body in [
            r#"{"error":{"message":"Missing required api access scope","detail":null},"status":"failure"}"#,
            r#"{"error":{"message":"User Not Authorized","detail":"Missing required api access scope"},"status":"failure"}"#,
        ] {
            let d = json_body(answer(403, body), &bearer()).await.unwrap_err();
            assert_eq!(d.code, Code::ScopeForbidden, "{body}");
            assert!(d
                .detail
                .unwrap()
                .contains("Missing required api access scope"));
        }
        let d = json_body(
            answer(403, r#"{"error":{"message":"User Not Authorized","detail":"Failed API level ACL Validation"}}"#),
            &bearer(),
        )
        .await
        .unwrap_err();
        assert_eq!(d.code, Code::AclForbidden);
        assert_eq!(
            d.detail.as_deref(),
            Some("HTTP 403: User Not Authorized (Failed API level ACL Validation)")
        );
    }

    #[test]
    fn error_text_joins_message_and_detail_once() {
        let j = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(
            error_text(&j(r#"{"error":{"message":"a","detail":"a"}}"#)),
            "a"
        );
        assert_eq!(
            error_text(&j(r#"{"error":{"detail":"only detail"}}"#)),
            "only detail"
        );
        assert_eq!(error_text(&j(r#"{"result":[]}"#)), "");
        assert_eq!(
            error_text(&j(r#"{"error":{"message":"m\u0007","detail":"d"}}"#)),
            "m (d)"
        );
    }
}
