//! Table data, ACLs, rendering (references, dot-walk, display values) and the encoded-query
//! subset the Table API understands (servicenow.md §4, checklist 4 and 7).
//!
//! Records are ordered `(field, string value)` lists: every Table API value is a string.
//! `sys_user`, `sys_user_has_role`, `oauth_entity` and `oauth_credential` are views of the
//! structs in [`crate::state`] (so OAuth and authentication see every change at once); every
//! other table is a plain list of records in `Inner::tables`.

use serde_json::Value;

use crate::state::{random_hex, random_url_safe, Inner, OAuthClient, User};

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

    pub fn set(&mut self, field: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == field) {
            Some((_, v)) => *v = value.to_string(),
            None => self.0.push((field.to_string(), value.to_string())),
        }
    }

    #[cfg(test)]
    /// The record as a JSON object of plain strings, keeping field order; `fields` (when
    /// non-empty) selects and orders the output, unknown names are left out.
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

/// `YYYY-MM-DD HH:MM:SS` (UTC) for seconds since the epoch, as the Table API prints dates.
pub fn glide_datetime(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Every table the simulator knows (what `sys_db_object` lists).
pub const TABLES: &[&str] = &[
    "sys_user",
    "sys_user_role",
    "sys_user_has_role",
    "sys_properties",
    "v_plugin",
    "sys_plugins",
    "oauth_entity",
    "oauth_entity_profile",
    "oauth_entity_scope",
    "oauth_credential",
    "sys_db_object",
    "incident",
];

const SYS_FIELDS: &[&str] = &[
    "sys_created_by",
    "sys_created_on",
    "sys_updated_by",
    "sys_updated_on",
    "sys_mod_count",
];

/// The fields of `table` (without the `sys_*` audit fields, which every table has).
pub fn schema(table: &str) -> Option<&'static [&'static str]> {
    Some(match table {
        "sys_user" => &[
            "sys_id",
            "user_name",
            "name",
            "first_name",
            "last_name",
            "email",
            "title",
            "active",
            "locked_out",
            "roles",
            "web_service_access_only",
            "internal_integration_user",
            "time_zone",
            "sys_class_name",
        ],
        "sys_user_role" => &[
            "sys_id",
            "name",
            "description",
            "elevated_privilege",
            "suffix",
        ],
        "sys_user_has_role" => &["sys_id", "user", "role", "state", "inherited"],
        "sys_properties" => &["sys_id", "name", "value", "type", "description"],
        "v_plugin" => &["sys_id", "id", "name", "active", "version"],
        "sys_plugins" => &["sys_id", "source", "name", "active", "version"],
        "oauth_entity" => &[
            "sys_id",
            "name",
            "client_id",
            "client_secret",
            "type",
            "active",
            "redirect_url",
            "logo_url",
            "access_token_lifespan",
            "refresh_token_lifespan",
            "public_client",
            "pkce_required",
            "default_grant_type",
            "oauth_application_user",
            "comments",
            "jwt_verifier_public_key",
        ],
        "oauth_entity_profile" => &["sys_id", "name", "oauth_entity", "grant_type", "default"],
        "oauth_entity_scope" => &["sys_id", "name", "oauth_entity", "oauth_entity_scope"],
        "oauth_credential" => &["sys_id", "token", "type", "expires", "user", "peer"],
        "sys_db_object" => &["sys_id", "name", "label", "super_class", "is_extendable"],
        "incident" => &[
            "sys_id",
            "number",
            "short_description",
            "description",
            "state",
            "priority",
            "caller_id",
            "assigned_to",
            "opened_by",
            "active",
        ],
        _ => return None,
    })
}

fn known_field(table: &str, field: &str) -> bool {
    schema(table).is_some_and(|s| s.contains(&field)) || SYS_FIELDS.contains(&field)
}

/// The table a reference field points to.
pub fn reference(table: &str, field: &str) -> Option<&'static str> {
    Some(match (table, field) {
        ("sys_user_has_role", "user") => "sys_user",
        ("sys_user_has_role", "role") => "sys_user_role",
        ("oauth_entity", "oauth_application_user") => "sys_user",
        ("oauth_entity_profile", "oauth_entity") => "oauth_entity",
        ("oauth_entity_scope", "oauth_entity") => "oauth_entity",
        ("oauth_credential", "user") => "sys_user",
        ("oauth_credential", "peer") => "oauth_entity",
        ("incident", "caller_id" | "assigned_to" | "opened_by") => "sys_user",
        _ => return None,
    })
}

