//! What to click on the instance: the registration steps and deep links the wizard shows.
//! (Issue 5 turns these into automated preflight and registration; the texts stay here.)

use crate::instance::InstanceUrl;

/// A labelled link into the instance UI.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// Classic list URL and its Next Experience wrapper (`/now/nav/ui/classic/params/target/…`).
pub fn both_forms(instance: &InstanceUrl, label: &str, page: &str) -> [Link; 2] {
    let classic = instance.join(page).to_string();
    let encoded: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
    let next = instance
        .join(&format!("now/nav/ui/classic/params/target/{encoded}"))
        .to_string();
    [
        Link {
            label: format!("{label} (classic)"),
            url: classic,
        },
        Link {
            label: format!("{label} (Next Experience)"),
            url: next,
        },
    ]
}

pub fn deep_links(instance: &InstanceUrl) -> Vec<Link> {
    let mut out = Vec::new();
    out.extend(both_forms(
        instance,
        "OAuth application registry",
        "oauth_entity_list.do",
    ));
    out.extend(both_forms(
        instance,
        "OAuth 2.0 plugin",
        "v_plugin_list.do?sysparm_query=id=com.snc.platform.security.oauth",
    ));
    out.extend(both_forms(
        instance,
        "OAuth system property",
        "sys_properties_list.do?sysparm_query=name=com.snc.platform.security.oauth.is.active",
    ));
    out
}

/// One item of the manual plugin checklist (shown when no admin account is given, so
/// nothing can be checked automatically): what to look at, how, and where.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChecklistItem {
    pub title: String,
    pub how: String,
    pub links: Vec<Link>,
}

/// The checks preflight runs, for a person to do by hand with the same deep links.
pub fn manual_checklist(instance: &InstanceUrl) -> Vec<ChecklistItem> {
    let item = |title: &str, how: &str, links: Vec<Link>| ChecklistItem {
        title: title.into(),
        how: how.into(),
        links,
    };
    vec![
        item(
            "The instance is awake",
            "Open the instance in a browser. A developer instance that shows \"Your instance is hibernating\" must be woken at developer.servicenow.com first.",
            vec![Link { label: "The instance".into(), url: instance.to_string() }],
        ),
        item(
            "The OAuth 2.0 plugin is active",
            "System Definition > Plugins: com.snc.platform.security.oauth must be Active.",
            both_forms(instance, "OAuth 2.0 plugin", "v_plugin_list.do?sysparm_query=id=com.snc.platform.security.oauth").to_vec(),
        ),
        item(
            "OAuth is switched on",
            "System Properties: com.snc.platform.security.oauth.is.active must be true.",
            both_forms(instance, "OAuth system property", "sys_properties_list.do?sysparm_query=name=com.snc.platform.security.oauth.is.active").to_vec(),
        ),
        item(
            "You may register an endpoint",
            "Your account needs admin, oauth_admin or mi_admin to create the OAuth endpoint (or ask someone who has one).",
            both_forms(instance, "OAuth application registry", "oauth_entity_list.do").to_vec(),
        ),
        item(
            "The grant you need is allowed",
            "Password grant: glide.oauth.inbound.ropc.grant_type.disabled must not be true. Client credentials: glide.oauth.inbound.client.credential.grant_type.enabled must be true.",
            both_forms(instance, "OAuth grant properties", "sys_properties_list.do?sysparm_query=nameLIKEglide.oauth.inbound").to_vec(),
        ),
        item(
            "Basic Auth Restriction",
            "glide.authenticate.basic_auth.restriction.active and its enforcement date tell when basic auth stops working for accounts without snc_basic_auth_api_access.",
            both_forms(instance, "Basic auth properties", "sys_properties_list.do?sysparm_query=nameLIKEglide.authenticate.basic_auth").to_vec(),
        ),
    ]
}

/// Step-by-step registration for both UI generations, with the exact redirect URL.
pub fn registration_steps(redirect_url: &str) -> Vec<String> {
    vec![
        "Zurich and later: All > Machine Identity Console > Inbound integrations > New integration > \"OAuth authorization code grant\".".into(),
        "Older releases: System OAuth > Application Registry > New > \"Create an OAuth API endpoint for external clients\".".into(),
        "Name it (e.g. \"snconnect\"); leave Client ID as generated; leave Client Secret blank to have one generated, or tick \"This is a public client\" to use PKCE without a secret.".into(),
        format!("Set the Redirect URL to exactly {redirect_url} (ServiceNow silently uses the first registered URL when the sent one does not match)."),
        "Keep Active ticked; Access Token Lifespan 1800 and Refresh Token Lifespan 8640000 (100 days) are the defaults.".into(),
        "Submit, open the record again and copy the Client ID (and the Client Secret) into the next step.".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_have_both_forms() {
        let i = InstanceUrl::parse("acme").unwrap();
        let links = deep_links(&i);
        assert_eq!(
            links[0].url,
            "https://acme.service-now.com/oauth_entity_list.do"
        );
        assert_eq!(
            links[1].url,
            "https://acme.service-now.com/now/nav/ui/classic/params/target/oauth_entity_list.do"
        );
        assert!(links[3].url.contains(
            "target/v_plugin_list.do%3Fsysparm_query%3Did%3Dcom.snc.platform.security.oauth"
        ));
    }

    #[test]
    fn the_manual_checklist_links_into_the_instance() {
        let i = InstanceUrl::parse("acme").unwrap();
        let items = manual_checklist(&i);
        assert!(items.len() >= 5);
        for it in &items {
            assert!(!it.links.is_empty(), "{} has no link", it.title);
            for l in &it.links {
                assert!(
                    l.url.starts_with("https://acme.service-now.com/"),
                    "{}",
                    l.url
                );
            }
        }
    }

    #[test]
    fn steps_name_the_exact_redirect_url() {
        let steps = registration_steps("http://127.0.0.1:8765/callback");
        assert!(steps
            .iter()
            .any(|s| s.contains("exactly http://127.0.0.1:8765/callback")));
        assert!(steps.iter().any(|s| s.contains("Machine Identity Console")));
        assert!(steps.iter().any(|s| s.contains("Application Registry")));
    }
}
