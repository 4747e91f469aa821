//! Stable diagnosis codes. The UI and the CLI branch on [`Code`], never on message text.
//!
//! Each code has a one-line message and a remediation written for a ServiceNow admin
//! (texts follow `peers-and-failures.md` §3). A [`Diagnosis`] may add a `detail` line with
//! facts from this particular failure (status, header values); it never carries a secret.

use serde::Serialize;
use std::fmt;

macro_rules! codes {
    ($($variant:ident => $id:literal, $msg:literal, $fix:expr;)*) => {
        /// A stable, machine-readable outcome identifier.
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code, in declaration order (for docs and exhaustiveness tests).
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable identifier, e.g. `"invalid_client"`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// One line saying what went wrong.
            pub fn message(self) -> &'static str {
                match self { $(Code::$variant => $msg,)* }
            }

            /// What a ServiceNow admin should do about it (`None` only for `ok`).
            pub fn remediation(self) -> Option<&'static str> {
                match self { $(Code::$variant => $fix,)* }
            }
        }
    };
}

codes! {
    Ok => "ok", "The connection works.", None;
    InvalidInstanceUrl => "invalid_instance_url", "The instance URL is not valid.",
        Some("Enter an instance name (acme), a host (acme.service-now.com) or a URL (https://acme.service-now.com).");
    InsecureUrlRefused => "insecure_url_refused", "Plain http is refused for a remote instance.",
        Some("Use https://. Plain http is accepted only for loopback addresses (127.0.0.1, ::1, localhost) such as a local simulator.");
    DnsFailure => "dns_failure", "The instance host name could not be resolved.",
        Some("Check the instance name for typos; for a custom domain check the DNS record (CNAME) and your network or VPN.");
    ConnectionRefused => "connection_refused", "The instance host refused the connection.",
        Some("Check the URL and port; a proxy or firewall may block the connection (try --proxy or --no-proxy).");
    ConnectTimeout => "connect_timeout", "Connecting to the instance timed out.",
        Some("Check your network, VPN and proxy settings; raise --timeout if the network is slow.");
    RequestTimeout => "request_timeout", "The instance did not answer in time.",
        Some("Retry; if it persists the instance may be overloaded or waking up. Raise --timeout if needed.");
    TlsUntrustedCertificate => "tls_untrusted_certificate", "The instance's TLS certificate is not trusted.",
        Some("A corporate proxy may re-sign HTTPS. Add your organisation's root CA with --ca-file (never disable verification).");
    TlsHandshakeFailed => "tls_handshake_failed", "The TLS handshake with the instance failed.",
        Some("Check that the URL points to the instance's HTTPS port and that no proxy interferes with TLS.");
    InstanceHibernating => "instance_hibernating", "The instance is hibernating (a sleeping developer instance).",
        Some("Wake it by signing in at https://developer.servicenow.com (not with instance credentials), then retry in a few minutes.");
    InstanceUnavailable => "instance_unavailable", "The instance is unavailable (edge or server error).",
        Some("The instance may be starting, upgrading or waking from hibernation. Retry in a few minutes; check status.servicenow.com.");
    UnexpectedHtml => "unexpected_html", "The instance answered with an HTML page instead of JSON.",
        Some("This is usually a login or SSO page: check the instance URL and that the REST API is reachable without a browser session.");
    UnexpectedResponse => "unexpected_response", "The instance sent a response snconnect could not understand.",
        Some("Check the URL points at a ServiceNow instance (or the custom OAuth server you configured) and retry; include the support report if it persists.");
    BasicAuthRejected => "basic_auth_rejected", "The instance rejected the user name and password.",
        Some("Check the user name and password. If Basic Auth Restriction is enforced, grant the role snc_basic_auth_api_access or move this account to OAuth.");
    MfaRequired => "mfa_required", "The account requires multi-factor authentication (X-MFA_TOKEN: invalid).",
        Some("Use OAuth for this account, or a web-service-only integration user that is exempt from MFA.");
    ApiKeyRejected => "api_key_rejected", "The instance rejected the API key.",
        Some("Check the key is active and not expired (System Web Services > API Access Policies > REST API Key) and that an API Access Policy with an API-key authentication profile covers this API.");
    TokenRequestDenied => "token_request_denied", "The instance refused the token request (401 access_denied).",
        Some("ServiceNow gives one generic answer for many causes: check the client ID and secret, that the OAuth endpoint is active, the user's credentials, and that parameters are sent in the POST body.");
    InvalidUserCredentials => "invalid_user_credentials", "The user name or password is wrong.",
        Some("The same account was also refused over basic auth: check the user name and password (and that the account is active and not locked out).");
    InvalidClient => "invalid_client", "The instance refused the client ID or client secret.",
        Some("Copy the client ID and secret again from the OAuth application registry record (System OAuth > Application Registry, or Machine Identity Console > Inbound integrations) and check the record is active.");
    ClientCredentialsDisabled => "client_credentials_disabled", "The client credentials grant is not enabled on the instance.",
        Some("Create the system property glide.oauth.inbound.client.credential.grant_type.enabled = true and set an OAuth Application User on the registry record (Washington DC or later).");
    PasswordGrantDisabled => "password_grant_disabled", "The password grant (ROPC) is disabled on the instance.",
        Some("glide.oauth.inbound.ropc.grant_type.disabled is true (Security Center hardening). Use authorization code + PKCE or client credentials instead.");
    RefreshTokenExpired => "refresh_token_expired", "The refresh token has expired or was revoked.",
        Some("Sign in again (consent) to get a new refresh token. Refresh tokens live 100 days by default (Refresh Token Lifespan on the registry record).");
    RedirectUriMismatch => "redirect_uri_mismatch", "The redirect URL registered on the instance does not match snconnect's.",
        Some("Register the exact redirect URL snconnect shows (e.g. http://127.0.0.1:8765/callback) on the OAuth registry record; ServiceNow silently falls back to the first registered URL otherwise.");
    StateMismatch => "state_mismatch", "The sign-in response did not match the request (state mismatch).",
        Some("Start the sign-in again from snconnect and complete it in the browser window it opens; do not reuse an older sign-in page.");
    ConsentDenied => "consent_denied", "Access was denied on the consent page.",
        Some("Start the sign-in again and click Allow. If you did not click Deny, check the OAuth endpoint is active and your account may use it.");
    CallbackTimeout => "callback_timeout", "The browser did not come back to snconnect in time.",
        Some("Finish the sign-in in the browser (open the authorize URL shown if no window appeared). If the browser showed an error or went elsewhere, check the redirect URL registered on the instance.");
    CallbackPortInUse => "callback_port_in_use", "The local port for the sign-in redirect is already in use.",
        Some("Close the program using the port or choose another --redirect-port (and register that redirect URL on the instance too).");
    BrowserUnavailable => "browser_unavailable", "No web browser could be opened.",
        Some("Open the authorize URL shown by snconnect in any browser on this machine, or set the BROWSER environment variable.");
    AccessTokenRejected => "access_token_rejected", "The instance rejected the access token (401).",
        Some("The token may have expired or been revoked: refresh it or sign in again. If it persists, check REST API Access Policies allow OAuth for this API.");
    AclForbidden => "acl_forbidden", "The user is signed in but not allowed to read this (403, ACL).",
        Some("Grant the integration user a role that passes the table's ACLs (e.g. itil for incident), or test with a table the user may read.");
    ScopeForbidden => "scope_forbidden", "The token's auth scope does not cover this API (403 Missing required api access scope).",
        Some("Add the API's REST API Auth Scope to the registry record, or use the useraccount scope; check \"Allow access only to APIs in selected scope\".");
    RowsHiddenByAcl => "rows_hidden_by_acl", "Rows exist but ACLs hide them from this user (X-Total-Count > 0, empty result).",
        Some("Grant the integration user read access to the table's records (row-level ACLs), or the integration will silently see no data.");
    RateLimited => "rate_limited", "The instance is rate limiting this user (429).",
        Some("Wait for Retry-After, then retry; check the REST rate-limit rules (sys_rate_limit_rules) for this user.");
    PluginInactive => "plugin_inactive", "The OAuth 2.0 plugin (com.snc.platform.security.oauth) is not active.",
        Some("Activate OAuth 2.0 in All > System Applications > All Available Applications > All (admin role).");
    OauthPropertyDisabled => "oauth_property_disabled", "OAuth is switched off (com.snc.platform.security.oauth.is.active is not true).",
        Some("Set the system property com.snc.platform.security.oauth.is.active to true (create it in sys_properties if missing).");
    InsufficientRole => "insufficient_role", "The account lacks the role needed for this step.",
        Some("Use an account with admin or oauth_admin (mi_admin for the Machine Identity Console), or ask an admin to do this step.");
    KeychainUnavailable => "keychain_unavailable", "The system keychain is not available.",
        Some("Start a desktop session with a Secret Service (GNOME Keyring, KWallet) or the OS keychain, or choose \"keep for this run only\". Secrets are never written to disk in plain text.");
    KeychainLocked => "keychain_locked", "The system keychain is locked.",
        Some("Unlock your login keyring (log in to the desktop, or run gnome-keyring-daemon --unlock), then retry; or choose \"keep for this run only\".");
    ConfigUnreadable => "config_unreadable", "The snconnect configuration could not be read.",
        Some("Check the file named in the detail: fix or move it aside (snconnect never overwrites an unreadable file), or point --config-dir elsewhere.");
    ConfigUnwritable => "config_unwritable", "The snconnect configuration could not be written.",
        Some("Check the config directory exists and is writable, or point --config-dir / SNCONNECT_CONFIG_DIR elsewhere. Nothing already saved was changed.");
    ConfigLocked => "config_locked", "Another snconnect process is busy with this connection's configuration.",
        Some("Wait for the other snconnect (the app's background refresh, a terminal, a cron job) to finish and retry; the detail names its process. A lock is released when its process ends, even a killed one.");
    ParityMismatch => "parity_mismatch", "OAuth does not see the same data as basic auth for this account.",
        Some("Consent with the integration account (not your own admin account), or give the OAuth user the roles and ACLs the basic-auth account has; the differences are listed. Keep basic auth until they are gone.");
    Cancelled => "cancelled", "Cancelled.", Some("Start again when you are ready.");
    UsageError => "usage_error", "The request was incomplete or invalid.", Some("See the detail for the field to fix.");
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified outcome: a stable code, its message and remediation, and optional detail.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub code: Code,
    pub message: String,
    pub remediation: Option<String>,
    /// Facts from this failure (status, header values, the field at fault). Never a secret.
    pub detail: Option<String>,
}