/// The field shown as a record's display value.
fn display_field(table: &str) -> &'static str {
    match table {
        "incident" => "number",
        "oauth_credential" | "sys_user_has_role" => "sys_id",
        _ => "name",
    }
}

/// Choice labels (`sysparm_display_value=true`).
fn choice_label(table: &str, field: &str, value: &str) -> Option<&'static str> {
    Some(match (table, field, value) {
        ("incident", "state", "1") => "New",
        ("incident", "state", "2") => "In Progress",
        ("incident", "state", "3") => "On Hold",
        ("incident", "state", "6") => "Resolved",
        ("incident", "state", "7") => "Closed",
        ("incident", "priority", "1") => "1 - Critical",
        ("incident", "priority", "2") => "2 - High",
        ("incident", "priority", "3") => "3 - Moderate",
        ("incident", "priority", "4") => "4 - Low",
        ("incident", "priority", "5") => "5 - Planning",
        _ => return None,
    })
}

fn audit(rec: &mut Vec<(String, String)>, created: &str) {
    for (k, v) in [
        ("sys_created_by", "admin"),
        ("sys_created_on", created),
        ("sys_updated_by", "admin"),
        ("sys_updated_on", created),
        ("sys_mod_count", "0"),
    ] {
        rec.push((k.to_string(), v.to_string()));
    }
}

/// All rows of `table`, or `None` when the table does not exist.
pub fn rows(inner: &Inner, table: &str) -> Option<Vec<Record>> {
    match table {
        "sys_user" => Some(inner.users.iter().map(user_row).collect()),
        "sys_user_has_role" => Some(has_role_rows(inner)),
        "oauth_entity" => Some(inner.clients.iter().map(entity_row).collect()),
        "oauth_credential" => Some(credential_rows(inner)),
        "v_plugin" => Some(v_plugin_rows(inner)),
        _ => {
            schema(table)?;
            Some(inner.tables.get(table).cloned().unwrap_or_default())
        }
    }
}

fn find(inner: &Inner, table: &str, sys_id: &str) -> Option<Record> {
    match table {
        "sys_user" => inner.user_by_sys_id(sys_id).map(user_row),
        _ => rows(inner, table)?
            .into_iter()
            .find(|r| r.get("sys_id") == Some(sys_id)),
    }
}

fn user_row(u: &User) -> Record {
    let f = |k: &str, v: String| (k.to_string(), v);
    let mut r = vec![
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
        f(
            "web_service_access_only",
            u.web_service_access_only.to_string(),
        ),
        f("internal_integration_user", "false".into()),
        f("time_zone", String::new()),
        f("sys_class_name", "sys_user".into()),
    ];
    audit(&mut r, "2024-01-01 00:00:00");
    Record(r)
}

fn role_sys_id(inner: &Inner, name: &str) -> Option<String> {
    inner
        .tables
        .get("sys_user_role")?
        .iter()
        .find(|r| r.get("name") == Some(name))
        .and_then(|r| r.get("sys_id").map(str::to_string))
}

