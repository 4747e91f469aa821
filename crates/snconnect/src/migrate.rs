//! The migration assistant commands: `preflight`, `register`, `migrate`.

use crate::output::Outcome;
use crate::{read_secret, save_meta, sign_in, store_secrets, ConsentArgs, Ctx};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use snconnect_core::conn_test::ApiAuth;
use snconnect_core::connection::{AdminCredentials, Connection, CLIENT_SECRET};
use snconnect_core::loopback::{redirect_url, DEFAULT_REDIRECT_PORT};
use snconnect_core::oauth::Grant;
use snconnect_core::parity;
use snconnect_core::preflight::{self, CheckState, PreflightCheck, PreflightReport};
use snconnect_core::presets::{handoff_card, HandoffCard, PresetInputs, Target};
use snconnect_core::profiles::{AuthMethod, Profile};
use snconnect_core::register::{self, NewEndpoint};
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use std::io::IsTerminal;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantArg {
    Code,
    Password,
    ClientCredentials,
}

impl From<GrantArg> for Grant {
    fn from(g: GrantArg) -> Grant {
        match g {
            GrantArg::Code => Grant::AuthorizationCode,
            GrantArg::Password => Grant::Password,
            GrantArg::ClientCredentials => Grant::ClientCredentials,
        }
    }
}

/// The admin account: the instance, the user, its password from SNCONNECT_PASSWORD.
#[derive(Args, Debug, Clone)]
pub struct AdminLogin {
    /// Instance: a name (acme), a host (acme.service-now.com) or a URL.
    #[arg(long, value_name = "URL")]
    instance: String,
    /// The admin account (password: SNCONNECT_PASSWORD or a hidden prompt).
    #[arg(long, value_name = "ADMIN")]
    username: String,
}

impl AdminLogin {
    fn open(&self) -> Result<(InstanceUrl, ApiAuth, AdminCredentials), Diagnosis> {
        let instance = InstanceUrl::parse(&self.instance)?;
        let user = self.username.trim();
        if user.is_empty() {
            return Err(Diagnosis::usage(
                "--username",
                "the admin account is needed",
            ));
        }
        let password = read_secret("SNCONNECT_PASSWORD", &format!("Password for {user}"))?;
        let auth = ApiAuth::Basic {
            username: user.to_string(),
            password: password.clone(),
        };
        Ok((
            instance,
            auth,
            AdminCredentials {
                username: user.to_string(),
                password,
            },
        ))
    }
}

/// Which integration the connection is for.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Target preset: qlik, boomi, alchemer, automate365, postman, custom, snconnect.
    #[arg(long, value_name = "PRESET", default_value = "snconnect")]
    target: String,
    /// Boomi Integration account ID (for its callback URL).
    #[arg(long, value_name = "ID")]
    boomi_account: Option<String>,
    /// Alchemer/tray region: us (US/CA), eu, au.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The target's redirect URL (Qlik's, or a custom target's; repeatable).
    #[arg(long = "redirect-url", value_name = "URL")]
    redirect_urls: Vec<String>,
    /// snconnect's own loopback port (http://127.0.0.1:PORT/callback is registered too).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REDIRECT_PORT)]
    redirect_port: u16,
}

impl TargetArgs {
    fn target(&self) -> Result<Target, Diagnosis> {
        Target::from_preset(
            &self.target,
            &PresetInputs {
                boomi_account_id: self.boomi_account.clone(),
                region: self.region.clone(),
                redirect_urls: self.redirect_urls.clone(),
            },
        )
    }

    /// The target's callbacks first, then ours.
    fn redirect_urls(&self, target: &Target) -> Vec<String> {
        let mut urls = target.redirect_urls();
        let ours = redirect_url(self.redirect_port);
        if !urls.contains(&ours) {
            urls.push(ours);
        }
        urls
    }
}

#[derive(Args, Debug)]
pub struct PreflightArgs {
    #[command(flatten)]
    admin: AdminLogin,
    /// The grant the connection will use (decides whether the ROPC and client-credentials
    /// properties matter).
    #[arg(long, value_enum, default_value = "code")]
    grant: GrantArg,
}

