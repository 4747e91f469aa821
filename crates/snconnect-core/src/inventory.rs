//! The basic-auth inventory (issue 10): with admin credentials, the accounts that still
//! depend on basic auth, so each can be migrated before Basic Auth Restriction is enforced
//! (servicenow.md §5 "Basic Auth Restriction (2026)": under enforcement basic auth passes only
//! for web-service-access-only accounts, holders of `snc_basic_auth_api_access` and the roles
//! and users the restriction properties allow).
//!
//! Four sources, each read once through the Table API (bounded at [`READ_LIMIT`] rows):
//! 1. `restriction`: every `glide.authenticate.basic_auth.*` property in one query (active,
//!    enforce, enforcement date, default decision, allowed roles and users);
//! 2. `wsao_users`: `sys_user` with `web_service_access_only=true`;
//! 3. `role_holders`: `sys_user_has_role` for `snc_basic_auth_api_access` and the allowed
//!    roles, dot-walking `user.*` and `role.name` (one query);
//! 4. `allowed_users`: the users named in `…allowed_users`, looked up in `sys_user`.
//!
//! A source this account may not read is **never** reported as "no accounts": a 403 makes it
//! [`SourceState::Denied`], rows hidden by ACLs (an empty result while `X-Total-Count` > 0)
//! make it [`SourceState::Hidden`], and either way its count is `None`. When the restriction
//! properties cannot be read, every restriction value is `None` ("unknown", never "off").
//! Failures that are not about this account's read access (401, MFA, an unreachable or
//! hibernating instance, HTML instead of JSON, rate limiting) end the inventory with the
//! diagnosis, whichever read hits them.

use crate::conn_test::{table_query, ApiAuth, TableRows};
use crate::connection::AdminCredentials;
use crate::error::{Code, Diagnosis};
use crate::instance::InstanceUrl;
use crate::probe::{is_truthy, str_field};
use serde::Serialize;
use std::collections::BTreeMap;

/// The role that keeps basic auth under enforcement (the "Maintain" decision grants it).
pub const BASIC_AUTH_ROLE: &str = "snc_basic_auth_api_access";

/// The prefix of every Basic Auth Restriction property.
pub const PROP_PREFIX: &str = "glide.authenticate.basic_auth.";
pub const PROP_ACTIVE: &str = "glide.authenticate.basic_auth.restriction.active";
pub const PROP_ENFORCE: &str = "glide.authenticate.basic_auth.restriction.enforce";
/// Its value format is UNCONFIRMED (servicenow.md §5): it is passed on as read.
pub const PROP_ENFORCEMENT_DATE: &str =
    "glide.authenticate.basic_auth.restriction.enforcement_date";
pub const PROP_DEFAULT_DECISION: &str =
    "glide.authenticate.basic_auth.restriction.default_decision";
/// Comma-separated role names.
pub const PROP_ALLOWED_ROLES: &str = "glide.authenticate.basic_auth.allowed_roles";
/// Comma-separated user names (sys_ids are matched too).
pub const PROP_ALLOWED_USERS: &str = "glide.authenticate.basic_auth.allowed_users";

/// Source ids, in the order [`BasicAuthInventory::sources`] lists them.
pub const SOURCE_WSAO_USERS: &str = "wsao_users";
pub const SOURCE_ROLE_HOLDERS: &str = "role_holders";
pub const SOURCE_ALLOWED_USERS: &str = "allowed_users";
pub const SOURCE_RESTRICTION: &str = "restriction";

/// Rows read per source at most (like `probe::roles_of`).
pub const READ_LIMIT: usize = 1000;

/// Where the admin checks and changes the restriction by hand.
const PROPERTIES_PAGE: &str = "All > Basic Auth Restriction > Properties";

/// Everything the inventory found.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BasicAuthInventory {
    /// The instance URL, as the other reports print it.
    pub instance: String,
    /// Every account found by any readable source, sorted by user_name.
    pub accounts: Vec<BasicAuthAccount>,
    /// One entry per source, in this order: "wsao_users", "role_holders", "allowed_users", "restriction".
    pub sources: Vec<InventorySource>,
    /// The Basic Auth Restriction settings.
    pub restriction: Restriction,
}