fn derived_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(parts.join("\u{1f}").as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn has_role_rows(inner: &Inner) -> Vec<Record> {
    let mut out = Vec::new();
    for u in &inner.users {
        for role in &u.roles {
            let Some(role_id) = role_sys_id(inner, role) else {
                continue;
            };
            let mut r = vec![
                ("sys_id".into(), derived_id(&[&u.sys_id, &role_id])),
                ("user".into(), u.sys_id.clone()),
                ("role".into(), role_id),
                ("state".into(), "active".into()),
                ("inherited".into(), "false".into()),
            ];
            audit(&mut r, "2024-01-01 00:00:00");
            out.push(Record(r));
        }
    }
    out
}

/// `v_plugin` is a database view over `sys_plugins` (`id` = `source`).
fn v_plugin_rows(inner: &Inner) -> Vec<Record> {
    inner
        .tables
        .get("sys_plugins")
        .map(|rows| {
            rows.iter()
                .map(|p| {
                    let g = |k: &str| p.get(k).unwrap_or("").to_string();
                    let mut r = vec![
                        (
                            "sys_id".to_string(),
                            derived_id(&["v_plugin", &g("sys_id")]),
                        ),
                        ("id".to_string(), g("source")),
                        ("name".to_string(), g("name")),
                        ("active".to_string(), g("active")),
                        ("version".to_string(), g("version")),
                    ];
                    audit(&mut r, "2024-01-01 00:00:00");
                    Record(r)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn entity_row(c: &OAuthClient) -> Record {
    let f = |k: &str, v: String| (k.to_string(), v);
    let mut r = vec![
        f("sys_id", c.sys_id.clone()),
        f("name", c.name.clone()),
        f("client_id", c.client_id.clone()),
        // UNCONFIRMED what a real GET returns for this password2 field.
        f("client_secret", c.client_secret.clone().unwrap_or_default()),
        f("type", "client".into()),
        f("active", c.active.to_string()),
        f("redirect_url", c.redirect_urls.join(",")),
        f("logo_url", c.logo_url.clone()),
        f("access_token_lifespan", c.access_token_lifespan.to_string()),
        f(
            "refresh_token_lifespan",
            c.refresh_token_lifespan.to_string(),
        ),
        f("public_client", c.public_client.to_string()),
        f("pkce_required", c.pkce_required.to_string()),
        f("default_grant_type", c.default_grant_type.clone()),
        f(
            "oauth_application_user",
            c.application_user.clone().unwrap_or_default(),
        ),
        f("comments", c.comments.clone()),
        f(
            "jwt_verifier_public_key",
            c.jwt_public_key.clone().unwrap_or_default(),
        ),
    ];
    audit(&mut r, "2024-01-01 00:00:00");
    Record(r)
}

fn credential_rows(inner: &Inner) -> Vec<Record> {
    let mut out = Vec::new();
    let entity = |client_id: &str| {
        inner
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
            .map(|c| c.sys_id.clone())
            .unwrap_or_default()
    };
    let user_id = |name: &str| {
        inner
            .user(name)
            .map(|u| u.sys_id.clone())
            .unwrap_or_default()
    };
    let mut push = |token: &str, kind: &str, client: &str, user: &str, expires: u64| {
        let mut r = vec![
            ("sys_id".into(), derived_id(&[token])),
            // The token itself is never shown here (a leak scan must not find it).
            ("token".into(), "********".into()),
            ("type".into(), kind.into()),
            ("expires".into(), glide_datetime(expires)),
            ("user".into(), user_id(user)),
            ("peer".into(), entity(client)),
        ];
        audit(&mut r, "2024-01-01 00:00:00");
        out.push(Record(r));
    };
    let mut access: Vec<_> = inner.access_tokens.iter().collect();
    access.sort_by(|a, b| a.0.cmp(b.0));
    for (tok, t) in access {
        push(tok, "access_token", &t.client_id, &t.user, t.expires_at);
    }
    let mut refresh: Vec<_> = inner.refresh_tokens.iter().collect();
    refresh.sort_by(|a, b| a.0.cmp(b.0));
    for (tok, t) in refresh {
        push(tok, "refresh_token", &t.client_id, &t.user, t.expires_at);
    }
    out
}

// ---- ACLs -----------------------------------------------------------------------------------

/// Table-level ACL: false = 403 "User Not Authorized" / "Failed API level ACL Validation".
pub fn table_allowed(inner: &Inner, table: &str, write: bool, user: &User) -> bool {
    if !user.is_admin() && inner.switches.denied_tables.iter().any(|t| t == table) {
        return false;
    }
    if user.is_admin() {
        // v_plugin is a database view: nobody writes it.
        return !(write && table == "v_plugin");
    }
    let oauth_admin = user.has_role("oauth_admin");
    match table {
        "sys_user" | "sys_user_role" | "sys_user_has_role" => !write,
        // Reads are allowed but every row is hidden (200 [] with an ACL-blind count).
        "sys_properties" => !write,
        "v_plugin" | "sys_plugins" => false,
        // "no roles → 403" (checklist 7).
        "sys_db_object" => !write && !user.roles.is_empty(),
        "oauth_entity" | "oauth_entity_profile" | "oauth_entity_scope" => oauth_admin,
        "oauth_credential" => !write || oauth_admin,
        "incident" => !write || user.has_role("itil"),
        _ => false,
    }
}

/// Row-level ACL (rows hidden from the result but still counted in `X-Total-Count`).
pub fn row_visible(inner: &Inner, table: &str, user: &User, rec: &Record) -> bool {
    // Switch `basic_auth_properties_need_security_admin` (UNCONFIRMED, §5): the Basic Auth
    // Restriction properties need security_admin, which admin does not hold by default.
    if table == "sys_properties"
        && inner.switches.basic_auth_properties_need_security_admin
        && rec
            .get("name")
            .is_some_and(|n| n.starts_with(crate::properties::BASIC_AUTH_PREFIX))
        && !user.has_role("security_admin")
    {
        return false;
    }
    if user.is_admin() {
        return true;
    }
    match table {
        "sys_properties" => false,
        "oauth_credential" => {
            user.has_role("oauth_admin") || rec.get("user") == Some(user.sys_id.as_str())
        }
        "incident" => user.has_role("itil") || rec.get("caller_id") == Some(user.sys_id.as_str()),
        _ => true,
    }
}

// ---- rendering ------------------------------------------------------------------------------

/// `sysparm_display_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayMode {
    Value,
    Display,
    All,
}

impl DisplayMode {
    pub fn parse(v: Option<&str>) -> DisplayMode {
        match v.map(str::to_ascii_lowercase).as_deref() {
            Some("true") => DisplayMode::Display,
            Some("all") => DisplayMode::All,
            _ => DisplayMode::Value,
        }
    }
}

/// How to render records.
pub struct Render<'a> {
    pub inner: &'a Inner,
    pub table: &'a str,
    pub fields: &'a [String],
    pub display: DisplayMode,
    pub exclude_reference_link: bool,
    /// Fields removed by a field-level ACL.
    pub hidden: &'a [String],
    /// `https://host:port` for reference links.
    pub base: &'a str,
}

/// The value of `path` (a field, or a dot-walk like `role.name`) in `rec`.
pub fn field_value(inner: &Inner, table: &str, rec: &Record, path: &str) -> Option<String> {
    match path.split_once('.') {
        None => rec.get(path).map(str::to_string),
        Some((first, rest)) => {
            let target = reference(table, first)?;
            let id = rec.get(first)?;
            if id.is_empty() {
                return Some(String::new());
            }
            let linked = find(inner, target, id)?;
            field_value(inner, target, &linked, rest)
        }
    }
}

fn display_of(inner: &Inner, table: &str, field: &str, value: &str) -> String {
    if let Some(target) = reference(table, field) {
        if value.is_empty() {
            return String::new();
        }
        return find(inner, target, value)
            .and_then(|r| r.get(display_field(target)).map(str::to_string))
            .unwrap_or_default();
    }
    choice_label(table, field, value)
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string())
}

impl Render<'_> {
    fn plugin_value(&self, field: &str, value: &str) -> String {
        if field == "active"
            && matches!(self.table, "v_plugin" | "sys_plugins")
            && self.inner.switches.plugin_active_format
                == crate::switches::PluginActiveFormat::Active
        {
            return if value == "true" || value == "active" {
                "active"
            } else {
                "inactive"
            }
            .to_string();
        }
        value.to_string()
    }

    fn value_json(&self, field: &str, value: &str) -> Value {
        let value = self.plugin_value(field, value);
        let reference = reference(self.table, field).filter(|_| !value.is_empty());
        let link = reference.map(|t| format!("{}/api/now/table/{t}/{value}", self.base));
        match self.display {
            DisplayMode::Value => match link {
                Some(link) if !self.exclude_reference_link => {
                    serde_json::json!({"link": link, "value": value})
                }
                _ => Value::String(value),
            },
            DisplayMode::Display => {
                Value::String(display_of(self.inner, self.table, field, &value))
            }
            DisplayMode::All => {
                let display = display_of(self.inner, self.table, field, &value);
                match link {
                    Some(link) if !self.exclude_reference_link => {
                        serde_json::json!({"display_value": display, "link": link, "value": value})
                    }
                    _ => serde_json::json!({"display_value": display, "value": value}),
                }
            }
        }
    }

    /// The record as a JSON object (field order kept).
    pub fn record(&self, rec: &Record) -> String {
        let mut out: Vec<(String, Value)> = Vec::new();
        let hidden = |f: &str| self.hidden.iter().any(|h| h == f);
        if self.fields.is_empty() {
            for (k, v) in &rec.0 {
                if !hidden(k) {
                    out.push((k.clone(), self.value_json(k, v)));
                }
            }
        } else {
            for f in self.fields {
                if hidden(f) || hidden(f.split('.').next().unwrap_or("")) {
                    continue;
                }
                if f.contains('.') {
                    if let Some(v) = field_value(self.inner, self.table, rec, f) {
                        out.push((f.clone(), Value::String(v)));
                    }
                } else if let Some(v) = rec.get(f) {
                    out.push((f.clone(), self.value_json(f, v)));
                }
            }
        }
        let mut s = String::from("{");
        for (i, (k, v)) in out.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&serde_json::to_string(k).unwrap_or_default());
            s.push(':');
            s.push_str(&object_in_order(v));
        }
        s.push('}');
        s
    }
}