#[derive(Args, Debug)]
pub struct RegisterArgs {
    #[command(flatten)]
    admin: AdminLogin,
    /// Name of the OAuth endpoint to create.
    #[arg(long, value_name = "APP", required_unless_present_any = ["remove", "guided"])]
    name: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// A public client (PKCE, no secret) instead of a confidential one.
    #[arg(long)]
    public: bool,
    /// Save a profile with the new client under this name (default: the endpoint name).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Do not create anything: print the steps to register by hand, and with --client-id
    /// read back the registered redirect URLs and compare them.
    #[arg(long)]
    guided: bool,
    /// With --guided: the client ID of an endpoint registered by hand.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Remove the endpoint snconnect created (its sys_id, as printed at creation).
    #[arg(long, value_name = "SYS_ID", conflicts_with_all = ["guided", "name"])]
    remove: Option<String>,
    /// Print the generated client secret on this terminal (never in --json output).
    #[arg(long)]
    reveal_secret: bool,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    admin: AdminLogin,
    /// The profile to save the migrated connection as.
    #[arg(long, value_name = "NAME")]
    profile: String,
    #[command(flatten)]
    target: TargetArgs,
    /// Use this existing client instead of registering one (secret: SNCONNECT_CLIENT_SECRET
    /// unless --public).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// A public client (PKCE, no secret).
    #[arg(long)]
    public: bool,
    /// The account whose basic auth is being replaced, for the parity test (password:
    /// SNCONNECT_BASIC_PASSWORD; default: the admin account).
    #[arg(long, value_name = "USER")]
    basic_username: Option<String>,
    /// Tables to compare (comma separated; default sys_user,incident).
    #[arg(long, value_delimiter = ',', value_name = "TABLES")]
    tables: Vec<String>,
    /// Rows per table to compare.
    #[arg(long, value_name = "N", default_value_t = parity::DEFAULT_ROWS)]
    rows: usize,
    #[command(flatten)]
    consent: ConsentArgs,
}

fn state_mark(s: CheckState) -> &'static str {
    match s {
        CheckState::Pass => "✓",
        CheckState::Fail => "✗",
        CheckState::Unknown => "?",
    }
}

fn print_check(ctx: &Ctx, c: &PreflightCheck) {
    ctx.say(format!(
        "  {} {:<34} {}",
        state_mark(c.state),
        c.title,
        c.finding
    ));
    if c.state != CheckState::Pass {
        if let Some(fix) = &c.fix {
            ctx.say(format!("      fix: {fix}"));
        }
        if let Some(l) = c.links.first() {
            ctx.say(format!("      {}: {}", l.label, l.url));
        }
    }
}

async fn run_preflight(
    ctx: &Ctx,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    grant: Grant,
) -> PreflightReport {
    ctx.say(format!("Preflight of {instance}"));
    let mut sink = |c: &PreflightCheck| print_check(ctx, c);
    preflight::run(&ctx.http, instance, auth, Some(grant), &mut sink).await
}

fn preflight_json(o: &mut Outcome, r: &PreflightReport) {
    o.field("preflight", serde_json::to_value(r).expect("plain data"));
    o.field("checks_preflight", json!(r.checks.len()));
}

pub async fn preflight(ctx: &Ctx, a: PreflightArgs) -> Result<Outcome, Diagnosis> {
    let (instance, auth, _) = a.admin.open()?;
    let r = run_preflight(ctx, &instance, &auth, a.grant.into()).await;
    let mut o = Outcome::failed(r.diagnosis.clone());
    o.instance = Some(instance.to_string());
    o.field("user", json!(r.user.as_ref().map(|u| u.user_name.clone())));
    o.field("release", json!(r.release));
    o.field("roles", json!(r.roles));
    o.field("can_register", json!(r.can_register));
    o.field(
        "checks",
        serde_json::to_value(&r.checks).expect("plain data"),
    );
    let unknown = r
        .checks
        .iter()
        .filter(|c| c.state == CheckState::Unknown)
        .count();
    if r.ok() {
        o.line(format!(
            "✓ Ready for OAuth ({} checks passed{})",
            r.checks.len() - unknown,
            if unknown > 0 {
                format!(", {unknown} could not be checked with this account")
            } else {
                String::new()
            }
        ));
    }
    Ok(o)
}

fn card_lines(o: &mut Outcome, card: &HandoffCard, secret_hint: &str) {
    o.line(format!("Hand-off card for {}:", card.target_name));
    for f in &card.fields {
        match &f.value {
            Some(v) => o.line(format!("  {:<30} {v}", f.label)),
            None => o.line(format!("  {:<30} {secret_hint}", f.label)),
        }
    }
    for (i, s) in card.steps.iter().enumerate() {
        o.line(format!("  {}. {s}", i + 1));
    }
}

