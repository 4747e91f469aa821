//! The basic-auth inventory (issue 10) against snsim over real TLS: the seeded integration
//! accounts with their flags, the restriction values, the allowed roles and users, and every
//! way a source can be unreadable (the properties hidden from admin without security_admin, a
//! non-admin account, field and table ACLs) reported as hidden or denied, never as "0
//! accounts"; wrong credentials and a sleeping instance end it with their diagnosis.

mod support;

use snconnect_core::connection::AdminCredentials;
use snconnect_core::inventory::{
    basic_auth_inventory, BasicAuthAccount, BasicAuthInventory, InventorySource, Restriction,
    SourceState, BASIC_AUTH_ROLE, PROP_ALLOWED_ROLES, PROP_ALLOWED_USERS,
};
use snconnect_core::{Code, Secret};
use snsim::{properties as props, InstanceState, RunningSim, SimConfig};
use support::{core_http, instance, start, ADMIN, NO_ROLES};

const SOURCES: [&str; 4] = ["wsao_users", "role_holders", "allowed_users", "restriction"];

fn creds((user, password): (&str, &str)) -> AdminCredentials {
    AdminCredentials {
        username: user.to_string(),
        password: Secret::new(password),
    }
}

async fn inventory_as(sim: &RunningSim, who: (&str, &str)) -> BasicAuthInventory {
    let inv = basic_auth_inventory(&core_http(sim), &instance(sim), &creds(who))
        .await
        .unwrap_or_else(|d| panic!("inventory as {}: {d:?}", who.0));
    let ids: Vec<&str> = inv.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, SOURCES);
    // Never "0 accounts" for a source that could not be read.
    for s in &inv.sources {
        match s.state {
            SourceState::Listed => assert!(s.count.is_some(), "{s:?}"),
            _ => {
                assert_eq!(s.count, None, "{s:?}");
                assert!(s.detail.as_deref().is_some_and(|d| !d.is_empty()), "{s:?}");
            }
        }
    }
    if !inv.restriction.readable {
        assert_eq!(
            inv.restriction,
            Restriction::default(),
            "unreadable means unknown"
        );
    }
    inv
}

fn source<'a>(inv: &'a BasicAuthInventory, id: &str) -> &'a InventorySource {
    inv.source(id).unwrap_or_else(|| panic!("no source {id}"))
}

fn state_count(inv: &BasicAuthInventory, id: &str) -> (SourceState, Option<u32>) {
    let s = source(inv, id);
    (s.state, s.count)
}

fn account<'a>(inv: &'a BasicAuthInventory, user: &str) -> &'a BasicAuthAccount {
    inv.accounts
        .iter()
        .find(|a| a.user_name == user)
        .unwrap_or_else(|| panic!("{user} not in {:?}", inv.accounts))
}

fn acc(
    user_name: &str,
    sys_id: &str,
    name: &str,
    active: bool,
    (wsao, role, allowed): (bool, bool, bool),
) -> BasicAuthAccount {
    BasicAuthAccount {
        user_name: user_name.into(),
        sys_id: sys_id.into(),
        name: name.into(),
        active,
        web_service_access_only: wsao,
        has_basic_auth_role: role,
        allowed_by_property: allowed,
    }
}

