import { describe, expect, it } from "vitest";
import { Wizard, defaultProfileName, stepsFor } from "../src/lib/wizard.svelte";
import { kebab, validateProfileName } from "../src/lib/validate";
import { APP_INFO, DEMO_APP_INFO, INSTANCE_SET, PRESETS, credState } from "./fixtures";

describe("wizard state", () => {
  it("steps per mode", () => {
    expect(stepsFor("migrate")).toEqual(["instance", "plugins", "register", "credentials", "consent", "test", "save"]);
    expect(stepsFor("new")).toEqual(stepsFor("migrate"));
    expect(stepsFor("verify")).toEqual(["instance", "credentials", "consent", "test"]);
  });

  it("Back: skips Plugin check and Registration in verify mode, Consent for non-consent methods", () => {
    const w = new Wizard(APP_INFO);
    w.begin("verify");
    expect(w.previous("credentials")).toBe("instance");
    w.begin("migrate");
    expect(w.previous("credentials")).toBe("register");
    w.credentialsAccepted(credState({ method: "basic" }));
    expect(w.previous("test")).toBe("credentials");
    w.credentialsAccepted(credState({ method: "oauth-code", needs_consent: true }));
    expect(w.previous("test")).toBe("consent");
    w.go("instance");
    w.back();
    expect(w.screen).toBe("start");
  });

  it("begin: the snconnect preset by default; demo prefill (admin held) except in verify mode", () => {
    const w = new Wizard(DEMO_APP_INFO);
    w.begin("migrate");
    expect(w.instance.target).toBe("snconnect");
    expect(w.instance.instance).toBe(DEMO_APP_INFO.demo?.instance);
    expect(w.instance.admin_username).toBe("admin");
    expect(w.adminHeld).toBe(true);
    w.begin("verify");
    expect(w.instance.admin_username).toBe("");
    expect(w.adminHeld).toBe(false);
    const plain = new Wizard({ ...APP_INFO, presets: PRESETS.slice(1) });
    plain.begin("new");
    expect(plain.instance.target).toBe("qlik");
  });

  it("a different instance forgets what was learnt about the old one", () => {
    const w = new Wizard(APP_INFO);
    w.begin("migrate");
    w.instanceAccepted(INSTANCE_SET);
    w.credentialsAccepted(credState());
    expect(w.saveName).toBe("acme.service-now.com");
    w.instanceAccepted(INSTANCE_SET);
    expect(w.credState).not.toBeNull();
    w.instanceAccepted({ ...INSTANCE_SET, instance: "https://other.service-now.com/", host: "other.service-now.com" });
    expect(w.credState).toBeNull();
    expect(w.endpointName).toBe("snconnect other.service-now.com");
  });

  it("profile names", () => {
    expect(defaultProfileName("127.0.0.1:41234")).toBe("127.0.0.1-41234");
    expect(validateProfileName("acme-prod_1.x")).toBeNull();
    expect(validateProfileName("a".repeat(64))).toBeNull();
    expect(validateProfileName("a".repeat(65))).not.toBeNull();
    expect(kebab("api_key_param")).toBe("api-key-param");
  });
});
