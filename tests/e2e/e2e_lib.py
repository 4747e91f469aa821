"""Shared pieces of the WebDriver suite: one app session per scenario, controls found by
`data-testid`, user actions counted, a screenshot of every step, every IPC response recorded
for the secret scan, and the demo simulator's control and Table APIs.
"""

import base64
import json
import os
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

APP = os.environ["TAURI_APP"]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", "artifacts"))
HOME = Path(os.environ["HOME"])
REDIRECT_PORT = os.environ["SNCONNECT_REDIRECT_PORT"]
MODE_FILE = Path(os.environ["STANDIN_MODE_FILE"])
DEMO_ADMIN = ("admin", "Admin#1234")  # the simulator's seeded demo account (its login page shows it)

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

INVOKE = """
const done = arguments[arguments.length - 1];
window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1] || {})
  .then((v) => done({ok: v}), (e) => done({err: e}));
"""

# Every visible control without an accessible name (label, aria-label, aria-labelledby, text).
UNNAMED_CONTROLS = """
const bad = [];
for (const el of document.querySelectorAll('button, input, select, textarea, a[href], [role=button]')) {
  if (el.type === 'hidden' || el.offsetParent === null) continue;
  let name = el.getAttribute('aria-label') || '';
  const by = el.getAttribute('aria-labelledby');
  if (!name && by) name = by.split(' ').map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
  if (!name && el.labels && el.labels.length) name = Array.from(el.labels).map((l) => l.textContent).join(' ');
  if (!name && (el.tagName === 'BUTTON' || el.tagName === 'A')) name = el.textContent;
  if (!name) name = el.getAttribute('title') || '';
  if (!name.trim()) bad.push(el.outerHTML.slice(0, 160));
}
return bad;
"""

# Every IPC response of every scenario, for the final scan.
IPC_BODIES = []


CLI = os.environ.get("SNCONNECT_CLI", "")


