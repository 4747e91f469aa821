import { render } from "@testing-library/svelte";
import type { IpcError } from "../src/gen/ipc";
import { describe, expect, it, vi } from "vitest";
import CheckList, { type CheckItem } from "../src/components/CheckList.svelte";
import CopyButton from "../src/components/CopyButton.svelte";
import ErrorBox from "../src/components/ErrorBox.svelte";
import Links from "../src/components/Links.svelte";
import Progress from "../src/components/Progress.svelte";
import SecretField from "../src/components/SecretField.svelte";
import StepIndicator from "../src/components/StepIndicator.svelte";
import { COPIED_MS, PROGRESS_DELAY_MS } from "../src/lib/timing";
import { stepsFor } from "../src/lib/wizard.svelte";
import { backend, ipcError, writeText, openUrl } from "./backend";
import { click, el, flush, has, text } from "./helpers";

describe("Progress", () => {
  it("appears only after 300 ms, with role=status and aria-busy, and goes when the call ends", async () => {
    vi.useFakeTimers();
    const r = render(Progress, { props: { active: true, label: "Working…" } });
    await vi.advanceTimersByTimeAsync(PROGRESS_DELAY_MS - 1);
    expect(has("progress")).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(text("progress")).toBe("Working…");
    expect(el("progress").getAttribute("role")).toBe("status");
    expect(el("progress").getAttribute("aria-busy")).toBe("true");
    await r.rerender({ active: false, label: "Working…" });
    expect(has("progress")).toBe(false);
  });

  it("a fast call never shows it", async () => {
    vi.useFakeTimers();
    const r = render(Progress, { props: { active: true, label: "x" } });
    await vi.advanceTimersByTimeAsync(100);
    await r.rerender({ active: false, label: "x" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(has("progress")).toBe(false);
  });
});

describe("CopyButton", () => {
  it("copies through the clipboard plugin and says Copied for 2 s", async () => {
    vi.useFakeTimers();
    render(CopyButton, { props: { text: "hello", testid: "c" } });
    await click("c");
    expect(backend.clipboard).toEqual(["hello"]);
    expect(text("c")).toBe("Copied");
    await vi.advanceTimersByTimeAsync(COPIED_MS - 1);
    expect(text("c")).toBe("Copied");
    await vi.advanceTimersByTimeAsync(1);
    expect(text("c")).toBe("Copy");
  });

  it("says Copy failed when the plugin refuses", async () => {
    writeText.mockImplementationOnce(() => Promise.reject("clipboard-manager.write_text not allowed"));
    render(CopyButton, { props: { text: "x", testid: "c" } });
    await click("c");
    expect(text("c")).toBe("Copy failed");
  });
});

describe("ErrorBox", () => {
  it("shows code, message, remediation and detail; Copy details copies those lines", async () => {
    render(ErrorBox, { props: { error: ipcError("tls_untrusted_certificate", "issuer: Corp Root CA", "The certificate is not trusted.", "Add the CA.") } });
    expect(el("error-code").tagName).toBe("CODE");
    expect(text("error-message")).toBe("The certificate is not trusted.");
    expect(text("error-remediation")).toBe("Add the CA.");
    expect(text("error-detail")).toBe("issuer: Corp Root CA");
    expect(el("error-box").getAttribute("role")).toBe("alert");
    await click("copy-details");
    expect(backend.clipboard).toEqual([
      "code: tls_untrusted_certificate\nmessage: The certificate is not trusted.\nremediation: Add the CA.\ndetail: issuer: Corp Root CA",
    ]);
  });

  it("copies the redacted support text when given; omits empty parts", async () => {
    render(ErrorBox, { props: { error: { code: "rate_limited", message: "Too many requests.", remediation: null, detail: null }, supportText: "SUPPORT" } });
    expect(has("error-remediation")).toBe(false);
    expect(has("error-detail")).toBe(false);
    await click("copy-details");
    expect(backend.clipboard).toEqual(["SUPPORT"]);
  });

  it("an unknown code is shown generically", () => {
    const error = { code: "some_future_code", message: "New.", remediation: null, detail: null } as unknown as IpcError;
    render(ErrorBox, { props: { error } });
    expect(text("error-code")).toBe("some_future_code");
  });
});

describe("Links", () => {
  it("are buttons that open the system browser; the webview never navigates", async () => {
    render(Links, { props: { links: [{ label: "Registry", url: "https://acme.service-now.com/oauth_entity_list.do" }] } });
    expect(document.querySelector("a[href]")).toBeNull();
    await click("open-link");
    expect(openUrl).toHaveBeenCalledWith("https://acme.service-now.com/oauth_entity_list.do");
  });

  it("say so when the browser cannot be opened", async () => {
    openUrl.mockImplementationOnce(() => Promise.reject("no browser"));
    render(Links, { props: { links: [{ label: "Registry", url: "https://x.example/" }] } });
    await click("open-link");
    await flush();
    expect(text("link-error")).toContain("could not be opened");
  });
});

describe("SecretField", () => {
  it("shows that a secret is held and never shows its value", async () => {
    render(SecretField, { props: { name: "client-secret", label: "Client secret", held: true } });
    expect(el<HTMLInputElement>("client-secret").type).toBe("password");
    expect(el<HTMLInputElement>("client-secret").value).toBe("");
    expect(text("client-secret-held")).toBe("held in memory — type to replace");
  });
});

describe("StepIndicator", () => {
  it("marks the current step with aria-current", () => {
    render(StepIndicator, { props: { steps: stepsFor("migrate"), current: "register" } });
    const current = el("step-indicator").querySelectorAll('[aria-current="step"]');
    expect(current).toHaveLength(1);
    expect(current[0].textContent).toContain("Registration");
    expect(el("step-indicator").querySelectorAll("li.done")).toHaveLength(2);
  });
});

describe("CheckList", () => {
  const fail: CheckItem = {
    key: "reachable", testid: "preflight-check-reachable", state: "fail", title: "Instance reachable and awake",
    finding: "HTTP 200, Content-Type \"text/html\"", code: "instance_hibernating", fix: "Wake it at developer.servicenow.com.",
  };
  const notRun: CheckItem = {
    key: "release", testid: "preflight-check-release", state: "unknown", title: "Release",
    finding: "not checked: The instance is hibernating.", code: "instance_hibernating", fix: "Wake it at developer.servicenow.com.",
  };
  const hidden: CheckItem = {
    key: "roles", testid: "preflight-check-roles", state: "unknown", title: "Roles", finding: "hidden",
    code: "acl_forbidden", fix: "Ask an admin.",
  };

  it("an unknown that an earlier failure explains says so, without repeating the fix", () => {
    render(CheckList, { props: { items: [fail, notRun, hidden], label: "Instance checks" } });
    expect(el("preflight-check-reachable").textContent).toContain("Wake it at developer.servicenow.com.");
    expect(el("preflight-check-release").textContent).toContain("Not checked until the failure above is fixed.");
    expect(el("preflight-check-release").textContent).not.toContain("Wake it");
    expect(el("preflight-check-release").textContent).not.toContain("may not look");
    // An ACL-hidden check is the "may not look" kind of unknown, with its own fix.
    expect(el("preflight-check-roles").textContent).toContain("this account may not look — not a no");
    expect(el("preflight-check-roles").textContent).toContain("Ask an admin.");
  });
});
