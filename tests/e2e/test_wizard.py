"""The real app window, driven through WebDriver (tauri-driver + WebKitWebDriver).

Walks the wizard in demo mode (embedded simulator) with a confidential client, while
tests/support/browser_standin.py stands in for the person's browser ($BROWSER), asserts the
"Connected as" screen and the keychain save, then scans every IPC response the window
received, the app's log, the stand-in's log and every file under the throwaway HOME (config
dir included) for the client secret, the access and refresh tokens and the codes the simulator
issued. Saves a screenshot to $E2E_ARTIFACTS.
"""

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

APP = os.environ["TAURI_APP"]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", "artifacts"))
HOME = Path(os.environ["HOME"])
LOGS = [Path(p) for p in os.environ.get("E2E_SCAN_LOGS", "").split(":") if p]
REDIRECT_PORT = os.environ["SNCONNECT_REDIRECT_PORT"]

# `__TAURI_INTERNALS__.invoke` is non-writable (the page cannot hook IPC), so record one layer
# down: Tauri's IPC transport is a fetch to the `ipc` custom protocol. Every response body
# (and rejection) the window receives is kept.
RECORD_IPC = """
if (window.__ipcLog) { return 'already'; }
window.__ipcLog = [];
const original = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : (input && input.url) || String(input);
  const response = await original(input, init);
  if (/^(ipc:|https?:\\/\\/ipc\\.localhost)/.test(url)) {
    const body = await response.clone().text();
    window.__ipcLog.push({cmd: decodeURIComponent(url.split('/').pop()), status: response.status, body});
  }
  return response;
};
return window.fetch === original ? 'not-installed' : 'installed';
"""


def step(msg):
    print(f"[e2e] {msg}", flush=True)


def main():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opts = ArgOptions()
    opts.set_capability("browserName", "wry")
    opts.set_capability("tauri:options", {"application": APP})
    driver = webdriver.Remote(command_executor="http://127.0.0.1:4444", options=opts)
    try:
        run(driver)
    except Exception:
        try:
            driver.save_screenshot(str(ARTIFACTS / "e2e-failure.png"))
            (ARTIFACTS / "e2e-failure.html").write_text(driver.page_source)
        except Exception:
            pass
        raise
    finally:
        driver.quit()


def run(driver):
    wait = WebDriverWait(driver, 20)
    by_id = lambda i: driver.find_element(By.ID, i)  # noqa: E731

    def visible(i):
        wait.until(lambda d: d.find_element(By.ID, i).is_displayed())
        return by_id(i)

    def click(i):
        el = visible(i)
        wait.until(lambda d: d.find_element(By.ID, i).is_enabled())
        el.click()

    wait.until(lambda d: d.find_element(By.ID, "instance-input").get_attribute("value"))
    assert visible("demo-banner").text.strip(), "demo banner is empty"
    installed = driver.execute_script(RECORD_IPC)
    assert installed == "installed", f"could not record IPC responses: {installed}"

    instance = by_id("instance-input").get_attribute("value")
    step(f"demo instance {instance}")
    assert instance.startswith("http://127.0.0.1:"), instance

    # The embedded simulator's control API (reserved path, never on a real instance).
    def sim(path):
        with urllib.request.urlopen(instance.rstrip("/") + path, timeout=10) as r:
            return json.loads(r.read())

    clients = sim("/__snsim/clients")
    confidential = next(c for c in clients["clients"] if not c["public_client"])

    click("instance-next")
    click("plugins-next")
    redirect = visible("redirect-url").text.strip()
    assert redirect == f"http://127.0.0.1:{REDIRECT_PORT}/callback", redirect
    click("register-next")

    visible("client-id")
    if by_id("public-client").is_selected():
        by_id("public-client").click()
    by_id("client-id").clear()
    by_id("client-id").send_keys(confidential["client_id"])
    visible("client-secret").send_keys(confidential["client_secret"])
    click("client-next")
    step("client set (confidential)")

    click("consent-start")
    assert visible("authorize-url").text.strip().startswith(instance + "oauth_auth.do?"), by_id("authorize-url").text
    WebDriverWait(driver, 90).until(lambda d: d.find_element(By.ID, "connected-as").text.startswith("Connected as "))
    connected = by_id("connected-as").text
    step(connected)
    assert connected == "Connected as System Administrator (admin)", connected
    assert by_id("client-secret").get_attribute("value") == "", "the secret input was not cleared"

    by_id("save-name").clear()
    by_id("save-name").send_keys("demo-e2e")
    click("save-connection")
    WebDriverWait(driver, 30).until(lambda d: "keychain" in d.find_element(By.ID, "save-status").text.lower())
    step(f"saved: {by_id('save-status').text}")

    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
    )
    driver.save_screenshot(str(ARTIFACTS / "e2e-connected.png"))
    step(f"screenshot {ARTIFACTS / 'e2e-connected.png'}")

    ipc_log = driver.execute_script("return JSON.stringify(window.__ipcLog);")
    entries = json.loads(ipc_log)
    cmds = [e["cmd"] for e in entries]
    for needed in ("set_client", "begin_consent", "finish_consent", "save_connection"):
        assert needed in cmds, f"{needed} not recorded: {cmds}"
    # The recorded bodies are the real responses (so the scan below looks at what the window got).
    finish = next(e for e in entries if e["cmd"] == "finish_consent")
    assert json.loads(finish["body"])["user_name"] == "admin", finish

    profile = HOME / ".config" / "snconnect" / "profiles.json"
    if "SNCONNECT_CONFIG_DIR" in os.environ:
        profile = Path(os.environ["SNCONNECT_CONFIG_DIR"]) / "profiles.json"
    saved = json.loads(profile.read_text())
    assert saved["schema_version"] == 1 and saved["profiles"][0]["name"] == "demo-e2e", saved

    secrets = sim("/__snsim/issued")["secrets"]
    assert confidential["client_secret"] in secrets, "the client secret must be among the scanned values"
    assert len(secrets) >= 4, f"expected a client secret, a code and two tokens, got {len(secrets)} values"
    scan(secrets, ipc_log)
    step(f"no secret found in IPC responses, logs or {HOME} ({len(secrets)} values checked)")


def scan(secrets, ipc_log):
    haystacks = [("IPC responses", ipc_log)]
    for log in LOGS:
        if log.exists():
            haystacks.append((str(log), log.read_text(errors="replace")))
    files = 0
    for path in HOME.rglob("*"):
        # The keyring file is included: it is encrypted at rest, so no value may show in it.
        if path.is_file():
            files += 1
            haystacks.append((str(path), path.read_bytes().decode("utf-8", errors="replace")))
    assert files > 0, "nothing under HOME was scanned"
    for s in secrets:
        for name, text in haystacks:
            assert s not in text, f"a secret ({s[:4]}…) leaked into {name}"


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"[e2e] FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    print("[e2e] 1 passed, 0 failed")