impl BasicAuthInventory {
    /// The source with this id (`SOURCE_*`).
    pub fn source(&self, id: &str) -> Option<&InventorySource> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// Whether every source was read in full (all `Listed`, no note about missing rows).
    pub fn complete(&self) -> bool {
        self.sources
            .iter()
            .all(|s| s.state == SourceState::Listed && s.detail.is_none())
    }
}

/// One account that still depends on basic auth.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BasicAuthAccount {
    /// `sys_user.user_name` (what the integration signs in with).
    pub user_name: String,
    /// `sys_user.sys_id` (the key accounts are merged by).
    pub sys_id: String,
    /// Display name (`name`, else first + last).
    pub name: String,
    /// `sys_user.active` (an inactive account cannot sign in at all; true when unreadable).
    pub active: bool,
    /// `sys_user.web_service_access_only`: exempt from the restriction, API-only account.
    pub web_service_access_only: bool,
    /// Holds `snc_basic_auth_api_access` (or a role listed in `...allowed_roles`).
    pub has_basic_auth_role: bool,
    /// Listed in `glide.authenticate.basic_auth.allowed_users`.
    pub allowed_by_property: bool,
}

/// How far a source could be read.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// Read: its accounts are in the list (see `detail` for rows that could not be read).
    Listed,
    /// Rows exist but ACLs hide them from this account (or the fields that matter): unknown.
    Hidden,
    /// The table is refused to this account (403): unknown.
    Denied,
}

/// One source of the inventory and what came of reading it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventorySource {
    /// Stable id: "wsao_users", "role_holders", "allowed_users" or "restriction".
    pub id: String,
    /// What a person reads, e.g. "Web-service-access-only users".
    pub label: String,
    /// Listed, hidden or denied.
    pub state: SourceState,
    /// Accounts found (Listed), else None. For "restriction": the properties read.
    pub count: Option<u32>,
    /// Why unknown, and the fix (e.g. "grant security_admin, or read All > Basic Auth Restriction > Properties"); None when Listed.
    /// A Listed source carries a note here only when its list may be incomplete (more rows
    /// than were read, rows hidden, names not found, allowed roles unknown).
    pub detail: Option<String>,
}

/// The Basic Auth Restriction settings (the `glide.authenticate.basic_auth.*` properties).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Restriction {
    /// false when ACLs hide the properties: every value below is then None and means "unknown", never "off".
    pub readable: bool,
    /// `…restriction.active`; None when unreadable or not set.
    pub active: Option<bool>,
    /// `…restriction.enforce`; None when unreadable or not set.
    pub enforce: Option<bool>,
    /// `…restriction.enforcement_date` as the instance stores it (format UNCONFIRMED); None
    /// when unreadable or not set.
    pub enforcement_date: Option<String>,
    /// `…restriction.default_decision` (e.g. "maintain"); None when unreadable or not set.
    pub default_decision: Option<String>,
    /// `…allowed_roles`, split at commas (empty when unreadable: see `readable`).
    pub allowed_roles: Vec<String>,
    /// `…allowed_users`, split at commas (empty when unreadable: see `readable`).
    pub allowed_users: Vec<String>,
}

/// Runs the inventory as `admin` (basic auth). See the module docs for what each source
/// reads and how unreadable sources are reported.
pub async fn basic_auth_inventory(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    admin: &AdminCredentials,
) -> Result<BasicAuthInventory, Diagnosis> {
    let auth = ApiAuth::Basic {
        username: admin.username.clone(),
        password: admin.password.clone(),
    };
    let mut accounts = Accounts::default();

    // 1. The restriction properties (first: they name the allowed roles and users).
    let props = read(
        http,
        instance,
        &auth,
        "sys_properties",
        &format!("nameSTARTSWITH{PROP_PREFIX}"),
        "name,value",
    )
    .await?;
    let (restriction, restriction_source) = restriction_from(props);

    // 2. Web-service-access-only users.
    let wsao = read(
        http,
        instance,
        &auth,
        "sys_user",
        "web_service_access_only=true^ORDERBYuser_name",
        USER_FIELDS,
    )
    .await?;
    let wsao_source = wsao_from(instance, wsao, &mut accounts);

    // 3. Holders of the role (and of the allowed roles, when readable).
    let (roles, bad_roles) = role_names(&restriction);
    let holders = read(
        http,
        instance,
        &auth,
        "sys_user_has_role",
        &format!("role.nameIN{}", roles.join(",")),
        &holder_fields(),
    )
    .await?;
    let holders_source = holders_from(
        instance,
        holders,
        &roles,
        &bad_roles,
        &restriction,
        &mut accounts,
    );

    // 4. The users the property allows.
    let allowed_source = if restriction.readable {
        let (names, bad_names) = query_safe(&restriction.allowed_users);
        if names.is_empty() {
            listed(SOURCE_ALLOWED_USERS, 0, unusable_note(&bad_names))
        } else {
            let list = names.join(",");
            let found = read(
                http,
                instance,
                &auth,
                "sys_user",
                &format!("user_nameIN{list}^ORsys_idIN{list}"),
                USER_FIELDS,
            )
            .await?;
            allowed_from(instance, found, &names, &bad_names, &mut accounts)
        }
    } else {
        allowed_unknown(&restriction_source)
    };

    Ok(BasicAuthInventory {
        instance: instance.to_string(),
        accounts: accounts.sorted(),
        sources: vec![
            wsao_source,
            holders_source,
            allowed_source,
            restriction_source,
        ],
        restriction,
    })
}

