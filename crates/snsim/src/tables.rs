//! Table data and the encoded-query subset the Table API understands.
//!
//! Records are ordered `(field, string value)` lists: every Table API value is a string.
//! A later slice adds more tables (roles, oauth_entity, sys_properties, …) by extending
//! [`rows`].

use crate::state::Inner;

/// One record, fields in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record(pub Vec<(String, String)>);

impl Record {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }

    /// The record as a JSON object, keeping field order; `fields` (when non-empty) selects
    /// and orders the output, unknown names are left out.
    pub fn to_json(&self, fields: &[String]) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let mut push = |k: &str, v: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&serde_json::to_string(k).unwrap_or_default());
            out.push(':');
            out.push_str(&serde_json::to_string(v).unwrap_or_default());
        };
        if fields.is_empty() {
            for (k, v) in &self.0 {
                push(k, v);
            }
        } else {
            for f in fields {
                if let Some(v) = self.get(f) {
                    push(f, v);
                }
            }
        }
        out.push('}');
        out
    }
}

/// All rows of `table`, or `None` when the table does not exist.
pub fn rows(inner: &Inner, table: &str) -> Option<Vec<Record>> {
    match table {
        "sys_user" => Some(sys_user_rows(inner)),
        _ => None,
    }
}

/// The fields of `table` (from its first row; every row has the same fields).
fn field_names(records: &[Record]) -> Vec<&str> {
    records
        .first()
        .map(|r| r.0.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default()
}

fn sys_user_rows(inner: &Inner) -> Vec<Record> {
    inner
        .users
        .iter()
        .map(|u| {
            let f = |k: &str, v: String| (k.to_string(), v);
            Record(vec![
                f("sys_id", u.sys_id.clone()),
                f("user_name", u.user_name.clone()),
                f("name", u.display_name()),
                f("first_name", u.first_name.clone()),
                f("last_name", u.last_name.clone()),
                f("email", u.email.clone()),
                f("title", String::new()),
                f("active", u.active.to_string()),
                f("locked_out", "false".into()),
                f("roles", u.roles.join(",")),
                f("web_service_access_only", "false".into()),
                f("internal_integration_user", "false".into()),
                f("time_zone", String::new()),
                f("sys_class_name", "sys_user".into()),
                f("sys_created_by", "admin".into()),
                f("sys_created_on", "2024-01-01 00:00:00".into()),
                f("sys_updated_by", "admin".into()),
                f("sys_updated_on", "2024-01-01 00:00:00".into()),
                f("sys_mod_count", "0".into()),
            ])
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cond {
    field: String,
    op: Op,
    value: String,
}

impl Cond {
    fn matches(&self, r: &Record) -> bool {
        let v = r.get(&self.field).unwrap_or("").to_lowercase();
        let want = self.value.to_lowercase();
        match self.op {
            Op::Eq => v == want,
            Op::Ne => v != want,
            Op::Like => v.contains(&want),
            Op::NotLike => !v.contains(&want),
            Op::StartsWith => v.starts_with(&want),
            Op::EndsWith => v.ends_with(&want),
        }
    }
}

/// A parsed encoded query: an AND of OR-groups.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    groups: Vec<Vec<Cond>>,
}

fn parse_cond(term: &str, known: &[&str]) -> Option<Cond> {
    // Longest operators first. Comparisons are case-insensitive, as on a real instance.
    const OPS: &[(&str, Op)] = &[
        ("NOT LIKE", Op::NotLike),
        ("STARTSWITH", Op::StartsWith),
        ("ENDSWITH", Op::EndsWith),
        ("LIKE", Op::Like),
        ("!=", Op::Ne),
        ("=", Op::Eq),
    ];
    let (pos, op_text, op) = OPS
        .iter()
        .filter_map(|(t, op)| term.find(t).map(|p| (p, *t, op.clone())))
        .min_by_key(|(p, t, _)| (*p, std::cmp::Reverse(t.len())))?;
    let field = term[..pos].trim();
    let value = &term[pos + op_text.len()..];
    // Unknown fields are silently dropped (APIS:c_TableAPI.md).
    if !known.contains(&field) {
        return None;
    }
    Some(Cond {
        field: field.to_string(),
        op,
        value: value.to_string(),
    })
}

impl Query {
    /// Parse `sysparm_query` against the fields of `records`; terms that cannot be
    /// understood (unknown field, unsupported operator, ORDERBY, …) are dropped.
    pub fn parse(q: &str, records: &[Record]) -> Query {
        let known = field_names(records);
        let mut groups: Vec<Vec<Cond>> = Vec::new();
        for term in q.split('^').filter(|t| !t.is_empty()) {
            if term.starts_with("ORDERBY") || term == "EQ" || term.starts_with("NQ") {
                continue;
            }
            if let Some(rest) = term.strip_prefix("OR") {
                if let (Some(c), Some(last)) = (parse_cond(rest, &known), groups.last_mut()) {
                    last.push(c);
                    continue;
                }
            }
            if let Some(c) = parse_cond(term, &known) {
                groups.push(vec![c]);
            }
        }
        Query { groups }
    }

    pub fn matches(&self, r: &Record) -> bool {
        self.groups.iter().all(|g| g.iter().any(|c| c.matches(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs() -> Vec<Record> {
        let r = |n: &str, a: &str| {
            Record(vec![
                ("user_name".into(), n.into()),
                ("active".into(), a.into()),
            ])
        };
        vec![
            r("admin", "true"),
            r("abel.tuter", "true"),
            r("no.roles", "false"),
        ]
    }

    fn hits(q: &str) -> Vec<String> {
        let rs = recs();
        let query = Query::parse(q, &rs);
        rs.iter()
            .filter(|r| query.matches(r))
            .map(|r| r.get("user_name").unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn equality_and_unknown_fields() {
        assert_eq!(hits("user_name=admin"), ["admin"]);
        assert_eq!(hits("user_name=ADMIN"), ["admin"]);
        assert_eq!(hits("no_such_field=admin").len(), 3);
        assert_eq!(hits("no_such_field=x^user_name=abel.tuter"), ["abel.tuter"]);
    }

    #[test]
    fn operators() {
        assert_eq!(hits("user_nameSTARTSWITHab"), ["abel.tuter"]);
        assert_eq!(hits("user_nameLIKEroles"), ["no.roles"]);
        assert_eq!(hits("active!=true"), ["no.roles"]);
        assert_eq!(
            hits("user_name=admin^ORuser_name=no.roles"),
            ["admin", "no.roles"]
        );
        assert_eq!(hits("active=true^user_name=no.roles").len(), 0);
    }

    #[test]
    fn json_keeps_order_and_selects_fields() {
        let r = &recs()[0];
        assert_eq!(r.to_json(&[]), r#"{"user_name":"admin","active":"true"}"#);
        assert_eq!(
            r.to_json(&["active".into(), "nope".into(), "user_name".into()]),
            r#"{"active":"true","user_name":"admin"}"#
        );
    }
}
