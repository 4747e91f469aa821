#!/usr/bin/env python3
"""A stand-in for a person in a web browser, for end-to-end OAuth tests (stdlib only).

Usage (as $BROWSER):  browser_standin.py <authorize-url>

It GETs the authorize URL keeping cookies; if it sees the login form it fills
`user_name`/`user_password` from $STANDIN_USER (default admin) / $STANDIN_PASSWORD
(default Admin#1234) and submits it; on the consent page it submits the form with
`action` = $STANDIN_ACTION (default allow); then it follows the 302 to the loopback
redirect URI and GETs it. Exit 0 once the callback answered, non-zero otherwise.

Two kinds of authorization server are understood, told apart by their forms:
  - the ServiceNow simulator (snsim): a login form with `user_name`/`user_password`,
    a consent form with submit buttons `action=allow` / `action=deny`;
  - oidc-provider (tests/oauth-server, and oidc-provider's stock devInteractions): a
    login form with a hidden `prompt=login` and `login`/`password` fields, a consent form
    with a hidden `prompt=consent`. To allow, it presses the button whose value is
    `allow` (or the form's only button, e.g. devInteractions' "Continue"); to deny, the
    button whose value is `deny`, else the page's "[ Cancel ]" link to …/abort.

Environment:
  STANDIN_CA_FILE   PEM file of a CA to trust (verification is never disabled)
  STANDIN_LOG       append one short line per step to this file (never codes,
                    tokens, states or passwords)
  STANDIN_TIMEOUT   per-request timeout in seconds (default 20)
  STANDIN_MODE_FILE a file whose first line, when present, decides what the person does
                    (read at every launch, so one long-running app can be driven through
                    several scenarios): `allow` / `deny` (as STANDIN_ACTION), `stall` (the
                    browser never comes back), or `capture FILE` (sign in and approve, but
                    do not reach the loopback: write the address the browser ended on to
                    FILE, for the "paste the address" fallback)
"""

import html.parser
import http.cookiejar
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_STEPS = 12


class StandinError(Exception):
    pass


def log(step):
    path = os.environ.get("STANDIN_LOG")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write("browser_standin: " + step + "\n")
    except OSError:
        pass


def redact(url):
    """scheme://host:port/path only: the query can hold codes, states or challenges."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class Form:
    def __init__(self, attrs):
        self.attrs = attrs
        self.fields = []  # (name, value) of named inputs, in document order
        self.buttons = []  # (name, value, id, text-so-far)


class FormParser(html.parser.HTMLParser):
    """Collects every <form> with its <input>s and submit <button>s."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.links = []  # href of every <a>, in document order
        self.current = None
        self.in_button = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            self.current = Form(a)
            self.forms.append(self.current)
        elif tag == "input" and self.current is not None:
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self.current.buttons.append([a.get("name", ""), a.get("value", ""), a.get("id", ""), ""])
            elif "name" in a and kind not in ("button", "reset", "image", "file"):
                self.current.fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and self.current is not None:
            kind = a.get("type", "submit").lower()
            if kind == "submit":
                self.in_button = [a.get("name", ""), a.get("value", ""), a.get("id", ""), ""]
                self.current.buttons.append(self.in_button)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "button":
            self.in_button = None

    def handle_data(self, data):
        if self.in_button is not None:
            self.in_button[3] += data


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by hand, so each step can be checked and logged."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def build_opener():
    cafile = os.environ.get("STANDIN_CA_FILE")
    context = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(jar),
        urllib.request.HTTPSHandler(context=context),
        NoRedirect(),
    )


def fetch(opener, url, data=None, timeout=20.0):
    """Return (status, headers, body-text, final-url); 3xx and 4xx/5xx are returned, not raised."""
    body = None
    headers = {"User-Agent": "snconnect-browser-standin/1", "Accept": "text/html,*/*"}
    if data is not None:
        body = urllib.parse.urlencode(data).encode("utf-8")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if data is not None else "GET")
    try:
        with opener.open(req, timeout=timeout) as res:
            return res.status, res.headers, res.read().decode("utf-8", "replace"), url
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace") if e.fp else ""
        return e.code, e.headers, text, url


def find_form(forms, predicate):
    for f in forms:
        if predicate(f):
            return f
    return None


def submit(opener, page_url, form, button, extra, timeout):
    action = form.attrs.get("action") or page_url
    target = urllib.parse.urljoin(page_url, action)
    fields = list(form.fields)
    for name, value in extra.items():
        fields = [(k, v) for k, v in fields if k != name] + [(name, value)]
    if button is not None and button[0]:
        fields.append((button[0], button[1]))
    method = form.attrs.get("method", "get").lower()
    if method == "post":
        return fetch(opener, target, data=fields, timeout=timeout)
    sep = "&" if "?" in target else "?"
    return fetch(opener, target + sep + urllib.parse.urlencode(fields), timeout=timeout)


def has_field(form, name, value=None):
    return any(k == name and (value is None or v == value) for k, v in form.fields)


def is_oidc_login(form):
    """oidc-provider's login form: hidden prompt=login, a `login` and a `password` field."""
    return has_field(form, "prompt", "login") and has_field(form, "login") and has_field(form, "password")


def is_oidc_consent(form):
    """oidc-provider's consent form: hidden prompt=consent."""
    return has_field(form, "prompt", "consent")


