// The wizard's state: which screen and step, what the user typed (kept across Back), and what
// Rust answered. No IPC here: the screens call lib/ipc.ts and store the answers.
// A secret typed into a field stays here only until it is sent; then the draft is cleared and
// the matching `held` flag says Rust holds it ("held in memory — type to replace").

import type {
  AppInfo,
  Check,
  EditStart,
  ChecklistItem,
  Created,
  CredentialsState,
  InstanceSet,
  MethodInfo,
  PreflightCheck,
  PreflightReport,
  PresetInfo,
  RegistrationGuide,
  Saved,
  SignInResult,
} from "../gen/ipc";
import type { CredentialsInput, InstanceInput } from "./validate";

export type Mode = "migrate" | "new" | "verify" | "edit";
export type Screen = "start" | "wizard" | "saved" | "inventory";
export type StepId = "instance" | "plugins" | "register" | "credentials" | "consent" | "test" | "save";

export const STEP_LABELS: Record<StepId, string> = {
  instance: "Instance",
  plugins: "Plugin check",
  register: "Registration",
  credentials: "Credentials",
  consent: "Consent",
  test: "Test",
  save: "Save and hand off",
};

export const MODE_LABELS: Record<Mode, string> = {
  migrate: "Migrate a connection",
  new: "New connection",
  verify: "Verify credentials",
  edit: "Edit a saved connection",
};

export function stepsFor(mode: Mode): StepId[] {
  if (mode === "verify") return ["instance", "credentials", "consent", "test"];
  if (mode === "edit") return ["instance", "credentials", "consent", "test", "save"];
  return ["instance", "plugins", "register", "credentials", "consent", "test", "save"];
}

export interface InstanceDraft extends InstanceInput {
  target: string;
}

function emptyInstance(): InstanceDraft {
  return {
    instance: "",
    target: "",
    boomi_account: "",
    region: "",
    target_redirect_url: "",
    admin_username: "",
    admin_password: "",
    basic_username: "",
    basic_password: "",
  };
}

function emptyCredentials(): CredentialsInput {
  return {
    method: "oauth-code",
    username: "",
    password: "",
    client_id: "",
    client_secret: "",
    api_key: "",
    api_key_param: "x-sn-apikey",
    api_key_in: "header",
    scope: "",
  };
}

export function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

export class Wizard {
  screen: Screen = $state("start");
  mode: Mode = $state("migrate");
  step: StepId = $state("instance");
  app: AppInfo | null = $state(null);

  // Step 1
  instance: InstanceDraft = $state(emptyInstance());
  instanceSet: InstanceSet | null = $state(null);
  adminHeld = $state(false);
  basicHeld = $state(false);

  // Step 2
  preflightChecks: PreflightCheck[] = $state([]);
  preflightReport: PreflightReport | null = $state(null);
  checklist: ChecklistItem[] | null = $state(null);

  // Step 3
  guide: RegistrationGuide | null = $state(null);
  created: Created | null = $state(null);
  guided = $state(false);
  endpointName = $state("");
  endpointPublic = $state(false);
  guidedClientId = $state("");

  // Step 4
  creds: CredentialsInput = $state(emptyCredentials());
  credState: CredentialsState | null = $state(null);

  // Steps 5-6
  /** Set by "Open browser and sign in" after Create: the consent screen starts on arrival. */
  autoConsent = $state(false);
  liveChecks: Check[] = $state([]);
  result: SignInResult | null = $state(null);

  // Step 7
  saveName = $state("");
  /** Edit / Reconnect: the saved connection the wizard writes over (its name is fixed). */
  editing: string | null = $state(null);
  saved: Saved | null = $state(null);

  /** Attempt counters (not reactive): an answer from a superseded run is dropped. */
  readonly runs = { preflight: 0, signIn: 0 };
  /** Whether the launch screen was chosen (not reactive). */
  private landed = false;

  constructor(app: AppInfo | null = null) {
    this.app = app;
  }

  get steps(): StepId[] {
    return stepsFor(this.mode);
  }

  get preset(): PresetInfo | null {
    return this.app?.presets.find((p) => p.id === this.instance.target) ?? null;
  }

  get methods(): MethodInfo[] {
    return this.app?.methods ?? [];
  }

  get method(): MethodInfo | null {
    return this.methods.find((m) => m.method === this.creds.method) ?? null;
  }

  /** Whether the chosen method signs in through the browser (code grants). */
  get needsConsent(): boolean {
    return this.credState?.needs_consent ?? this.method?.needs_consent ?? false;
  }

  get host(): string {
    return this.instanceSet?.host ?? hostOf(this.instance.instance);
  }

  /** Open the wizard in `mode` with a fresh form, prefilled from the demo when it runs. */
  begin(mode: Mode): void {
    this.editing = null;
    this.clearProgress();
    this.mode = mode;
    this.instance = emptyInstance();
    this.creds = emptyCredentials();
    this.adminHeld = false;
    this.basicHeld = false;
    this.guidedClientId = "";
    this.guided = false;
    const presets = this.app?.presets ?? [];
    this.instance.target = (presets.find((p) => p.id === "snconnect") ?? presets[0])?.id ?? "custom";
    const demo = this.app?.demo;
    if (demo) {
      this.instance.instance = demo.instance;
      if (mode !== "verify") {
        this.instance.admin_username = demo.admin_username;
        this.adminHeld = true; // start_demo put the admin password in Rust
      }
    }
    this.screen = "wizard";
    this.step = "instance";
  }