impl Diagnosis {
    /// The same diagnosis with every held secret scrubbed from its texts (the last guard
    /// before anything leaves the process: a window, a terminal, a report).
    pub fn redact(self, secrets: &[&crate::Secret]) -> Diagnosis {
        let scrub = |s: &str| crate::secret::scrub(s, secrets);
        Diagnosis {
            code: self.code,
            message: scrub(&self.message),
            remediation: self.remediation.as_deref().map(scrub),
            detail: self.detail.as_deref().map(scrub),
        }
    }

    pub fn new(code: Code) -> Self {
        Diagnosis {
            code,
            message: code.message().to_string(),
            remediation: code.remediation().map(str::to_string),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// A usage error naming the field and the fix.
    pub fn usage(field: &str, fix: impl Into<String>) -> Self {
        Diagnosis::new(Code::UsageError).with_detail(format!("{field}: {}", fix.into()))
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnosis {}

impl From<Code> for Diagnosis {
    fn from(code: Code) -> Self {
        Diagnosis::new(code)
    }
}

pub type Result<T, E = Diagnosis> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_snake_case_id_message_and_remediation() {
        for code in Code::ALL {
            let id = code.as_str();
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{id}"
            );
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(id));
            assert!(!code.message().is_empty());
            assert_eq!(code.remediation().is_none(), *code == Code::Ok, "{id}");
        }
    }

    #[test]
    fn contract_codes_exist() {
        // The CLI contract (issue 4) lists these identifiers; they must never be renamed.
        for id in [
            "ok",
            "invalid_instance_url",
            "insecure_url_refused",
            "dns_failure",
            "connection_refused",
            "connect_timeout",
            "request_timeout",
            "tls_untrusted_certificate",
            "tls_handshake_failed",
            "instance_hibernating",
            "instance_unavailable",
            "unexpected_html",
            "unexpected_response",
            "basic_auth_rejected",
            "mfa_required",
            "api_key_rejected",
            "token_request_denied",
            "invalid_user_credentials",
            "invalid_client",
            "client_credentials_disabled",
            "password_grant_disabled",
            "refresh_token_expired",
            "redirect_uri_mismatch",
            "state_mismatch",
            "consent_denied",
            "callback_timeout",
            "callback_port_in_use",
            "browser_unavailable",
            "access_token_rejected",
            "acl_forbidden",
            "scope_forbidden",
            "rows_hidden_by_acl",
            "rate_limited",
            "plugin_inactive",
            "oauth_property_disabled",
            "insufficient_role",
            "keychain_unavailable",
            "keychain_locked",
            "config_unreadable",
            "config_unwritable",
        ] {
            assert!(Code::ALL.iter().any(|c| c.as_str() == id), "missing {id}");
        }
    }
}
