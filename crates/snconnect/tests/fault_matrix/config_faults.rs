//! The config dir: a corrupt, empty, future or directory-shaped `profiles.json` (reported as
//! `config_unreadable`, never overwritten), an unwritable dir or unreadable file (as another
//! user when this runs as root: root ignores modes), a file where the dir (or its parent)
//! should be, a full disk (RLIMIT_FSIZE with SIGXFSZ ignored; ENOSPC on a tiny tmpfs in a
//! private mount namespace), the profile lock held by another process, and a file where the
//! refresh-lock dir should be. Each row has its own config dir with "keep" saved in it.

use crate::harness::{
    add_keep, after_keep, exec_wrapped, exec_wrapped_in, is_root, must, new_cli, temp_files, Check,
    Env, BIN,
};
use crate::support::running::Running;
use crate::support::Cli;
use crate::table::{row, Row};
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const G: &str = "config";

fn fresh(env: &Env) -> Cli {
    let cli = new_cli(&env.sim, &env.keychain);
    add_keep(&cli, &env.sim);
    cli
}

fn add_x<'a>(url: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![
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

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// A corrupt `profiles.json` (`bytes`) under "keep": `args` must fail with
/// config_unreadable and leave the file byte for byte; with the file restored, keep works
/// (so the failed command deleted none of its keychain entries).
fn corrupt(
    env: &Env,
    c: &mut Check,
    bad: impl FnOnce(&[u8]) -> Vec<u8>,
    args: &[&str],
    envs: &[(&str, &str)],
) {
    let cli = fresh(env);
    let path = cli.profiles_json();
    let good = std::fs::read(&path).unwrap();
    let bytes = bad(&good);
    std::fs::write(&path, &bytes).unwrap();
    let run = cli.exec(true, args, envs);
    c.outcome(&run, 2, "config_unreadable");
    let now = std::fs::read(&path).unwrap_or_default();
    c.require(now == bytes, "the unreadable profiles.json was overwritten");
    std::fs::write(&path, good).unwrap();
    c.note("file left byte for byte (then restored)");
    c.after(after_keep(&cli, false));
}

/// How to run the CLI as someone modes apply to: directly when this is not root, else as
/// `nobody` through setpriv. `None` (with the reason) when neither is possible.
fn other_user() -> Result<Vec<&'static str>, String> {
    if !is_root() {
        return Ok(vec!["env"]);
    }
    let wrapper = vec![
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    let probe = Command::new(wrapper[0])
        .args(&wrapper[1..])
        .arg(BIN)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Ok(s) if s.success() => Ok(wrapper),
        Ok(s) => Err(format!(
            "running as root, and uid 65534 cannot run {BIN} through setpriv ({s})"
        )),
        Err(e) => Err(format!("running as root, and setpriv is unavailable: {e}")),
    }
}

/// `sh -c 'trap "" XFSZ; exec prlimit --fsize=1:1 -- …'`: every file write over 1 byte fails
/// with EFBIG (as on a full disk) instead of killing the process.
const FSIZE: &[&str] = &[
    "sh",
    "-c",
    "trap '' XFSZ; exec prlimit --fsize=1:1 -- \"$@\"",
    "sh",
];

/// A private mount namespace with a 64 KiB tmpfs on `dir`, held by a sleeping process.
struct TinyTmpfs {
    child: Child,
}

