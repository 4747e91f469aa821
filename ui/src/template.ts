// Static page skeleton. Only constant markup lives here (no style attributes: the CSP forbids
// inline styles). Anything that comes from Rust is inserted later with textContent.

import { STEPS, STEP_LABELS } from "./wizard";

export const PLUGIN_CHECKS: readonly { id: string; label: string; hint: string }[] = [
  {
    id: "check-oauth-plugin",
    label: "OAuth 2.0 plugin (com.snc.platform.security.oauth) is active",
    hint: "All > System Applications > All Available Applications > All",
  },
  {
    id: "check-oauth-property",
    label: "System property com.snc.platform.security.oauth.is.active is true",
    hint: "Type sys_properties.list in the navigator filter, then search for the property name.",
  },
  {
    id: "check-admin-role",
    label: "You have the admin or oauth_admin role",
    hint: "Needed to register the OAuth endpoint in the next step.",
  },
];

const stepItems = STEPS.map(
  (s, i) =>
    `<li data-step="${s}"><span class="step-num" aria-hidden="true">${i + 1}</span><span class="step-label">${STEP_LABELS[s]}</span></li>`,
).join("");

const pluginItems = PLUGIN_CHECKS.map(
  (c) => `<li>
          <input type="checkbox" class="check" id="${c.id}">
          <label for="${c.id}"><span class="check-label">${c.label}</span>
            <span class="hint">${c.hint}</span></label>
        </li>`,
).join("");