fn reveal(ctx: &Ctx, wanted: bool, secret: Option<&Secret>) {
    if let (true, Some(s)) = (wanted, secret) {
        if !ctx.json && std::io::stdout().is_terminal() {
            println!("Client secret (shown once, copy it now): {}", s.expose());
        } else {
            ctx.say("(--reveal-secret prints only to a terminal and never in --json output)");
        }
    }
}

pub async fn register(ctx: &Ctx, a: RegisterArgs) -> Result<Outcome, Diagnosis> {
    let (instance, auth, _) = a.admin.open()?;
    if let Some(sys_id) = &a.remove {
        register::remove(&ctx.http, &instance, &auth, sys_id).await?;
        // Forget it in any profile that recorded it.
        for p in ctx.profiles.load()?.profiles {
            if p.registered_sys_id.as_deref() == Some(sys_id.as_str()) {
                let mut p = p;
                p.registered_sys_id = None;
                ctx.profiles.upsert(p)?;
            }
        }
        let mut o = Outcome::ok();
        o.instance = Some(instance.to_string());
        o.field("removed", json!(sys_id));
        o.line(format!(
            "✓ Removed the OAuth endpoint {sys_id} from {instance}"
        ));
        return Ok(o);
    }
    let target = a.target.target()?;
    let urls = a.target.redirect_urls(&target);
    if a.guided {
        return guided(ctx, &a, &instance, &auth, &target, &urls).await;
    }
    let name = a.name.clone().expect("clap requires --name here");
    let profile_name = a.profile.clone().unwrap_or_else(|| profile_name_for(&name));
    snconnect_core::profiles::validate_name(&profile_name)?;
    let (created, secret) = register::create(
        &ctx.http,
        &instance,
        &auth,
        &NewEndpoint::new(&name, urls, a.public),
    )
    .await?;
    let stored = save_registered_profile(
        ctx,
        &profile_name,
        &instance,
        &created,
        secret.clone(),
        &a.target,
    )
    .await;
    let mut o = Outcome::ok();
    o.instance = Some(instance.to_string());
    o.field(
        "created",
        serde_json::to_value(&created).expect("plain data"),
    );
    o.field("client_id", json!(created.client_id));
    o.field("profile", json!(profile_name));
    let card = handoff_card(&target, &instance, &created.client_id, a.public);
    o.field("handoff", serde_json::to_value(&card).expect("plain data"));
    o.line(format!(
        "✓ Created OAuth endpoint {:?} on {instance}",
        created.name
    ));
    o.line(format!("  client ID:     {}", created.client_id));
    o.line(format!("  record:        {}", created.record_url));
    o.line(format!(
        "  redirect URLs: {}",
        created.redirect_urls.join(", ")
    ));
    o.line(format!(
        "  fields set:    {}",
        created.fields_set.join(", ")
    ));
    o.line(format!(
        "  remove it again: snconnect register --instance {} --username {} --remove {}",
        a.admin.instance, a.admin.username, created.sys_id
    ));
    match stored {
        Ok(kind) => o.line(format!(
            "  saved as profile {profile_name}{}",
            if secret.is_some() {
                format!("; the client secret is in the {kind}")
            } else {
                String::new()
            }
        )),
        Err(d) => {
            // The endpoint exists; say exactly what did not get saved.
            o.line(format!(
                "  the profile was NOT saved ({}): {}",
                d.code,
                d.detail.clone().unwrap_or_default()
            ));
            o.diagnosis = d;
        }
    }
    card_lines(
        &mut o,
        &card,
        "(in the keychain; --reveal-secret prints it once)",
    );
    reveal(ctx, a.reveal_secret, secret.as_ref());
    Ok(o)
}

fn profile_name_for(app: &str) -> String {
    let s: String = app
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        "oauth".into()
    } else {
        s
    }
}

/// Saves the profile for a created client and its secret (fail closed on the keychain).
async fn save_registered_profile(
    ctx: &Ctx,
    name: &str,
    instance: &InstanceUrl,
    created: &register::Created,
    secret: Option<Secret>,
    t: &TargetArgs,
) -> Result<&'static str, Diagnosis> {
    if let Some(s) = secret {
        store_secrets(ctx, name, vec![(CLIENT_SECRET, s)]).await?;
    }
    ctx.profiles.upsert(Profile {
        name: name.to_string(),
        instance: instance.to_string(),
        auth: if created.public_client {
            AuthMethod::OauthCodePkce
        } else {
            AuthMethod::OauthCode
        },
        client_id: Some(created.client_id.clone()),
        redirect_port: Some(t.redirect_port),
        refresh_token_lifespan: Some(created.refresh_token_lifespan),
        registered_sys_id: Some(created.sys_id.clone()),
        ..Profile::default()
    })?;
    Ok(ctx.store.kind())
}

