//! The loopback redirect listener for the authorization-code flow (RFC 8252 §7.3).
//!
//! Binds `127.0.0.1` on a fixed, configurable port (ServiceNow falls back to the first
//! registered redirect URL on a mismatch, so users register one exact URL once). It answers
//! only `GET /callback`, compares `state` in constant time, is used once, times out, and can be
//! cancelled. Each connection is served on its own task with a read deadline, so a browser's
//! speculative pre-connect that never sends a request cannot block the real callback; at most
//! [`MAX_CONNECTIONS`] are served at once (the rest are closed unanswered).
//!
//! Any web page open in the user's browser can make it request this URL (an `<img>` is
//! enough), so only a callback carrying the `state` snconnect sent ends the wait: one with a
//! missing or wrong `state` — an `error=` callback included — gets a 400 page and the listener
//! keeps waiting (RFC 6749 §10.12, RFC 9700 §4.7). A pasted address is the user's own act and
//! ends the wait either way (a wrong `state` there is `state_mismatch`).
//! Query values (the code, the state) are never echoed or logged; every page carries
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.

use crate::error::{Code, Diagnosis};
use crate::secret::Secret;
use std::future::Future;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// The port users register once: `http://127.0.0.1:8765/callback`.
pub const DEFAULT_REDIRECT_PORT: u16 = 8765;
pub const CALLBACK_PATH: &str = "/callback";
const MAX_REQUEST_HEAD: usize = 16 * 1024;
const PER_CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed at once (a page cannot exhaust the process).
pub const MAX_CONNECTIONS: usize = 16;

/// Where a callback came from: the listener (anyone on this machine, any web page) or the
/// paste fallback (the user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Listener,
    Paste,
}

pub fn redirect_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
}

/// What one request to the listener amounted to.
#[derive(Debug, PartialEq, Eq)]
pub enum Callback {
    /// `GET /callback?code=…&state=…`
    Code { code: String, state: String },
    /// `GET /callback?error=…[&error_description=…]`
    Error {
        error: String,
        description: Option<String>,
        state: Option<String>,
    },
    /// `/callback` without code or error.
    Incomplete,
    /// Any other method or path (favicon, probes).
    NotFound,
}

/// Parses an HTTP request line such as `GET /callback?code=x&state=y HTTP/1.1`. Pure.
pub fn parse_request_line(line: &str) -> Callback {
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Callback::NotFound;
    };
    if method != "GET" {
        return Callback::NotFound;
    }
    let Ok(url) = url::Url::parse("http://127.0.0.1").and_then(|base| base.join(target)) else {
        return Callback::NotFound;
    };
    if url.path() != CALLBACK_PATH {
        return Callback::NotFound;
    }
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "code" if code.is_none() => code = Some(v.into_owned()),
            "state" if state.is_none() => state = Some(v.into_owned()),
            "error" if error.is_none() => error = Some(v.into_owned()),
            "error_description" if description.is_none() => description = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(error) = error {
        return Callback::Error {
            error,
            description,
            state,
        };
    }
    match (code, state) {
        (Some(code), Some(state)) if !code.is_empty() => Callback::Code { code, state },
        (Some(code), None) if !code.is_empty() => Callback::Code {
            code,
            state: String::new(),
        },
        _ => Callback::Incomplete,
    }
}

/// Parses a redirected URL the user pasted (the paste fallback when the browser cannot reach
/// the loopback listener, e.g. a browser on another machine or behind a strict proxy), such as
/// `http://127.0.0.1:8765/callback?code=…&state=…`. Pure; the same rules as a request line.
pub fn parse_redirected_url(input: &str) -> Callback {
    let Ok(url) = url::Url::parse(input.trim()) else {
        return Callback::NotFound;
    };
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    parse_request_line(&format!("GET {target} HTTP/1.1"))
}

/// A bound listener, waiting to be used once.
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

