//! `snconnect migrate`: preflight → register (or --client-id) → save + consent → parity test
//! → hand-off card.

use crate::cli::MigrateArgs;
use crate::cmd::assist::{card_lines, preflight_json, run_preflight};
use crate::ctx::{save_meta, store_secrets, Ctx};
use crate::output::Outcome;
use crate::secrets::read_secret;
use crate::signin::sign_in;
use serde_json::json;
use snconnect_core::conn_test::{ApiAuth, Check};
use snconnect_core::connection::{AdminCredentials, Connection, CLIENT_SECRET};
use snconnect_core::loopback::redirect_url;
use snconnect_core::oauth::Grant;
use snconnect_core::parity::{self, ParityReport};
use snconnect_core::preflight::{CheckState, PreflightReport};
use snconnect_core::presets::{handoff_card, Target};
use snconnect_core::profiles::{AuthMethod, Profile};
use snconnect_core::register::{self, Created, NewEndpoint};
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use std::sync::Arc;
use std::time::Instant;

/// The OAuth client the migrated connection uses: registered now, or the given one.
struct Client {
    id: String,
    public: bool,
    secret: Option<Secret>,
    created: Option<Created>,
}

/// One migration: the instance, the admin's basic auth, the target and the account whose
/// basic auth is replaced.
struct Plan<'a> {
    ctx: &'a Ctx,
    a: &'a MigrateArgs,
    instance: InstanceUrl,
    /// The admin account over basic auth (preflight, registration, probes).
    auth: ApiAuth,
    target: Target,
    /// The target's callbacks, then ours.
    urls: Vec<String>,
    /// The account whose basic auth is being replaced (the parity reads).
    basic: ApiAuth,
}

pub async fn migrate(ctx: &Ctx, a: MigrateArgs) -> Result<Outcome, Diagnosis> {
    let (instance, auth, admin) = a.admin.open()?;
    snconnect_core::profiles::validate_name(&a.profile)?;
    let target = a.target.target()?;
    let urls = a.target.redirect_urls(&target);
    // The account whose basic auth is being replaced (parity), read up front.
    let basic = basic_account(&a, &auth)?;
    let client_secret = match (&a.client_id, a.public) {
        (Some(_), false) => Some(read_secret("SNCONNECT_CLIENT_SECRET", "Client secret")?),
        _ => None,
    };
    // Every secret this migration holds, for the redaction guard of what it prints.
    let mut held = vec![admin.password.clone()];
    if let ApiAuth::Basic { password, .. } = &basic {
        held.push(password.clone());
    }
    held.extend(client_secret.clone());
    let plan = Plan {
        ctx,
        a: &a,
        instance,
        auth,
        target,
        urls,
        basic,
    };
    let result = plan.run(admin, client_secret, &mut held).await;
    let held: Vec<&Secret> = held.iter().collect();
    result.map(|o| o.redact(&held)).map_err(|d| d.redact(&held))
}

