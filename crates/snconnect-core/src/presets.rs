//! Target presets: what each integration platform needs registered on the instance and what
//! must be pasted into it afterwards (the hand-off card).
//!
//! Sources: the Qlik Automate migration notice (instance domain `https://[domain].service-now.com/`,
//! callback shown by Qlik's connection dialog), Boomi's ServiceNow REST connection (base URL
//! with `/api/now/v2`, callback `https://platform.boomi.com/account/<account ID>/oauth2/callback`,
//! authorization code only), Alchemer/tray (regional callbacks), Automate365 (BindTuning's
//! callback), Postman (`https://oauth.pstmn.io/v1/callback`).

use crate::error::Diagnosis;
use crate::instance::InstanceUrl;
use serde::Serialize;

/// Alchemer/tray regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrayRegion {
    Us,
    Eu,
    Au,
}

impl TrayRegion {
    pub fn parse(s: &str) -> Result<TrayRegion, Diagnosis> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" | "ca" | "us/ca" => Ok(TrayRegion::Us),
            "eu" => Ok(TrayRegion::Eu),
            "au" => Ok(TrayRegion::Au),
            other => Err(Diagnosis::usage(
                "--region",
                format!("{other:?}: choose us (US/CA), eu or au"),
            )),
        }
    }

    pub fn callback(self) -> &'static str {
        match self {
            TrayRegion::Us => "https://auth.tray.io/oauth2/token",
            TrayRegion::Eu => "https://auth.eu1.tray.io/oauth2/token",
            TrayRegion::Au => "https://api.ap1.tray.io/oauth2/token",
        }
    }
}

/// The integration the connection is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Qlik Automate: its callback URL is shown in Qlik's connection dialog.
    Qlik { callback: String },
    /// Boomi: the Integration account ID decides the callback.
    Boomi { account_id: String },
    /// Alchemer (tray.io).
    Alchemer { region: TrayRegion },
    /// Automate365 (BindTuning).
    Automate365,
    /// Postman's OAuth 2.0 helper.
    Postman,
    /// Any other client: the redirect URLs it uses.
    Custom { redirect_urls: Vec<String> },
    /// snconnect itself (no third party): only the loopback URL.
    Snconnect,
}

pub const POSTMAN_CALLBACK: &str = "https://oauth.pstmn.io/v1/callback";
pub const AUTOMATE365_CALLBACK: &str = "https://auth.bindtuning.com/api/authentication/callback";

/// The preset names the CLI accepts.
pub const PRESETS: &[&str] = &[
    "qlik",
    "boomi",
    "alchemer",
    "automate365",
    "postman",
    "custom",
    "snconnect",
];

/// Inputs some presets need.
#[derive(Debug, Clone, Default)]
pub struct PresetInputs {
    pub boomi_account_id: Option<String>,
    pub region: Option<String>,
    /// Qlik's callback, or a custom target's URLs.
    pub redirect_urls: Vec<String>,
}

impl Target {
    /// Builds a target from its preset name, naming the missing input and where to find it.
    pub fn from_preset(name: &str, inputs: &PresetInputs) -> Result<Target, Diagnosis> {
        match name.trim().to_ascii_lowercase().as_str() {
            "qlik" | "qlik-automate" => match inputs.redirect_urls.first() {
                Some(cb) => Ok(Target::Qlik { callback: cb.clone() }),
                None => Err(Diagnosis::usage(
                    "--redirect-url",
                    "Qlik Automate shows its callback URL when you add a ServiceNow connection; pass it with --redirect-url",
                )),
            },
            "boomi" => match inputs.boomi_account_id.as_deref().map(str::trim) {
                Some(id) if !id.is_empty() && !id.contains('/') => Ok(Target::Boomi {
                    account_id: id.to_string(),
                }),
                _ => Err(Diagnosis::usage(
                    "--boomi-account",
                    "Boomi's callback needs your Integration account ID (Settings > Account > Account Information)",
                )),
            },
            "alchemer" | "tray" => Ok(Target::Alchemer {
                region: TrayRegion::parse(inputs.region.as_deref().unwrap_or("us"))?,
            }),
            "automate365" | "bindtuning" => Ok(Target::Automate365),
            "postman" => Ok(Target::Postman),
            "custom" => {
                if inputs.redirect_urls.is_empty() {
                    return Err(Diagnosis::usage(
                        "--redirect-url",
                        "a custom target needs its redirect URL(s)",
                    ));
                }
                Ok(Target::Custom {
                    redirect_urls: inputs.redirect_urls.clone(),
                })
            }
            "snconnect" | "" => Ok(Target::Snconnect),
            other => Err(Diagnosis::usage(
                "--target",
                format!("{other:?}: choose one of {}", PRESETS.join(", ")),
            )),
        }
    }