impl CallbackListener {
    /// Binds `127.0.0.1:port` (0 picks a free port; tests only, since the instance must know it).
    pub async fn bind(port: u16) -> Result<Self, Diagnosis> {
        // A listener of this process that still serves the last sign-in's end page gives way.
        if port != 0 {
            stop_lingering(port).await;
        }
        // Any bind failure (in use, or forbidden) means this port cannot take the redirect.
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Diagnosis::new(Code::CallbackPortInUse).with_detail(format!("127.0.0.1:{port}: {e}"))
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        Ok(CallbackListener { listener, port })
    }

    /// Binds the first free port of `ports`, in order (the registered fallbacks).
    pub async fn bind_first(ports: &[u16]) -> Result<Self, Diagnosis> {
        let mut last = Diagnosis::new(Code::CallbackPortInUse).with_detail("no port given");
        for &p in ports {
            match Self::bind(p).await {
                Ok(l) => return Ok(l),
                Err(d) => last = d,
            }
        }
        Err(last)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn redirect_url(&self) -> String {
        redirect_url(self.port)
    }

    /// Waits for the browser to come back with a code whose `state` equals `expected_state`.
    /// Ends on the first decisive callback, on `timeout`, or when `cancel` completes. URLs sent
    /// on `pasted` (the paste fallback) count like a request to the listener.
    pub async fn wait<C>(
        self,
        expected_state: &Secret,
        timeout: Duration,
        cancel: C,
        mut pasted: mpsc::Receiver<String>,
    ) -> Result<Secret, Diagnosis>
    where
        C: Future<Output = ()>,
    {
        let (tx, mut rx) = mpsc::channel::<(Callback, Origin)>(8);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        tokio::pin!(cancel);
        let expected = expected_state.expose().as_bytes().to_vec();
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let mut refused = Refused::default();
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    return Err(Diagnosis::new(Code::CallbackTimeout).with_detail(format!(
                        "no sign-in reached {} within {} s{}", self.redirect_url(), timeout.as_secs(), refused.note())));
                }
                _ = &mut cancel => return Err(Diagnosis::new(Code::Cancelled)),
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    // Over the bound: closed unanswered (dropping the stream).
                    let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
                    let tx = tx.clone();
                    let expected = expected.clone();
                    tokio::spawn(async move {
                        let _slot = slot;
                        if let Ok(Some(cb)) = tokio::time::timeout(PER_CONNECTION_DEADLINE, serve(stream, &expected)).await {
                            let _ = tx.send((cb, Origin::Listener)).await;
                        }
                    });
                }
                Some(url) = pasted.recv() => {
                    let _ = tx.send((parse_redirected_url(&url), Origin::Paste)).await;
                }
                Some((cb, origin)) = rx.recv() => {
                    if let Some(end) = decide(cb, origin, &expected, &mut refused) {
                        if origin == Origin::Listener {
                            // The browser follows the 303 to the page that says how it ended.
                            linger(self.listener, self.port);
                        }
                        return end;
                    }
                }
            }
        }
    }
}

/// Callbacks the listener refused because their `state` was missing or wrong.
#[derive(Debug, Default)]
struct Refused {
    count: usize,
    /// The last refused `error=` value (sanitized), if any.
    error: Option<String>,
}

impl Refused {
    fn note(&self) -> String {
        match (self.count, &self.error) {
            (0, _) => String::new(),
            (n, Some(e)) => format!("; {n} callback(s) without the state snconnect sent were refused, the last with error={e} (if you clicked Deny, start again and Allow)"),
            (n, None) => format!("; {n} callback(s) without the state snconnect sent were refused"),
        }
    }
}

