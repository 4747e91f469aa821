//! Routing and the accept loop (plain HTTP or TLS via tokio-rustls, HTTP/1.1 via hyper).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Response, StatusCode, Uri};
use axum::routing::{any, get, post};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::common::{edge_layer, html, instance_layer, App, DropConnection, SessionCtx};
use crate::{api, control, oauth, pages};

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight connections get to finish on shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

pub fn router(app: App, control_api: bool) -> Router {
    let mut r = Router::new()
        .route("/", get(home))
        .route("/navpage.do", get(home))
        .route(
            "/oauth_auth.do",
            get(oauth::authorize_get).post(oauth::authorize_post),
        )
        .route("/login.do", get(oauth::login_get).post(oauth::login_post))
        .route("/logout.do", get(oauth::logout))
        .route("/oauth_token.do", post(oauth::token))
        .route(
            "/oauth_revoke_token.do",
            get(oauth::revoke).post(oauth::revoke),
        )
        .route("/oauth_revoke.do", get(oauth::revoke).post(oauth::revoke))
        .route("/idp/login", get(sso_login).post(sso_login_post))
        .route("/api/now/ui/user/current_user", get(api::current_user))
        .route("/api/now/table/{table}", any(api::table_any))
        .route("/api/now/table/{table}/{sys_id}", any(api::table_any))
        .route("/api/now/{version}/table/{table}", any(api::table_any))
        .route(
            "/api/now/{version}/table/{table}/{sys_id}",
            any(api::table_any),
        );
    if control_api {
        r = r
            .route(
                "/__snsim/requests",
                get(control::requests).delete(control::clear_requests),
            )
            .route("/__snsim/requests/count", get(control::count_requests))
            .route("/__snsim/issued", get(control::issued))
            .route("/__snsim/clients", get(control::clients))
            .route("/__snsim/expire_tokens", post(control::expire_tokens))
            .route("/__snsim/advance_clock", post(control::advance_clock))
            .route(
                "/__snsim/switches",
                get(control::get_switches)
                    .post(control::merge_switches)
                    .put(control::put_switches),
            )
            .route("/__snsim/reset_switches", post(control::reset_switches))
            .route(
                "/__snsim/properties",
                get(control::get_properties).post(control::set_properties),
            )
            .route("/__snsim/revoke", post(control::revoke))
            .route("/__snsim/info", get(control::info));
    }
    r.fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            instance_layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            edge_layer,
        ))
        .with_state(app)
}

/// The simulated IdP signs the user in (no password: it stands for the organisation's IdP)
/// and returns to `RelayState` with a logged-in instance session.
async fn sso_login_post(
    State(app): State<App>,
    Extension(sess): Extension<SessionCtx>,
    body: axum::body::Bytes,
) -> Response<Body> {
    let pairs = crate::common::parse_pairs(&body);
    let name = crate::common::param(&pairs, "username").unwrap_or("");
    let relay = crate::oauth::safe_goto(crate::common::param(&pairs, "RelayState"));
    let id = {
        let mut inner = app.lock();
        let user = inner
            .users
            .iter()
            .find(|u| u.active && (u.user_name == name || u.email == name))
            .map(|u| u.user_name.clone());
        user.map(|u| {
            inner.logout_session(&sess.id);
            inner.new_session(Some(u))
        })
    };
    match id {
        Some(id) => {
            let mut res = crate::common::redirect(&relay);
            res.extensions_mut().insert(crate::common::NewSession(id));
            res
        }
        None => html(StatusCode::OK, pages::sso_login(&relay)),
    }
}

/// The identity provider an SSO instance sends UI paths to (instance state `sso`).
async fn sso_login(uri: Uri) -> Response<Body> {
    let pairs = crate::common::parse_pairs(uri.query().unwrap_or("").as_bytes());
    let relay = crate::common::param(&pairs, "RelayState").unwrap_or("/");
    html(StatusCode::OK, pages::sso_login(relay))
}

async fn home(State(app): State<App>, Extension(sess): Extension<SessionCtx>) -> Response<Body> {
    let name = sess
        .user
        .as_deref()
        .and_then(|u| app.lock().user(u).map(|u| u.display_name()));
    html(StatusCode::OK, pages::home(name.as_deref()))
}

async fn fallback(
    State(app): State<App>,
    sess: Option<Extension<SessionCtx>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let path = uri.path();
    match sess {
        Some(Extension(sess)) if path.starts_with("/api/") => {
            let q = crate::common::parse_pairs(uri.query().unwrap_or("").as_bytes());
            api::unknown_resource(&app, &headers, &q, &sess)
        }
        _ => html(StatusCode::NOT_FOUND, pages::not_found(path)),
    }
}

/// The error that makes hyper drop a connection (the `drop_connection` fault).
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("snsim: dropped connection (fault)")
    }
}

impl std::error::Error for DroppedByFault {}

/// Accept connections until `shutdown` changes or its sender is dropped, then drain.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let inner_svc = TowerToHyperService::new(router.clone());
                // The "dropped connection" fault: an error from the service makes hyper
                // close the connection without writing a response.
                let svc = hyper::service::service_fn(move |req| {
                    let fut = hyper::service::Service::call(&inner_svc, req);
                    async move {
                        let res = match fut.await {
                            Ok(r) => r,
                            Err(never) => match never {},
                        };
                        if res.extensions().get::<DropConnection>().is_some() {
                            return Err(DroppedByFault);
                        }
                        Ok(res)
                    }
                });
                let watcher = graceful.watcher();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let builder = {
                        let mut b = http1::Builder::new();
                        b.timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(30));
                        b
                    };
                    let result = match tls {
                        Some(acceptor) => {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(tls_stream)) => {
                                    watcher
                                        .watch(builder.serve_connection(TokioIo::new(tls_stream), svc))
                                        .await
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            }
                        }
                        None => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(stream), svc))
                                .await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {}
    }
}
