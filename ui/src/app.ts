// Wires the DOM to the wizard: builds the page, forwards user events, re-renders on change.

import { copyText } from "./clipboard";
import { tauriApi, type Api } from "./ipc";
import { el, render, syncPublicClient } from "./render";
import { TEMPLATE } from "./template";
import { Wizard } from "./wizard";

export const COPY_FEEDBACK_MS = 1500;

export interface MountedApp {
  wizard: Wizard;
  /** Resolves once app_state has been loaded (or has failed and the error is shown). */
  ready: Promise<void>;
}

function onEnter(input: HTMLElement, action: () => void): void {
  input.addEventListener("keydown", (ev) => {
    if ((ev as KeyboardEvent).key === "Enter") {
      ev.preventDefault();
      action();
    }
  });
}

async function handleCopy(root: HTMLElement, button: HTMLButtonElement): Promise<void> {
  const source = button.dataset.copyFrom;
  const text = source ? (el(root, source).textContent ?? "") : (button.dataset.copyText ?? "");
  if (!text) return;
  const label = button.dataset.label ?? "Copy";
  const announce = el(root, "copy-announce");
  const err = await copyText(text);
  button.textContent = err ? "Copy failed" : "Copied";
  button.classList.toggle("copied", !err);
  announce.textContent = err
    ? `Could not copy (${err.message}). Select the text and copy it manually.`
    : "Copied to clipboard";
  window.setTimeout(() => {
    button.textContent = label;
    button.classList.remove("copied");
  }, COPY_FEEDBACK_MS);
}

export function mount(root: HTMLElement, api: Api = tauriApi): MountedApp {
  root.innerHTML = TEMPLATE;
  el(root, "copy-redirect").dataset.copyFrom = "redirect-url";
  el(root, "copy-authorize").dataset.copyFrom = "authorize-url";

  const wizard = new Wizard(api);
  render(root, wizard.state, null);
  wizard.subscribe((state, prev) => render(root, state, prev));

  const instanceInput = el<HTMLInputElement>(root, "instance-input");
  const clientId = el<HTMLInputElement>(root, "client-id");
  const publicClient = el<HTMLInputElement>(root, "public-client");
  const clientSecret = el<HTMLInputElement>(root, "client-secret");
  const saveName = el<HTMLInputElement>(root, "save-name");

  const submitInstance = () => void wizard.submitInstance(instanceInput.value);
  const submitClient = (): void => {
    if (wizard.state.busy) return;
    const isPublic = publicClient.checked;
    // submitClient hands the secret to invoke synchronously; it is not kept anywhere.
    void wizard.submitClient(clientId.value, isPublic ? null : clientSecret.value, isPublic);
    // Sent once: clear the field right away, whatever the outcome.
    clientSecret.value = "";
  };
  const save = (sessionOnly: boolean) => void wizard.save(saveName.value, sessionOnly);

  el(root, "instance-next").addEventListener("click", submitInstance);
  onEnter(instanceInput, submitInstance);
  el(root, "plugins-next").addEventListener("click", () => void wizard.continueFromPlugins());
  el(root, "register-next").addEventListener("click", () => wizard.continueFromRegister());
  publicClient.addEventListener("change", () => syncPublicClient(root));
  el(root, "client-next").addEventListener("click", submitClient);
  onEnter(clientId, submitClient);
  onEnter(clientSecret, submitClient);
  el(root, "consent-start").addEventListener("click", () => void wizard.startConsent());
  el(root, "consent-cancel").addEventListener("click", () => void wizard.cancelConsent());
  el(root, "save-connection").addEventListener("click", () => save(false));
  el(root, "keep-session").addEventListener("click", () => save(true));
  onEnter(saveName, () => save(false));
  for (const back of Array.from(root.querySelectorAll<HTMLButtonElement>("button.back"))) {
    back.addEventListener("click", () => wizard.back());
  }
  root.addEventListener("click", (ev) => {
    const target = ev.target as HTMLElement | null;
    const button = target?.closest<HTMLButtonElement>("button.copy");
    if (button && root.contains(button)) void handleCopy(root, button);
  });

  const ready = wizard.load().then(() => {
    if (wizard.state.step === "instance") instanceInput.focus();
  });
  return { wizard, ready };
}