// ---- reading ------------------------------------------------------------------------------

const USER_FIELDS: &str =
    "sys_id,user_name,name,first_name,last_name,active,web_service_access_only";

fn holder_fields() -> String {
    let mut f = vec!["user".to_string()];
    f.extend(USER_FIELDS.split(',').map(|k| format!("user.{k}")));
    f.push("role.name".into());
    f.join(",")
}

/// What one Table API read gave.
#[derive(Debug, Clone)]
enum Read {
    /// Rows (possibly fewer than `total`).
    Rows {
        rows: Vec<serde_json::Value>,
        total: Option<u64>,
    },
    /// An empty result while `X-Total-Count` says `total` rows match.
    Hidden { total: u64 },
    /// 403.
    Denied,
}

async fn read(
    http: &reqwest::Client,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    table: &str,
    query: &str,
    fields: &str,
) -> Result<Read, Diagnosis> {
    match table_query(http, instance, auth, table, query, fields, READ_LIMIT).await {
        Ok(TableRows { rows, total }) if rows.is_empty() && total.unwrap_or(0) > 0 => {
            Ok(Read::Hidden {
                total: total.unwrap_or(0),
            })
        }
        Ok(TableRows { rows, total }) => Ok(Read::Rows { rows, total }),
        Err(d) if d.code == Code::AclForbidden => Ok(Read::Denied),
        Err(d) => Err(d),
    }
}

/// Why a list may be short: more rows than were read, or rows hidden by ACLs.
fn shortfall(read: usize, total: Option<u64>, what: &str, link: &str) -> Option<String> {
    let total = total?;
    if total <= read as u64 {
        return None;
    }
    Some(if total > READ_LIMIT as u64 && read >= READ_LIMIT {
        format!("the instance counts {total} {what} but only the first {READ_LIMIT} were read: see the full list at {link}")
    } else {
        format!(
            "{} of {total} {what} are hidden from this account by ACLs, so the list is incomplete: use an admin account, or see {link}",
            total - read as u64
        )
    })
}

fn join_notes(notes: Vec<String>) -> Option<String> {
    let notes: Vec<String> = notes.into_iter().filter(|n| !n.is_empty()).collect();
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn source(
    id: &str,
    state: SourceState,
    count: Option<u32>,
    detail: Option<String>,
) -> InventorySource {
    InventorySource {
        id: id.to_string(),
        label: label(id).to_string(),
        state,
        count,
        detail,
    }
}

fn listed(id: &str, count: usize, detail: Option<String>) -> InventorySource {
    source(
        id,
        SourceState::Listed,
        Some(u32::try_from(count).unwrap_or(u32::MAX)),
        detail,
    )
}

fn label(id: &str) -> &'static str {
    match id {
        SOURCE_WSAO_USERS => "Web-service-access-only users",
        SOURCE_ROLE_HOLDERS => "Holders of snc_basic_auth_api_access (or an allowed role)",
        SOURCE_ALLOWED_USERS => "Users in glide.authenticate.basic_auth.allowed_users",
        _ => "Basic Auth Restriction properties",
    }
}

fn list_link(instance: &InstanceUrl, page: &str) -> String {
    instance.join(page).to_string()
}

// ---- the restriction ----------------------------------------------------------------------

/// Splits a comma-separated property value: trimmed, no empties, no duplicates, order kept.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !out.iter().any(|x| x == item) {
            out.push(item.to_string());
        }
    }
    out
}

