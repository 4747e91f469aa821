//! Request rate of snsim on loopback: Table API GET with Bearer auth over TLS, several
//! concurrent keep-alive clients, for a bounded time. Not a test; run it with
//! `cargo bench -p snsim --bench table_get` (optionally `-- SECONDS CLIENTS`).
//!
//! Target: >= 2,000 requests/s, so snsim is never the bottleneck of a snconnect benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TARGET: f64 = 2_000.0;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse::<u64>().ok());
    let seconds = args.next().unwrap_or(3).clamp(1, 60);
    let clients = args.next().unwrap_or(8).clamp(1, 256) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(seconds, clients));
}

async fn run(seconds: u64, clients: usize) {
    let sim = snsim::RunningSim::start(snsim::SimConfig::default())
        .await
        .expect("sim starts");
    let ca = reqwest::Certificate::from_pem(sim.ca_pem().expect("tls").as_bytes()).expect("ca");
    let make_client = || {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.clone())
            .no_proxy()
            .pool_max_idle_per_host(4)
            .build()
            .expect("client")
    };
    let token_client = make_client();
    let token: serde_json::Value = token_client
        .post(sim.base_url().join("oauth_token.do").unwrap())
        .form(&[
            ("grant_type", "password"),
            ("client_id", sim.confidential_client_id()),
            ("client_secret", sim.confidential_client_secret()),
            ("username", "admin"),
            ("password", "Admin#1234"),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    let bearer = format!("Bearer {}", token["access_token"].as_str().expect("token"));
    let url = sim
        .base_url()
        .join("api/now/table/sys_user?sysparm_limit=1&sysparm_query=user_name=admin")
        .unwrap();

    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    // Warm-up: one request per client opens its keep-alive connection.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let c = make_client();
        let url = url.clone();
        let bearer = bearer.clone();
        let done = done.clone();
        let failed = failed.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let res = c
                    .get(url.clone())
                    .header("accept", "application/json")
                    .header("authorization", &bearer)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let rate = n as f64 / elapsed;
    println!(
        "snsim table_get: {n} requests in {elapsed:.2} s with {clients} keep-alive clients over TLS \
         on loopback = {rate:.0} requests/s ({:.2}x the {TARGET:.0} req/s target; {} failed)",
        rate / TARGET,
        failed.load(Ordering::Relaxed)
    );
    sim.shutdown().await;
}
