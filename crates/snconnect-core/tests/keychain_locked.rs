//! A Secret Service that is present but locked, with no prompter to unlock it (a headless
//! box whose login keyring was never unlocked): writes must fail closed as
//! `keychain_locked`, with the fix, quickly (no hanging prompt), and store nothing.
#![cfg(target_os = "linux")]

#[path = "../../../tests/support/secret_service.rs"]
mod secret_service;

use secret_service::SecretService;
use snconnect_core::keychain::{account, KeyringStore, SecretStore};
use snconnect_core::{Code, Diagnosis, Secret};
use std::sync::mpsc;
use std::time::Duration;

/// Runs a keychain call on a thread with a deadline, so a prompt that nobody answers fails
/// the test instead of hanging it (the fixture's Drop then kills the daemons).
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("keychain call against a locked keyring hung (a prompt nobody answers?)")
}

#[test]
fn locked_keychain_fails_closed_with_keychain_locked() {
    let ss = SecretService::start_locked()
        .unwrap_or_else(|e| panic!("start a locked private Secret Service: {e}"));
    for (k, v) in ss.env() {
        std::env::set_var(k, v);
    }
    std::env::remove_var("DISPLAY");

    let acct = account("acme", "refresh_token");
    let err: Diagnosis = bounded({
        let acct = acct.clone();
        move || {
            KeyringStore::default()
                .set(&acct, &Secret::new("locked-never-stored"))
                .expect_err("a write to a locked keyring must fail")
        }
    });
    eprintln!("locked keychain diagnosis: {err:?}");
    assert_eq!(err.code, Code::KeychainLocked, "{err:?}");
    let remediation = err.remediation.as_deref().expect("a remediation");
    assert!(
        remediation.to_ascii_lowercase().contains("unlock"),
        "{remediation}"
    );
    assert!(
        remediation.contains("keep for this run only"),
        "{remediation}"
    );
    assert!(!format!("{err:?}").contains("locked-never-stored"));

    // Nothing was written, not even a locked item.
    assert!(ss.stored_secrets().is_empty(), "{:?}", ss.stored_secrets());
}
