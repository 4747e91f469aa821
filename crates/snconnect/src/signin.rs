//! The CLI side of the core's sign-in session (the same one the desktop wizard drives): the
//! browser prompts, the paste fallback on stdin, and the outcome of a sign-in.

use crate::cli::ConsentArgs;
use crate::ctx::{keychain_hint, Ctx};
use crate::output::Outcome;
use snconnect_core::browser::{BrowserLauncher, NoBrowser, SystemBrowser};
use snconnect_core::connection::Connection;
use snconnect_core::signin::{check_pasted, SignIn, SignInOutcome};
use snconnect_core::verify::CancelConsent;
use snconnect_core::InstanceUrl;
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Signs in through the core's sign-in session, printing the browser prompts and reading
/// pasted redirects from stdin.
pub async fn sign_in(
    ctx: &Ctx,
    conn: Arc<Connection>,
    consent: &ConsentArgs,
    test: bool,
) -> SignInOutcome {
    let browser: Arc<dyn BrowserLauncher> = if consent.no_browser {
        Arc::new(NoBrowser)
    } else {
        Arc::new(SystemBrowser)
    };
    let timeout = Duration::from_secs(consent.consent_timeout.max(1));
    let session = match SignIn::begin(conn, timeout, browser).await {
        Ok(s) => s,
        Err(d) => return SignInOutcome::failed(keychain_hint(d)),
    };
    let mut session = session;
    prompt(ctx, &session, consent);
    cancel_on_ctrl_c(session.cancel_switch());
    let mut out = session.finish(test, &mut |_| {}).await;
    cancel_on_ctrl_c(None);
    out.diagnosis = keychain_hint(out.diagnosis);
    out
}

/// The browser wait's cancel switch, while one is waiting.
static WAITING: std::sync::Mutex<Option<CancelConsent>> = std::sync::Mutex::new(None);

/// Ctrl-C while the CLI waits for the browser stops the listener, so the sign-in ends as
/// `cancelled` (printed, `--json` included) with the port freed; at any other time it ends the
/// process as usual (exit 130).
fn cancel_on_ctrl_c(switch: Option<CancelConsent>) {
    static LISTENING: std::sync::Once = std::sync::Once::new();
    let waiting = switch.is_some();
    *WAITING.lock().unwrap_or_else(|e| e.into_inner()) = switch;
    if !waiting {
        return;
    }
    LISTENING.call_once(|| {
        tokio::spawn(async {
            while tokio::signal::ctrl_c().await.is_ok() {
                let taken = WAITING.lock().unwrap_or_else(|e| e.into_inner()).take();
                match taken {
                    Some(c) => c.cancel(),
                    None => std::process::exit(130),
                }
            }
        });
    });
}

/// For a browser consent: where to sign in, what is awaited, and (on a terminal or with
/// --paste) the paste fallback.
fn prompt(ctx: &Ctx, session: &SignIn, consent: &ConsentArgs) {
    let (Some(url), Some(redirect)) = (session.authorize_url(), session.redirect_url()) else {
        return;
    };
    ctx.say(format!(
        "Sign in and approve access in your browser. If no window appeared, open:\n  {url}"
    ));
    if let Some(Err(d)) = session.browser() {
        ctx.say(format!(
            "(no browser was opened: {})",
            d.detail.as_deref().unwrap_or(d.message.as_str())
        ));
    }
    ctx.say(format!("Waiting for the redirect to {redirect} …"));
    if let (true, Some(tx)) = (
        consent.paste || std::io::stdin().is_terminal(),
        session.paste_sender(),
    ) {
        ctx.say("If the browser cannot reach this computer, paste the address it was redirected to here and press Enter.");
        std::thread::spawn(move || read_pasted(tx));
    }
}

/// Hands every plausible line of stdin to the session (until it stops listening).
fn read_pasted(tx: mpsc::Sender<String>) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        if let Err(d) = check_pasted(&line) {
            eprintln!("{}", d.detail.unwrap_or(d.message));
            continue;
        }
        if tx.blocking_send(line).is_err() {
            break;
        }
    }
}

/// The CLI outcome of a sign-in: the test's when it ran, else the sign-in's failure.
pub fn signed_outcome(out: SignInOutcome, instance: &InstanceUrl) -> Outcome {
    let mut o = match out.test {
        Some(report) => Outcome::from_test(report),
        None => {
            let mut o = Outcome::failed(out.diagnosis);
            o.instance = Some(instance.to_string());
            o
        }
    };
    o.checks = out.checks;
    o.authorize_url = out.authorize_url;
    o
}