impl TinyTmpfs {
    fn mount(dir: &Path) -> Result<TinyTmpfs, String> {
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs -o size=64k snc-full \"$1\" && echo mounted && exec sleep 600")
            .arg("sh")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("unshare: {e}"))?;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if l.trim() == "mounted" => Ok(TinyTmpfs { child }),
            _ => {
                let _ = child.kill();
                let out = child
                    .wait_with_output()
                    .map(|o| o.stderr)
                    .unwrap_or_default();
                Err(format!(
                    "no private tmpfs here (unshare --mount + mount -t tmpfs): {}",
                    String::from_utf8_lossy(&out).trim()
                ))
            }
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// `program args…` inside the namespace: (exit, stdout).
    fn sh(&self, script: &str, dir: &Path) -> (i32, String) {
        let out = Command::new("nsenter")
            .args(["-t", &self.pid(), "-m", "--", "sh", "-c", script, "sh"])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .expect("nsenter");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for TinyTmpfs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn group() -> Vec<Row> {
    let env = Env::start(1);
    let url = env.sim.url();
    let pw = env.sim.password("admin");
    let pw_env = [("SNCONNECT_PASSWORD", pw.as_str())];
    let mut rows = Vec::new();

    rows.push(row(
        G,
        "profiles.json truncated half-way (another tool crashed mid-write)",
        "profile add x",
        "config_unreadable (exit 2)",
        None,
        |c| {
            corrupt(
                &env,
                c,
                |good| good[..good.len() / 2].to_vec(),
                &add_x(&url, "x"),
                &pw_env,
            )
        },
    ));
    rows.push(row(
        G,
        "profiles.json is not JSON",
        "test keep",
        "config_unreadable (exit 2)",
        None,
        |c| corrupt(&env, c, |_| b"{ not json".to_vec(), &["test", "keep"], &[]),
    ));
    rows.push(row(
        G,
        "profiles.json is binary garbage",
        "profile list",
        "config_unreadable (exit 2)",
        None,
        |c| {
            corrupt(
                &env,
                c,
                |_| b"\x00\xff\xfe garbage \x01".to_vec(),
                &["profile", "list"],
                &[],
            )
        },
    ));
    rows.push(row(
        G,
        "profiles.json is empty (0 bytes)",
        "profile remove keep",
        "config_unreadable (exit 2), keychain entries kept",
        None,
        |c| corrupt(&env, c, |_| Vec::new(), &["profile", "remove", "keep"], &[]),
    ));
    rows.push(row(
        G,
        "profiles.json from a newer snconnect (schema_version 99)",
        "profile add x",
        "config_unreadable (exit 2)",
        None,
        |c| {
            corrupt(
                &env,
                c,
                |_| br#"{"schema_version":99,"profiles":[{"name":"keep","instance":"acme","auth":"basic"}]}"#.to_vec(),
                &add_x(&url, "x"),
                &pw_env,
            )
        },
    ));

    rows.push(row(
        G,
        "profiles.json is a directory",
        "profile add x",
        "config_unreadable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            let path = cli.profiles_json();
            let good = std::fs::read(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            std::fs::create_dir(&path).unwrap();
            let run = cli.exec(true, &add_x(&url, "x"), &pw_env);
            c.outcome(&run, 2, "config_unreadable");
            c.require(path.is_dir(), "the directory was replaced");
            std::fs::remove_dir(&path).unwrap();
            std::fs::write(&path, good).unwrap();
            c.note("directory left (then the file restored)");
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "config dir not writable (0555; as uid 65534 when root)",
        "profile add x --auth oauth-code-pkce --no-keychain",
        "config_unwritable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            let wrapper = match other_user() {
                Ok(w) => w,
                Err(why) => return c.skip(why),
            };
            let dir = cli.config_dir.path().to_path_buf();
            let before = std::fs::read(cli.profiles_json()).unwrap();
            chmod(&cli.profiles_json(), 0o644);
            chmod(&dir.join("profiles.lock"), 0o644);
            chmod(&dir, 0o555);
            let public = env.sim.sim.public_client_id().to_string();
            let run = exec_wrapped(
                &cli,
                &wrapper,
                &[
                    "--no-keychain",
                    "profile",
                    "add",
                    "x",
                    "--instance",
                    &url,
                    "--auth",
                    "oauth-code-pkce",
                    "--client-id",
                    &public,
                ],
                &[],
            );
            chmod(&dir, 0o700);
            c.outcome(&run, 2, "config_unwritable");
            c.require(
                std::fs::read(cli.profiles_json()).unwrap() == before,
                "profiles.json changed",
            );
            c.note(format!("profiles.json unchanged (ran as {})", wrapper[0]));
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "profiles.json not readable (0600 of another user / 0000)",
        "profile list",
        "config_unreadable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            let wrapper = match other_user() {
                Ok(w) => w,
                Err(why) => return c.skip(why),
            };
            let dir = cli.config_dir.path().to_path_buf();
            let before = std::fs::read(cli.profiles_json()).unwrap();
            chmod(&dir, 0o755);
            chmod(&cli.profiles_json(), if is_root() { 0o600 } else { 0o000 });
            let run = exec_wrapped(&cli, &wrapper, &["profile", "list"], &[]);
            chmod(&cli.profiles_json(), 0o600);
            chmod(&dir, 0o700);
            c.outcome(&run, 2, "config_unreadable");
            c.require(
                std::fs::read(cli.profiles_json()).unwrap() == before,
                "profiles.json changed",
            );
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "a file where the config dir should be",
        "profile add x (--config-dir FILE)",
        "config_unwritable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            let blocker = cli.home.path().join("not-a-dir");
            std::fs::write(&blocker, b"a file, not a directory\n").unwrap();
            let run = exec_wrapped_in(&cli, &blocker, &["env"], &add_x(&url, "x"), &pw_env);
            c.outcome(&run, 2, "config_unwritable");
            c.require(
                std::fs::read(&blocker).unwrap() == b"a file, not a directory\n",
                "the file in the way was changed",
            );
            c.note("the file in the way untouched");
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "a file where the config dir's parent should be",
        "profile add x (--config-dir FILE/snconnect)",
        "config_unwritable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            let blocker = cli.home.path().join("dot-config");
            std::fs::write(&blocker, b"x").unwrap();
            let run = exec_wrapped_in(
                &cli,
                &blocker.join("snconnect"),
                &["env"],
                &add_x(&url, "x"),
                &pw_env,
            );
            c.outcome(&run, 2, "config_unwritable");
            c.require(
                std::fs::read(&blocker).unwrap() == b"x",
                "the file in the way was changed",
            );
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "disk full: writes fail with EFBIG (RLIMIT_FSIZE 1 byte, SIGXFSZ ignored)",
        "profile add x",
        "config_unwritable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            let before = std::fs::read(cli.profiles_json()).unwrap();
            let run = exec_wrapped(&cli, FSIZE, &add_x(&url, "x"), &pw_env);
            c.outcome(&run, 2, "config_unwritable");
            c.require(
                std::fs::read(cli.profiles_json()).unwrap() == before,
                "profiles.json changed",
            );
            let litter = temp_files(cli.config_dir.path());
            c.require(litter.is_empty(), format!("temp files left: {litter:?}"));
            c.note("profiles.json unchanged, no temp file left");
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "disk full: ENOSPC on a 64 KiB tmpfs (private mount namespace)",
        "profile add x",
        "config_unwritable (exit 2)",
        None,
        |c| {
            let cli = new_cli(&env.sim, &env.keychain);
            let dir = cli.config_dir.path().to_path_buf();
            let fs = match TinyTmpfs::mount(&dir) {
                Ok(f) => f,
                Err(why) => return c.skip(why),
            };
            let pid = fs.pid();
            let ns = ["nsenter", "-t", pid.as_str(), "-m", "--"];
            must(
                &exec_wrapped(&cli, &ns, &add_x(&url, "keep"), &pw_env),
                "profile add keep (on the tmpfs)",
            );
            let (_, before) = fs.sh("cat \"$1/profiles.json\"", &dir);
            fs.sh(
                "dd if=/dev/zero of=\"$1/filler\" bs=4096 2>/dev/null; true",
                &dir,
            );
            let (_, df) = fs.sh("df -k \"$1\" | tail -n 1", &dir);
            let run = exec_wrapped(&cli, &ns, &add_x(&url, "x"), &pw_env);
            c.outcome(&run, 2, "config_unwritable");
            let (_, after) = fs.sh("cat \"$1/profiles.json\"", &dir);
            let (_, listing) = fs.sh("ls -A \"$1\"", &dir);
            c.require(after == before, "profiles.json changed on the full disk");
            let litter: Vec<&str> = listing.lines().filter(|l| l.starts_with(".tmp")).collect();
            c.require(litter.is_empty(), format!("temp files left: {litter:?}"));
            c.note(format!(
                "disk: {}; profiles.json unchanged, no temp file left",
                df.split_whitespace()
                    .nth(3)
                    .map(|a| format!("{a} KiB free"))
                    .unwrap_or_default()
            ));
            fs.sh("rm -f \"$1/filler\"", &dir);
            let test = exec_wrapped(&cli, &ns, &["test", "keep"], &[]);
            let list = exec_wrapped(&cli, &ns, &["profile", "list"], &[]);
            let names = crate::harness::profile_names(&list);
            let ok = test.code == 0 && names.iter().any(|n| n == "keep");
            c.after(if ok {
                Ok("keep: test ok".into())
            } else {
                Err(format!(
                    "test keep: {} (exit {}), listed {names:?}",
                    crate::harness::code_of(&test),
                    test.code
                ))
            });
        },
    ));

    rows.push(row(
        G,
        "profiles.lock held by another process (flock), SNCONNECT_LOCK_WAIT_MS=300",
        "profile add x",
        "config_locked (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            let lock = cli.config_dir.path().join("profiles.lock");
            // -o: flock holds the lock itself (the sleeping child does not inherit it), so
            // killing flock releases it.
            let mut flock = Command::new("flock");
            flock.arg("-o").arg(&lock).args(["sleep", "60"]);
            // Its own process group: dropping it kills flock and its sleeping child.
            let holder = Running::spawn(flock, "flock -o profiles.lock sleep 60");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Command::new("flock")
                .args(["-n"])
                .arg(&lock)
                .arg("true")
                .status()
                .is_ok_and(|s| s.success())
            {
                if Instant::now() >= deadline {
                    c.problem("flock never took the lock");
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let before = std::fs::read(cli.profiles_json()).unwrap();
            let mut envs = pw_env.to_vec();
            envs.push(("SNCONNECT_LOCK_WAIT_MS", "300"));
            let run = cli.exec(true, &add_x(&url, "x"), &envs);
            drop(holder);
            c.outcome(&run, 2, "config_locked");
            c.require(
                std::fs::read(cli.profiles_json()).unwrap() == before,
                "profiles.json changed",
            );
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "a file where the refresh-lock dir (locks/) should be",
        "token refresh keep-pw (oauth-password)",
        "config_unwritable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            add_keep_pw(&cli, &env);
            let locks = cli.config_dir.path().join("locks");
            let _ = std::fs::remove_dir_all(&locks);
            std::fs::write(&locks, b"in the way").unwrap();
            let run = cli.exec(true, &["token", "refresh", "keep-pw"], &[]);
            std::fs::remove_file(&locks).unwrap();
            c.outcome(&run, 2, "config_unwritable");
            let again = cli.exec(true, &["token", "refresh", "keep-pw"], &[]);
            c.require(
                again.code == 0,
                format!(
                    "keep-pw does not refresh once the file is gone: {}",
                    crate::harness::code_of(&again)
                ),
            );
            c.note("keep-pw: refresh ok");
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "overwrite keep with a new password while writes fail (EFBIG)",
        "profile add keep (new password)",
        "config_unwritable (exit 2), the saved password kept",
        // Was a bug (the keychain written first); save_profile now puts the old entries back.
        None,
        |c| {
            let cli = fresh(&env);
            let before = std::fs::read(cli.profiles_json()).unwrap();
            let run = exec_wrapped(
                &cli,
                FSIZE,
                &add_x(&url, "keep"),
                &[("SNCONNECT_PASSWORD", "fault-matrix-new-password")],
            );
            c.outcome(&run, 2, "config_unwritable");
            c.require(
                std::fs::read(cli.profiles_json()).unwrap() == before,
                "profiles.json changed",
            );
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "remove keep while writes fail (EFBIG)",
        "profile remove keep",
        "config_unwritable (exit 2), keep and its password kept",
        // Was a bug (entries deleted first); signin::remove_profile now puts them back.
        None,
        |c| {
            let cli = fresh(&env);
            let before = std::fs::read(cli.profiles_json()).unwrap();
            let run = exec_wrapped(&cli, FSIZE, &["profile", "remove", "keep"], &[]);
            c.outcome(&run, 2, "config_unwritable");
            c.require(
                std::fs::read(cli.profiles_json()).unwrap() == before,
                "profiles.json changed",
            );
            c.after(after_keep(&cli, false));
        },
    ));

    rows.push(row(
        G,
        "token facts cannot be written (EFBIG) after a successful refresh",
        "token refresh keep-pw (oauth-password)",
        "config_unwritable (exit 2)",
        None,
        |c| {
            let cli = fresh(&env);
            add_keep_pw(&cli, &env);
            // A second later the new expiry differs from the recorded one: it must be written.
            std::thread::sleep(Duration::from_millis(1100));
            let before = std::fs::read(cli.profiles_json()).unwrap();
            let run = exec_wrapped(&cli, FSIZE, &["token", "refresh", "keep-pw"], &[]);
            c.outcome(&run, 2, "config_unwritable");
            c.require(
                std::fs::read(cli.profiles_json()).unwrap() == before,
                "profiles.json changed",
            );
            let again = cli.exec(true, &["token", "refresh", "keep-pw"], &[]);
            c.require(
                again.code == 0,
                format!(
                    "keep-pw does not refresh afterwards: {}",
                    crate::harness::code_of(&again)
                ),
            );
            c.note("keep-pw: refresh ok");
            c.after(after_keep(&cli, false));
        },
    ));

    rows
}

/// "keep-pw": the password grant as admin with the confidential client, signed in.
fn add_keep_pw(cli: &Cli, env: &Env) {
    let url = env.sim.url();
    let pw = env.sim.password("admin");
    let conf = env.sim.sim.confidential_client_id().to_string();
    let secret = env.sim.sim.confidential_client_secret().to_string();
    must(
        &cli.exec(
            true,
            &[
                "profile",
                "add",
                "keep-pw",
                "--instance",
                &url,
                "--auth",
                "oauth-password",
                "--client-id",
                &conf,
                "--username",
                "admin",
            ],
            &[
                ("SNCONNECT_PASSWORD", &pw),
                ("SNCONNECT_CLIENT_SECRET", &secret),
            ],
        ),
        "profile add keep-pw",
    );
    must(
        &cli.exec(true, &["login", "keep-pw", "--no-test"], &[]),
        "login keep-pw",
    );
}