  /**
   * Edit or Reconnect a saved connection, loaded by edit_saved. Edit opens on the Instance step;
   * Reconnect goes straight to the sign-in (the consent for code grants, else the test).
   */
  beginEdit(start: EditStart, reconnect: boolean): void {
    this.begin("edit");
    this.editing = start.name;
    this.instance.instance = start.instance.instance;
    this.instance.admin_username = "";
    this.adminHeld = false;
    this.instanceAccepted(start.instance);
    this.credentialsAccepted(start.credentials);
    this.creds.api_key_param = start.credentials.api_key_param ?? this.creds.api_key_param;
    this.creds.api_key_in = start.credentials.api_key_in ?? this.creds.api_key_in;
    this.creds.scope = start.credentials.scope ?? "";
    this.saveName = start.name;
    if (!reconnect) return;
    if (this.needsConsent) {
      this.autoConsent = true;
      this.go("consent");
    } else {
      this.go("test");
    }
  }

  /**
   * Migrate on a basic-auth inventory row: the wizard in migrate mode on the Instance step with
   * the instance, the admin account (its password held in Rust by the inventory) and the account
   * being migrated prefilled; the person adds that account's password for the parity test.
   */
  migrateAccount(instance: string, adminUsername: string, userName: string): void {
    this.begin("migrate");
    this.instance.instance = instance;
    this.instance.admin_username = adminUsername;
    this.adminHeld = true;
    this.instance.basic_username = userName;
  }

  /** The basic-auth inventory screen. */
  inventory(): void {
    this.screen = "inventory";
  }

  /** Forget every answer from Rust (the typed drafts are left alone). */
  clearProgress(): void {
    this.instanceSet = null;
    this.preflightChecks = [];
    this.preflightReport = null;
    this.checklist = null;
    this.guide = null;
    this.created = null;
    this.credState = null;
    this.autoConsent = false;
    this.liveChecks = [];
    this.result = null;
    this.saved = null;
    this.saveName = this.editing ?? "";
  }

  /** After set_instance: a different instance invalidates everything learnt about the old one. */
  instanceAccepted(set: InstanceSet): void {
    if (this.instanceSet?.instance !== set.instance) {
      this.clearProgress();
      this.endpointName = `snconnect ${set.host}`;
      this.endpointPublic = this.instance.target === "snconnect";
    }
    this.instanceSet = set;
    this.adminHeld = set.has_admin;
    this.basicHeld = set.has_basic;
    this.instance.admin_password = "";
    this.instance.basic_password = "";
    if (!this.saveName) this.saveName = defaultProfileName(set.host);
  }

  /** After create_endpoint or set_credentials. */
  credentialsAccepted(state: CredentialsState): void {
    this.credState = state;
    this.creds.method = state.method;
    if (state.client_id !== null) this.creds.client_id = state.client_id;
    if (state.username !== null) this.creds.username = state.username;
    this.creds.password = "";
    this.creds.client_secret = "";
    this.creds.api_key = "";
    this.result = null;
    this.liveChecks = [];
    this.saved = null;
  }

  go(step: StepId): void {
    this.screen = "wizard";
    this.step = step;
  }

  home(): void {
    this.screen = "start";
  }

  /** The Saved connections dashboard. */
  dashboard(): void {
    this.screen = "saved";
  }

  /**
   * The launch decision, taken once, when app_info first answers: the dashboard when connections
   * are saved, else Start. Later answers (Start shown again, the demo started) change nothing.
   */
  land(): void {
    if (this.landed || !this.app) return;
    this.landed = true;
    if (this.screen === "start" && this.app.saved_connections > 0) this.dashboard();
  }

  /** The step Next leads to from the credentials step. */
  afterCredentials(): StepId {
    return this.needsConsent ? "consent" : "test";
  }

  previous(step: StepId = this.step): StepId | null {
    switch (step) {
      case "instance":
        return null;
      case "plugins":
        return "instance";
      case "register":
        return "plugins";
      case "credentials":
        return this.mode === "verify" || this.mode === "edit" ? "instance" : "register";
      case "consent":
        return "credentials";
      case "test":
        return this.needsConsent ? "consent" : "credentials";
      case "save":
        return "test";
    }
  }

  back(): void {
    const prev = this.previous();
    if (prev === null) this.home();
    else this.step = prev;
  }

  /** Clear (verify mode): everything typed and held is gone. */
  wipe(): void {
    const mode = this.mode;
    this.begin(mode);
    this.adminHeld = false;
    this.instance.instance = "";
    this.instance.admin_username = "";
  }
}

export function defaultProfileName(host: string): string {
  const name = host.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 64);
  return name || "connection";
}
