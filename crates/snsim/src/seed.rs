//! Seed data, like a fresh Zurich developer instance (servicenow.md §3, checklist 7).

use crate::state::Inner;
use crate::tables::{Record, TABLES};
use crate::{SimConfig, ADMIN_SYS_ID};

const SEEDED_ON: &str = "2024-01-01 00:00:00";

fn row(fields: &[(&str, &str)]) -> Record {
    let mut r: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in [
        ("sys_created_by", "admin"),
        ("sys_created_on", SEEDED_ON),
        ("sys_updated_by", "admin"),
        ("sys_updated_on", SEEDED_ON),
        ("sys_mod_count", "0"),
    ] {
        r.push((k.to_string(), v.to_string()));
    }
    Record(r)
}

/// A `sys_properties` record.
pub fn property_row(sys_id: &str, name: &str, value: &str, description: &str, on: &str) -> Record {
    let kind = if value == "true" || value == "false" {
        "true|false"
    } else {
        "string"
    };
    let mut r = row(&[
        ("sys_id", sys_id),
        ("name", name),
        ("value", value),
        ("type", kind),
        ("description", description),
    ]);
    r.set("sys_created_on", on);
    r.set("sys_updated_on", on);
    r
}

/// The properties a fresh instance has (the client-credentials and ROPC properties do not
/// exist until an admin creates them, as documented).
pub const SEEDED_PROPERTIES: &[(&str, &str, &str)] = &[
    ("glide.buildname", "Zurich", "Build name"),
    (
        "glide.war",
        "glide-zurich-07-01-2025__patch2-09-10-2025_09-12-2025_1200.zip",
        "Build war",
    ),
    (
        "glide.buildtag",
        "glide-zurich-07-01-2025__patch2-09-10-2025",
        "Build tag",
    ),
    (
        "com.snc.platform.security.oauth.is.active",
        "true",
        "Enable OAuth 2.0",
    ),
    (
        "glide.oauth.state.parameter.required",
        "true",
        "Require the state parameter in OAuth authorization requests",
    ),
    (
        "glide.oauth.allow.parameters.in.post.body.only",
        "true",
        "Accept OAuth token request parameters in the POST body only",
    ),
    (
        "glide.authenticate.basic_auth.restriction.active",
        "false",
        "Basic Auth Restriction active",
    ),
    (
        "glide.authenticate.basic_auth.restriction.enforce",
        "false",
        "Enforce Basic Auth Restriction",
    ),
    (
        "glide.authenticate.basic_auth.restriction.default_decision",
        "maintain",
        "Default decision for accounts using basic auth",
    ),
    (
        "glide.authenticate.basic_auth.allowed_roles",
        "snc_basic_auth_api_access",
        "Roles allowed to use basic auth under enforcement",
    ),
    (
        "glide.authenticate.basic_auth.allowed_users",
        "",
        "Users allowed to use basic auth under enforcement",
    ),
    // Last, so the sys_ids of the rows above stay as they were.
    (
        // The value format (a date, a date-time, epoch?) is UNCONFIRMED (servicenow.md §5).
        "glide.authenticate.basic_auth.restriction.enforcement_date",
        "2026-09-30",
        "Date from which Basic Auth Restriction is enforced",
    ),
];

fn id(n: u32, prefix: &str) -> String {
    // Deterministic 32-hex sys_ids so tests can name seeded records.
    format!("{prefix}{n:0>width$x}", width = 32 - prefix.len())
}