    pub fn id(&self) -> &'static str {
        match self {
            Target::Qlik { .. } => "qlik",
            Target::Boomi { .. } => "boomi",
            Target::Alchemer { .. } => "alchemer",
            Target::Automate365 => "automate365",
            Target::Postman => "postman",
            Target::Custom { .. } => "custom",
            Target::Snconnect => "snconnect",
        }
    }

    pub fn display_name(&self) -> &'static str {
        match self {
            Target::Qlik { .. } => "Qlik Automate",
            Target::Boomi { .. } => "Boomi",
            Target::Alchemer { .. } => "Alchemer (tray.io)",
            Target::Automate365 => "Automate365",
            Target::Postman => "Postman",
            Target::Custom { .. } => "Custom client",
            Target::Snconnect => "snconnect",
        }
    }

    /// The target's own callback URL(s) (to register before snconnect's loopback URL).
    pub fn redirect_urls(&self) -> Vec<String> {
        match self {
            Target::Qlik { callback } => vec![callback.clone()],
            Target::Boomi { account_id } => vec![format!(
                "https://platform.boomi.com/account/{account_id}/oauth2/callback"
            )],
            Target::Alchemer { region } => vec![region.callback().to_string()],
            Target::Automate365 => vec![AUTOMATE365_CALLBACK.to_string()],
            Target::Postman => vec![POSTMAN_CALLBACK.to_string()],
            Target::Custom { redirect_urls } => redirect_urls.clone(),
            Target::Snconnect => Vec::new(),
        }
    }

    /// The grant the target uses.
    pub fn grant(&self) -> &'static str {
        "authorization_code"
    }

    /// The instance URL in the form the target's form expects.
    pub fn instance_form(&self, instance: &InstanceUrl) -> String {
        let origin = instance.as_str().trim_end_matches('/').to_string();
        match self {
            Target::Boomi { .. } => format!("{origin}/api/now/v2"),
            Target::Qlik { .. } => format!("{origin}/"),
            _ => origin,
        }
    }
}

/// One line of a hand-off card.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoffField {
    /// The label as the target's form names it.
    pub label: String,
    /// The value to paste; `None` for the secret (the host fetches it from the keychain for
    /// its copy button and never shows it in a report).
    pub value: Option<String>,
    pub secret: bool,
}

/// What to paste into the target, and the steps around it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoffCard {
    pub target: &'static str,
    pub target_name: &'static str,
    /// The grant the target uses.
    pub grant: &'static str,
    pub fields: Vec<HandoffField>,
    pub steps: Vec<String>,
}

fn field(label: &str, value: impl Into<String>) -> HandoffField {
    HandoffField {
        label: label.into(),
        value: Some(value.into()),
        secret: false,
    }
}

fn secret_field(label: &str) -> HandoffField {
    HandoffField {
        label: label.into(),
        value: None,
        secret: true,
    }
}