export const TEMPLATE = `
<header class="app-header">
  <h1 class="app-title"><img src="/app-icon.svg" alt="" class="app-logo" width="28" height="28"> ServiceNow OAuth connection</h1>
  <p id="current-instance" class="current-instance" hidden>Instance: <span id="current-instance-url" class="mono"></span></p>
</header>

<div class="content">
<div id="demo-banner" class="banner banner-demo" role="note" hidden></div>

<nav aria-label="Progress">
  <ol id="step-indicator" class="step-indicator">${stepItems}</ol>
</nav>

<main id="wizard">
  <section id="step-instance" class="step" aria-labelledby="h-instance" hidden>
    <h2 id="h-instance" tabindex="-1">1. Which ServiceNow instance?</h2>
    <p class="lead">Enter the instance name (<span class="mono">acme</span>) or its full https URL.</p>
    <div class="field">
      <label for="instance-input">Instance</label>
      <input id="instance-input" type="text" inputmode="url" autocomplete="off" autocapitalize="off"
        spellcheck="false" placeholder="acme or https://acme.service-now.com/" aria-describedby="instance-help">
      <p id="instance-help" class="hint">https only; plain http is accepted for loopback addresses (127.0.0.1, ::1, localhost) such as a local simulator.</p>
    </div>
    <div class="error-slot">
      <div id="error" class="error-box" role="alert" aria-live="assertive" hidden>
        <p class="error-head"><span class="error-title">Error</span> <code id="error-code"></code></p>
        <p id="error-message"></p>
        <p id="error-remediation" class="remediation"></p>
      </div>
    </div>
    <div class="actions">
      <button id="instance-next" type="button" class="primary">Next</button>
    </div>
  </section>

  <section id="step-plugins" class="step" aria-labelledby="h-plugins" hidden>
    <h2 id="h-plugins" tabindex="-1">2. Check the instance is ready for OAuth</h2>
    <p class="lead">Confirm these in the instance. Ticking is only a reminder for you; nothing is checked automatically yet.</p>
    <ul class="checklist">${pluginItems}</ul>
    <div id="plugin-links-box" class="links-box" hidden>
      <h3>Useful pages</h3>
      <ul id="plugin-links" class="links"></ul>
    </div>
    <div class="error-slot"></div>
    <div class="actions">
      <button id="plugins-back" type="button" class="secondary back">Back</button>
      <button id="plugins-next" type="button" class="primary">Next</button>
    </div>
  </section>

  <section id="step-register" class="step" aria-labelledby="h-register" hidden>
    <h2 id="h-register" tabindex="-1">3. Register the OAuth endpoint</h2>
    <p class="lead">Register this app in the instance with exactly this redirect URL:</p>
    <div class="copy-row">
      <code id="redirect-url" class="mono selectable url"></code>
      <button id="copy-redirect" type="button" class="secondary copy" data-label="Copy">Copy</button>
    </div>
    <ol id="register-steps" class="register-steps"></ol>
    <div id="register-links-box" class="links-box" hidden>
      <h3>Links</h3>
      <ul id="register-links" class="links"></ul>
    </div>
    <div class="error-slot"></div>
    <div class="actions">
      <button id="register-back" type="button" class="secondary back">Back</button>
      <button id="register-next" type="button" class="primary">Next</button>
    </div>
  </section>

  <section id="step-client" class="step" aria-labelledby="h-client" hidden>
    <h2 id="h-client" tabindex="-1">4. Client credentials</h2>
    <p class="lead">Copy the Client ID (and, for a confidential client, the secret) from the registration you just made.</p>
    <div class="field">
      <label for="client-id">Client ID</label>
      <input id="client-id" type="text" autocomplete="off" autocapitalize="off" spellcheck="false">
    </div>
    <div class="field field-inline">
      <input id="public-client" type="checkbox">
      <label for="public-client">Public client (no client secret)</label>
    </div>
    <p id="public-note" class="note" hidden>Public client: PKCE, no secret</p>
    <div id="secret-field" class="field">
      <label for="client-secret">Client secret</label>
      <input id="client-secret" type="password" autocomplete="off" autocapitalize="off" spellcheck="false"
        aria-describedby="secret-help">
      <p id="secret-help" class="hint">Sent once to the app's secure store, then cleared from this form.</p>
    </div>
    <div class="error-slot"></div>
    <div class="actions">
      <button id="client-back" type="button" class="secondary back">Back</button>
      <button id="client-next" type="button" class="primary">Next</button>
    </div>
  </section>

  <section id="step-consent" class="step" aria-labelledby="h-consent" hidden>
    <h2 id="h-consent" tabindex="-1">5. Sign in and approve</h2>
    <p class="lead">Your browser opens the instance's consent page. Sign in as the integration user and click Allow.</p>
    <div class="actions actions-start">
      <button id="consent-start" type="button" class="primary">Open browser and sign in</button>
      <button id="consent-cancel" type="button" class="secondary">Cancel</button>
    </div>
    <div class="error-slot"></div>
    <p id="browser-error" class="warning" hidden></p>
    <div id="authorize-box" class="authorize-box" hidden>
      <p>If the browser did not open, copy this address into it:</p>
      <div class="copy-row">
        <code id="authorize-url" class="mono selectable url"></code>
        <button id="copy-authorize" type="button" class="secondary copy" data-label="Copy">Copy</button>
      </div>
    </div>
    <p id="consent-status" class="status" role="status" aria-live="polite"></p>
    <div class="actions">
      <button id="consent-back" type="button" class="secondary back">Back</button>
    </div>
  </section>

  <section id="step-result" class="step" aria-labelledby="h-result" hidden>
    <h2 id="h-result" tabindex="-1">6. Connection test</h2>
    <p id="connected-as" class="connected"></p>
    <dl class="facts">
      <dt>Instance</dt><dd id="test-instance" class="mono"></dd>
      <dt>Latency</dt><dd id="test-latency"></dd>
    </dl>
    <h3>Checks</h3>
    <ul id="checks" class="checks"></ul>
    <h3>Save this connection</h3>
    <div class="field">
      <label for="save-name">Profile name</label>
      <input id="save-name" type="text" autocomplete="off" spellcheck="false">
    </div>
    <div class="actions actions-start">
      <button id="save-connection" type="button" class="primary">Save connection</button>
      <button id="keep-session" type="button" class="secondary" hidden>Keep for this run only</button>
    </div>
    <div class="error-slot"></div>
    <p id="save-status" class="status" role="status" aria-live="polite"></p>
    <p id="save-path" class="hint" hidden></p>
  </section>
</main>

<p id="copy-announce" class="visually-hidden" role="status" aria-live="polite"></p>
</div>
`;