def cli(*args, password=None, secret=None):
    """The snconnect CLI on the same config dir and keychain as the app (another process)."""
    import subprocess

    env = dict(os.environ)
    env.pop("SNCONNECT_PASSWORD", None)
    env.pop("SNCONNECT_CLIENT_SECRET", None)
    if password:
        env["SNCONNECT_PASSWORD"] = password
    if secret:
        env["SNCONNECT_CLIENT_SECRET"] = secret
    r = subprocess.run([CLI, "--json", *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else {}), r.stderr


def step(msg):
    print(f"[e2e] {msg}", flush=True)


def browser(mode):
    """What the browser stand-in does at its next launch: allow, deny, stall, capture FILE."""
    MODE_FILE.write_text(mode + "\n")


class Session:
    """One launch of the app (tauri-driver starts it for the session, ends it on quit)."""

    def __init__(self, scenario, args=("--demo",)):
        self.scenario = scenario
        self.actions = 0
        self.shots = 0
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": APP, "args": list(args)})
        self.driver = webdriver.Remote(command_executor="http://127.0.0.1:4444", options=opts)
        self.wait = WebDriverWait(self.driver, 30, ignored_exceptions=(StaleElementReferenceException,))
        # The start screen, or the dashboard once connections are saved.
        WebDriverWait(self.driver, 30).until(lambda d: self.exists("start-migrate") or self.exists("saved-list"))
        installed = self.driver.execute_script(RECORD_IPC)
        assert installed == "installed", f"could not record IPC responses: {installed}"
        info = self.invoke("app_info")
        self.info = info
        self.instance = (info.get("demo") or {}).get("instance")
        if self.exists("saved-list"):
            self.click("saved-home", count=False)
            self.wait_tid("start-migrate")

    # ------------------------------------------------------------------ controls

    def css(self, tid):
        return f'[data-testid="{tid}"]'

    def find(self, tid):
        return self.driver.find_element(By.CSS_SELECTOR, self.css(tid))

    def all(self, prefix):
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid^="{prefix}"]')

    def exists(self, tid):
        return bool(self.driver.find_elements(By.CSS_SELECTOR, self.css(tid)))

    def wait_tid(self, tid, timeout=30):
        WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, self.css(tid))
            and d.find_element(By.CSS_SELECTOR, self.css(tid)).is_displayed()
        )
        return self.find(tid)

    def wait_text(self, tid, predicate, timeout=30):
        WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, self.css(tid))
            and predicate(d.find_element(By.CSS_SELECTOR, self.css(tid)).text)
        )
        return self.find(tid).text

    def click(self, tid, count=True, timeout=30):
        """A user action: a click on an enabled control."""
        el = self.wait_tid(tid, timeout)
        WebDriverWait(self.driver, timeout).until(lambda d: self.find(tid).is_enabled())
        self.find(tid).click()
        if count:
            self.actions += 1
        return el

    def type(self, tid, text, submit=False):
        """Typing is not an action; submitting the field with Enter is."""
        el = self.wait_tid(tid)
        el.clear()
        el.send_keys(text)
        if submit:
            el.send_keys(Keys.ENTER)
            self.actions += 1
        return el

    def key_to(self, tid, key=Keys.ENTER, limit=60):
        """Keyboard only: Tab (then Shift+Tab) from wherever focus is until `tid` has it, then
        press `key`. Proves the control is reachable and works without a mouse."""
        self.wait_tid(tid)
        for direction in (Keys.TAB, Keys.SHIFT + Keys.TAB):
            for _ in range(limit):
                active = self.driver.switch_to.active_element
                if active.get_attribute("data-testid") == tid:
                    active.send_keys(key)
                    self.actions += 1
                    return
                active.send_keys(direction)
        raise AssertionError(f"{tid} cannot be reached with the keyboard")

    def select(self, tid, value):
        el = self.wait_tid(tid)
        self.driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            el,
            value,
        )

    def shot(self, name):
        """A screenshot of the current step in artifacts/ (two frames after the last change)."""
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
        )
        self.shots += 1
        path = ARTIFACTS / f"{self.scenario}-{self.shots:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        unnamed = self.driver.execute_script(UNNAMED_CONTROLS)
        assert not unnamed, f"controls without an accessible name on {name}: {unnamed}"
        return path

    def invoke(self, cmd, args=None):
        r = self.driver.execute_async_script(INVOKE, cmd, args or {})
        if "err" in r:
            raise AssertionError(f"{cmd} rejected: {r['err']}")
        return r["ok"]

    # ------------------------------------------------------------------ simulator

    def sim(self, path, body=None):
        """The demo simulator's control API (reserved path, never on a real instance)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.instance.rstrip("/") + path, data=data, method="POST" if data else "GET")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
        return json.loads(text) if text else None

    def table(self, path, method="GET", body=None):
        """The simulator's Table API as the demo admin."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.instance.rstrip("/") + "/api/now/table/" + path, data=data, method=method)
        token = base64.b64encode(f"{DEMO_ADMIN[0]}:{DEMO_ADMIN[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        req.add_header("Accept", "application/json")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
        return json.loads(text) if text else None

    def issued(self):
        return self.sim("/__snsim/issued")["secrets"]

    # ------------------------------------------------------------------ end

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)
        return False

    def close(self, failed=False):
        try:
            if failed:
                self.driver.save_screenshot(str(ARTIFACTS / f"{self.scenario}-failure.png"))
                (ARTIFACTS / f"{self.scenario}-failure.html").write_text(self.driver.page_source)
            log = self.driver.execute_script("return JSON.stringify(window.__ipcLog || []);")
            IPC_BODIES.append(log)
        except WebDriverException:
            pass
        finally:
            self.driver.quit()


def scan(secrets, logs, required=("set_instance",)):
    """No secret in any IPC response, log, or file under HOME (the keyring file included: it
    is encrypted at rest, so no value may show in it either)."""
    # The recorded bodies are the real responses (so the scan looks at what the window got).
    recorded = [json.loads(b) for b in IPC_BODIES]
    cmds = {e["cmd"] for log in recorded for e in log}
    for needed in required:
        assert needed in cmds, f"{needed} was not recorded: {sorted(cmds)}"
    haystacks = [(f"IPC responses {i}", b) for i, b in enumerate(IPC_BODIES)]
    for log in logs:
        if log.exists():
            haystacks.append((str(log), log.read_text(errors="replace")))
    files = 0
    for path in HOME.rglob("*"):
        if path.is_file():
            files += 1
            haystacks.append((str(path), path.read_bytes().decode("utf-8", errors="replace")))
    assert files > 0, "nothing under HOME was scanned"
    for s in secrets:
        for name, text in haystacks:
            assert s not in text, f"a secret ({s[:4]}…) leaked into {name}"
    return files


def wait_until(predicate, timeout=30, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if predicate():
                return
        except (NoSuchElementException, StaleElementReferenceException):
            pass  # the screen is being replaced: look again
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
