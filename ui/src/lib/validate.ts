// Field checks the window can do as you type. Rust validates everything again; these only catch
// the obvious early and say how to fix it.

import type { AuthMethod, CredentialsRequest, PresetNeed } from "../gen/ipc";

/** A field name -> the message naming the fix. Keys are the Rust field names (snake_case). */
export type FieldErrors = Record<string, string>;

export const PROFILE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const PARAM = /^[A-Za-z0-9._-]+$/;

/** snake_case field name -> kebab-case test id part ("client_id" -> "client-id"). */
export function kebab(field: string): string {
  return field.replace(/_/g, "-");
}

/** How a required-field message names the field ("Required: enter the client ID."). */
const FIELD_NAMES: Record<string, string> = {
  username: "user name",
  password: "password",
  client_id: "client ID",
  client_secret: "client secret",
  api_key: "API key",
  api_key_param: "API key parameter name",
  api_key_in: "place to send the API key",
  scope: "scope",
};

/** The credentials form: every field of the generated request type, as the text typed so far
 *  (derived, so a field added in Rust shows up here as a type error, not as drift). */
export type CredentialsInput = { [K in Exclude<keyof CredentialsRequest, "method">]: string } & {
  method: AuthMethod;
};

export interface Held {
  password: boolean;
  client_secret: boolean;
  api_key: boolean;
}

export const SECRET_FIELDS = ["password", "client_secret", "api_key"] as const;

export function isSecretField(field: string): field is (typeof SECRET_FIELDS)[number] {
  return (SECRET_FIELDS as readonly string[]).includes(field);
}

/** Fields a method may leave empty. */
function optional(method: AuthMethod, field: string): boolean {
  if (field === "scope") return true;
  // A public client (PKCE) has no secret; the field is there for a confidential client using PKCE.
  return field === "client_secret" && method === "oauth-code-pkce";
}

export function validateCredentials(c: CredentialsInput, fields: readonly string[], held: Held): FieldErrors {
  const errors: FieldErrors = {};
  for (const field of fields) {
    const raw = (c as unknown as Record<string, string>)[field] ?? "";
    const value = isSecretField(field) ? raw : raw.trim();
    if (!value) {
      const isHeld = isSecretField(field) && held[field];
      if (!isHeld && !optional(c.method, field)) {
        errors[field] = `Required: enter the ${FIELD_NAMES[field] ?? field}.`;
      }
      continue;
    }
    if (field === "client_id" && /\s/.test(value)) {
      errors[field] = "A client ID has no spaces: copy it again from the OAuth registry record.";
    }
    if (field === "api_key_param" && !PARAM.test(value)) {
      errors[field] = "Use only letters, digits, '.', '_' and '-' (for example x-sn-apikey).";
    }
    if (field === "api_key_in" && value !== "header" && value !== "query") {
      errors[field] = "Choose header or query.";
    }
  }
  return errors;
}

export interface InstanceInput {
  instance: string;
  boomi_account: string;
  region: string;
  target_redirect_url: string;
  admin_username: string;
  admin_password: string;
  basic_username: string;
  basic_password: string;
}

export function validateInstance(
  d: InstanceInput,
  opts: { verify: boolean; migrating: boolean; need: PresetNeed; adminHeld: boolean; basicHeld: boolean },
): FieldErrors {
  const errors: FieldErrors = {};
  if (!d.instance.trim()) errors.instance = "Enter the instance name (acme) or its URL.";
  if (opts.verify) return errors;
  if (opts.need === "boomi_account" && !d.boomi_account.trim()) {
    errors.boomi_account = "Enter your Boomi account ID (Settings › Account Information).";
  }
  if (opts.need === "region" && !d.region) errors.region = "Choose the region your Alchemer account is in.";
  if (opts.need === "redirect_url") {
    const url = d.target_redirect_url.trim();
    if (!url) errors.target_redirect_urls = "Enter the callback URL the target shows (https://…).";
    else if (!/^https:\/\/\S+$/.test(url)) errors.target_redirect_urls = "The callback URL must start with https:// and have no spaces.";
  }
  if (d.admin_username.trim() && !d.admin_password && !opts.adminHeld) {
    errors.admin_password = "Enter the admin password, or clear the admin user name.";
  }
  if (opts.migrating && d.basic_username.trim() && !d.basic_password && !opts.basicHeld) {
    errors.basic_password = "Enter that account's password, or clear its user name to test as the admin account.";
  }
  return errors;
}

export function validateProfileName(name: string): string | null {
  if (!name.trim()) return "Required: enter a profile name.";
  if (!PROFILE_NAME.test(name.trim())) return "Use letters, digits, '-', '_' and '.' only, up to 64 characters.";
  return null;
}

/** A usage error's detail names the field it is about: "client_id: must not contain spaces". */
export function fieldFromDetail(detail: string | null, known: readonly string[]): { field: string; message: string } | null {
  const m = detail ? /^([a-z_]+):\s*(.*)$/s.exec(detail) : null;
  if (!m || !known.includes(m[1])) return null;
  return { field: m[1], message: m[2] || detail || "" };
}
