//! HTML pages: login, consent (Allow/Deny), errors, "Missing State", home.
//!
//! The element names, ids and form actions are part of the simulator's contract (tests and
//! `tests/support/browser_standin.py` drive them); keep them stable.

use crate::common::esc;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f1f3f4;margin:0;color:#1d1d1d}\
main{max-width:420px;margin:64px auto;background:#fff;border-radius:8px;padding:32px;box-shadow:0 1px 4px rgba(0,0,0,.15)}\
h1{font-size:1.5rem;margin:0 0 16px}\
label{display:block;margin:12px 0 4px;font-weight:600}\
input[type=text],input[type=password],input:not([type]){width:100%;box-sizing:border-box;padding:8px;border:1px solid #8a8a8a;border-radius:4px}\
button{margin-top:16px;padding:8px 20px;border-radius:4px;border:1px solid #293e40;background:#293e40;color:#fff;font-size:1rem;cursor:pointer}\
button#deny{background:#fff;color:#293e40}\
.sim{font-size:.8rem;color:#555;border-bottom:1px solid #ddd;padding-bottom:8px;margin-bottom:16px}\
.error{color:#b00020;font-weight:600}\
.hint{background:#fff8e1;border:1px solid #f0c36d;padding:8px;border-radius:4px}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <div class=\"sim\">snsim: simulated ServiceNow instance (not a real instance)</div>\n\
         {body}\n</main>\n</body>\n</html>\n",
        title = esc(title),
    )
}

/// The login page (`/login.do`, or `/oauth_auth.do` when not logged in).
pub fn login(goto: &str, error: Option<&str>, demo_hint: Option<&str>) -> String {
    let mut body = String::from("<h1>Log in</h1>\n");
    if let Some(e) = error {
        body.push_str(&format!(
            "<p class=\"error\" id=\"output_messages\">{}</p>\n",
            esc(e)
        ));
    }
    if let Some(pw) = demo_hint {
        body.push_str(&format!(
            "<p class=\"hint\" id=\"demo_hint\">Demo instance: sign in as admin / {}</p>\n",
            esc(pw)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/login.do\" id=\"loginForm\">\n\
         <label for=\"user_name\">User name</label>\n\
         <input name=\"user_name\" id=\"user_name\">\n\
         <label for=\"user_password\">Password</label>\n\
         <input type=\"password\" name=\"user_password\" id=\"user_password\">\n\
         <input type=\"hidden\" name=\"sysparm_goto\" value=\"{goto}\">\n\
         <button type=\"submit\" id=\"sysverb_login\">Log in</button>\n\
         </form>",
        goto = esc(goto)
    ));
    page("Log in | ServiceNow", &body)
}

/// The consent page: heading "Authorize", Allow/Deny, "Not You?".
///
/// `hidden` carries every authorize parameter (plus the session's `sysparm_ck`).
pub fn consent(
    client_name: &str,
    user_display_name: &str,
    hidden: &[(String, String)],
    not_you_href: &str,
) -> String {
    let mut inputs = String::new();
    for (k, v) in hidden {
        inputs.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            esc(k),
            esc(v)
        ));
    }
    let body = format!(
        "<h1>Authorize</h1>\n\
         <p id=\"consent_text\">{client} would like to connect to your ServiceNow instance</p>\n\
         <p>It will be able to act with your account permissions.</p>\n\
         <p>Signed in as {user}. <a href=\"{not_you}\" id=\"not_you\">Not You?</a></p>\n\
         <form method=\"post\" action=\"/oauth_auth.do\">\n{inputs}\
         <button type=\"submit\" name=\"action\" value=\"allow\" id=\"allow\">Allow</button>\n\
         <button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\">Deny</button>\n\
         </form>",
        client = esc(client_name),
        user = esc(user_display_name),
        not_you = esc(not_you_href),
    );
    page("Authorize | ServiceNow", &body)
}

/// The page `oauth_auth.do` shows when `state` is missing (oauth-auth-code-flow-state-parm.md).
pub fn missing_state() -> String {
    page(
        "OAuth | ServiceNow",
        "<p id=\"oauth_error\">Missing State parameter in request.</p>",
    )
}

/// A generic OAuth error page (the texts are UNCONFIRMED: no capture of the real pages).
pub fn oauth_error(message: &str) -> String {
    page(
        "OAuth error | ServiceNow",
        &format!(
            "<h1>OAuth error</h1>\n<p id=\"oauth_error\">{}</p>",
            esc(message)
        ),
    )
}

/// A plain "page not found".
pub fn not_found(path: &str) -> String {
    page(
        "Page not found | ServiceNow",
        &format!(
            "<h1>Page not found</h1>\n<p>The page {} does not exist on this instance.</p>",
            esc(path)
        ),
    )
}

/// `/` and `/navpage.do`.
pub fn home(user_display_name: Option<&str>) -> String {
    let body = match user_display_name {
        Some(u) => format!(
            "<h1>ServiceNow</h1>\n<p>Logged in as {}.</p>\n<p><a href=\"/logout.do\">Log out</a></p>",
            esc(u)
        ),
        None => "<h1>ServiceNow</h1>\n<p><a href=\"/login.do\">Log in</a></p>".to_string(),
    };
    page("ServiceNow", &body)
}

/// The page a hibernating developer instance serves on every path (servicenow.md §6.2:
/// title "Instance Hibernating page", `<h1>Your instance is hibernating</h1>`, "Sign in to
/// the site to wake your instance", a button to developer.servicenow.com).
pub fn hibernating() -> String {
    HIBERNATING_PAGE.to_string()
}

/// The exact bytes of the hibernation page.
pub const HIBERNATING_PAGE: &str = "<!DOCTYPE html>\n\
<html lang=\"en\">\n\
<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Instance Hibernating page</title>\n\
<style>body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f1f3f4;margin:0;color:#1d1d1d}\
main{max-width:560px;margin:96px auto;background:#fff;border-radius:8px;padding:40px;text-align:center;box-shadow:0 1px 4px rgba(0,0,0,.15)}\
a.button{display:inline-block;margin-top:24px;padding:10px 24px;border-radius:4px;background:#293e40;color:#fff;text-decoration:none}\
.sim{font-size:.8rem;color:#555}</style>\n\
</head>\n\
<body>\n\
<main>\n\
<h1>Your instance is hibernating</h1>\n\
<p>Developer instances hibernate when they are not in use.</p>\n\
<p>Sign in to the site to wake your instance.</p>\n\
<a class=\"button\" href=\"https://developer.servicenow.com/dev.do#!/home?wu=true\">Sign in to wake your instance</a>\n\
<p class=\"sim\">snsim: simulated ServiceNow instance (not a real instance)</p>\n\
</main>\n\
</body>\n\
</html>\n";

/// The edge's 502 page (UNCONFIRMED body; only the status was reported).
pub fn bad_gateway() -> String {
    "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>snow_adc</center>\n</body>\n</html>\n".to_string()
}

/// The identity provider's login page an SSO instance redirects UI paths to.
pub fn sso_login(relay: &str) -> String {
    page(
        "Sign in | Identity provider",
        &format!(
            "<h1>Sign in with your organization account</h1>\n\
             <p id=\"sso_notice\">This instance uses single sign-on (SAML 2.0). \
             Continue to {} after signing in.</p>\n\
             <form method=\"post\" action=\"/idp/login\" id=\"ssoForm\">\n\
             <label for=\"username\">User name or email</label>\n<input name=\"username\" id=\"username\">\n\
             <input type=\"hidden\" name=\"RelayState\" value=\"{}\">\n\
             <button type=\"submit\" id=\"next\">Next</button>\n</form>",
            esc(relay),
            esc(relay)
        ),
    )
}

/// The page shown after Deny when the `deny` switch is `page` (UNCONFIRMED).
pub fn access_denied() -> String {
    page(
        "Authorize | ServiceNow",
        "<h1>Access denied</h1>\n<p id=\"oauth_error\">The authorization request was denied.</p>",
    )
}
