// State -> DOM. Pure DOM updates, no IPC. Text from Rust goes in through textContent only.

import type { RegistrationLink } from "./ipc";
import { STEPS, hostOf, stepIndex, type WizardState } from "./wizard";

export const TEXT = {
  demoDefault: "Demo mode: a simulated ServiceNow instance runs inside the app.",
  waiting: "Waiting for you to approve in the browser…",
  starting: "Starting the sign-in listener…",
  cancelling: "Cancelling…",
  savedKeychain: "Saved. Refresh token is in the system keychain.",
  savedSession: "Kept for this run only.",
  saving: "Saving…",
  publicNote: "Public client: PKCE, no secret",
} as const;

export function el<T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T {
  const found = root.querySelector<T>(`#${id}`);
  if (!found) throw new Error(`missing element #${id}`);
  return found;
}

function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function connectedAsText(displayName: string, userName: string): string {
  return `Connected as ${displayName} (${userName})`;
}

export function formatMs(ms: number): string {
  return `${Math.round(ms)} ms`;
}

/** Show or hide the secret field to match the public-client checkbox. */
export function syncPublicClient(root: ParentNode): void {
  const isPublic = el<HTMLInputElement>(root, "public-client").checked;
  const secret = el<HTMLInputElement>(root, "client-secret");
  el(root, "secret-field").hidden = isPublic;
  el(root, "public-note").hidden = !isPublic;
  secret.disabled = isPublic;
  if (isPublic) secret.value = "";
}

function renderLinks(list: HTMLElement, box: HTMLElement, links: RegistrationLink[]): void {
  list.replaceChildren(
    ...links.map((link) => {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.className = "link-label";
      label.textContent = link.label;
      const row = document.createElement("div");
      row.className = "copy-row";
      const url = document.createElement("code");
      url.className = "mono selectable url";
      url.textContent = link.url;
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "secondary copy copy-link";
      btn.dataset.copyText = link.url;
      btn.dataset.label = "Copy";
      btn.textContent = "Copy";
      btn.setAttribute("aria-label", `Copy link: ${link.label}`);
      row.append(url, btn);
      li.append(label, row);
      return li;
    }),
  );
  box.hidden = links.length === 0;
}

function renderSteps(list: HTMLElement, steps: string[]): void {
  list.replaceChildren(
    ...steps.map((s) => {
      const li = document.createElement("li");
      li.textContent = s;
      return li;
    }),
  );
}

function renderChecks(list: HTMLElement, state: WizardState): void {
  const checks = state.result?.checks ?? [];
  list.replaceChildren(
    ...checks.map((c) => {
      const li = document.createElement("li");
      li.className = c.ok ? "check-item ok" : "check-item fail";
      li.dataset.code = c.code;
      const mark = document.createElement("span");
      mark.className = "check-mark";
      mark.textContent = c.ok ? "✓" : "✗";
      mark.setAttribute("aria-label", c.ok ? "passed" : "failed");
      mark.setAttribute("role", "img");
      const name = document.createElement("span");
      name.className = "check-name";
      name.textContent = c.name;
      const ms = document.createElement("span");
      ms.className = "check-ms";
      ms.textContent = formatMs(c.ms);
      li.append(mark, name);
      if (!c.ok) {
        const code = document.createElement("code");
        code.className = "check-code";
        code.textContent = c.code;
        li.append(code);
      }
      li.append(ms);
      return li;
    }),
  );
}

function consentStatus(state: WizardState): string {
  const c = state.consent;
  if (c.cancelling) return TEXT.cancelling;
  if (c.waiting) return TEXT.waiting;
  if (state.busy && state.step === "consent") return TEXT.starting;
  return "";
}