fn restriction_from(read: Read) -> (Restriction, InventorySource) {
    let fix = format!("grant security_admin (and elevate to it), or read {PROPERTIES_PAGE}");
    match read {
        Read::Denied => (
            Restriction::default(),
            source(
                SOURCE_RESTRICTION,
                SourceState::Denied,
                None,
                Some(format!(
                    "sys_properties is refused to this account (403), so the restriction is unknown: use an admin account and {fix}"
                )),
            ),
        ),
        Read::Hidden { total } => (
            Restriction::default(),
            source(
                SOURCE_RESTRICTION,
                SourceState::Hidden,
                None,
                Some(format!(
                    "the {total} Basic Auth Restriction properties are hidden from this account by ACLs, so the restriction is unknown: {fix}"
                )),
            ),
        ),
        Read::Rows { rows, total } => {
            let values: BTreeMap<String, String> = rows
                .iter()
                .map(|r| (str_field(r, "name"), str_field(r, "value")))
                .filter(|(n, _)| n.starts_with(PROP_PREFIX))
                .collect();
            let read = rows.len();
            if total.is_some_and(|t| t > read as u64) {
                // Some of them hidden: none of the values can be trusted to be complete, so
                // none is reported ("unknown", never a false "off" or "none").
                let total = total.unwrap_or(0);
                let detail = if total > READ_LIMIT as u64 && read >= READ_LIMIT {
                    format!("more than {READ_LIMIT} properties matched {PROP_PREFIX}*, so the restriction could not be read: read {PROPERTIES_PAGE}")
                } else {
                    format!(
                        "{} of the {total} Basic Auth Restriction properties are hidden from this account by ACLs, so the restriction is unknown: {fix}",
                        total - read as u64
                    )
                };
                return (
                    Restriction::default(),
                    source(SOURCE_RESTRICTION, SourceState::Hidden, None, Some(detail)),
                );
            }
            let text = |name: &str| {
                values
                    .get(name)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            let restriction = Restriction {
                readable: true,
                active: text(PROP_ACTIVE).map(|v| is_truthy(&v)),
                enforce: text(PROP_ENFORCE).map(|v| is_truthy(&v)),
                enforcement_date: text(PROP_ENFORCEMENT_DATE),
                default_decision: text(PROP_DEFAULT_DECISION),
                allowed_roles: split_list(&text(PROP_ALLOWED_ROLES).unwrap_or_default()),
                allowed_users: split_list(&text(PROP_ALLOWED_USERS).unwrap_or_default()),
            };
            let detail = values.is_empty().then(|| {
                format!("no {PROP_PREFIX}* property exists on this instance (Basic Auth Restriction is not set up on it yet)")
            });
            (restriction, listed(SOURCE_RESTRICTION, values.len(), detail))
        }
    }
}

/// The allowed-users source when the property cannot be read.
fn allowed_unknown(restriction: &InventorySource) -> InventorySource {
    let state = match restriction.state {
        SourceState::Denied => SourceState::Denied,
        _ => SourceState::Hidden,
    };
    source(
        SOURCE_ALLOWED_USERS,
        state,
        None,
        Some(format!(
            "the list is the property {PROP_ALLOWED_USERS}, which this account may not read: grant security_admin (and elevate to it), or read {PROPERTIES_PAGE}"
        )),
    )
}

// ---- accounts -----------------------------------------------------------------------------

/// Accounts merged by sys_id.
#[derive(Debug, Default)]
struct Accounts(BTreeMap<String, BasicAuthAccount>);

impl Accounts {
    fn add(&mut self, a: BasicAuthAccount) {
        let key = if a.sys_id.is_empty() {
            format!("user_name:{}", a.user_name)
        } else {
            a.sys_id.clone()
        };
        match self.0.get_mut(&key) {
            Some(have) => {
                if have.user_name.is_empty() {
                    have.user_name = a.user_name;
                }
                if have.name.is_empty() {
                    have.name = a.name;
                }
                have.active = have.active && a.active;
                have.web_service_access_only |= a.web_service_access_only;
                have.has_basic_auth_role |= a.has_basic_auth_role;
                have.allowed_by_property |= a.allowed_by_property;
            }
            None => {
                self.0.insert(key, a);
            }
        }
    }

    fn sorted(self) -> Vec<BasicAuthAccount> {
        let mut v: Vec<BasicAuthAccount> = self.0.into_values().collect();
        v.sort_by(|a, b| {
            a.user_name
                .cmp(&b.user_name)
                .then_with(|| a.sys_id.cmp(&b.sys_id))
        });
        v
    }
}

/// The account in a row whose user fields start with `prefix` ("" for `sys_user`, "user."
/// for `sys_user_has_role`); None when the row names no user.
fn account_from(row: &serde_json::Value, prefix: &str) -> Option<BasicAuthAccount> {
    let f = |k: &str| str_field(row, &format!("{prefix}{k}")).trim().to_string();
    let sys_id = match prefix {
        "" => f("sys_id"),
        _ => Some(str_field(row, prefix.trim_end_matches('.')))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| f("sys_id")),
    };
    let user_name = f("user_name");
    if sys_id.is_empty() && user_name.is_empty() {
        return None;
    }
    let name = Some(f("name"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            format!("{} {}", f("first_name"), f("last_name"))
                .trim()
                .to_string()
        });
    let active = f("active");
    Some(BasicAuthAccount {
        user_name,
        sys_id,
        name,
        // An unreadable `active` is not reported as "inactive".
        active: active.is_empty() || is_truthy(&active),
        web_service_access_only: is_truthy(&f("web_service_access_only")),
        has_basic_auth_role: false,
        allowed_by_property: false,
    })
}

