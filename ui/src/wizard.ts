// The wizard state machine. No DOM here: it holds state, calls the Api and notifies listeners.
// The client secret is only ever a function argument on its way to Rust; it is never stored.

import {
  ErrorCode,
  tauriApi,
  toIpcError,
  type Api,
  type AppState,
  type ClientInfo,
  type ConnectionResult,
  type InstanceInfo,
  type IpcError,
  type RegistrationInfo,
  type SaveResult,
} from "./ipc";

export const STEPS = ["instance", "plugins", "register", "client", "consent", "result"] as const;
export type StepId = (typeof STEPS)[number];

export const STEP_LABELS: Record<StepId, string> = {
  instance: "Instance",
  plugins: "Plugin check",
  register: "Register endpoint",
  client: "Client",
  consent: "Consent",
  result: "Test",
};

export interface ConsentState {
  authorizeUrl: string | null;
  browserOpened: boolean;
  browserError: string | null;
  /** true between a successful begin_consent and the settling of finish_consent. */
  waiting: boolean;
  /** true while cancel_consent is in flight. */
  cancelling: boolean;
}

export interface WizardState {
  step: StepId;
  /** A command is in flight (the long consent wait is tracked by `consent.waiting`). */
  busy: boolean;
  error: IpcError | null;
  app: AppState | null;
  instance: InstanceInfo | null;
  registration: RegistrationInfo | null;
  client: ClientInfo | null;
  consent: ConsentState;
  result: ConnectionResult | null;
  saved: SaveResult | null;
  /** Set after a keychain error on save: the UI offers "Keep for this run only". */
  keepSessionOffered: boolean;
}

export type Listener = (state: WizardState, prev: WizardState) => void;

const KEYCHAIN_ERRORS: ReadonlySet<string> = new Set([
  ErrorCode.keychainUnavailable,
  ErrorCode.keychainLocked,
]);

export function isKeychainError(err: IpcError | null): boolean {
  return err !== null && KEYCHAIN_ERRORS.has(err.code);
}

function initialConsent(): ConsentState {
  return { authorizeUrl: null, browserOpened: false, browserError: null, waiting: false, cancelling: false };
}

export function initialState(): WizardState {
  return {
    step: "instance",
    busy: false,
    error: null,
    app: null,
    instance: null,
    registration: null,
    client: null,
    consent: initialConsent(),
    result: null,
    saved: null,
    keepSessionOffered: false,
  };
}

export function stepIndex(step: StepId): number {
  return STEPS.indexOf(step);
}

