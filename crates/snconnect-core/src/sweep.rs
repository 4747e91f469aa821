//! Testing every saved connection at once: `snconnect test --all` and the window's Test all,
//! one implementation for both hosts.
//!
//! The connections are opened and tested [`POOL`] at a time over the host's one HTTP client
//! (so connections to an instance are reused), their keychain reads off the async workers on
//! the process's one Secret Service session, and every result is recorded with **one** update
//! of the profile file (one lock, one write) instead of one per profile.

use crate::conn_test::TestReport;
use crate::connection::Connection;
use crate::error::Diagnosis;
use crate::profiles::{LastTest, Profile, ProfileStore, ProfilesFile, RecordedTest};
use futures_util::stream::{self, StreamExt};
use std::future::Future;

/// How many connections are tested at once: enough to hide network latency, few enough that
/// an instance's rate limit and the user's file-descriptor limit never notice.
pub const POOL: usize = 16;

/// One connection's test: the open connection and its report, or why it could not be opened
/// (a secret missing from the keychain, a profile that no longer validates).
pub struct Swept {
    pub name: String,
    pub outcome: Result<(Connection, TestReport), Diagnosis>,
}

/// What a sweep found, in the order of `profiles`, and the profile file as recorded (or why
/// recording failed: the results are still every connection's).
pub struct Sweep {
    pub results: Vec<Swept>,
    pub recorded: Result<ProfilesFile, Diagnosis>,
}

/// Opens (with `open`) and tests each profile, `pool` at a time, then records every test.
/// A connection that cannot be opened is a result, not a failure of the sweep.
pub async fn test_all<O, F>(
    store: &ProfileStore,
    profiles: Vec<Profile>,
    pool: usize,
    open: O,
) -> Sweep
where
    O: Fn(Profile) -> F,
    F: Future<Output = Result<Connection, Diagnosis>>,
{
    let results: Vec<Swept> = stream::iter(profiles)
        .map(|p| {
            let name = p.name.clone();
            let opened = open(p);
            async move {
                let outcome = match opened.await {
                    Ok(conn) => {
                        let report = conn.test().await;
                        Ok((conn, report))
                    }
                    Err(d) => Err(d),
                };
                Swept { name, outcome }
            }
        })
        .buffered(pool.max(1))
        .collect()
        .await;
    let mut recorded = Vec::new();
    for s in &results {
        if let Ok((conn, report)) = &s.outcome {
            recorded.push(RecordedTest {
                name: s.name.clone(),
                test: LastTest::of(report),
                tokens: conn.changed_meta().await,
            });
        }
    }
    let recorded = store.record_tests(recorded);
    Sweep { results, recorded }
}