/// Fill `inner.tables` with the seed rows; `cfg` overrides some properties.
pub fn seed_tables(inner: &mut Inner, cfg: &SimConfig) {
    let roles = [
        ("admin", "System administrator", "false"),
        ("itil", "Fulfiller", "false"),
        ("oauth_admin", "OAuth administrator", "false"),
        ("mi_admin", "Machine Identity administrator", "false"),
        ("security_admin", "Security administrator", "true"),
        (
            "snc_basic_auth_api_access",
            "Keeps basic auth API access under Basic Auth Restriction",
            "false",
        ),
        ("snc_internal", "Internal user", "false"),
    ];
    let role_rows = roles
        .iter()
        .enumerate()
        .map(|(i, (name, desc, elevated))| {
            let sid = if *name == "admin" {
                "2831a114c611228501d4ea6c309d626d".to_string()
            } else {
                id(i as u32 + 1, "a1e0")
            };
            row(&[
                ("sys_id", &sid),
                ("name", name),
                ("description", desc),
                ("elevated_privilege", elevated),
                ("suffix", name),
            ])
        })
        .collect();
    inner.tables.insert("sys_user_role".into(), role_rows);

    let mut props = Vec::new();
    for (i, (name, value, desc)) in SEEDED_PROPERTIES.iter().enumerate() {
        let value = if *name == "glide.oauth.allow.parameters.in.post.body.only" {
            if cfg.post_body_only {
                "true"
            } else {
                "false"
            }
        } else {
            value
        };
        props.push(property_row(
            &id(i as u32 + 1, "b2e0"),
            name,
            value,
            desc,
            SEEDED_ON,
        ));
    }
    inner.tables.insert("sys_properties".into(), props);
    for (name, value) in &cfg.properties {
        inner.set_property(name, value);
    }

    let plugins = [
        ("com.snc.platform.security.oauth", "OAuth 2.0", "true"),
        (
            "com.glide.tokenbased_auth",
            "API Key and HMAC Authentication",
            "true",
        ),
        ("com.glide.rest.auth.scope", "REST API Auth Scope", "true"),
        ("com.glide.rest.policy", "REST API Access Policy", "true"),
        (
            "com.glide.identity.machine_identity_management",
            "Machine Identity Console",
            "true",
        ),
        ("com.snc.integration.jwt", "JWT", "false"),
    ];
    let sys_plugins = plugins
        .iter()
        .enumerate()
        .map(|(i, (pid, name, active))| {
            row(&[
                ("sys_id", &id(i as u32 + 1, "c4e0")),
                ("source", pid),
                ("name", name),
                ("active", active),
                ("version", "1.0.0"),
            ])
        })
        .collect();
    inner.tables.insert("sys_plugins".into(), sys_plugins);

    let objects = TABLES
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let label = match *t {
                "sys_user" => "User",
                "sys_user_role" => "Role",
                "sys_user_has_role" => "User Role",
                "sys_properties" => "System Property",
                "v_plugin" => "Plugins",
                "sys_plugins" => "Plugins",
                "oauth_entity" => "Application Registries",
                "oauth_entity_profile" => "OAuth Entity Profiles",
                "oauth_entity_scope" => "OAuth Entity Scopes",
                "oauth_credential" => "OAuth Credentials",
                "sys_db_object" => "Table",
                _ => "Incident",
            };
            let super_class = if *t == "incident" { "task" } else { "" };
            row(&[
                ("sys_id", &id(i as u32 + 1, "d5e0")),
                ("name", t),
                ("label", label),
                ("super_class", super_class),
                ("is_extendable", "false"),
            ])
        })
        .collect();
    inner.tables.insert("sys_db_object".into(), objects);

    let mut profiles = Vec::new();
    let mut scopes = Vec::new();
    for (i, c) in inner.clients.iter().enumerate() {
        profiles.push(row(&[
            ("sys_id", &id(i as u32 + 1, "e6e0")),
            ("name", &format!("{} default_profile", c.name)),
            ("oauth_entity", &c.sys_id),
            ("grant_type", "authorization_code"),
            ("default", "true"),
        ]));
        scopes.push(row(&[
            ("sys_id", &id(i as u32 + 1, "e7e0")),
            ("name", "useraccount"),
            ("oauth_entity", &c.sys_id),
            ("oauth_entity_scope", "useraccount"),
        ]));
    }
    inner.tables.insert("oauth_entity_profile".into(), profiles);
    inner.tables.insert("oauth_entity_scope".into(), scopes);

    let abel = "62826bf03710200044e0bfc8bcbe5df1";
    let incidents = [
        ("INC0010001", "Unable to connect to the VPN", "1", "2", abel),
        ("INC0010002", "Email not syncing on mobile", "2", "3", abel),
        (
            "INC0010003",
            "Printer on floor 3 is jammed",
            "1",
            "4",
            ADMIN_SYS_ID,
        ),
    ];
    let incident_rows = incidents
        .iter()
        .enumerate()
        .map(|(i, (number, short, state, prio, caller))| {
            row(&[
                ("sys_id", &id(i as u32 + 1, "f8e0")),
                ("number", number),
                ("short_description", short),
                ("description", short),
                ("state", state),
                ("priority", prio),
                ("caller_id", caller),
                ("assigned_to", ""),
                ("opened_by", caller),
                ("active", "true"),
            ])
        })
        .collect();
    inner.tables.insert("incident".into(), incident_rows);
}