fn wsao_from(instance: &InstanceUrl, read: Read, accounts: &mut Accounts) -> InventorySource {
    let link = list_link(
        instance,
        "sys_user_list.do?sysparm_query=web_service_access_only=true",
    );
    match read {
        Read::Denied => source(
            SOURCE_WSAO_USERS,
            SourceState::Denied,
            None,
            Some(format!("sys_user is refused to this account (403): use an admin account, or see {link}")),
        ),
        Read::Hidden { total } => source(
            SOURCE_WSAO_USERS,
            SourceState::Hidden,
            None,
            Some(format!("{total} web-service-access-only users exist but ACLs hide them from this account: use an admin account, or see {link}")),
        ),
        Read::Rows { rows, total } => {
            // The query term is silently dropped where the field is unknown or unreadable, so
            // only rows that show the flag count; rows without it mean it cannot be judged.
            if !rows.is_empty() && rows.iter().all(|r| r.get("web_service_access_only").is_none()) {
                return source(
                    SOURCE_WSAO_USERS,
                    SourceState::Hidden,
                    None,
                    Some(format!("the field web_service_access_only is not readable by this account: use an admin account, or see {link}")),
                );
            }
            let mut n = 0;
            for row in rows.iter().filter(|r| is_truthy(&str_field(r, "web_service_access_only"))) {
                if let Some(a) = account_from(row, "") {
                    accounts.add(BasicAuthAccount {
                        web_service_access_only: true,
                        ..a
                    });
                    n += 1;
                }
            }
            listed(SOURCE_WSAO_USERS, n, shortfall(rows.len(), total, "users", &link))
        }
    }
}

/// A name that can go into an `IN` term (no query separators).
fn query_safe(items: &[String]) -> (Vec<String>, Vec<String>) {
    items
        .iter()
        .cloned()
        .partition(|s| !s.contains('^') && !s.contains(',') && !s.trim().is_empty())
}