async fn guided(
    ctx: &Ctx,
    a: &RegisterArgs,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    target: &Target,
    urls: &[String],
) -> Result<Outcome, Diagnosis> {
    let mut o = Outcome::ok();
    o.instance = Some(instance.to_string());
    let steps = snconnect_core::guide::registration_steps(&urls.join(", "));
    let links = snconnect_core::guide::deep_links(instance);
    o.line(format!("Register {} on {instance}:", target.display_name()));
    for (i, s) in steps.iter().enumerate() {
        o.line(format!("  {}. {s}", i + 1));
    }
    for l in &links {
        o.line(format!("  {}: {}", l.label, l.url));
    }
    o.field("steps", json!(steps));
    o.field("links", serde_json::to_value(&links).expect("plain data"));
    o.field("redirect_urls", json!(urls));
    if let Some(client_id) = &a.client_id {
        let mut results = Vec::new();
        for u in urls {
            match register::check_redirect(&ctx.http, instance, auth, client_id, u).await {
                Ok(true) => results.push(json!({"url": u, "registered": true})),
                Ok(false) => {
                    results.push(json!({"url": u, "registered": Value::Null}));
                    o.line(format!(
                        "  ? {u}: this account may not read the registry to check it"
                    ));
                }
                Err(d) => {
                    o.line(format!("  ✗ {u}: {}", d.detail.clone().unwrap_or_default()));
                    results.push(json!({"url": u, "registered": false}));
                    if o.diagnosis.code == Code::Ok {
                        o.diagnosis = d;
                    }
                }
            }
        }
        if o.diagnosis.code == Code::Ok {
            o.line(format!(
                "✓ Every redirect URL is registered on client {client_id}"
            ));
        }
        o.field("redirect_check", Value::Array(results));
        let card = handoff_card(target, instance, client_id, a.public);
        card_lines(&mut o, &card, "(the secret you copied from the record)");
        o.field("handoff", serde_json::to_value(&card).expect("plain data"));
    }
    Ok(o)
}