/// Whether a callback ends the wait, and how. `None`: keep waiting.
fn decide(
    cb: Callback,
    origin: Origin,
    expected: &[u8],
    refused: &mut Refused,
) -> Option<Result<Secret, Diagnosis>> {
    let ours = |state: &str| state_matches(expected, state);
    match cb {
        Callback::Code { code, state } if ours(&state) => Some(Ok(Secret::new(code))),
        Callback::Code { .. } if origin == Origin::Paste => {
            Some(Err(Diagnosis::new(Code::StateMismatch)))
        }
        Callback::Error {
            error,
            description,
            state,
        } if origin == Origin::Paste || state.as_deref().is_some_and(ours) => {
            let detail = format!(
                "the instance redirected with error={}{}",
                sanitize(&error),
                description
                    .map(|d| format!(" ({})", sanitize(&d)))
                    .unwrap_or_default()
            );
            let code = if error == "access_denied" {
                Code::ConsentDenied
            } else {
                Code::TokenRequestDenied
            };
            Some(Err(Diagnosis::new(code).with_detail(detail)))
        }
        Callback::Code { .. } => {
            refused.count += 1;
            None
        }
        Callback::Error { error, .. } => {
            refused.count += 1;
            refused.error = Some(sanitize(&error).chars().take(40).collect());
            tracing::warn!("a sign-in callback without the expected state was refused");
            None
        }
        Callback::Incomplete | Callback::NotFound => None,
    }
}

fn state_matches(expected: &[u8], got: &str) -> bool {
    expected.len() == got.len() && bool::from(expected.ct_eq(got.as_bytes()))
}

/// Keeps error text from the redirect printable and short (it is attacker-controlled).
fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Reads one request head, answers it, and reports what it was. `None` for a silent or
/// malformed connection (a pre-connect).
async fn serve(mut stream: TcpStream, expected_state: &[u8]) -> Option<Callback> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line_end = head.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let cb = parse_request_line(line);
    let ours = |state: Option<&str>| state.is_some_and(|s| state_matches(expected_state, s));
    // The sign-in's own callback: a redirect to a clean URL, so the code does not stay in the
    // browser's address bar and history; the page there says how it ended.
    let clean = match &cb {
        Callback::Code { state, .. } if ours(Some(state)) => Some(DONE_PATH),
        Callback::Error { state, .. } if ours(state.as_deref()) => Some(NOT_COMPLETED_PATH),
        _ => None,
    };
    if let Some(path) = clean {
        let response = format!(
            "HTTP/1.1 303 See Other\r\nLocation: {path}\r\nContent-Length: 0\r\n{HEADERS}\r\n"
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        return Some(cb);
    }
    let (status, title, body) = match &cb {
        Callback::Code { .. } | Callback::Error { .. } => (
            "400 Bad Request",
            "Sign-in did not match",
            "This response does not belong to the sign-in snconnect started, so it was ignored. If you are signing in, finish it in the browser tab snconnect opened.",
        ),
        Callback::Incomplete => ("400 Bad Request", "Incomplete sign-in", "The redirect carried neither a code nor an error."),
        Callback::NotFound => ("404 Not Found", "Not found", "Nothing here."),
    };
    respond(&mut stream, status, title, body).await;
    Some(cb)
}

/// Every answer of the listener carries these.
const HEADERS: &str = "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
                       X-Content-Type-Options: nosniff\r\nConnection: close\r\n";
/// Where the sign-in's own callback is redirected (no query: nothing to keep in history).
const DONE_PATH: &str = "/callback/done";
const NOT_COMPLETED_PATH: &str = "/callback/not-completed";
/// How long the listener stays to serve that page after the wait ended.
const LINGER: Duration = Duration::from_secs(3);

