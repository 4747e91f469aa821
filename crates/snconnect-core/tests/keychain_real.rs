//! The real OS keychain on Linux: a private D-Bus session bus with its own gnome-keyring
//! (tests/support/secret_service.rs), unlocked, so a plain `cargo test` exercises the real
//! Secret Service without touching the user's keyrings.
//!
//! One `#[test]` in this binary on purpose: libdbus caches `DBUS_SESSION_BUS_ADDRESS` at the
//! first connection, so the whole process talks to one private bus.
#![cfg(target_os = "linux")]

#[path = "../../../tests/support/secret_service.rs"]
mod secret_service;

use secret_service::SecretService;
use snconnect_core::keychain::{account, KeyringStore, SecretStore, SERVICE};
use snconnect_core::Secret;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn get(store: &KeyringStore, account: &str) -> Option<String> {
    store
        .get(account)
        .unwrap_or_else(|d| panic!("get {account}: {d:?}"))
        .map(|s| s.expose().to_string())
}

#[test]
fn real_keychain_round_trip_one_entry_per_secret() {
    let ss = SecretService::start_unlocked()
        .unwrap_or_else(|e| panic!("start a private Secret Service: {e}"));
    for (k, v) in ss.env() {
        std::env::set_var(k, v);
    }
    std::env::remove_var("DISPLAY");

    let store = KeyringStore::default();
    assert_eq!(store.kind(), "keychain");
    let acme_rt = account("acme", "refresh_token");
    let acme_cs = account("acme", "client_secret");
    let globex_rt = account("globex", "refresh_token");

    // Nothing there yet: a missing entry is None, not an error.
    assert_eq!(get(&store, &acme_rt), None);
    assert!(ss.stored_secrets().is_empty());

    // One entry per secret, and two accounts (or two profiles) never collide.
    store
        .set(&acme_rt, &Secret::new("acme-refresh-token-1"))
        .expect("store acme refresh token");
    store
        .set(&acme_cs, &Secret::new("acme-client-secret"))
        .expect("store acme client secret");
    store
        .set(&globex_rt, &Secret::new("globex-refresh-token"))
        .expect("store globex refresh token");
    assert_eq!(
        sorted(ss.stored_secrets()),
        sorted(vec![
            "acme-refresh-token-1".into(),
            "acme-client-secret".into(),
            "globex-refresh-token".into(),
        ]),
        "exactly one keyring item per secret, under service={SERVICE}"
    );

    // A fresh store object reads the same entries: they live in the keychain, not in memory.
    let again = KeyringStore::new(SERVICE);
    assert_eq!(
        get(&again, &acme_rt).as_deref(),
        Some("acme-refresh-token-1")
    );
    assert_eq!(get(&again, &acme_cs).as_deref(), Some("acme-client-secret"));
    assert_eq!(
        get(&again, &globex_rt).as_deref(),
        Some("globex-refresh-token")
    );

    // Overwrite replaces the value in place: still one item for that account.
    again
        .set(&acme_rt, &Secret::new("acme-refresh-token-2"))
        .expect("overwrite acme refresh token");
    assert_eq!(
        get(&store, &acme_rt).as_deref(),
        Some("acme-refresh-token-2")
    );
    assert_eq!(
        sorted(ss.stored_secrets()),
        sorted(vec![
            "acme-refresh-token-2".into(),
            "acme-client-secret".into(),
            "globex-refresh-token".into(),
        ]),
        "overwrite must not leave the old value behind"
    );

    // Deleting one leaves the others; deleting a missing entry is fine.
    store.delete(&acme_rt).expect("delete acme refresh token");
    assert_eq!(get(&store, &acme_rt), None);
    assert_eq!(get(&store, &acme_cs).as_deref(), Some("acme-client-secret"));
    assert_eq!(
        get(&store, &globex_rt).as_deref(),
        Some("globex-refresh-token")
    );
    store
        .delete(&acme_rt)
        .expect("deleting a missing entry is Ok");
    store
        .delete(&account("never", "stored"))
        .expect("deleting a never-stored entry is Ok");

    // Unicode and a ~4 KB value (a long JWT-style refresh token) round-trip byte for byte.
    let mut long = String::from("ünïcødé-€-日本語-😀-");
    let mut i = 0u32;
    while long.len() < 4096 {
        long.push_str(&format!("{i:04x}.ß"));
        i += 1;
    }
    assert!(long.len() >= 4096);
    let long_acct = account("ünïcødé-prøfile", "refresh_token");
    store
        .set(&long_acct, &Secret::new(long.clone()))
        .expect("store a 4 KB unicode secret");
    assert_eq!(get(&again, &long_acct).as_deref(), Some(long.as_str()));
    assert!(ss.stored_secrets().contains(&long));

    // The same items keyring 3 reads and writes (what snconnect saved before it kept one
    // session per process, and any keyring-based tool): an entry stored with keyring's
    // attributes is read, and ours is found by exactly those attributes.
    let keyring_attrs = |user: &str| {
        [
            "service",
            SERVICE,
            "username",
            user,
            "target",
            "default",
            "application",
            "rust-keyring",
        ]
        .map(String::from)
        .to_vec()
    };
    let mut old = std::process::Command::new("secret-tool");
    old.envs(ss.env())
        .env_remove("DISPLAY")
        .args(["store", "--label=written by keyring 3"])
        .args(keyring_attrs("old/refresh_token"))
        .stdin(std::process::Stdio::piped());
    let mut child = old.spawn().expect("secret-tool store");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"saved-by-keyring")
        .unwrap();
    assert!(child.wait().unwrap().success(), "secret-tool store failed");
    assert_eq!(
        get(&store, "old/refresh_token").as_deref(),
        Some("saved-by-keyring")
    );
    let lookup = std::process::Command::new("secret-tool")
        .envs(ss.env())
        .env_remove("DISPLAY")
        .arg("lookup")
        .args(keyring_attrs(&acme_cs))
        .output()
        .expect("secret-tool lookup");
    assert_eq!(
        String::from_utf8_lossy(&lookup.stdout),
        "acme-client-secret"
    );
    store.delete("old/refresh_token").expect("delete");

    // The keyring daemon restarts under a running process (the app stays open for days): the
    // process's Secret Service session is gone with it, and the next call makes a new one.
    let mut ss = ss;
    ss.restart_keyring().expect("restart gnome-keyring-daemon");
    assert_eq!(
        get(&store, &globex_rt).as_deref(),
        Some("globex-refresh-token"),
        "a stale session must be replaced, not reported as keychain_unavailable"
    );

    // Clean up through the API: nothing left behind.
    for acct in [&acme_cs, &globex_rt, &long_acct] {
        store.delete(acct).expect("delete");
    }
    assert!(
        ss.stored_secrets().is_empty(),
        "left behind: {} item(s)",
        ss.stored_secrets().len()
    );
}
