//! Demo mode: an embedded snsim on loopback, started only when the demo is chosen (the start
//! screen's "Try the demo instance", or `--demo`). Plain http on 127.0.0.1 so that a person's
//! own browser can sign in without a certificate warning (the core accepts http for loopback
//! only). The simulator is linked only through the `demo` cargo feature.

use crate::dto::DemoInfo;
use snconnect_core::connection::AdminCredentials;
use snconnect_core::{Diagnosis, InstanceUrl};

pub struct Demo {
    #[cfg(feature = "demo")]
    _sim: snsim::RunningSim,
    pub info: DemoInfo,
    pub instance: InstanceUrl,
    pub admin: AdminCredentials,
}

/// The demo account every simulated instance seeds (its login page shows it too).
#[cfg(feature = "demo")]
const DEMO_ADMIN: &str = "admin";

pub const AVAILABLE: bool = cfg!(feature = "demo");

#[cfg(feature = "demo")]
pub async fn start(redirect_port: u16) -> Result<Demo, Diagnosis> {
    let cfg = snsim::SimConfig {
        tls: false,
        demo_hint: true,
        redirect_urls: vec![snconnect_core::loopback::redirect_url(redirect_port)],
        ..snsim::SimConfig::default()
    };
    let sim = snsim::RunningSim::start(cfg).await.map_err(|e| {
        Diagnosis::new(snconnect_core::Code::InstanceUnavailable)
            .with_detail(format!("demo instance did not start: {e}"))
    })?;
    tracing::info!(instance = %sim.base_url(), "demo mode: simulated ServiceNow instance started");
    let instance = InstanceUrl::parse(sim.base_url().as_str())?;
    let password = sim.user_password(DEMO_ADMIN).unwrap_or_default();
    let info = DemoInfo {
        instance: instance.to_string(),
        admin_username: DEMO_ADMIN.into(),
        note: format!(
            "Demo mode: a simulated ServiceNow instance runs inside this app at {instance}. Its admin account is prefilled (the password is held by snconnect); sign in on its login page with the demo account it shows. Start snconnect with --instance to use a real instance."
        ),
    };
    Ok(Demo {
        _sim: sim,
        info,
        instance,
        admin: AdminCredentials {
            username: DEMO_ADMIN.into(),
            password: snconnect_core::Secret::new(password),
        },
    })
}

#[cfg(not(feature = "demo"))]
pub async fn start(_redirect_port: u16) -> Result<Demo, Diagnosis> {
    Err(Diagnosis::usage(
        "demo",
        "this build of snconnect has no demo instance; start it with --instance URL",
    ))
}