/// Serialize reference objects with the key order `display_value, link, value`.
fn object_in_order(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let mut s = String::from("{");
            let mut first = true;
            for k in ["display_value", "link", "value"] {
                if let Some(x) = o.get(k) {
                    if !first {
                        s.push(',');
                    }
                    first = false;
                    s.push_str(&format!(
                        "\"{k}\":{}",
                        serde_json::to_string(x).unwrap_or_default()
                    ));
                }
            }
            s.push('}');
            s
        }
        _ => serde_json::to_string(v).unwrap_or_default(),
    }
}

// ---- writes -----------------------------------------------------------------------------------

/// Why a write failed.
#[derive(Debug)]
pub enum WriteError {
    NotFound,
    Invalid(String),
    Forbidden,
}

/// A JSON body value as the string the Table API stores.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        Value::Object(o) => o.get("value").map(text).unwrap_or_default(),
        Value::Array(_) => v.to_string(),
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

/// Insert a record; returns its sys_id. `issued` receives generated secrets.
pub fn insert(
    inner: &mut Inner,
    table: &str,
    body: &serde_json::Map<String, Value>,
    by: &str,
) -> Result<String, WriteError> {
    let get = |k: &str| body.get(k).map(text);
    let now = glide_datetime(inner.now());
    match table {
        "sys_user" => {
            let name = get("user_name").unwrap_or_default();
            if name.is_empty() {
                return Err(WriteError::Invalid("user_name is required".into()));
            }
            if inner.user(&name).is_some() {
                return Err(WriteError::Invalid(format!(
                    "Operation Failed: duplicate user_name {name}"
                )));
            }
            let sys_id = random_hex(32);
            inner.users.push(User {
                sys_id: sys_id.clone(),
                user_name: name.clone(),
                password: get("user_password").unwrap_or_default(),
                first_name: get("first_name").unwrap_or_default(),
                last_name: get("last_name").unwrap_or_default(),
                email: get("email").unwrap_or_default(),
                roles: Vec::new(),
                active: get("active").map(|a| truthy(&a)).unwrap_or(true),
                web_service_access_only: get("web_service_access_only").is_some_and(|a| truthy(&a)),
            });
            Ok(sys_id)
        }
        "sys_user_has_role" => {
            let user = get("user").unwrap_or_default();
            let role = get("role").unwrap_or_default();
            let role_name = inner
                .tables
                .get("sys_user_role")
                .and_then(|t| {
                    t.iter()
                        .find(|r| r.get("sys_id") == Some(&role) || r.get("name") == Some(&role))
                })
                .and_then(|r| r.get("name").map(str::to_string))
                .ok_or_else(|| WriteError::Invalid("role: no such role".into()))?;
            let u = inner
                .users
                .iter_mut()
                .find(|u| u.sys_id == user || u.user_name == user)
                .ok_or_else(|| WriteError::Invalid("user: no such user".into()))?;
            if !u.roles.contains(&role_name) {
                u.roles.push(role_name.clone());
            }
            let uid = u.sys_id.clone();
            let rid = role_sys_id(inner, &role_name).unwrap_or_default();
            Ok(derived_id(&[&uid, &rid]))
        }
        "oauth_entity" => {
            let name = get("name").unwrap_or_default();
            if name.is_empty() {
                return Err(WriteError::Invalid("name is required".into()));
            }
            let public = get("public_client").is_some_and(|v| truthy(&v));
            let secret = if public {
                None
            } else {
                Some(
                    get("client_secret")
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| random_url_safe(32)),
                )
            };
            if let Some(s) = &secret {
                inner.issued.push(s.clone());
            }
            let sys_id = random_hex(32);
            let lifespan = |k: &str, d: u64| {
                get(k)
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(d)
            };
            let app_user = get("oauth_application_user")
                .filter(|s| !s.is_empty())
                .map(|s| {
                    inner
                        .user(&s)
                        .map(|u| u.sys_id.clone())
                        .unwrap_or(s.clone())
                });
            inner.clients.push(OAuthClient {
                sys_id: sys_id.clone(),
                name,
                client_id: random_hex(32),
                client_secret: secret,
                public_client: public,
                pkce_required: public || get("pkce_required").is_some_and(|v| truthy(&v)),
                redirect_urls: split_urls(&get("redirect_url").unwrap_or_default()),
                active: get("active").map(|a| truthy(&a)).unwrap_or(true),
                access_token_lifespan: lifespan("access_token_lifespan", 1800),
                refresh_token_lifespan: lifespan("refresh_token_lifespan", 8_640_000),
                application_user: app_user,
                logo_url: get("logo_url").unwrap_or_default(),
                comments: get("comments").unwrap_or_default(),
                default_grant_type: get("default_grant_type")
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "authorization_code".into()),
                jwt_spki: get("jwt_verifier_public_key")
                    .and_then(|p| crate::jwt::spki_from_pem(&p)),
                jwt_public_key: get("jwt_verifier_public_key").filter(|s| !s.is_empty()),
            });
            Ok(sys_id)
        }
        "oauth_credential" | "v_plugin" => Err(WriteError::Forbidden),
        _ => {
            let fields = schema(table).ok_or(WriteError::NotFound)?;
            let sys_id = get("sys_id")
                .filter(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .unwrap_or_else(|| random_hex(32));
            let rows = inner.tables.entry(table.to_string()).or_default();
            let mut r = Vec::new();
            for f in fields.iter() {
                let v = match *f {
                    "sys_id" => sys_id.clone(),
                    "number" if table == "incident" => get("number")
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| format!("INC{:07}", 10_001 + rows.len())),
                    "active" if table == "incident" => get("active").unwrap_or("true".into()),
                    "state" if table == "incident" => get("state").unwrap_or("1".into()),
                    _ => get(f).unwrap_or_default(),
                };
                r.push((f.to_string(), v));
            }
            for (k, v) in [
                ("sys_created_by", by),
                ("sys_created_on", &now),
                ("sys_updated_by", by),
                ("sys_updated_on", &now),
                ("sys_mod_count", "0"),
            ] {
                r.push((k.to_string(), v.to_string()));
            }
            rows.push(Record(r));
            Ok(sys_id)
        }
    }
}

