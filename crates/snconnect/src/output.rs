//! What a command produced, printed for people or as one JSON object (`--json`).
//!
//! The JSON shape for `verify`, `test`, `login` (the CLI contract):
//! `{"ok", "code", "message", "remediation", "detail", "instance", "user", "user_display_name",
//!   "user_sys_id", "latency_ms", "authorize_url", "checks": [{"name","ok","code","ms"}], …}`;
//! `test --all` prints `{"ok", "results": [<one per profile>]}`. Nothing here can hold a
//! `Secret`: it refuses to serialize. A secret a server or a probe quoted in a diagnosis is
//! replaced by [`Outcome::redact`] ([`Diagnosis::redact`], the one redaction guard).

use serde_json::{json, Map, Value};
use snconnect_core::conn_test::{Check, TestReport};
use snconnect_core::{Code, Diagnosis, Secret};

pub struct Outcome {
    pub diagnosis: Diagnosis,
    pub instance: Option<String>,
    pub report: Option<TestReport>,
    pub checks: Vec<Check>,
    pub authorize_url: Option<String>,
    /// Command-specific JSON fields.
    pub extra: Map<String, Value>,
    /// Human lines printed before the diagnosis.
    pub lines: Vec<String>,
    /// Human output that replaces everything else (an export document, a Markdown report).
    pub raw: Option<String>,
    /// `test --all`.
    pub results: Option<Vec<Outcome>>,
}

impl Outcome {
    pub fn failed(d: Diagnosis) -> Self {
        Outcome {
            diagnosis: d,
            instance: None,
            report: None,
            checks: Vec::new(),
            authorize_url: None,
            extra: Map::new(),
            lines: Vec::new(),
            raw: None,
            results: None,
        }
    }

    /// Success of a command that is not a connection test.
    pub fn ok() -> Self {
        let mut d = Diagnosis::new(Code::Ok);
        d.message = "Done.".into();
        Outcome::failed(d)
    }

    pub fn from_test(report: TestReport) -> Self {
        let mut o = Outcome::failed(report.diagnosis.clone());
        o.instance = Some(report.instance.clone());
        o.checks = report.checks.clone();
        o.report = Some(report);
        o
    }

    pub fn all(results: Vec<Outcome>) -> Self {
        let failed = results.iter().find(|r| r.diagnosis.code != Code::Ok);
        let mut o = match failed {
            Some(f) => Outcome::failed(f.diagnosis.clone()),
            None => Outcome::ok(),
        };
        o.results = Some(results);
        o
    }

    pub fn field(&mut self, key: &str, value: Value) {
        self.extra.insert(key.to_string(), value);
    }

    /// Adds every field of a JSON object.
    pub fn merge(&mut self, value: Value) {
        if let Value::Object(m) = value {
            self.extra.extend(m);
        }
    }

    pub fn line(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Every one of `secrets` replaced by `[redacted]` in the diagnosis this outcome prints
    /// (its message, remediation and detail; each of `test --all`'s results too).
    pub fn redact(mut self, secrets: &[&Secret]) -> Outcome {
        self.diagnosis = self.diagnosis.redact(secrets);
        if let Some(r) = self.report.as_mut() {
            r.diagnosis = r.diagnosis.clone().redact(secrets);
        }
        self.results = self
            .results
            .map(|rs| rs.into_iter().map(|r| r.redact(secrets)).collect());
        self
    }

    pub fn to_json(&self) -> Value {
        if let Some(results) = &self.results {
            return json!({
                "ok": self.diagnosis.code == Code::Ok,
                "code": self.diagnosis.code,
                "results": results.iter().map(Outcome::to_json).collect::<Vec<_>>(),
            });
        }
        let d = &self.diagnosis;
        let identity = self.report.as_ref().and_then(|r| r.identity.as_ref());
        let mut v = json!({
            "ok": d.code == Code::Ok,
            "code": d.code,
            "message": d.message,
            "remediation": d.remediation,
            "detail": d.detail,
            "instance": self.instance,
            "user": identity.map(|i| i.user_name.clone()),
            "user_display_name": identity.map(|i| i.user_display_name.clone()),
            "user_sys_id": identity.map(|i| i.user_sys_id.clone()),
            "latency_ms": self.report.as_ref().and_then(|r| r.latency_ms),
            "authorize_url": self.authorize_url,
            "checks": self.checks,
        });
        let obj = v.as_object_mut().expect("an object");
        for (k, val) in &self.extra {
            obj.insert(k.clone(), val.clone());
        }
        v
    }

    pub fn emit(&self, json: bool) {
        if json {
            println!("{}", self.to_json());
            return;
        }
        if let Some(results) = &self.results {
            emit_all(results);
            return;
        }
        if let Some(raw) = &self.raw {
            print!("{raw}");
            if !raw.ends_with('\n') {
                println!();
            }
        }
        for l in &self.lines {
            println!("{l}");
        }
        self.emit_verdict();
        for c in &self.checks {
            println!(
                "  {:<24} {:<4} {:>6} ms  {}",
                c.name,
                if c.ok { "ok" } else { "FAIL" },
                c.ms,
                c.code
            );
        }
    }

    /// Who is connected, or the failure with its detail and fix.
    fn emit_verdict(&self) {
        let d = &self.diagnosis;
        let identity = self.report.as_ref().and_then(|r| r.identity.as_ref());
        if d.code == Code::Ok {
            if let Some(i) = identity {
                println!(
                    "✓ Connected to {} as {} ({})",
                    self.instance.as_deref().unwrap_or("?"),
                    i.user_display_name,
                    i.user_name
                );
            }
        } else {
            println!("✗ {}: {}", d.code, d.message);
            if let Some(detail) = &d.detail {
                println!("  detail: {detail}");
            }
            if let Some(fix) = &d.remediation {
                println!("  fix:    {fix}");
            }
        }
    }
}

/// `test --all`: each profile's outcome under its name, then the tally.
fn emit_all(results: &[Outcome]) {
    for r in results {
        let name = r
            .extra
            .get("profile")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        println!("── {name}");
        r.emit(false);
    }
    let failed = results
        .iter()
        .filter(|r| r.diagnosis.code != Code::Ok)
        .count();
    println!(
        "{} of {} connections passed",
        results.len() - failed,
        results.len()
    );
}

/// 0 success; 1 the connection or check failed; 2 usage or local configuration error.
pub fn exit_status(o: &Outcome) -> u8 {
    if let Some(results) = &o.results {
        return results
            .iter()
            .map(exit_status)
            .max()
            .unwrap_or(0)
            .min(1)
            .max(u8::from(o.diagnosis.code != Code::Ok));
    }
    match o.diagnosis.code {
        Code::Ok => 0,
        Code::UsageError
        | Code::InvalidInstanceUrl
        | Code::InsecureUrlRefused
        | Code::ConfigUnreadable
        | Code::ConfigUnwritable
        | Code::ConfigLocked
        | Code::KeychainUnavailable
        | Code::KeychainLocked
        | Code::CallbackPortInUse => 2,
        _ => 1,
    }
}