fn user_names(inv: &BasicAuthInventory) -> Vec<&str> {
    inv.accounts.iter().map(|a| a.user_name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn seeded_accounts_and_the_restriction_as_admin() {
    let sim = start(SimConfig::default()).await;
    let inv = inventory_as(&sim, ADMIN).await;
    assert_eq!(inv.instance, sim.base_url().as_str());
    assert_eq!(
        inv.accounts,
        [
            acc(
                "svc.boomi",
                "7e4d0a2fdc3b5521b2a8f3d4c5e6f702",
                "Boomi Integration",
                true,
                (true, false, false)
            ),
            acc(
                "svc.legacy",
                "9a6f2c4bfe5d7743d4cab5f6e7081924",
                "Legacy Integration",
                false,
                (true, false, false)
            ),
            acc(
                "svc.qlik",
                "5b3c9e1fdb2a4410a1f7e2c3b4d5e6f1",
                "Qlik Integration",
                true,
                (true, false, false)
            ),
            acc(
                "svc.reporting",
                "8f5e1b3aed4c6632c3b9a4e5d6f70813",
                "Reporting Integration",
                true,
                (false, true, false)
            ),
        ]
    );
    assert_eq!(
        state_count(&inv, "wsao_users"),
        (SourceState::Listed, Some(3))
    );
    assert_eq!(
        state_count(&inv, "role_holders"),
        (SourceState::Listed, Some(1))
    );
    // The property is readable and empty: a true "none".
    assert_eq!(
        state_count(&inv, "allowed_users"),
        (SourceState::Listed, Some(0))
    );
    assert_eq!(
        state_count(&inv, "restriction"),
        (SourceState::Listed, Some(6))
    );
    assert!(inv.complete(), "{:?}", inv.sources);
    assert_eq!(
        inv.restriction,
        Restriction {
            readable: true,
            active: Some(false),
            enforce: Some(false),
            enforcement_date: Some("2026-09-30".into()),
            default_decision: Some("maintain".into()),
            allowed_roles: vec![BASIC_AUTH_ROLE.into()],
            allowed_users: vec![],
        }
    );
    // The shape the window and `--json` get.
    let json = serde_json::to_value(&inv).unwrap();
    assert_eq!(json["sources"][0]["state"], "listed");
    assert_eq!(json["restriction"]["enforcement_date"], "2026-09-30");
    assert_eq!(json["accounts"][1]["active"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_roles_and_users_and_enforcement() {
    let sim = start(SimConfig::default()).await;
    sim.set_property(PROP_ALLOWED_ROLES, "snc_basic_auth_api_access, oauth_admin");
    // admin itself is allowed, so its basic auth keeps working under enforcement.
    sim.set_property(PROP_ALLOWED_USERS, "admin,svc.qlik, ghost.user");
    sim.set_property(props::BASIC_AUTH_ACTIVE, "true");
    sim.set_property(props::BASIC_AUTH_ENFORCE, "true");
    sim.set_property(props::BASIC_AUTH_ENFORCEMENT_DATE, "2026-10-15");
    let inv = inventory_as(&sim, ADMIN).await;
    let r = &inv.restriction;
    assert!(r.readable);
    assert_eq!((r.active, r.enforce), (Some(true), Some(true)));
    assert_eq!(r.enforcement_date.as_deref(), Some("2026-10-15"));
    assert_eq!(r.allowed_roles, [BASIC_AUTH_ROLE, "oauth_admin"]);
    assert_eq!(r.allowed_users, ["admin", "svc.qlik", "ghost.user"]);
    assert_eq!(
        user_names(&inv),
        [
            "admin",
            "oauth.admin",
            "svc.boomi",
            "svc.legacy",
            "svc.qlik",
            "svc.reporting"
        ]
    );
    // Merged by sys_id: svc.qlik is WSAO and named in the property.
    assert_eq!(
        account(&inv, "svc.qlik"),
        &acc(
            "svc.qlik",
            "5b3c9e1fdb2a4410a1f7e2c3b4d5e6f1",
            "Qlik Integration",
            true,
            (true, false, true)
        )
    );
    let a = account(&inv, "oauth.admin");
    assert!(a.has_basic_auth_role && !a.web_service_access_only && !a.allowed_by_property);
    let a = account(&inv, "admin");
    assert_eq!(a.sys_id, snsim::ADMIN_SYS_ID);
    assert!(a.allowed_by_property && !a.has_basic_auth_role);
    assert_eq!(
        state_count(&inv, "role_holders"),
        (SourceState::Listed, Some(2))
    );
    let allowed = source(&inv, "allowed_users");
    assert_eq!(
        (allowed.state, allowed.count),
        (SourceState::Listed, Some(2))
    );
    assert_eq!(
        allowed.detail.as_deref(),
        Some("no such user on the instance: ghost.user")
    );
    // Without being allowed, admin's own basic auth is refused under enforcement.
    sim.set_property(PROP_ALLOWED_USERS, "svc.qlik");
    let d = basic_auth_inventory(&core_http(&sim), &instance(&sim), &creds(ADMIN))
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::BasicAuthRejected, "{d:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn properties_hidden_from_admin_without_security_admin() {
    let sim = start(SimConfig::default()).await;
    sim.update_switches(|s| s.basic_auth_properties_need_security_admin = true);
    let inv = inventory_as(&sim, ADMIN).await;
    assert!(!inv.restriction.readable);
    assert_eq!(inv.restriction.enforce, None);
    assert_eq!(inv.restriction.enforcement_date, None);
    let r = source(&inv, "restriction");
    assert_eq!((r.state, r.count), (SourceState::Hidden, None));
    let why = r.detail.as_deref().unwrap();
    assert!(
        why.contains("security_admin") && why.contains("Basic Auth Restriction > Properties"),
        "{why}"
    );
    assert_eq!(
        state_count(&inv, "allowed_users"),
        (SourceState::Hidden, None)
    );
    // The accounts the other sources can read are still listed; the role holders say that
    // the allowed roles are unknown.
    assert_eq!(
        user_names(&inv),
        ["svc.boomi", "svc.legacy", "svc.qlik", "svc.reporting"]
    );
    let holders = source(&inv, "role_holders");
    assert_eq!(
        (holders.state, holders.count),
        (SourceState::Listed, Some(1))
    );
    assert!(holders.detail.as_deref().unwrap().contains("allowed_roles"));
    assert!(!inv.complete());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_admin_gets_unknowns_never_zero() {
    let sim = start(SimConfig::default()).await;
    // sys_properties rows are hidden from non-admins; sys_user stays readable.
    let inv = inventory_as(&sim, NO_ROLES).await;
    assert_eq!(
        state_count(&inv, "restriction"),
        (SourceState::Hidden, None)
    );
    assert_eq!(
        state_count(&inv, "allowed_users"),
        (SourceState::Hidden, None)
    );
    assert_eq!(
        state_count(&inv, "wsao_users"),
        (SourceState::Listed, Some(3))
    );
    // A field ACL on the flag and a table ACL on the role assignments.
    sim.update_switches(|s| {
        s.hidden_fields
            .insert("sys_user".into(), vec!["web_service_access_only".into()]);
        s.denied_tables = vec!["sys_user_has_role".into()];
    });
    let inv = inventory_as(&sim, NO_ROLES).await;
    assert_eq!(state_count(&inv, "wsao_users"), (SourceState::Hidden, None));
    assert_eq!(
        state_count(&inv, "role_holders"),
        (SourceState::Denied, None)
    );
    assert!(source(&inv, "role_holders")
        .detail
        .as_deref()
        .unwrap()
        .contains("403"));
    assert!(inv.accounts.is_empty(), "{:?}", inv.accounts);
    // sys_properties refused outright: the restriction and the allowed users are denied.
    sim.update_switches(|s| s.denied_tables.push("sys_properties".into()));
    let inv = inventory_as(&sim, NO_ROLES).await;
    assert_eq!(
        state_count(&inv, "restriction"),
        (SourceState::Denied, None)
    );
    assert_eq!(
        state_count(&inv, "allowed_users"),
        (SourceState::Denied, None)
    );
    assert!(!inv.sources.iter().any(|s| s.state == SourceState::Listed));
    // The admin still sees everything.
    let inv = inventory_as(&sim, ADMIN).await;
    assert!(inv.complete(), "{:?}", inv.sources);
    assert_eq!(inv.accounts.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_a_sleeping_instance_are_diagnoses() {
    let sim = start(SimConfig::default()).await;
    let http = core_http(&sim);
    let d = basic_auth_inventory(&http, &instance(&sim), &creds(("admin", "wrong")))
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::BasicAuthRejected, "{d:?}");
    sim.update_switches(|s| s.instance_state = InstanceState::Hibernating);
    let d = basic_auth_inventory(&http, &instance(&sim), &creds(ADMIN))
        .await
        .unwrap_err();
    assert_eq!(d.code, Code::InstanceHibernating, "{d:?}");
    // No request carried anything but Basic: nothing was written.
    assert!(sim
        .requests()
        .iter()
        .all(|r| r.method == "GET" || r.path.starts_with("/__snsim")));
}
