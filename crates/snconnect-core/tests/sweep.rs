//! The sweep behind `snconnect test --all` and the window's Test all (`sweep.rs`): every saved
//! connection tested on a bounded pool over one client, results in the profiles' order, a
//! connection that cannot be opened reported as its own result, and every test recorded in the
//! profile file. Real TLS against snsim; secrets in a `MemoryStore`.

mod support;

use snconnect_core::connection::Connection;
use snconnect_core::keychain::SecretStore;
use snconnect_core::profiles::{AuthMethod, Profile, ProfileStore};
use snconnect_core::sweep;
use snconnect_core::Code;
use snsim::SimConfig;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{core_http, put, start, ADMIN_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_is_tested_on_a_bounded_pool_and_recorded() {
    let sim = start(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let profiles = ProfileStore::new(dir.path());
    let store = support::store();
    let mut list = Vec::new();
    for i in 0..40 {
        let name = format!("conn-{i:02}");
        list.push(Profile {
            username: Some("admin".into()),
            ..support::profile(&name, &sim, AuthMethod::Basic)
        });
        match i {
            7 => {} // no password in the keychain: cannot be opened
            13 => put(&store, &name, "password", "wrong-password"),
            _ => put(&store, &name, "password", ADMIN_PASSWORD),
        }
    }
    for p in &list {
        profiles.upsert(p.clone()).unwrap();
    }

    let http = core_http(&sim);
    let opening = AtomicUsize::new(0);
    let most_at_once = AtomicUsize::new(0);
    let (opening, most_at_once) = (&opening, &most_at_once);
    let sweep = sweep::test_all(&profiles, list.clone(), 6, |p| {
        let store: Arc<dyn SecretStore> = store.clone();
        let http = http.clone();
        async move {
            let now = opening.fetch_add(1, Ordering::SeqCst) + 1;
            most_at_once.fetch_max(now, Ordering::SeqCst);
            // Long enough for every slot of the pool to be taken at once.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            opening.fetch_sub(1, Ordering::SeqCst);
            Connection::open(p, http, store).await
        }
    })
    .await;

    assert_eq!(
        most_at_once.load(Ordering::SeqCst),
        6,
        "the pool runs exactly its size at once"
    );
    let names: Vec<&str> = sweep.results.iter().map(|s| s.name.as_str()).collect();
    let expected: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, expected, "results come in the profiles' order");
    for (i, s) in sweep.results.iter().enumerate() {
        match (i, &s.outcome) {
            (7, Err(d)) => assert_eq!(d.code, Code::UsageError, "{d:?}"),
            (13, Ok((_, report))) => {
                assert!(!report.ok());
                assert_eq!(report.diagnosis.code, Code::BasicAuthRejected);
            }
            (_, Ok((_, report))) => assert!(report.ok(), "{}: {:?}", s.name, report.diagnosis),
            (_, Err(d)) => panic!("{} did not open: {d:?}", s.name),
        }
    }

    // Every test that ran is recorded, in the file as returned and on disk.
    let recorded = sweep.recorded.expect("recorded");
    assert_eq!(recorded, profiles.load().unwrap());
    for p in &recorded.profiles {
        let last = p.last_test.as_ref();
        match p.name.as_str() {
            "conn-07" => assert!(last.is_none(), "nothing ran, nothing recorded"),
            "conn-13" => assert_eq!(last.unwrap().code, "basic_auth_rejected"),
            _ => assert!(last.unwrap().ok, "{}", p.name),
        }
    }
}

#[tokio::test]
async fn a_profile_removed_during_the_sweep_is_skipped_not_an_error() {
    let sim = start(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let profiles = ProfileStore::new(dir.path());
    let store = support::store();
    let mut list = Vec::new();
    for name in ["kept", "removed"] {
        let p = Profile {
            username: Some("admin".into()),
            ..support::profile(name, &sim, AuthMethod::Basic)
        };
        put(&store, name, "password", ADMIN_PASSWORD);
        profiles.upsert(p.clone()).unwrap();
        list.push(p);
    }
    let http = core_http(&sim);
    let profiles_ref = &profiles;
    let sweep = sweep::test_all(&profiles, list, 2, |p| {
        let store: Arc<dyn SecretStore> = store.clone();
        let http = http.clone();
        async move {
            if p.name == "removed" {
                // Another process (the app's Delete, `profile remove`) removes it meanwhile.
                profiles_ref.remove("removed").unwrap();
            }
            Connection::open(p, http, store).await
        }
    })
    .await;
    let file = sweep.recorded.expect("recording skips the removed profile");
    let names: Vec<&str> = file.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["kept"]);
    assert!(file.profiles[0].last_test.as_ref().unwrap().ok);
    assert_eq!(sweep.results.len(), 2);
}