impl Plan<'_> {
    /// The steps; `held` gains the client secret of a client registered on the way.
    async fn run(
        &self,
        admin: AdminCredentials,
        client_secret: Option<Secret>,
        held: &mut Vec<Secret>,
    ) -> Result<Outcome, Diagnosis> {
        let mut o = Outcome::ok();
        o.instance = Some(self.instance.to_string());

        // 1. Preflight.
        let pf = run_preflight(
            self.ctx,
            &self.instance,
            &self.auth,
            Grant::AuthorizationCode,
        )
        .await?;
        preflight_json(&mut o, &pf);
        if let Some(d) = blocking_failure(&pf) {
            return Ok(failed(o, d));
        }

        // 2. Register, or use the given client.
        let client = match &self.a.client_id {
            Some(id) => match self.check_given(id).await {
                Ok(()) => Client {
                    id: id.clone(),
                    public: self.a.public,
                    secret: client_secret,
                    created: None,
                },
                Err(d) => return Ok(failed(o, d)),
            },
            None if !pf.can_register => return Ok(cannot_register(o, self.a, &self.urls)),
            None => self.register_client().await?,
        };
        held.extend(client.secret.clone());
        if let Some(c) = &client.created {
            o.field("created", serde_json::to_value(c).expect("plain data"));
        }
        o.field("client_id", json!(client.id));

        // 3. Save the profile (secret into the keychain), then consent.
        let conn = self.save_and_open(&client, admin).await?;
        // The parity reads below prove the connection, so the session runs no separate test.
        let signed = sign_in(self.ctx, conn.clone(), &self.a.consent, false).await;
        save_meta(self.ctx, &conn).await?;
        if !signed.ok() {
            let mut f = failed(o, signed.diagnosis);
            f.checks = signed.checks;
            f.authorize_url = signed.authorize_url;
            return Ok(f);
        }
        o.authorize_url = signed.authorize_url;
        o.checks = signed.checks;

        // 4. Parity, then the hand-off card.
        Ok(self.parity(o, &conn, &client).await)
    }

    /// `--client-id`: is our redirect URL registered on it (when the admin may read that)?
    async fn check_given(&self, id: &str) -> Result<(), Diagnosis> {
        let (ctx, ours) = (self.ctx, redirect_url(self.a.target.redirect_port));
        ctx.say(format!("Using the existing client {id}"));
        if register::check_redirect(ctx.http()?, &self.instance, &self.auth, id, &ours).await? {
            ctx.say(format!("  ✓ {ours} is registered on it"));
        } else {
            ctx.say("  ? this account may not read the registry to check the redirect URL");
        }
        Ok(())
    }

    async fn register_client(&self) -> Result<Client, Diagnosis> {
        let name = format!("snconnect {}", self.a.profile);
        let (created, secret) = register::create(
            self.ctx.http()?,
            &self.instance,
            &self.auth,
            &NewEndpoint::new(&name, self.urls.clone(), self.a.public),
        )
        .await?;
        self.ctx.say(format!(
            "✓ Created OAuth endpoint {:?} (client ID {})",
            created.name, created.client_id
        ));
        Ok(Client {
            id: created.client_id.clone(),
            public: self.a.public,
            secret,
            created: Some(created),
        })
    }

    /// Saves the profile (its client secret into the keychain) and opens it with the admin
    /// account for the diagnosis probes.
    async fn save_and_open(
        &self,
        client: &Client,
        admin: AdminCredentials,
    ) -> Result<Arc<Connection>, Diagnosis> {
        let (ctx, a) = (self.ctx, self.a);
        let profile = Profile {
            name: a.profile.clone(),
            instance: self.instance.to_string(),
            auth: if client.public {
                AuthMethod::OauthCodePkce
            } else {
                AuthMethod::OauthCode
            },
            client_id: Some(client.id.clone()),
            redirect_port: Some(a.target.redirect_port),
            refresh_token_lifespan: client.created.as_ref().map(|c| c.refresh_token_lifespan),
            registered_sys_id: client.created.as_ref().map(|c| c.sys_id.clone()),
            ..Profile::default()
        };
        if let Some(s) = client.secret.clone() {
            store_secrets(ctx, &a.profile, vec![(CLIENT_SECRET, s)]).await?;
        }
        ctx.profiles.upsert(profile.clone())?;
        Ok(Arc::new(
            Connection::open(profile, ctx.http()?.clone(), ctx.store.clone())
                .await?
                .with_admin(Some(admin)),
        ))
    }

    /// The same reads over basic auth and over OAuth, compared; then the hand-off card.
    async fn parity(&self, mut o: Outcome, conn: &Connection, client: &Client) -> Outcome {
        let (ctx, a) = (self.ctx, self.a);
        let started = Instant::now();
        let bearer = match conn
            .tokens()
            .expect("an OAuth profile")
            .access_token()
            .await
        {
            Ok(t) => ApiAuth::Bearer(t),
            Err(d) => {
                let checks = std::mem::take(&mut o.checks);
                let mut f = failed(o, d);
                f.checks = checks;
                return f;
            }
        };
        let http = match ctx.http() {
            Ok(h) => h,
            Err(d) => return failed(o, d),
        };
        let report = parity::run(
            http,
            &self.instance,
            &self.basic,
            &bearer,
            &a.tables,
            a.rows,
        )
        .await;
        o.checks.push(parity_check(&report, started));
        parity_lines(&mut o, &report);
        let card = handoff_card(&self.target, &self.instance, &client.id, client.public);
        card_lines(&mut o, &card, "(in the keychain under this profile)");
        o.field("handoff", serde_json::to_value(&card).expect("plain data"));
        o.field("profile", json!(a.profile));
        if !report.safe {
            o.diagnosis = report.diagnosis();
            o.line(format!(
                "Profile {} was saved with the tokens of this consent; fix the differences and run migrate again, or `snconnect profile remove {}`.",
                a.profile, a.profile
            ));
        }
        o
    }
}

/// A failed step: its diagnosis, with the instance and the JSON fields gathered so far.
fn failed(o: Outcome, d: Diagnosis) -> Outcome {
    let mut f = Outcome::failed(d);
    f.instance = o.instance;
    f.extra = o.extra;
    f
}

/// The account whose basic auth is replaced (password: SNCONNECT_BASIC_PASSWORD), or the
/// admin's own when none (or the admin) is named.
fn basic_account(a: &MigrateArgs, admin: &ApiAuth) -> Result<ApiAuth, Diagnosis> {
    Ok(match a.basic_username.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() && u != a.admin.username.trim() => ApiAuth::Basic {
            username: u.to_string(),
            password: read_secret("SNCONNECT_BASIC_PASSWORD", &format!("Password for {u}"))?,
        },
        _ => admin.clone(),
    })
}

/// A preflight failure that no connection can get past.
fn blocking_failure(pf: &PreflightReport) -> Option<Diagnosis> {
    pf.checks
        .iter()
        .find(|c| {
            c.state == CheckState::Fail
                && matches!(c.id, "reachable" | "oauth_plugin" | "oauth_active")
        })
        .map(|c| Diagnosis::new(c.code).with_detail(format!("{}: {}", c.title, c.finding)))
}

/// The admin may not register: the steps for someone who may.
fn cannot_register(o: Outcome, a: &MigrateArgs, urls: &[String]) -> Outcome {
    let steps = snconnect_core::guide::registration_steps(&urls.join(", "));
    let mut f = failed(o, Diagnosis::new(Code::InsufficientRole).with_detail(format!(
        "{} may not create an OAuth endpoint (needs admin, oauth_admin or mi_admin); ask an admin to register it with these steps, then rerun with --client-id",
        a.admin.username
    )));
    f.field("steps", json!(steps));
    for (i, s) in steps.iter().enumerate() {
        f.line(format!("  {}. {s}", i + 1));
    }
    f
}

fn parity_check(report: &ParityReport, started: Instant) -> Check {
    Check {
        name: "parity".into(),
        ok: report.safe,
        code: if report.safe {
            Code::Ok
        } else {
            Code::ParityMismatch
        },
        ms: started.elapsed().as_millis() as u64,
    }
}

fn parity_lines(o: &mut Outcome, report: &ParityReport) {
    o.field("parity", serde_json::to_value(report).expect("plain data"));
    o.line(report.verdict.clone());
    for d in report
        .differences
        .iter()
        .chain(report.tables.iter().flat_map(|t| t.differences.iter()))
    {
        o.line(format!("  - {d}"));
    }
}