/// The hand-off card for `target`, for the client `client_id` (confidential unless `public`).
pub fn handoff_card(
    target: &Target,
    instance: &InstanceUrl,
    client_id: &str,
    public: bool,
) -> HandoffCard {
    let inst = target.instance_form(instance);
    let auth_url = instance.join("oauth_auth.do").to_string();
    let token_url = instance.join("oauth_token.do").to_string();
    let mut fields = Vec::new();
    let mut steps = Vec::new();
    let secret = |fields: &mut Vec<HandoffField>, label: &str| {
        if !public {
            fields.push(secret_field(label));
        }
    };
    match target {
        Target::Qlik { .. } => {
            fields.push(field("ServiceNow instance domain", inst));
            fields.push(field("Client ID", client_id));
            secret(&mut fields, "Client Secret");
            steps.push("In Qlik Automate, add a new ServiceNow connection (after 23 June 2026 for existing connections).".into());
            steps.push(
                "Enter the instance domain, the Client ID and the Client Secret above.".into(),
            );
            steps.push("Follow the on-screen authentication flow and click Allow on the ServiceNow consent page.".into());
        }
        Target::Boomi { .. } => {
            fields.push(field("Base URL", inst));
            fields.push(field("Authentication Type", "OAuth 2.0"));
            fields.push(field("Grant Type", "Authorization Code"));
            fields.push(field("Client ID", client_id));
            secret(&mut fields, "Client Secret (Click to Set)");
            fields.push(field("Authorization Token URL", auth_url));
            fields.push(field("Access Token URL", token_url));
            steps.push(
                "Open the ServiceNow REST connection, OAuth 2.0 tab, and fill in the fields above."
                    .into(),
            );
            steps.push(
                "Click Generate and Accept on the ServiceNow consent page, then Test Connection."
                    .into(),
            );
        }
        Target::Alchemer { .. } => {
            fields.push(field("ServiceNow Instance URL", inst));
            fields.push(field("Client ID", client_id));
            secret(&mut fields, "Client Secret");
            steps.push(
                "Inside any ServiceNow integration action, select New Authentication.".into(),
            );
            steps.push("Enter the values above and select Save.".into());
        }
        Target::Automate365 => {
            fields.push(field("Connection Name", "ServiceNow"));
            fields.push(field("Instance URL", inst));
            fields.push(field("Client ID", client_id));
            secret(&mut fields, "Client Secret");
            steps.push("BindTuning App > Automate365 > Connections > Create connection + > ServiceNow > OAuth 2.0.".into());
            steps.push(
                "Fill in the values above; the connection list shows Connected when it works."
                    .into(),
            );
        }
        Target::Postman => {
            fields.push(field(
                "Grant type",
                if public {
                    "Authorization Code (With PKCE)"
                } else {
                    "Authorization Code"
                },
            ));
            fields.push(field("Callback URL", POSTMAN_CALLBACK));
            fields.push(field("Auth URL", auth_url));
            fields.push(field("Access Token URL", token_url));
            fields.push(field("Client ID", client_id));
            secret(&mut fields, "Client Secret");
            fields.push(field(
                "Client Authentication",
                "Send client credentials in body",
            ));
            steps.push("Authorization tab > Type OAuth 2.0 > Configure New Token; tick Authorize using browser.".into());
            steps.push(
                "Click Get New Access Token and Allow on the ServiceNow consent page.".into(),
            );
        }
        Target::Custom { redirect_urls } => {
            fields.push(field("Instance URL", inst));
            fields.push(field("Authorization URL", auth_url));
            fields.push(field("Token URL", token_url));
            fields.push(field("Client ID", client_id));
            secret(&mut fields, "Client Secret");
            fields.push(field("Redirect URL", redirect_urls.join(", ")));
            steps.push("Send client_id and client_secret in the POST body (ServiceNow's documented form) and a non-empty state on the authorize request.".into());
        }
        Target::Snconnect => {
            fields.push(field("Instance URL", inst));
            fields.push(field("Client ID", client_id));
            secret(&mut fields, "Client Secret");
            steps.push(
                "snconnect keeps these in its profile and the OS keychain; nothing to paste."
                    .into(),
            );
        }
    }
    HandoffCard {
        target: target.id(),
        target_name: target.display_name(),
        grant: target.grant(),
        fields,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst() -> InstanceUrl {
        InstanceUrl::parse("acme").unwrap()
    }

    fn value<'a>(card: &'a HandoffCard, label: &str) -> Option<&'a str> {
        card.fields
            .iter()
            .find(|f| f.label == label)
            .and_then(|f| f.value.as_deref())
    }

    #[test]
    fn each_preset_has_its_callback_instance_form_and_card() {
        let i = inst();
        let qlik = Target::from_preset(
            "qlik",
            &PresetInputs {
                redirect_urls: vec!["https://qlik.example/callback".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(qlik.redirect_urls(), ["https://qlik.example/callback"]);
        let card = handoff_card(&qlik, &i, "cid", false);
        assert_eq!(
            value(&card, "ServiceNow instance domain"),
            Some("https://acme.service-now.com/")
        );
        assert!(card.fields.iter().any(|f| f.secret && f.value.is_none()));

        let boomi = Target::from_preset(
            "boomi",
            &PresetInputs {
                boomi_account_id: Some("acct-123".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            boomi.redirect_urls(),
            ["https://platform.boomi.com/account/acct-123/oauth2/callback"]
        );
        let card = handoff_card(&boomi, &i, "cid", false);
        assert_eq!(
            value(&card, "Base URL"),
            Some("https://acme.service-now.com/api/now/v2")
        );
        assert_eq!(
            value(&card, "Access Token URL"),
            Some("https://acme.service-now.com/oauth_token.do")
        );

        for (region, cb) in [
            ("us", "https://auth.tray.io/oauth2/token"),
            ("eu", "https://auth.eu1.tray.io/oauth2/token"),
            ("au", "https://api.ap1.tray.io/oauth2/token"),
        ] {
            let t = Target::from_preset(
                "alchemer",
                &PresetInputs {
                    region: Some(region.into()),
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(t.redirect_urls(), [cb]);
            let card = handoff_card(&t, &i, "cid", false);
            assert_eq!(
                value(&card, "ServiceNow Instance URL"),
                Some("https://acme.service-now.com")
            );
        }

        let a365 = Target::from_preset("automate365", &PresetInputs::default()).unwrap();
        assert_eq!(a365.redirect_urls(), [AUTOMATE365_CALLBACK]);
        assert_eq!(
            value(&handoff_card(&a365, &i, "cid", false), "Client ID"),
            Some("cid")
        );

        let postman = Target::from_preset("postman", &PresetInputs::default()).unwrap();
        assert_eq!(postman.redirect_urls(), [POSTMAN_CALLBACK]);
        let card = handoff_card(&postman, &i, "cid", true);
        assert_eq!(
            value(&card, "Grant type"),
            Some("Authorization Code (With PKCE)")
        );
        assert!(
            !card.fields.iter().any(|f| f.secret),
            "public clients have no secret"
        );

        let custom = Target::from_preset(
            "custom",
            &PresetInputs {
                redirect_urls: vec!["https://x.example/cb".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            value(&handoff_card(&custom, &i, "cid", false), "Redirect URL"),
            Some("https://x.example/cb")
        );
    }

    #[test]
    fn missing_inputs_name_the_field() {
        let d = Target::from_preset("boomi", &PresetInputs::default()).unwrap_err();
        assert!(d.detail.unwrap().starts_with("--boomi-account"));
        let d = Target::from_preset("qlik", &PresetInputs::default()).unwrap_err();
        assert!(d.detail.unwrap().starts_with("--redirect-url"));
        let d = Target::from_preset("nope", &PresetInputs::default()).unwrap_err();
        assert!(d.detail.unwrap().starts_with("--target"));
        let d = Target::from_preset(
            "alchemer",
            &PresetInputs {
                region: Some("mars".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(d.detail.unwrap().starts_with("--region"));
    }
}