fn split_urls(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

/// Update fields of a record (unknown and read-only fields are ignored).
pub fn update(
    inner: &mut Inner,
    table: &str,
    sys_id: &str,
    body: &serde_json::Map<String, Value>,
    by: &str,
) -> Result<(), WriteError> {
    let get = |k: &str| body.get(k).map(text);
    let now = glide_datetime(inner.now());
    match table {
        "sys_user" => {
            let u = inner
                .users
                .iter_mut()
                .find(|u| u.sys_id == sys_id)
                .ok_or(WriteError::NotFound)?;
            if let Some(v) = get("first_name") {
                u.first_name = v;
            }
            if let Some(v) = get("last_name") {
                u.last_name = v;
            }
            if let Some(v) = get("email") {
                u.email = v;
            }
            if let Some(v) = get("user_password") {
                u.password = v;
            }
            if let Some(v) = get("active") {
                u.active = truthy(&v);
            }
            if let Some(v) = get("web_service_access_only") {
                u.web_service_access_only = truthy(&v);
            }
            Ok(())
        }
        "oauth_entity" => {
            let c = inner
                .clients
                .iter_mut()
                .find(|c| c.sys_id == sys_id)
                .ok_or(WriteError::NotFound)?;
            if let Some(v) = get("name") {
                c.name = v;
            }
            if let Some(v) = get("client_secret").filter(|s| !s.is_empty()) {
                if !c.public_client {
                    c.client_secret = Some(v.clone());
                    inner.issued.push(v);
                }
            }
            if let Some(v) = get("redirect_url") {
                c.redirect_urls = split_urls(&v);
            }
            if let Some(v) = get("active") {
                c.active = truthy(&v);
            }
            if let Some(v) = get("access_token_lifespan").and_then(|v| v.parse().ok()) {
                c.access_token_lifespan = v;
            }
            if let Some(v) = get("refresh_token_lifespan").and_then(|v| v.parse().ok()) {
                c.refresh_token_lifespan = v;
            }
            if let Some(v) = get("pkce_required") {
                c.pkce_required = c.public_client || truthy(&v);
            }
            if let Some(v) = get("oauth_application_user") {
                c.application_user = Some(v).filter(|s| !s.is_empty()).map(|s| {
                    inner
                        .users
                        .iter()
                        .find(|u| u.user_name == s)
                        .map(|u| u.sys_id.clone())
                        .unwrap_or(s)
                });
            }
            if let Some(v) = get("logo_url") {
                c.logo_url = v;
            }
            if let Some(v) = get("comments") {
                c.comments = v;
            }
            if let Some(v) = get("default_grant_type") {
                c.default_grant_type = v;
            }
            if let Some(v) = get("jwt_verifier_public_key") {
                c.jwt_spki = crate::jwt::spki_from_pem(&v);
                c.jwt_public_key = Some(v).filter(|s| !s.is_empty());
            }
            Ok(())
        }
        "sys_user_has_role" | "oauth_credential" | "v_plugin" => Err(WriteError::Forbidden),
        _ => {
            let fields = schema(table).ok_or(WriteError::NotFound)?;
            let rows = inner.tables.get_mut(table).ok_or(WriteError::NotFound)?;
            let r = rows
                .iter_mut()
                .find(|r| r.get("sys_id") == Some(sys_id))
                .ok_or(WriteError::NotFound)?;
            for (k, v) in body {
                if fields.contains(&k.as_str()) && k != "sys_id" {
                    r.set(k, &text(v));
                }
            }
            let count = r
                .get("sys_mod_count")
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(0);
            r.set("sys_mod_count", &(count + 1).to_string());
            r.set("sys_updated_on", &now);
            r.set("sys_updated_by", by);
            Ok(())
        }
    }
}

/// Delete a record.
pub fn delete(inner: &mut Inner, table: &str, sys_id: &str) -> Result<(), WriteError> {
    match table {
        "sys_user" => {
            let pos = inner
                .users
                .iter()
                .position(|u| u.sys_id == sys_id)
                .ok_or(WriteError::NotFound)?;
            let u = inner.users.remove(pos);
            inner.access_tokens.retain(|_, t| t.user != u.user_name);
            inner.refresh_tokens.retain(|_, t| t.user != u.user_name);
            Ok(())
        }
        "sys_user_has_role" => {
            let row = has_role_rows(inner)
                .into_iter()
                .find(|r| r.get("sys_id") == Some(sys_id))
                .ok_or(WriteError::NotFound)?;
            let role = row.get("role").unwrap_or("").to_string();
            let role_name = inner
                .tables
                .get("sys_user_role")
                .and_then(|t| t.iter().find(|r| r.get("sys_id") == Some(&role)))
                .and_then(|r| r.get("name").map(str::to_string))
                .unwrap_or_default();
            if let Some(u) = inner
                .users
                .iter_mut()
                .find(|u| Some(u.sys_id.as_str()) == row.get("user"))
            {
                u.roles.retain(|r| *r != role_name);
            }
            Ok(())
        }
        "oauth_entity" => {
            let pos = inner
                .clients
                .iter()
                .position(|c| c.sys_id == sys_id)
                .ok_or(WriteError::NotFound)?;
            let c = inner.clients.remove(pos);
            inner
                .access_tokens
                .retain(|_, t| t.client_id != c.client_id);
            inner
                .refresh_tokens
                .retain(|_, t| t.client_id != c.client_id);
            Ok(())
        }
        "oauth_credential" => {
            // Deleting a credential revokes the token (System OAuth > Manage Tokens).
            let tok = inner
                .access_tokens
                .keys()
                .chain(inner.refresh_tokens.keys())
                .find(|t| derived_id(&[t.as_str()]) == sys_id)
                .cloned()
                .ok_or(WriteError::NotFound)?;
            inner.access_tokens.remove(&tok);
            inner.refresh_tokens.remove(&tok);
            Ok(())
        }
        "v_plugin" => Err(WriteError::Forbidden),
        _ => {
            let rows = inner.tables.get_mut(table).ok_or(WriteError::NotFound)?;
            let before = rows.len();
            rows.retain(|r| r.get("sys_id") != Some(sys_id));
            if rows.len() == before {
                Err(WriteError::NotFound)
            } else {
                Ok(())
            }
        }
    }
}

// ---- encoded queries ------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
    In,
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cond {
    field: String,
    op: Op,
    value: String,
}

impl Cond {
    fn matches(&self, inner: Option<&Inner>, table: &str, r: &Record) -> bool {
        let v = if self.field.contains('.') {
            inner
                .and_then(|i| field_value(i, table, r, &self.field))
                .unwrap_or_default()
        } else {
            r.get(&self.field).unwrap_or("").to_string()
        }
        .to_lowercase();
        let want = self.value.to_lowercase();
        match self.op {
            Op::Eq => v == want,
            Op::Ne => v != want,
            Op::Like => v.contains(&want),
            Op::NotLike => !v.contains(&want),
            Op::StartsWith => v.starts_with(&want),
            Op::EndsWith => v.ends_with(&want),
            Op::In => want.split(',').any(|w| w.trim() == v),
            Op::IsEmpty => v.is_empty(),
            Op::IsNotEmpty => !v.is_empty(),
        }
    }
}

/// A parsed encoded query: an AND of OR-groups, plus ordering.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    groups: Vec<Vec<Cond>>,
    order: Vec<(String, bool)>,
    /// A term was dropped (unknown field or operator).
    pub invalid: bool,
}