fn unusable_note(bad: &[String]) -> Option<String> {
    (!bad.is_empty()).then(|| {
        format!(
            "not looked up (not a valid name): {}",
            bad.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The roles to look for: the basic-auth role, then the allowed roles (valid names only).
fn role_names(r: &Restriction) -> (Vec<String>, Vec<String>) {
    let mut roles = vec![BASIC_AUTH_ROLE.to_string()];
    let mut bad = Vec::new();
    for role in &r.allowed_roles {
        let valid = role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            bad.push(role.clone());
        } else if !roles.iter().any(|x| x.eq_ignore_ascii_case(role)) {
            roles.push(role.clone());
        }
    }
    (roles, bad)
}

fn holders_from(
    instance: &InstanceUrl,
    read: Read,
    roles: &[String],
    bad_roles: &[String],
    restriction: &Restriction,
    accounts: &mut Accounts,
) -> InventorySource {
    let link = list_link(
        instance,
        &format!(
            "sys_user_has_role_list.do?sysparm_query=role.nameIN{}",
            roles.join(",")
        ),
    );
    match read {
        Read::Denied => source(
            SOURCE_ROLE_HOLDERS,
            SourceState::Denied,
            None,
            Some(format!("sys_user_has_role is refused to this account (403): use an admin account, or see {link}")),
        ),
        Read::Hidden { total } => source(
            SOURCE_ROLE_HOLDERS,
            SourceState::Hidden,
            None,
            Some(format!("{total} role assignments exist but ACLs hide them from this account: use an admin account, or see {link}")),
        ),
        Read::Rows { rows, total } => {
            if !rows.is_empty() && rows.iter().all(|r| r.get("role.name").is_none()) {
                return source(
                    SOURCE_ROLE_HOLDERS,
                    SourceState::Hidden,
                    None,
                    Some(format!("the role names of the assignments are not readable by this account: use an admin account, or see {link}")),
                );
            }
            let mut n = Accounts::default();
            for row in &rows {
                let role = str_field(row, "role.name");
                if !roles.iter().any(|r| r.eq_ignore_ascii_case(role.trim())) {
                    continue;
                }
                if let Some(a) = account_from(row, "user.") {
                    n.add(BasicAuthAccount {
                        has_basic_auth_role: true,
                        ..a
                    });
                }
            }
            let count = n.0.len();
            for a in n.0.into_values() {
                accounts.add(a);
            }
            let mut notes = Vec::new();
            if !restriction.readable {
                notes.push(format!(
                    "only holders of {BASIC_AUTH_ROLE}: the roles in {PROP_ALLOWED_ROLES} are unknown (the restriction properties are not readable)"
                ));
            }
            notes.extend(unusable_note(bad_roles).map(|n| format!("roles {n}")));
            notes.extend(shortfall(rows.len(), total, "role assignments", &link));
            listed(SOURCE_ROLE_HOLDERS, count, join_notes(notes))
        }
    }
}

fn allowed_from(
    instance: &InstanceUrl,
    read: Read,
    names: &[String],
    bad_names: &[String],
    accounts: &mut Accounts,
) -> InventorySource {
    let link = list_link(
        instance,
        &format!(
            "sys_user_list.do?sysparm_query=user_nameIN{}",
            names.join(",")
        ),
    );
    match read {
        Read::Denied => source(
            SOURCE_ALLOWED_USERS,
            SourceState::Denied,
            None,
            Some(format!("sys_user is refused to this account (403): use an admin account, or see {link}")),
        ),
        Read::Hidden { total } => source(
            SOURCE_ALLOWED_USERS,
            SourceState::Hidden,
            None,
            Some(format!("{total} of the allowed users exist but ACLs hide them from this account: use an admin account, or see {link}")),
        ),
        Read::Rows { rows, total } => {
            let mut found: Vec<&str> = Vec::new();
            let mut n = 0;
            for row in &rows {
                let Some(a) = account_from(row, "") else {
                    continue;
                };
                let Some(named) = names.iter().find(|x| {
                    x.eq_ignore_ascii_case(&a.user_name) || x.eq_ignore_ascii_case(&a.sys_id)
                }) else {
                    // Not one of the names (the query term was dropped): not allowed by it.
                    continue;
                };
                found.push(named);
                accounts.add(BasicAuthAccount {
                    allowed_by_property: true,
                    ..a
                });
                n += 1;
            }
            let missing: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|x| !found.contains(x))
                .collect();
            let mut notes = Vec::new();
            let all_read = total.is_none_or(|t| t <= rows.len() as u64);
            if !missing.is_empty() && all_read {
                notes.push(format!("no such user on the instance: {}", missing.join(", ")));
            }
            notes.extend(unusable_note(bad_names));
            notes.extend(shortfall(rows.len(), total, "allowed users", &link));
            listed(SOURCE_ALLOWED_USERS, n, join_notes(notes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance() -> InstanceUrl {
        InstanceUrl::parse("https://acme.service-now.com").unwrap()
    }

    fn rows(rows: serde_json::Value, total: u64) -> Read {
        Read::Rows {
            rows: rows.as_array().unwrap().clone(),
            total: Some(total),
        }
    }

    #[test]
    fn comma_lists() {
        assert_eq!(split_list(""), Vec::<String>::new());
        assert_eq!(split_list(" , ,"), Vec::<String>::new());
        assert_eq!(
            split_list("snc_basic_auth_api_access, itil ,,itil,x"),
            ["snc_basic_auth_api_access", "itil", "x"]
        );
        let r = Restriction {
            allowed_roles: split_list("snc_basic_auth_api_access,itil,bad role,x^y"),
            ..Restriction::default()
        };
        let (roles, bad) = role_names(&r);
        assert_eq!(roles, [BASIC_AUTH_ROLE, "itil"]);
        assert_eq!(bad, ["bad role", "x^y"]);
        let (ok, bad) = query_safe(&split_list("svc.a,x^ORactive=true"));
        assert_eq!(
            (ok, bad),
            (
                vec!["svc.a".to_string()],
                vec!["x^ORactive=true".to_string()]
            )
        );
    }

    #[test]
    fn restriction_values_and_unknowns() {
        let (r, s) = restriction_from(rows(
            json!([
                {"name": PROP_ACTIVE, "value": "true"},
                {"name": PROP_ENFORCE, "value": "false"},
                {"name": PROP_ENFORCEMENT_DATE, "value": "2026-09-30"},
                {"name": PROP_DEFAULT_DECISION, "value": "maintain"},
                {"name": PROP_ALLOWED_ROLES, "value": "snc_basic_auth_api_access, x"},
                {"name": PROP_ALLOWED_USERS, "value": ""},
                {"name": "unrelated.property", "value": "true"},
            ]),
            7,
        ));
        assert_eq!(
            r,
            Restriction {
                readable: true,
                active: Some(true),
                enforce: Some(false),
                enforcement_date: Some("2026-09-30".into()),
                default_decision: Some("maintain".into()),
                allowed_roles: vec!["snc_basic_auth_api_access".into(), "x".into()],
                allowed_users: vec![],
            }
        );
        assert_eq!(
            (s.state, s.count, s.detail),
            (SourceState::Listed, Some(6), None)
        );
        // None of them exists: readable, nothing set, and said so.
        let (r, s) = restriction_from(rows(json!([]), 0));
        assert!(r.readable && r.active.is_none() && r.enforce.is_none());
        assert_eq!((s.state, s.count), (SourceState::Listed, Some(0)));
        assert!(s.detail.unwrap().contains("not set up"));
        // Hidden, partly hidden, refused: unknown, never "off".
        for (read, state) in [
            (Read::Hidden { total: 6 }, SourceState::Hidden),
            (
                rows(json!([{"name": PROP_ENFORCE, "value": "false"}]), 6),
                SourceState::Hidden,
            ),
            (Read::Denied, SourceState::Denied),
        ] {
            let (r, s) = restriction_from(read);
            assert_eq!(r, Restriction::default());
            assert!(!r.readable);
            assert_eq!((s.state, s.count), (state, None));
            assert!(s.detail.unwrap().contains("security_admin"));
            assert_eq!(allowed_unknown(&s_of(state)).state, state);
        }
    }

    fn s_of(state: SourceState) -> InventorySource {
        source(SOURCE_RESTRICTION, state, None, None)
    }

    #[test]
    fn accounts_merge_by_sys_id() {
        let mut acc = Accounts::default();
        let wsao = rows(
            json!([
                {"sys_id": "b", "user_name": "svc.qlik", "name": "", "first_name": "Qlik", "last_name": "Integration", "active": "true", "web_service_access_only": "true"},
                {"sys_id": "z", "user_name": "dropped", "name": "Not WSAO", "active": "true", "web_service_access_only": "false"},
            ]),
            2,
        );
        let s = wsao_from(&instance(), wsao, &mut acc);
        assert_eq!((s.state, s.count), (SourceState::Listed, Some(1)));
        // The same user holds the role twice (two allowed roles) and is allowed by name.
        let holders = rows(
            json!([
                {"user": {"link": "x", "value": "b"}, "user.user_name": "svc.qlik", "user.active": "true", "user.web_service_access_only": "true", "role.name": "snc_basic_auth_api_access"},
                {"user": "b", "user.user_name": "svc.qlik", "role.name": "itil"},
                {"user": "a", "user.user_name": "abel.tuter", "user.first_name": "Abel", "user.last_name": "Tuter", "user.active": "false", "role.name": "ITIL"},
                {"user": "c", "user.user_name": "other", "role.name": "not_asked_for"},
            ]),
            4,
        );
        let roles = vec![BASIC_AUTH_ROLE.to_string(), "itil".to_string()];
        let readable = Restriction {
            readable: true,
            ..Restriction::default()
        };
        let s = holders_from(&instance(), holders, &roles, &[], &readable, &mut acc);
        assert_eq!(
            (s.state, s.count, s.detail),
            (SourceState::Listed, Some(2), None)
        );
        let names = vec!["svc.qlik".to_string(), "ghost".to_string()];
        let allowed = rows(
            json!([{"sys_id": "b", "user_name": "svc.qlik", "active": "true"}]),
            1,
        );
        let s = allowed_from(&instance(), allowed, &names, &[], &mut acc);
        assert_eq!((s.state, s.count), (SourceState::Listed, Some(1)));
        assert_eq!(
            s.detail.as_deref(),
            Some("no such user on the instance: ghost")
        );
        let all = acc.sorted();
        assert_eq!(
            all,
            [
                BasicAuthAccount {
                    user_name: "abel.tuter".into(),
                    sys_id: "a".into(),
                    name: "Abel Tuter".into(),
                    active: false,
                    web_service_access_only: false,
                    has_basic_auth_role: true,
                    allowed_by_property: false,
                },
                BasicAuthAccount {
                    user_name: "svc.qlik".into(),
                    sys_id: "b".into(),
                    name: "Qlik Integration".into(),
                    active: true,
                    web_service_access_only: true,
                    has_basic_auth_role: true,
                    allowed_by_property: true,
                },
            ]
        );
    }

    #[test]
    fn unreadable_sources_never_count_zero() {
        let mut acc = Accounts::default();
        for read in [Read::Denied, Read::Hidden { total: 3 }] {
            let s = wsao_from(&instance(), read.clone(), &mut acc);
            assert_ne!(s.state, SourceState::Listed);
            assert_eq!(s.count, None);
            assert!(s.detail.unwrap().contains("sys_user_list.do"));
            let s = holders_from(
                &instance(),
                read,
                &[BASIC_AUTH_ROLE.into()],
                &[],
                &Restriction::default(),
                &mut acc,
            );
            assert_eq!(s.count, None);
        }
        // Rows without the flag: the field is hidden, so nothing can be judged.
        let s = wsao_from(
            &instance(),
            rows(json!([{"sys_id": "a", "user_name": "x"}]), 1),
            &mut acc,
        );
        assert_eq!((s.state, s.count), (SourceState::Hidden, None));
        assert!(acc.0.is_empty());
    }

    #[test]
    fn short_lists_say_so() {
        assert_eq!(shortfall(3, Some(3), "users", "L"), None);
        assert_eq!(shortfall(3, None, "users", "L"), None);
        let d = shortfall(READ_LIMIT, Some(2500), "users", "L").unwrap();
        assert!(
            d.contains("2500") && d.contains("first 1000") && d.contains('L'),
            "{d}"
        );
        let d = shortfall(2, Some(5), "users", "L").unwrap();
        assert!(d.starts_with("3 of 5 users are hidden"), "{d}");
        // The restriction, while the role list is unknown, still lists role holders: with a note.
        let mut acc = Accounts::default();
        let s = holders_from(
            &instance(),
            rows(json!([]), 0),
            &[BASIC_AUTH_ROLE.into()],
            &[],
            &Restriction::default(),
            &mut acc,
        );
        assert_eq!((s.state, s.count), (SourceState::Listed, Some(0)));
        assert!(s.detail.unwrap().contains("allowed_roles are unknown"));
    }

    #[test]
    fn serializes_for_the_window() {
        let s = listed(SOURCE_WSAO_USERS, 2, None);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"id": "wsao_users", "label": "Web-service-access-only users", "state": "listed", "count": 2, "detail": null})
        );
        assert_eq!(serde_json::to_value(SourceState::Denied).unwrap(), "denied");
    }

    #[cfg(feature = "ts")]
    #[test]
    fn typescript_declarations() {
        use ts_rs::{Config, TS};
        let cfg = Config::new();
        let state = <SourceState as TS>::decl(&cfg);
        assert!(
            state.contains(r#""listed" | "hidden" | "denied""#),
            "{state}"
        );
        let src = <InventorySource as TS>::decl(&cfg);
        assert!(
            src.contains("count: number | null") && src.contains("detail: string | null"),
            "{src}"
        );
        let r = <Restriction as TS>::decl(&cfg);
        assert!(r.contains("enforcement_date: string | null"), "{r}");
    }
}
