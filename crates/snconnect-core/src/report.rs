//! The support report: what a vendor's support desk asks for (instance, steps, statuses,
//! timings, the error and its code), as Markdown or JSON, and not one secret.
//!
//! It is built only from secret-free types ([`TestReport`], [`Check`], [`Diagnosis`],
//! [`TokenMeta`]); `Secret` refuses to serialize, so one cannot slip in by accident. As a last
//! guard, [`SupportReport::redact`] replaces any known secret value that might still appear in
//! free text (a detail line quoting a server's answer).

use crate::conn_test::{Check, TestReport};
use crate::error::Code;
use crate::profiles::{Profile, TokenMeta};
use crate::secret::Secret;
use crate::token::{now_secs, TokenStatus};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct SupportReport {
    pub snconnect_version: &'static str,
    pub generated_at: String,
    pub os: &'static str,
    /// The instance host (and port): which customer, not how to log in.
    pub instance: String,
    pub profile: Option<String>,
    pub auth_method: Option<String>,
    pub client_id: Option<String>,
    pub custom_endpoints: bool,
    pub user: Option<String>,
    pub ok: bool,
    pub code: Code,
    pub message: String,
    pub remediation: Option<String>,
    pub detail: Option<String>,
    pub latency_ms: Option<u64>,
    pub checks: Vec<Check>,
    pub token_status: Option<TokenStatus>,
    pub access_token_expires_in_s: Option<i64>,
    pub refresh_token_expires_in_s: Option<i64>,
}

/// `YYYY-MM-DDTHH:MM:SSZ` for UNIX seconds (UTC; civil-from-days, no time zone database).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl SupportReport {
    pub fn new(
        profile: Option<&Profile>,
        test: &TestReport,
        status: Option<TokenStatus>,
        meta: Option<TokenMeta>,
    ) -> SupportReport {
        let now = now_secs() as i64;
        let host = url::Url::parse(&test.instance)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .unwrap_or_else(|| test.instance.clone());
        let d = &test.diagnosis;
        SupportReport {
            snconnect_version: env!("CARGO_PKG_VERSION"),
            generated_at: rfc3339(now as u64),
            os: std::env::consts::OS,
            instance: host,
            profile: profile.map(|p| p.name.clone()),
            auth_method: profile.map(|p| {
                serde_json::to_value(p.auth)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            }),
            client_id: profile.and_then(|p| p.client_id.clone()),
            custom_endpoints: profile.is_some_and(|p| {
                p.auth_url.is_some() || p.token_url.is_some() || p.revoke_url.is_some()
            }),
            user: test.identity.as_ref().map(|i| i.user_name.clone()),
            ok: test.ok(),
            code: d.code,
            message: d.message.clone(),
            remediation: d.remediation.clone(),
            detail: d.detail.clone(),
            latency_ms: test.latency_ms,
            checks: test.checks.clone(),
            token_status: status,
            access_token_expires_in_s: meta
                .and_then(|m| m.access_expires_at)
                .map(|t| t as i64 - now),
            refresh_token_expires_in_s: meta
                .and_then(|m| m.refresh_expires_at)
                .map(|t| t as i64 - now),
        }
    }

    /// Replaces every occurrence of the given secret values in the free-text fields.
    pub fn redact(mut self, secrets: &[&Secret]) -> SupportReport {
        let scrub = |s: &mut String| *s = crate::secret::scrub(s, secrets);
        for field in [&mut self.detail, &mut self.remediation, &mut self.user] {
            if let Some(s) = field.as_mut() {
                scrub(s);
            }
        }
        scrub(&mut self.message);
        self
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("the report holds plain data only")
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let verdict = if self.ok { "works" } else { "FAILED" };
        out.push_str(&format!(
            "# snconnect support report\n\n**Connection {verdict}** — `{}`: {}\n\n",
            self.code, self.message
        ));
        if let Some(r) = &self.remediation {
            out.push_str(&format!("**Fix:** {r}\n\n"));
        }
        if let Some(d) = &self.detail {
            out.push_str(&format!("**Detail:** {d}\n\n"));
        }
        out.push_str("| | |\n|---|---|\n");
        let row = |k: &str, v: String| format!("| {k} | {v} |\n");
        out.push_str(&row("Instance", self.instance.clone()));
        if let Some(p) = &self.profile {
            out.push_str(&row("Profile", p.clone()));
        }
        if let Some(m) = &self.auth_method {
            out.push_str(&row("Auth method", m.clone()));
        }
        if let Some(c) = &self.client_id {
            out.push_str(&row("Client ID", c.clone()));
        }
        if self.custom_endpoints {
            out.push_str(&row("OAuth endpoints", "custom".into()));
        }
        out.push_str(&row(
            "Signed in as",
            self.user.clone().unwrap_or_else(|| "—".into()),
        ));
        if let Some(ms) = self.latency_ms {
            out.push_str(&row("Latency", format!("{ms} ms")));
        }
        if let Some(s) = self.token_status {
            out.push_str(&row("Token status", s.as_str().into()));
        }
        let span = |s: i64| {
            if s <= 0 {
                "expired".to_string()
            } else if s >= 86_400 {
                format!("in {} days", s / 86_400)
            } else {
                format!("in {} min", s / 60)
            }
        };
        if let Some(s) = self.access_token_expires_in_s {
            out.push_str(&row("Access token expires", span(s)));
        }
        if let Some(s) = self.refresh_token_expires_in_s {
            out.push_str(&row("Refresh token expires", span(s)));
        }
        out.push_str(&row(
            "snconnect",
            format!("{} on {}", self.snconnect_version, self.os),
        ));
        out.push_str(&row("Generated", self.generated_at.clone()));
        out.push_str("\n## Steps\n\n| Step | Result | Code | Time |\n|---|---|---|---|\n");
        for c in &self.checks {
            out.push_str(&format!(
                "| {} | {} | `{}` | {} ms |\n",
                c.name,
                if c.ok { "ok" } else { "failed" },
                c.code,
                c.ms
            ));
        }
        out.push_str("\nThis report contains no passwords, client secrets, API keys or tokens.\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnosis;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_547_200), "2025-12-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn markdown_and_redaction() {
        let test = TestReport {
            instance: "https://acme.service-now.com/".into(),
            identity: None,
            latency_ms: None,
            checks: vec![Check {
                name: "token".into(),
                ok: false,
                code: Code::InvalidClient,
                ms: 12,
            }],
            diagnosis: Diagnosis::new(Code::InvalidClient)
                .with_detail("server said hunter2-secret"),
        };
        let secret = Secret::new("hunter2-secret");
        let r = SupportReport::new(None, &test, None, None).redact(&[&secret]);
        let md = r.to_markdown();
        assert!(md.contains("acme.service-now.com"));
        assert!(md.contains("`invalid_client`"));
        assert!(!md.contains("hunter2"), "{md}");
        assert!(!r.to_json().to_string().contains("hunter2"));
    }
}