/** Host part of a URL, for the default profile name. Falls back to the input. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

export class Wizard {
  private current: WizardState = initialState();
  private readonly listeners = new Set<Listener>();
  /** Bumped on each consent attempt so a stale finish_consent cannot win. */
  private consentAttempt = 0;

  constructor(private readonly api: Api = tauriApi) {}

  get state(): WizardState {
    return this.current;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(patch: Partial<WizardState>): void {
    const prev = this.current;
    const next: WizardState = { ...prev, ...patch };
    this.current = next;
    for (const l of this.listeners) l(next, prev);
  }

  private fail(e: unknown, extra: Partial<WizardState> = {}): void {
    this.set({ ...extra, busy: false, error: toIpcError(e) });
  }

  /** Every step transition clears the error box. */
  private goto(step: StepId, extra: Partial<WizardState> = {}): void {
    this.set({ ...extra, step, error: null });
  }

  /** Load app_state. Safe to call once at start-up. */
  async load(): Promise<void> {
    this.set({ busy: true, error: null });
    try {
      const app = await this.api.appState();
      this.set({ busy: false, app });
    } catch (e) {
      this.fail(e);
    }
  }

  async submitInstance(input: string): Promise<boolean> {
    if (this.current.busy) return false;
    this.set({ busy: true, error: null });
    let instance: InstanceInfo;
    try {
      instance = await this.api.setInstance(input.trim());
    } catch (e) {
      this.fail(e);
      return false;
    }
    // A different instance invalidates whatever came after it.
    this.goto("plugins", {
      busy: false,
      instance,
      registration: null,
      result: null,
      saved: null,
      keepSessionOffered: false,
      consent: initialConsent(),
    });
    // Registration info feeds the plugin-check links and the registration screen.
    await this.loadRegistration();
    return true;
  }

  /** Fetch registration_info (idempotent). Errors are shown but do not move the step. */
  async loadRegistration(): Promise<boolean> {
    this.set({ busy: true, error: null });
    try {
      const registration = await this.api.registrationInfo();
      this.set({ busy: false, registration });
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  async continueFromPlugins(): Promise<boolean> {
    if (this.current.busy) return false;
    if (!this.current.registration && !(await this.loadRegistration())) return false;
    this.goto("register");
    return true;
  }

  continueFromRegister(): boolean {
    if (this.current.busy) return false;
    this.goto("client");
    return true;
  }

  /**
   * Send the client settings to Rust. `clientSecret` is forwarded once and not retained;
   * an empty secret or a public client sends null.
   */
  async submitClient(clientId: string, clientSecret: string | null, publicClient: boolean): Promise<boolean> {
    if (this.current.busy) return false;
    this.set({ busy: true, error: null });
    const secret = publicClient || !clientSecret ? null : clientSecret;
    try {
      const client = await this.api.setClient(clientId.trim(), secret, publicClient);
      this.goto("consent", { busy: false, client, consent: initialConsent() });
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /** begin_consent, then wait for finish_consent. Resolves true when connected. */
  async startConsent(): Promise<boolean> {
    if (this.current.busy || this.current.consent.waiting) return false;
    const attempt = ++this.consentAttempt;
    this.set({ busy: true, error: null, consent: initialConsent() });
    try {
      const started = await this.api.beginConsent();
      if (attempt !== this.consentAttempt) return false;
      this.set({
        busy: false,
        consent: {
          authorizeUrl: started.authorize_url,
          browserOpened: started.browser_opened,
          browserError: started.browser_error,
          waiting: true,
          cancelling: false,
        },
      });
    } catch (e) {
      if (attempt === this.consentAttempt) this.fail(e);
      return false;
    }

    try {
      const result = await this.api.finishConsent();
      if (attempt !== this.consentAttempt) return false;
      this.goto("result", {
        busy: false,
        result,
        saved: null,
        keepSessionOffered: false,
        consent: { ...this.current.consent, waiting: false, cancelling: false },
      });
      return true;
    } catch (e) {
      if (attempt !== this.consentAttempt) return false;
      this.fail(e, { consent: { ...this.current.consent, waiting: false, cancelling: false } });
      return false;
    }
  }

  /** Ask Rust to stop waiting; the pending finish_consent then rejects with `cancelled`. */
  async cancelConsent(): Promise<void> {
    const c = this.current.consent;
    if (!c.waiting || c.cancelling) return;
    this.set({ consent: { ...c, cancelling: true } });
    try {
      await this.api.cancelConsent();
    } catch (e) {
      this.set({ error: toIpcError(e), consent: { ...this.current.consent, cancelling: false } });
    }
  }

  async save(name: string, sessionOnly: boolean): Promise<boolean> {
    if (this.current.busy) return false;
    this.set({ busy: true, error: null });
    try {
      const saved = await this.api.saveConnection(name.trim(), sessionOnly);
      this.set({ busy: false, saved, keepSessionOffered: false });
      return true;
    } catch (e) {
      const err = toIpcError(e);
      // Never fall back silently: show the keychain error and let the user choose.
      this.set({
        busy: false,
        error: err,
        keepSessionOffered: !sessionOnly && isKeychainError(err) ? true : this.current.keepSessionOffered,
      });
      return false;
    }
  }

  canGoBack(): boolean {
    const s = this.current;
    return stepIndex(s.step) > 0 && s.step !== "result" && !s.busy && !s.consent.waiting;
  }

  back(): boolean {
    if (!this.canGoBack()) return false;
    this.goto(STEPS[stepIndex(this.current.step) - 1]);
    return true;
  }
}
