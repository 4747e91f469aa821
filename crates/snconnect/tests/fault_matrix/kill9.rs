//! `kill -9` of `snconnect profile add` at a random moment of its save, 100 times: after every
//! kill `profiles.json` parses and holds "keep"; at the end every listed profile has its
//! secret in the keychain, temp files left by a killed writer do not break loading, and keep
//! still works. `FAULT_MATRIX_SEED` replays a run's delays (the seed is printed).

use crate::harness::{after_keep, temp_files, Check, Env};
use crate::support::running::Running;
use crate::table::{row, Row};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const KILLS: usize = 100;

/// xorshift64*: reproducible delays without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("FAULT_MATRIX_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        })
}

pub fn group() -> Vec<Row> {
    let env = Env::start(1);
    env.add_keep();
    let url = env.sim.url();
    let seed = seed();
    vec![row(
        "kill -9",
        format!("kill -9 at a random moment of the save, {KILLS} times (seed {seed})"),
        "profile add kN --auth basic (keychain + profiles.json)",
        "every kill: profiles.json parses, keep listed; after: keep works",
        None,
        |c| kills(&env, &url, seed, c),
    )]
}

fn add_args<'a>(name: &'a str, url: &'a str) -> [&'a str; 9] {
    [
        "profile",
        "add",
        name,
        "--instance",
        url,
        "--auth",
        "basic",
        "--username",
        "admin",
    ]
}

fn kills(env: &Env, url: &str, seed: u64, c: &mut Check) {
    let mut rng = Rng(seed);
    // How long a whole save takes here (the quickest of three): the delays spread over it.
    let mut full = Duration::MAX;
    for r in 0..3 {
        let started = Instant::now();
        let reference = env.exec(
            &add_args(&format!("k-ref{r}"), url),
            &[("SNCONNECT_PASSWORD", "kill9-reference-password")],
        );
        full = full.min(started.elapsed());
        c.require(reference.code == 0, "a reference save failed");
    }
    // The machine gets quicker as the other groups finish: a kill that lands after the end
    // shortens the span, one that lands mid-run widens it a little, so the kills keep
    // spreading over the whole save.
    let mut span = (full.as_micros() as u64).max(1000);
    let path = env.cli.profiles_json();
    let (mut mid, mut late) = (0usize, 0usize);
    for i in 0..KILLS {
        let name = format!("k{i:03}");
        let password = format!("kill9-password-{i:03}-{seed}");
        let (cmd, what) = env.cli.command(
            true,
            &add_args(&name, url),
            &[("SNCONNECT_PASSWORD", &password)],
        );
        let delay = Duration::from_micros(rng.below(span));
        let mut running = Running::spawn(cmd, what);
        std::thread::sleep(delay.saturating_sub(running.started.elapsed()));
        if running.is_running() {
            mid += 1;
            span = span * 21 / 20;
        } else {
            late += 1;
            span = (delay.as_micros() as u64 * 9 / 10).max(1000);
        }
        running.kill9();
        if let Err(e) = running.wait(Duration::from_secs(10)) {
            c.problem(format!("kill {i}: {e}"));
        }
        // After every kill: the file parses and keep is in it.
        let text = std::fs::read(&path).unwrap_or_default();
        match serde_json::from_slice::<serde_json::Value>(&text) {
            Ok(v) => {
                let has_keep = v["profiles"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|p| p["name"] == "keep"));
                c.require(
                    has_keep,
                    format!("kill {i} (delay {delay:?}, seed {seed}): keep is gone"),
                );
            }
            Err(e) => c.problem(format!(
                "kill {i} (delay {delay:?}, seed {seed}): profiles.json does not parse: {e}"
            )),
        }
    }
    c.got = format!("{KILLS} kills: {mid} mid-run, {late} after the process had ended");

    // After: loading works despite leftovers, every listed profile has its secret.
    let litter = temp_files(env.cli.config_dir.path());
    let list = env.exec(&["profile", "list"], &[]);
    let names = crate::harness::profile_names(&list);
    c.require(list.code == 0, "`profile list` fails after the kills");
    let held = env.keychain.stored_secrets();
    let saved: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.len() == 4 && n.starts_with('k') && n[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    for n in &saved {
        let i = &n[1..];
        c.require(
            held.contains(&format!("kill9-password-{i}-{seed}")),
            format!("{n} is listed but its password is not in the keychain"),
        );
    }
    let orphans = (0..KILLS)
        .filter(|i| {
            held.contains(&format!("kill9-password-{i:03}-{seed}"))
                && !names.contains(&format!("k{i:03}"))
        })
        .count();
    c.note(format!(
        "{} saved (each with its password), {orphans} orphan keychain entries, {} temp files left (loading unaffected)",
        saved.len(),
        litter.len()
    ));
    c.after(after_keep(&env.cli, false));
}