pub async fn migrate(ctx: &Ctx, a: MigrateArgs) -> Result<Outcome, Diagnosis> {
    let (instance, auth, admin) = a.admin.open()?;
    snconnect_core::profiles::validate_name(&a.profile)?;
    let target = a.target.target()?;
    let urls = a.target.redirect_urls(&target);
    let ours = redirect_url(a.target.redirect_port);
    // The account whose basic auth is being replaced (parity), read up front.
    let basic = match a.basic_username.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() && u != a.admin.username.trim() => ApiAuth::Basic {
            username: u.to_string(),
            password: read_secret("SNCONNECT_BASIC_PASSWORD", &format!("Password for {u}"))?,
        },
        _ => auth.clone(),
    };
    let client_secret = match (&a.client_id, a.public) {
        (Some(_), false) => Some(read_secret("SNCONNECT_CLIENT_SECRET", "Client secret")?),
        _ => None,
    };
    let mut o = Outcome::ok();
    o.instance = Some(instance.to_string());

    // 1. Preflight.
    let pf = run_preflight(ctx, &instance, &auth, Grant::AuthorizationCode).await;
    preflight_json(&mut o, &pf);
    let blocking = pf.checks.iter().find(|c| {
        c.state == CheckState::Fail && matches!(c.id, "reachable" | "oauth_plugin" | "oauth_active")
    });
    if let Some(c) = blocking {
        let mut f = Outcome::failed(
            Diagnosis::new(c.code).with_detail(format!("{}: {}", c.title, c.finding)),
        );
        f.instance = o.instance.take();
        f.extra = o.extra;
        return Ok(f);
    }

    // 2. Register, or use the given client.
    let (client_id, public, secret, created) = match &a.client_id {
        Some(id) => {
            ctx.say(format!("Using the existing client {id}"));
            match register::check_redirect(&ctx.http, &instance, &auth, id, &ours).await {
                Ok(true) => ctx.say(format!("  ✓ {ours} is registered on it")),
                Ok(false) => {
                    ctx.say("  ? this account may not read the registry to check the redirect URL")
                }
                Err(d) => {
                    let mut f = Outcome::failed(d);
                    f.instance = o.instance.take();
                    f.extra = o.extra;
                    return Ok(f);
                }
            }
            (id.clone(), a.public, client_secret, None)
        }
        None => {
            if !pf.can_register {
                let steps = snconnect_core::guide::registration_steps(&urls.join(", "));
                let mut f = Outcome::failed(Diagnosis::new(Code::InsufficientRole).with_detail(format!(
                    "{} may not create an OAuth endpoint (needs admin, oauth_admin or mi_admin); ask an admin to register it with these steps, then rerun with --client-id",
                    a.admin.username
                )));
                f.instance = o.instance.take();
                f.extra = o.extra;
                f.field("steps", json!(steps));
                for (i, s) in steps.iter().enumerate() {
                    f.line(format!("  {}. {s}", i + 1));
                }
                return Ok(f);
            }
            let name = format!("snconnect {}", a.profile);
            let (created, secret) = register::create(
                &ctx.http,
                &instance,
                &auth,
                &NewEndpoint::new(&name, urls.clone(), a.public),
            )
            .await?;
            ctx.say(format!(
                "✓ Created OAuth endpoint {:?} (client ID {})",
                created.name, created.client_id
            ));
            (created.client_id.clone(), a.public, secret, Some(created))
        }
    };
    if let Some(c) = &created {
        o.field("created", serde_json::to_value(c).expect("plain data"));
    }
    o.field("client_id", json!(client_id));

    // 3. Save the profile (secret into the keychain), then consent.
    let profile = Profile {
        name: a.profile.clone(),
        instance: instance.to_string(),
        auth: if public {
            AuthMethod::OauthCodePkce
        } else {
            AuthMethod::OauthCode
        },
        client_id: Some(client_id.clone()),
        redirect_port: Some(a.target.redirect_port),
        refresh_token_lifespan: created.as_ref().map(|c| c.refresh_token_lifespan),
        registered_sys_id: created.as_ref().map(|c| c.sys_id.clone()),
        ..Profile::default()
    };
    if let Some(s) = secret.clone() {
        store_secrets(ctx, &a.profile, vec![(CLIENT_SECRET, s)]).await?;
    }
    ctx.profiles.upsert(profile.clone())?;
    let conn = std::sync::Arc::new(
        Connection::open(profile, ctx.http.clone(), ctx.store.clone())
            .await?
            .with_admin(Some(admin)),
    );
    // The parity reads below prove the connection, so the session runs no separate test.
    let signed = sign_in(ctx, conn.clone(), &a.consent, false).await;
    save_meta(ctx, &conn).await?;
    let ok = signed.ok();
    let mut checks = signed.checks;
    if !ok {
        let mut f = Outcome::failed(signed.diagnosis);
        f.instance = o.instance.take();
        f.extra = o.extra;
        f.checks = checks;
        f.authorize_url = signed.authorize_url;
        return Ok(f);
    }
    o.authorize_url = signed.authorize_url;

    // 4. Parity: the same reads over basic auth and over OAuth.
    let tokens = conn.tokens().expect("an OAuth profile");
    let started = std::time::Instant::now();
    let bearer = match tokens.access_token().await {
        Ok(t) => ApiAuth::Bearer(t),
        Err(d) => {
            let mut f = Outcome::failed(d);
            f.instance = o.instance.take();
            f.extra = o.extra;
            f.checks = checks;
            return Ok(f);
        }
    };
    let report = parity::run(&ctx.http, &instance, &basic, &bearer, &a.tables, a.rows).await;
    checks.push(snconnect_core::conn_test::Check {
        name: "parity".into(),
        ok: report.safe,
        code: if report.safe {
            Code::Ok
        } else {
            Code::ParityMismatch
        },
        ms: started.elapsed().as_millis() as u64,
    });
    o.checks = checks;
    o.field("parity", serde_json::to_value(&report).expect("plain data"));
    o.line(report.verdict.clone());
    for d in report
        .differences
        .iter()
        .chain(report.tables.iter().flat_map(|t| t.differences.iter()))
    {
        o.line(format!("  - {d}"));
    }
    let card = handoff_card(&target, &instance, &client_id, public);
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
    Ok(o)
}