fn parse_cond(term: &str, known: &dyn Fn(&str) -> bool) -> Option<Cond> {
    // Longest operators first. Comparisons are case-insensitive, as on a real instance.
    const OPS: &[(&str, Op)] = &[
        ("ISNOTEMPTY", Op::IsNotEmpty),
        ("ISEMPTY", Op::IsEmpty),
        ("NOT LIKE", Op::NotLike),
        ("STARTSWITH", Op::StartsWith),
        ("ENDSWITH", Op::EndsWith),
        ("LIKE", Op::Like),
        ("NOT IN", Op::Ne),
        ("IN", Op::In),
        ("!=", Op::Ne),
        ("=", Op::Eq),
    ];
    let (pos, op_text, op) = OPS
        .iter()
        .filter(|(t, _)| *t != "NOT IN")
        .filter_map(|(t, op)| term.find(t).map(|p| (p, *t, op.clone())))
        .min_by_key(|(p, t, _)| (*p, std::cmp::Reverse(t.len())))?;
    let field = term[..pos].trim();
    let value = &term[pos + op_text.len()..];
    // Unknown fields are silently dropped (APIS:c_TableAPI.md).
    if !known(field) {
        return None;
    }
    Some(Cond {
        field: field.to_string(),
        op,
        value: value.to_string(),
    })
}

