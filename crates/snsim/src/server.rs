//! Routing and the accept loop (plain HTTP or TLS via tokio-rustls, HTTP/1.1 via hyper).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Response, StatusCode, Uri};
use axum::routing::{get, post};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::common::{html, instance_layer, App, SessionCtx};
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
        .route("/api/now/ui/user/current_user", get(api::current_user))
        .route("/api/now/table/{table}", get(api::table_latest))
        .route("/api/now/table/{table}/{sys_id}", get(api::record_latest))
        .route(
            "/api/now/{version}/table/{table}",
            get(api::table_versioned),
        )
        .route(
            "/api/now/{version}/table/{table}/{sys_id}",
            get(api::record_versioned),
        );
    if control_api {
        r = r
            .route("/__snsim/requests", get(control::requests))
            .route("/__snsim/issued", get(control::issued))
            .route("/__snsim/clients", get(control::clients))
            .route("/__snsim/expire_tokens", post(control::expire_tokens))
            .route("/__snsim/advance_clock", post(control::advance_clock));
    }
    r.fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            instance_layer,
        ))
        .with_state(app)
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
            api::unknown_resource(&app, &headers, &sess)
        }
        _ => html(StatusCode::NOT_FOUND, pages::not_found(path)),
    }
}

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
                let svc = TowerToHyperService::new(router.clone());
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