async fn respond(stream: &mut TcpStream, status: &str, title: &str, body: &str) {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>snconnect: {title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{body}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n{HEADERS}\r\n{html}",
        html.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Listeners of this process still serving the end page: id, port, stop switch, "gone" signal.
type Lingering = (u64, u16, oneshot::Sender<()>, oneshot::Receiver<()>);
static LINGER_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static LINGERING: std::sync::Mutex<Vec<Lingering>> = std::sync::Mutex::new(Vec::new());

/// Serves the end page on `listener` until it was fetched, [`LINGER`] passed, or a new
/// sign-in wants the port ([`stop_lingering`]); then the port is free.
fn linger(listener: TcpListener, port: u16) {
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let (gone_tx, gone_rx) = oneshot::channel::<()>();
    let id = LINGER_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    LINGERING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, port, stop_tx, gone_rx));
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(LINGER);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = &mut stop_rx => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let served = tokio::time::timeout(PER_CONNECTION_DEADLINE, serve_end_page(stream)).await;
                    if matches!(served, Ok(true)) {
                        break;
                    }
                }
            }
        }
        drop(listener);
        // Still listed when it ended by itself: unlist it (a stopper already took its entry).
        LINGERING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(i, ..)| *i != id);
        let _ = gone_tx.send(());
    });
}

/// Stops this process's listener lingering on `port`, if any, and waits until it is gone.
async fn stop_lingering(port: u16) {
    let entry = {
        let mut list = LINGERING.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .position(|(_, p, ..)| *p == port)
            .map(|i| list.remove(i))
    };
    if let Some((_, _, stop, gone)) = entry {
        let _ = stop.send(());
        let _ = gone.await;
    }
}

