//! `snconnect register`: create the OAuth endpoint on the instance (and save a profile for it),
//! or `--guided` steps with a read-back of the registered redirect URLs, or `--remove`.

use crate::cli::{RegisterArgs, TargetArgs};
use crate::cmd::assist::card_lines;
use crate::ctx::{store_secrets, Ctx};
use crate::output::Outcome;
use serde_json::{json, Value};
use snconnect_core::conn_test::ApiAuth;
use snconnect_core::connection::CLIENT_SECRET;
use snconnect_core::presets::{handoff_card, Target};
use snconnect_core::profiles::{AuthMethod, Profile};
use snconnect_core::register::{self, Created, NewEndpoint};
use snconnect_core::{Code, Diagnosis, InstanceUrl, Secret};
use std::io::IsTerminal;

pub async fn register(ctx: &Ctx, a: RegisterArgs) -> Result<Outcome, Diagnosis> {
    let (instance, auth, _) = a.admin.open()?;
    let result = if let Some(sys_id) = &a.remove {
        remove(ctx, &instance, &auth, sys_id).await
    } else {
        let target = a.target.target()?;
        let urls = a.target.redirect_urls(&target);
        if a.guided {
            guided(ctx, &a, &instance, &auth, &target, &urls).await
        } else {
            create(ctx, &a, &instance, &auth, &target, urls).await
        }
    };
    // The admin password never reaches the terminal, whatever the instance echoed.
    let held = [auth.secret()];
    result.map(|o| o.redact(&held)).map_err(|d| d.redact(&held))
}

/// `--remove SYS_ID`: the endpoint goes, and so does any profile's record of it.
async fn remove(
    ctx: &Ctx,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    sys_id: &str,
) -> Result<Outcome, Diagnosis> {
    register::remove(ctx.http()?, instance, auth, sys_id).await?;
    // Forget it in any profile that recorded it.
    for p in ctx.profiles.load()?.profiles {
        if p.registered_sys_id.as_deref() == Some(sys_id) {
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
    Ok(o)
}

/// Creates the endpoint, saves a profile for it (its secret in the keychain) and prints the
/// hand-off card.
async fn create(
    ctx: &Ctx,
    a: &RegisterArgs,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    target: &Target,
    urls: Vec<String>,
) -> Result<Outcome, Diagnosis> {
    let name = a.name.clone().expect("clap requires --name here");
    let profile_name = a.profile.clone().unwrap_or_else(|| profile_name_for(&name));
    snconnect_core::profiles::validate_name(&profile_name)?;
    let (created, secret) = register::create(
        ctx.http()?,
        instance,
        auth,
        &NewEndpoint::new(&name, urls, a.public),
    )
    .await?;
    let stored = save_registered_profile(
        ctx,
        &profile_name,
        instance,
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
    let card = handoff_card(target, instance, &created.client_id, a.public);
    o.field("handoff", serde_json::to_value(&card).expect("plain data"));
    created_lines(&mut o, a, instance, &created);
    saved_line(&mut o, stored, &profile_name, secret.is_some());
    card_lines(
        &mut o,
        &card,
        "(in the keychain; --reveal-secret prints it once)",
    );
    reveal(ctx, a.reveal_secret, secret.as_ref());
    Ok(o)
}

/// What was created, and the command that removes it again.
fn created_lines(o: &mut Outcome, a: &RegisterArgs, instance: &InstanceUrl, created: &Created) {
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
}

/// Whether the profile for the new client was saved (a failure is the outcome's diagnosis).
fn saved_line(
    o: &mut Outcome,
    stored: Result<&'static str, Diagnosis>,
    profile_name: &str,
    with_secret: bool,
) {
    match stored {
        Ok(kind) => o.line(format!(
            "  saved as profile {profile_name}{}",
            if with_secret {
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
    created: &Created,
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

/// `--guided`: the steps to register by hand; with `--client-id`, the read-back of every
/// redirect URL and the hand-off card.
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
        check_redirects(ctx, &mut o, instance, auth, client_id, urls).await?;
        let card = handoff_card(target, instance, client_id, a.public);
        card_lines(&mut o, &card, "(the secret you copied from the record)");
        o.field("handoff", serde_json::to_value(&card).expect("plain data"));
    }
    Ok(o)
}

/// Reads back whether each redirect URL is registered on `client_id`; the first mismatch is
/// the outcome's diagnosis.
async fn check_redirects(
    ctx: &Ctx,
    o: &mut Outcome,
    instance: &InstanceUrl,
    auth: &ApiAuth,
    client_id: &str,
    urls: &[String],
) -> Result<(), Diagnosis> {
    let http = ctx.http()?;
    let mut results = Vec::new();
    for u in urls {
        match register::check_redirect(http, instance, auth, client_id, u).await {
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
    Ok(())
}
