//! Edit and Reconnect of a saved connection: the wizard is loaded with it — its settings, and
//! its secrets read from the keychain into Rust memory (the window learns only that they are
//! held). The sign-in and test are the wizard's own; Save writes over the same name.

use crate::commands::instance::instance_set;
use crate::commands::signin::creds_state;
use crate::dto::{CmdResult, EditStart};
use crate::state::{AppState, Creds, Wizard};
use snconnect_core::connection::{validate_profile, API_KEY, CLIENT_SECRET, PASSWORD};
use snconnect_core::keychain::{account, blocking, SecretStore};
use snconnect_core::presets::Target;
use snconnect_core::profiles::ProfileStore;
use tauri::State;

#[tauri::command]
pub async fn edit_saved(state: State<'_, AppState>, name: String) -> CmdResult<EditStart> {
    let profile = ProfileStore::new(&state.config_dir).get(&name)?;
    let instance = validate_profile(&profile)?;
    let (keychain, n) = (state.keychain.clone(), name.clone());
    let [password, client_secret, api_key] = blocking(move || {
        let get = |what: &str| keychain.get(&account(&n, what));
        Ok([get(PASSWORD)?, get(CLIENT_SECRET)?, get(API_KEY)?])
    })
    .await?;
    let creds = Creds {
        method: profile.auth,
        username: profile.username.clone(),
        client_id: profile.client_id.clone(),
        api_key_param: profile.api_key_param.clone(),
        api_key_in: profile.api_key_in,
        scope: profile.scope.clone(),
        password,
        client_secret,
        api_key,
        from_registration: false,
    };
    let credentials = creds_state(&creds);
    let mut w = state.wizard.lock().await;
    w.drop_sign_in();
    *w = Wizard {
        instance: Some(instance.clone()),
        target: Some(Target::Snconnect),
        creds: Some(creds),
        editing: Some(profile),
        ..Wizard::default()
    };
    tracing::info!(profile = %name, "editing a saved connection");
    Ok(EditStart {
        instance: instance_set(&w, &instance, &Target::Snconnect, state.redirect_port),
        name,
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use crate::commands::signin::profile_of;
    use crate::state::{Creds, Wizard};
    use snconnect_core::profiles::{AuthMethod, Profile, TokenMeta};
    use snconnect_core::InstanceUrl;

    fn creds(client_id: &str) -> Creds {
        Creds {
            method: AuthMethod::OauthCode,
            username: None,
            client_id: Some(client_id.into()),
            api_key_param: None,
            api_key_in: None,
            scope: Some("useraccount".into()),
            password: None,
            client_secret: None,
            api_key: None,
            from_registration: false,
        }
    }

    fn editing() -> Wizard {
        Wizard {
            instance: Some(InstanceUrl::parse("acme").unwrap()),
            editing: Some(Profile {
                name: "prod".into(),
                instance: "https://acme.service-now.com/".into(),
                auth: AuthMethod::OauthCode,
                client_id: Some("c1".into()),
                redirect_port: Some(9001),
                fallback_ports: vec![9002],
                token_url: Some("https://auth.example.com/token".into()),
                refresh_token_lifespan: Some(86_400),
                registered_sys_id: Some("abc".into()),
                tokens: Some(TokenMeta::default()),
                ..Profile::default()
            }),
            ..Wizard::default()
        }
    }

    #[test]
    fn an_edit_keeps_what_the_wizard_has_no_field_for() {
        let p = profile_of(&editing(), &creds("c1"), 8765).unwrap();
        assert_eq!(p.name, "wizard", "never under the saved name until Save");
        assert_eq!(p.redirect_port, Some(9001));
        assert_eq!(p.fallback_ports, [9002]);
        assert_eq!(
            p.token_url.as_deref(),
            Some("https://auth.example.com/token")
        );
        assert_eq!(p.refresh_token_lifespan, Some(86_400));
        assert_eq!(p.registered_sys_id.as_deref(), Some("abc"));
        assert_eq!(p.scope.as_deref(), Some("useraccount"));
        assert_eq!(p.tokens, None, "the old tokens are not this sign-in's");
    }

    #[test]
    fn a_different_client_drops_the_old_registration() {
        let p = profile_of(&editing(), &creds("c2"), 8765).unwrap();
        assert_eq!(p.client_id.as_deref(), Some("c2"));
        assert_eq!(p.registered_sys_id, None);
        assert_eq!(p.refresh_token_lifespan, None);
    }

    #[test]
    fn without_an_edit_the_wizard_port_is_used() {
        let w = Wizard {
            instance: Some(InstanceUrl::parse("acme").unwrap()),
            ..Wizard::default()
        };
        let p = profile_of(&w, &creds("c1"), 8765).unwrap();
        assert_eq!(p.redirect_port, Some(8765));
        assert_eq!(p.token_url, None);
    }
}
