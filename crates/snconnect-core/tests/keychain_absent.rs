//! No Secret Service at all (a headless box, an SSH session): the store must fail closed with
//! `keychain_unavailable` and its fix, never fall back to anything silently.
//! Its own test binary, because it points the D-Bus session address at nothing (libdbus reads
//! the address once per process), and Linux only: elsewhere the OS keychain is not on D-Bus.
#![cfg(target_os = "linux")]

use snconnect_core::keychain::{KeyringStore, SecretStore};
use snconnect_core::{Code, Secret};

#[test]
fn absent_keychain_fails_closed_with_a_stable_code() {
    // A bus path that cannot exist, and no X display to autolaunch a bus on: deterministic
    // "no bus" whatever session the test runner was started from.
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/snconnect-no-bus",
    );
    std::env::remove_var("DISPLAY");
    let store = KeyringStore::new("snconnect-test-absent");
    let err = store
        .set("p/refresh_token", &Secret::new("never-stored"))
        .unwrap_err();
    assert_eq!(err.code, Code::KeychainUnavailable, "{err:?}");
    assert!(err
        .remediation
        .as_deref()
        .unwrap()
        .contains("keep for this run only"));
    assert!(!format!("{err:?}").contains("never-stored"));
    let err = store.get("p/refresh_token").unwrap_err();
    assert_eq!(err.code, Code::KeychainUnavailable);
    let err = store.delete("p/refresh_token").unwrap_err();
    assert_eq!(err.code, Code::KeychainUnavailable);
}
