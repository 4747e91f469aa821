//! The real OS keychain. On Linux this needs an unlocked Secret Service: CI runs it under
//! `dbus-run-session` with gnome-keyring unlocked (tests/keychain/run.sh). It is `#[ignore]`d
//! so a plain `cargo test` on a machine without a keyring does not fail; the test script runs
//! it with `--ignored`, where it must pass.

use snconnect_core::keychain::{account, KeyringStore, SecretStore};
use snconnect_core::Secret;

#[test]
#[ignore = "needs an unlocked Secret Service; run by tests/keychain/run.sh"]
fn real_keychain_round_trip_one_entry_per_secret() {
    let service = format!("snconnect-test-{}", std::process::id());
    let store = KeyringStore::new(&service);
    let rt = account("ci-profile", "refresh_token");
    let cs = account("ci-profile", "client_secret");
    store
        .set(&rt, &Secret::new("refresh-token-value-123"))
        .expect("store refresh token");
    store
        .set(&cs, &Secret::new("client-secret-value-456"))
        .expect("store client secret");
    // A fresh store object reads the same entries: they live in the keychain, not in memory.
    let again = KeyringStore::new(&service);
    assert_eq!(
        again.get(&rt).unwrap().unwrap().expose(),
        "refresh-token-value-123"
    );
    assert_eq!(
        again.get(&cs).unwrap().unwrap().expose(),
        "client-secret-value-456"
    );
    // Deleting one leaves the other: one entry per secret.
    again.delete(&rt).unwrap();
    assert!(again.get(&rt).unwrap().is_none());
    assert_eq!(
        again.get(&cs).unwrap().unwrap().expose(),
        "client-secret-value-456"
    );
    again.delete(&cs).unwrap();
    again.delete(&cs).expect("deleting a missing entry is fine");
    assert_eq!(store.kind(), "keychain");
}