def is_callback(start_url, url):
    """A redirect leaving the instance for a plain-http loopback listener (the app's redirect URI)."""
    target = urllib.parse.urlsplit(url)
    instance = urllib.parse.urlsplit(start_url)
    return (
        target.scheme == "http"
        and target.hostname in ("127.0.0.1", "localhost", "::1")
        and (target.scheme, target.netloc) != (instance.scheme, instance.netloc)
    )


def mode():
    """(action, capture file) from STANDIN_MODE_FILE, else from STANDIN_ACTION."""
    path = os.environ.get("STANDIN_MODE_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            words = (f.readline().strip() or "allow").split(None, 1)
        if words[0] == "capture":
            return "allow", words[1] if len(words) > 1 else None
        return words[0], None
    return os.environ.get("STANDIN_ACTION", "allow"), None


def run(start_url):
    user = os.environ.get("STANDIN_USER", "admin")
    password = os.environ.get("STANDIN_PASSWORD", "Admin#1234")
    action, capture = mode()
    if action == "stall":
        log("stall: the browser never comes back")
        return 0
    timeout = float(os.environ.get("STANDIN_TIMEOUT", "20"))
    opener = build_opener()

    url = start_url
    status, headers, text, _ = fetch(opener, url, timeout=timeout)
    log("GET %s -> %d" % (redact(url), status))
    logged_in = False

    for _ in range(MAX_STEPS):
        if 300 <= status < 400:
            location = headers.get("Location")
            if not location:
                raise StandinError("redirect %d without Location" % status)
            nxt = urllib.parse.urljoin(url, location)
            parts = urllib.parse.urlsplit(nxt)
            if is_callback(start_url, nxt) and capture:
                with open(capture, "w", encoding="utf-8") as f:
                    f.write(nxt)
                log("captured the callback address instead of reaching the loopback")
                return 0
            if is_callback(start_url, nxt):
                status, cb_headers, _, _ = fetch(opener, nxt, timeout=timeout)
                log("callback GET %s -> %d" % (redact(nxt), status))
                # Like a browser: follow the listener's redirect to its clean end page.
                if 300 <= status < 400 and cb_headers.get("Location"):
                    end = urllib.parse.urljoin(nxt, cb_headers["Location"])
                    end_status, _, _, _ = fetch(opener, end, timeout=timeout)
                    log("end page GET %s -> %d" % (redact(end), end_status))
                return 0
            url = nxt
            status, headers, text, _ = fetch(opener, url, timeout=timeout)
            log("follow GET %s -> %d" % (redact(url), status))
            continue

        if status != 200:
            raise StandinError("unexpected HTTP %d at %s" % (status, redact(url)))

        parser = FormParser()
        parser.feed(text)
        login_form = find_form(parser.forms, lambda f: any(k == "user_password" for k, _ in f.fields))
        consent_form = find_form(parser.forms, lambda f: any(b[0] == "action" for b in f.buttons))
        oidc_login_form = find_form(parser.forms, is_oidc_login)
        oidc_consent_form = find_form(parser.forms, is_oidc_consent)

        if login_form is not None:
            if logged_in:
                raise StandinError("login failed (the login form came back)")
            button = login_form.buttons[0] if login_form.buttons else None
            status, headers, text, url = submit(
                opener, url, login_form, button, {"user_name": user, "user_password": password}, timeout
            )
            logged_in = True
            log("submit login form -> %d" % status)
            continue

        if consent_form is not None:
            button = next((b for b in consent_form.buttons if b[0] == "action" and b[1] == action), None)
            if button is None:
                raise StandinError("the consent page has no %r button" % action)
            status, headers, text, url = submit(opener, url, consent_form, button, {}, timeout)
            log("submit consent form action=%s -> %d" % (action, status))
            continue

        if oidc_login_form is not None:
            if logged_in:
                raise StandinError("login failed (the login form came back)")
            button = oidc_login_form.buttons[0] if oidc_login_form.buttons else None
            status, headers, text, url = submit(
                opener, url, oidc_login_form, button, {"login": user, "password": password}, timeout
            )
            logged_in = True
            log("submit login form (oidc-provider) -> %d" % status)
            continue

        if oidc_consent_form is not None:
            buttons = oidc_consent_form.buttons
            button = next((b for b in buttons if b[0] and b[1] == action), None)
            if button is None and action == "allow" and len(buttons) <= 1:
                button = buttons[0] if buttons else None  # devInteractions: one "Continue" button
            elif button is None and action == "deny":
                abort = next((h for h in parser.links if urllib.parse.urlsplit(h).path.endswith("/abort")), None)
                if abort is None:
                    raise StandinError("the consent page has no deny button and no cancel link")
                url = urllib.parse.urljoin(url, abort)
                status, headers, text, _ = fetch(opener, url, timeout=timeout)
                log("follow cancel link (oidc-provider) action=deny -> %d" % status)
                continue
            elif button is None:
                raise StandinError("the consent page has no %r button" % action)
            status, headers, text, url = submit(opener, url, oidc_consent_form, button, {}, timeout)
            log("submit consent form (oidc-provider) action=%s -> %d" % (action, status))
            continue

        snippet = " ".join(text.split())[:200]
        raise StandinError("page without a login or consent form at %s: %s" % (redact(url), snippet))

    raise StandinError("too many steps")


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: browser_standin.py <authorize-url>\n")
        return 2
    try:
        return run(argv[1])
    except StandinError as e:
        log("failed: %s" % e)
        sys.stderr.write("browser_standin: %s\n" % e)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as e:
        log("failed: %s" % type(e).__name__)
        sys.stderr.write("browser_standin: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