/// The page after the redirect; `true` once it was served.
async fn serve_end_page(mut stream: TcpStream) -> bool {
    let mut buf = [0u8; 2048];
    let Ok(n) = stream.read(&mut buf).await else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..n]);
    let target = head.split_ascii_whitespace().nth(1).unwrap_or("");
    let (status, title, body) = match target {
        DONE_PATH => (
            "200 OK",
            "Signed in",
            "snconnect received the sign-in. You can close this tab and return to snconnect.",
        ),
        NOT_COMPLETED_PATH => (
            "200 OK",
            "Sign-in not completed",
            "The instance did not grant access. Return to snconnect for the reason and the fix.",
        ),
        _ => ("404 Not Found", "Not found", "Nothing here."),
    };
    respond(&mut stream, status, title, body).await;
    status.starts_with("200")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn parses_request_lines() {
        assert_eq!(
            parse_request_line("GET /callback?code=abc&state=xyz HTTP/1.1"),
            Callback::Code {
                code: "abc".into(),
                state: "xyz".into()
            }
        );
        assert_eq!(
            parse_request_line("GET /callback?error=access_denied&error_description=User%20denied&state=s HTTP/1.1"),
            Callback::Error { error: "access_denied".into(), description: Some("User denied".into()), state: Some("s".into()) }
        );
        assert_eq!(
            parse_request_line("GET /callback HTTP/1.1"),
            Callback::Incomplete
        );
        assert_eq!(
            parse_request_line("GET /callback?code=&state=x HTTP/1.1"),
            Callback::Incomplete
        );
        assert_eq!(
            parse_request_line("GET /favicon.ico HTTP/1.1"),
            Callback::NotFound
        );
        assert_eq!(
            parse_request_line("POST /callback?code=a&state=b HTTP/1.1"),
            Callback::NotFound
        );
        assert_eq!(
            parse_request_line("GET /callbackx?code=a HTTP/1.1"),
            Callback::NotFound
        );
        assert_eq!(parse_request_line(""), Callback::NotFound);
        assert_eq!(parse_request_line("GET"), Callback::NotFound);
    }

    fn no_paste() -> mpsc::Receiver<String> {
        mpsc::channel(1).1
    }

    #[test]
    fn parses_pasted_urls() {
        assert_eq!(
            parse_redirected_url(" http://127.0.0.1:8765/callback?code=abc&state=xyz \n"),
            Callback::Code {
                code: "abc".into(),
                state: "xyz".into()
            }
        );
        assert_eq!(parse_redirected_url("not a url"), Callback::NotFound);
        assert_eq!(
            parse_redirected_url("https://elsewhere.example/other?code=a&state=b"),
            Callback::NotFound
        );
    }

    #[tokio::test]
    async fn a_pasted_url_completes_the_wait() {
        let l = CallbackListener::bind(0).await.unwrap();
        let (tx, rx) = mpsc::channel(1);
        tx.send("http://127.0.0.1:1/callback?code=pasted&state=st".into())
            .await
            .unwrap();
        let code = l
            .wait(
                &Secret::new("st"),
                Duration::from_secs(10),
                std::future::pending(),
                rx,
            )
            .await
            .unwrap();
        assert_eq!(code.expose(), "pasted");
    }

    fn get(port: u16, target: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn happy_path_tolerates_preconnect_and_noise() {
        let l = CallbackListener::bind(0).await.unwrap();
        let port = l.port();
        let state = Secret::new("st4te");
        let waiter = tokio::spawn(async move {
            l.wait(
                &state,
                Duration::from_secs(10),
                std::future::pending(),
                no_paste(),
            )
            .await
        });
        let (out, done) = tokio::task::spawn_blocking(move || {
            // A pre-connect that never sends anything must not block the real callback.
            let _silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let nf = get(port, "/favicon.ico");
            assert!(nf.starts_with("HTTP/1.1 404"), "{nf}");
            let out = get(port, "/callback?code=the-code&state=st4te");
            // The browser follows the redirect to the clean URL.
            (out, get(port, "/callback/done"))
        })
        .await
        .unwrap();
        assert!(out.starts_with("HTTP/1.1 303"), "{out}");
        assert!(out.contains("\r\nLocation: /callback/done\r\n"), "{out}");
        assert!(out.contains("Referrer-Policy: no-referrer"), "{out}");
        assert!(
            done.starts_with("HTTP/1.1 200") && done.contains("Signed in"),
            "{done}"
        );
        assert!(
            !out.contains("the-code") && !out.contains("st4te"),
            "query values must not be echoed"
        );
        assert_eq!(waiter.await.unwrap().unwrap().expose(), "the-code");
    }

    fn waiting(
        l: CallbackListener,
        state: &'static str,
        paste: mpsc::Receiver<String>,
    ) -> tokio::task::JoinHandle<Result<Secret, Diagnosis>> {
        tokio::spawn(async move {
            l.wait(
                &Secret::new(state),
                Duration::from_secs(10),
                std::future::pending(),
                paste,
            )
            .await
        })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn hostile_callbacks_get_400_and_do_not_end_the_wait_then_the_right_one_does() {
        let l = CallbackListener::bind(0).await.unwrap();
        let port = l.port();
        let w = waiting(l, "good", no_paste());
        let answers = tokio::task::spawn_blocking(move || {
            let hostile = [
                "/callback?code=c",
                "/callback?code=c&state=evil",
                "/callback?code=c&state=",
                "/callback?error=access_denied&error_description=Your%20account%20is%20locked",
                "/callback?error=access_denied&state=evil",
                "/callback?error=server_error&state=goo",
            ];
            hostile.iter().map(|t| get(port, t)).collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for a in &answers {
            assert!(a.starts_with("HTTP/1.1 400"), "{a}");
            assert!(a.contains("Referrer-Policy: no-referrer"), "{a}");
            assert!(!a.contains("locked"), "hostile text is never echoed: {a}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!w.is_finished(), "a hostile callback ended the sign-in");
        let ok = tokio::task::spawn_blocking(move || get(port, "/callback?code=real&state=good"))
            .await
            .unwrap();
        assert!(ok.starts_with("HTTP/1.1 303"), "{ok}");
        assert_eq!(w.await.unwrap().unwrap().expose(), "real");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_error_with_our_state_ends_the_wait_and_a_pasted_wrong_state_is_a_mismatch() {
        let l = CallbackListener::bind(0).await.unwrap();
        let port = l.port();
        let w = waiting(l, "s", no_paste());
        let a = tokio::task::spawn_blocking(move || {
            let a = get(port, "/callback?error=access_denied&state=s");
            (a, get(port, "/callback/not-completed"))
        })
        .await
        .unwrap();
        assert!(a.0.contains("Location: /callback/not-completed"), "{a:?}");
        assert!(a.1.contains("Sign-in not completed"), "{a:?}");
        assert_eq!(w.await.unwrap().unwrap_err().code, Code::ConsentDenied);

        let l = CallbackListener::bind(0).await.unwrap();
        let (tx, rx) = mpsc::channel(1);
        let w = waiting(l, "good", rx);
        tx.send("http://127.0.0.1:8765/callback?code=c&state=evil".into())
            .await
            .unwrap();
        assert_eq!(w.await.unwrap().unwrap_err().code, Code::StateMismatch);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_timeout_after_refused_callbacks_says_so() {
        let l = CallbackListener::bind(0).await.unwrap();
        let port = l.port();
        let w = tokio::spawn(async move {
            l.wait(
                &Secret::new("good"),
                Duration::from_millis(600),
                std::future::pending(),
                no_paste(),
            )
            .await
        });
        tokio::task::spawn_blocking(move || get(port, "/callback?error=access_denied"))
            .await
            .unwrap();
        let d = w.await.unwrap().unwrap_err();
        assert_eq!(d.code, Code::CallbackTimeout);
        let detail = d.detail.unwrap();
        assert!(detail.contains("1 callback(s) without the state snconnect sent were refused, the last with error=access_denied"), "{detail}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connections_over_the_bound_are_closed_and_the_callback_still_gets_through() {
        let l = CallbackListener::bind(0).await.unwrap();
        let port = l.port();
        let w = waiting(l, "good", no_paste());
        let out = tokio::task::spawn_blocking(move || {
            // Silent connections hold every slot until their read deadline.
            let held: Vec<_> = (0..MAX_CONNECTIONS + 8)
                .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
                .collect();
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
            std::thread::sleep(Duration::from_millis(200));
            get(port, "/callback?code=real&state=good")
        })
        .await
        .unwrap();
        assert!(out.starts_with("HTTP/1.1 303"), "{out}");
        assert_eq!(w.await.unwrap().unwrap().expose(), "real");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_next_sign_in_takes_the_port_from_a_listener_still_serving_the_end_page() {
        let l = CallbackListener::bind(0).await.unwrap();
        let port = l.port();
        let w = waiting(l, "s", no_paste());
        tokio::task::spawn_blocking(move || get(port, "/callback?code=c&state=s"))
            .await
            .unwrap();
        w.await.unwrap().unwrap();
        // The browser has not fetched the end page yet: the port is still held, for us.
        let again = CallbackListener::bind(port)
            .await
            .expect("taken over at once");
        assert_eq!(again.port(), port);
        // Nobody else's listener is touched: a port held elsewhere stays busy.
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = other.local_addr().unwrap().port();
        assert_eq!(
            CallbackListener::bind(busy).await.err().unwrap().code,
            Code::CallbackPortInUse
        );
    }

    #[tokio::test]
    async fn timeout_cancel_and_port_in_use() {
        let l = CallbackListener::bind(0).await.unwrap();
        let port = l.port();
        let busy = CallbackListener::bind(port).await.err().unwrap();
        assert_eq!(busy.code, Code::CallbackPortInUse);
        let fallback = CallbackListener::bind_first(&[port, 0]).await.unwrap();
        assert_ne!(fallback.port(), port);
        let err = l
            .wait(
                &Secret::new("s"),
                Duration::from_millis(50),
                std::future::pending(),
                no_paste(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::CallbackTimeout);
        let err = fallback
            .wait(
                &Secret::new("s"),
                Duration::from_secs(10),
                async {},
                no_paste(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::Cancelled);
    }
}