export function render(root: ParentNode, state: WizardState, prev: WizardState | null): void {
  const first = prev === null;
  const app = state.app;

  // Demo banner.
  const banner = el(root, "demo-banner");
  banner.hidden = !app?.demo;
  setText(banner, app?.demo ? (app.demo_note ?? TEXT.demoDefault) : "");

  // Prefill from app_state once it arrives.
  if (app && (first || prev.app !== app)) {
    const instanceInput = el<HTMLInputElement>(root, "instance-input");
    if (!instanceInput.value) instanceInput.value = app.instance ?? "";
    const clientId = el<HTMLInputElement>(root, "client-id");
    if (!clientId.value) clientId.value = app.client_id ?? "";
    el<HTMLInputElement>(root, "public-client").checked = app.public_client;
    syncPublicClient(root);
  }

  // Normalised instance URL.
  el(root, "current-instance").hidden = !state.instance;
  setText(el(root, "current-instance-url"), state.instance?.instance ?? "");
  if (state.instance && (first || prev.instance !== state.instance)) {
    el<HTMLInputElement>(root, "instance-input").value = state.instance.instance;
  }

  // Step indicator.
  const current = stepIndex(state.step);
  for (const li of Array.from(el(root, "step-indicator").querySelectorAll<HTMLElement>("li"))) {
    const i = STEPS.indexOf(li.dataset.step as WizardState["step"]);
    li.classList.toggle("current", i === current);
    li.classList.toggle("done", i < current);
    if (i === current) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }

  // Error box: one element, moved into the current step next to the controls it is about.
  const err = state.error;
  const errorBox = el(root, "error");
  const slot = root.querySelector<HTMLElement>(`#step-${state.step} .error-slot`);
  if (slot && errorBox.parentElement !== slot) slot.append(errorBox);
  errorBox.hidden = !err;
  errorBox.classList.toggle("error-info", err?.code === "cancelled");
  setText(el(root, "error-code"), err?.code ?? "");
  setText(el(root, "error-message"), err?.message ?? "");
  const remediation = el(root, "error-remediation");
  remediation.hidden = !err?.remediation;
  setText(remediation, err?.remediation ?? "");

  // Visible step, busy flags and buttons.
  const canBack = !state.busy && !state.consent.waiting;
  for (const step of STEPS) {
    const section = el(root, `step-${step}`);
    section.hidden = step !== state.step;
    section.setAttribute("aria-busy", String(state.busy && step === state.step));
    for (const btn of Array.from(section.querySelectorAll<HTMLButtonElement>("button"))) {
      if (btn.classList.contains("copy")) continue;
      btn.disabled = btn.classList.contains("back") ? !canBack : state.busy;
    }
  }

  // Step 2 + 3: registration info.
  const reg = state.registration;
  if (first || prev.registration !== reg) {
    const links = reg?.links ?? [];
    renderLinks(el(root, "plugin-links"), el(root, "plugin-links-box"), links);
    renderLinks(el(root, "register-links"), el(root, "register-links-box"), links);
    renderSteps(el(root, "register-steps"), reg?.steps ?? []);
  }
  setText(el(root, "redirect-url"), reg?.redirect_url ?? app?.redirect_url ?? "");

  // Step 5: consent.
  const c = state.consent;
  el<HTMLButtonElement>(root, "consent-start").disabled = state.busy || c.waiting;
  el<HTMLButtonElement>(root, "consent-cancel").disabled = !c.waiting || c.cancelling;
  el(root, "authorize-box").hidden = !c.authorizeUrl;
  setText(el(root, "authorize-url"), c.authorizeUrl ?? "");
  const browserError = el(root, "browser-error");
  const showBrowserError = !!c.authorizeUrl && !c.browserOpened;
  browserError.hidden = !showBrowserError;
  setText(
    browserError,
    showBrowserError
      ? `The browser could not be opened${c.browserError ? `: ${c.browserError.replace(/\.+$/, "")}` : ""}. Copy the address below into your browser.`
      : "",
  );
  const status = el(root, "consent-status");
  setText(status, consentStatus(state));
  status.classList.toggle("pending", c.waiting || (state.busy && state.step === "consent"));

  // Step 6: result and save.
  const result = state.result;
  if (first || prev.result !== result) {
    setText(el(root, "connected-as"), result ? connectedAsText(result.user_display_name, result.user_name) : "");
    setText(el(root, "test-instance"), result?.instance ?? "");
    setText(el(root, "test-latency"), result ? formatMs(result.latency_ms) : "");
    renderChecks(el(root, "checks"), state);
    if (result) {
      el<HTMLInputElement>(root, "save-name").value = state.instance?.host ?? hostOf(result.instance);
    }
  }
  const saved = state.saved;
  let saveStatus = "";
  if (state.busy && state.step === "result") saveStatus = TEXT.saving;
  else if (saved) saveStatus = saved.stored === "keychain" ? TEXT.savedKeychain : TEXT.savedSession;
  const saveStatusEl = el(root, "save-status");
  setText(saveStatusEl, saveStatus);
  saveStatusEl.classList.toggle("success", !!saved && !state.busy);
  const savePath = el(root, "save-path");
  savePath.hidden = !saved || state.busy;
  setText(savePath, saved ? `Profile "${saved.name}" written to ${saved.profile_path}` : "");
  el(root, "keep-session").hidden = !state.keepSessionOffered;

  // Move focus to the new step's heading so keyboard and screen-reader users follow along.
  if (!first && prev.step !== state.step) {
    root.querySelector<HTMLElement>(`#step-${state.step} h2`)?.focus();
  }
  // Bring a new error into view (it may be below the fold on the result step).
  if (err && (first || prev.error !== err) && typeof errorBox.scrollIntoView === "function") {
    errorBox.scrollIntoView({ block: "nearest" });
  }
}