impl Query {
    /// Parse `sysparm_query` against the fields of `records` (unit tests).
    #[cfg(test)]
    pub fn parse(q: &str, records: &[Record]) -> Query {
        let names: Vec<String> = records
            .first()
            .map(|r| r.0.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        Query::parse_with(q, &|f: &str| names.iter().any(|n| n == f))
    }

    /// Parse `sysparm_query` for `table` (dot-walked fields through references allowed).
    pub fn parse_for(q: &str, table: &str) -> Query {
        let known = |f: &str| -> bool {
            let mut t = table;
            let mut parts = f.split('.').peekable();
            while let Some(p) = parts.next() {
                if !known_field(t, p) {
                    return false;
                }
                if parts.peek().is_some() {
                    match reference(t, p) {
                        Some(next) => t = next,
                        None => return false,
                    }
                }
            }
            true
        };
        Query::parse_with(q, &known)
    }

    fn parse_with(q: &str, known: &dyn Fn(&str) -> bool) -> Query {
        let mut groups: Vec<Vec<Cond>> = Vec::new();
        let mut order = Vec::new();
        let mut invalid = false;
        for term in q.split('^').filter(|t| !t.is_empty()) {
            if let Some(f) = term.strip_prefix("ORDERBYDESC") {
                if known(f) {
                    order.push((f.to_string(), true));
                }
                continue;
            }
            if let Some(f) = term.strip_prefix("ORDERBY") {
                if known(f) {
                    order.push((f.to_string(), false));
                }
                continue;
            }
            if term == "EQ" || term.starts_with("NQ") {
                continue;
            }
            if let Some(rest) = term.strip_prefix("OR") {
                if let (Some(c), Some(last)) = (parse_cond(rest, known), groups.last_mut()) {
                    last.push(c);
                    continue;
                }
            }
            match parse_cond(term, known) {
                Some(c) => groups.push(vec![c]),
                None => invalid = true,
            }
        }
        Query {
            groups,
            order,
            invalid,
        }
    }

    #[cfg(test)]
    pub fn matches(&self, r: &Record) -> bool {
        self.groups
            .iter()
            .all(|g| g.iter().any(|c| c.matches(None, "", r)))
    }

    /// Match with dot-walk support.
    pub fn matches_in(&self, inner: &Inner, table: &str, r: &Record) -> bool {
        self.groups
            .iter()
            .all(|g| g.iter().any(|c| c.matches(Some(inner), table, r)))
    }

    /// Apply `ORDERBY` / `ORDERBYDESC` terms.
    pub fn sort(&self, inner: &Inner, table: &str, rows: &mut [Record]) {
        for (field, desc) in self.order.iter().rev() {
            rows.sort_by(|a, b| {
                let va = field_value(inner, table, a, field).unwrap_or_default();
                let vb = field_value(inner, table, b, field).unwrap_or_default();
                if *desc {
                    vb.cmp(&va)
                } else {
                    va.cmp(&vb)
                }
            });
        }
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
        assert_eq!(hits("user_nameINadmin,no.roles"), ["admin", "no.roles"]);
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

    #[test]
    fn dates() {
        assert_eq!(glide_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(glide_datetime(1_704_067_200), "2024-01-01 00:00:00");
        assert_eq!(glide_datetime(1_709_210_096), "2024-02-29 12:34:56");
    }
}
