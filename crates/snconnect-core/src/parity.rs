//! The parity test: the same read-only requests over basic auth and over OAuth, compared.
//!
//! For each table (default `sys_user` and `incident`), the first N rows (default 5, ordered by
//! sys_id so both sides read the same rows) are read with each credential; status, row count,
//! `X-Total-Count` and the set of fields are compared. The identity behind each credential is
//! compared too: an admin who consents with their own account instead of the integration
//! user's would silently change what the integration may do. The verdict is "safe to switch off
//! basic auth for this account" only when everything matches.

use crate::conn_test::{current_user, table_query, ApiAuth, TableRows};
use crate::error::{Code, Diagnosis};
use crate::instance::InstanceUrl;
use serde::Serialize;
use std::collections::BTreeSet;

pub const DEFAULT_TABLES: &[&str] = &["sys_user", "incident"];
pub const DEFAULT_ROWS: usize = 5;

/// One side of one table read.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Side {
    pub code: Code,
    pub rows: usize,
    pub total: Option<u64>,
    pub fields: BTreeSet<String>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct TableParity {
    pub table: String,
    pub basic: Side,
    pub oauth: Side,
    pub differences: Vec<String>,
}

impl ParityReport {
    /// `ok`, or `parity_mismatch` with the verdict and the first differences.
    pub fn diagnosis(&self) -> Diagnosis {
        if self.safe {
            return Diagnosis::new(Code::Ok);
        }
        let all: Vec<&str> = self
            .differences
            .iter()
            .chain(self.tables.iter().flat_map(|t| t.differences.iter()))
            .map(String::as_str)
            .collect();
        Diagnosis::new(Code::ParityMismatch).with_detail(format!(
            "{} {}",
            self.verdict,
            all.join("; ")
        ))
    }
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct ParityReport {
    pub basic_user: Option<String>,
    pub oauth_user: Option<String>,
    pub tables: Vec<TableParity>,
    /// Differences that are not per table (identity).
    pub differences: Vec<String>,
    pub safe: bool,
    pub verdict: String,
}

fn side(result: Result<TableRows, Diagnosis>) -> Side {
    match result {
        Ok(r) => {
            let mut fields = BTreeSet::new();
            for row in &r.rows {
                if let Some(o) = row.as_object() {
                    fields.extend(o.keys().cloned());
                }
            }
            Side {
                code: Code::Ok,
                rows: r.rows.len(),
                total: r.total,
                fields,
            }
        }
        Err(d) => Side {
            code: d.code,
            rows: 0,
            total: None,
            fields: BTreeSet::new(),
        },
    }
}

/// Compares two sides of one table (pure).
pub fn compare(table: &str, basic: &Side, oauth: &Side) -> Vec<String> {
    let mut out = Vec::new();
    if basic.code != oauth.code {
        out.push(format!(
            "{table}: basic auth answered {}, OAuth answered {}",
            basic.code, oauth.code
        ));
        return out;
    }
    if basic.rows != oauth.rows {
        out.push(format!(
            "{table}: basic auth read {} rows, OAuth {}",
            basic.rows, oauth.rows
        ));
    }
    if basic.total != oauth.total {
        out.push(format!(
            "{table}: X-Total-Count {} over basic auth, {} over OAuth",
            basic.total.map(|t| t.to_string()).unwrap_or("-".into()),
            oauth.total.map(|t| t.to_string()).unwrap_or("-".into())
        ));
    }
    let missing: Vec<&String> = basic.fields.difference(&oauth.fields).collect();
    let extra: Vec<&String> = oauth.fields.difference(&basic.fields).collect();
    if !missing.is_empty() {
        out.push(format!(
            "{table}: {} field(s) visible over basic auth are missing over OAuth: {}",
            missing.len(),
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !extra.is_empty() {
        out.push(format!(
            "{table}: {} field(s) appear only over OAuth: {}",
            extra.len(),
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// Runs the comparison. `tables` empty = [`DEFAULT_TABLES`].
pub async fn run(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    basic: &ApiAuth,
    oauth: &ApiAuth,
    tables: &[String],
    rows: usize,
) -> ParityReport {
    let tables: Vec<String> = if tables.is_empty() {
        DEFAULT_TABLES.iter().map(|s| s.to_string()).collect()
    } else {
        tables.to_vec()
    };
    let rows = rows.clamp(1, 100);
    let basic_user = current_user(http, instance, basic).await.ok();
    let oauth_user = current_user(http, instance, oauth).await.ok();
    let mut differences = Vec::new();
    match (&basic_user, &oauth_user) {
        (Some(b), Some(o)) if b.user_sys_id != o.user_sys_id => differences.push(format!(
            "basic auth signs in as {}, OAuth as {}: the integration would act as a different user (consent with the integration account)",
            b.user_name, o.user_name
        )),
        (Some(_), None) => differences.push("OAuth could not identify the user (current_user failed)".into()),
        (None, Some(_)) => differences.push("basic auth could not identify the user (current_user failed)".into()),
        (None, None) => differences.push("neither basic auth nor OAuth could identify the user (current_user failed for both), so nothing was compared".into()),
        _ => {}
    }
    let mut out = Vec::new();
    for table in &tables {
        let b = side(table_query(http, instance, basic, table, "ORDERBYsys_id", "", rows).await);
        let o = side(table_query(http, instance, oauth, table, "ORDERBYsys_id", "", rows).await);
        let diffs = compare(table, &b, &o);
        out.push(TableParity {
            table: table.clone(),
            basic: b,
            oauth: o,
            differences: diffs,
        });
    }
    let safe = differences.is_empty() && out.iter().all(|t| t.differences.is_empty());
    let verdict = if safe {
        format!(
            "Safe to switch off basic auth for this account: OAuth reads the same {} as basic auth.",
            tables.join(" and ")
        )
    } else {
        let n = differences.len() + out.iter().map(|t| t.differences.len()).sum::<usize>();
        format!("Not yet: {n} difference(s) between basic auth and OAuth (listed below).")
    };
    ParityReport {
        basic_user: basic_user.map(|u| u.user_name),
        oauth_user: oauth_user.map(|u| u.user_name),
        tables: out,
        differences,
        safe,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(code: Code, rows: usize, fields: &[&str]) -> Side {
        Side {
            code,
            rows,
            total: Some(rows as u64),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn differences_are_named() {
        assert!(compare(
            "t",
            &s(Code::Ok, 5, &["a", "b"]),
            &s(Code::Ok, 5, &["a", "b"])
        )
        .is_empty());
        let d = compare(
            "t",
            &s(Code::Ok, 5, &["a", "email"]),
            &s(Code::Ok, 5, &["a"]),
        );
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("missing over OAuth: email"), "{d:?}");
        let d = compare("t", &s(Code::Ok, 5, &["a"]), &s(Code::AclForbidden, 0, &[]));
        assert!(d[0].contains("acl_forbidden"), "{d:?}");
        let d = compare("t", &s(Code::Ok, 5, &["a"]), &s(Code::Ok, 3, &["a"]));
        assert!(d.iter().any(|x| x.contains("5 rows, OAuth 3")), "{d:?}");
    }
}
