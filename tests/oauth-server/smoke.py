#!/usr/bin/env python3
"""End-to-end smoke test of tests/oauth-server/server.mjs and tests/support/browser_standin.py.

Standalone (python stdlib only, no Rust): `cd tests/oauth-server && npm ci && python3 smoke.py`.
Exits 0 when every check passed. It never prints a token, code or secret.

What it proves, against the real oidc-provider server on loopback:
  1. auth code + PKCE for the public client, with the browser stand-in submitting the
     login and consent forms and following the redirect to a local callback listener;
     code exchange, refresh (rotated), RFC 7009 revocation of the refresh token, and RFC
     7662 introspection by the confidential client showing it (and its access token) dead;
  2. auth code for the confidential client (client_secret_post for the exchange,
     client_secret_basic for the refresh, no rotation), revoking its access token (which
     kills its refresh token too); any scope gets a refresh token, offline_access is
     granted only with prompt=consent;
  3. client_credentials for the confidential client, introspection, revocation;
  4. strictness: unknown client, missing PKCE, wrong redirect_uri, wrong / missing
     code_verifier, reused code (which also kills the tokens issued from it), reused
     rotated refresh token, wrong client secret, both auth methods at once, wrong password,
     a denied consent;
  5. GET /__test/events counts all of it; SIGTERM exits 0 and removes the secret file.
"""

import base64
import hashlib
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STANDIN = os.path.join(ROOT, "tests", "support", "browser_standin.py")
SCOPE = "openid offline_access"
TIMEOUT = 20

CHECKS = 0


def check(cond, what):
    global CHECKS
    if not cond:
        raise AssertionError(what)
    CHECKS += 1


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())


def request(url, form=None, basic=None):
    """Return (status, headers, body bytes); never raises for HTTP status codes."""
    headers = {"Accept": "application/json"}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if basic is not None:
        user, pw = (urllib.parse.quote(x, safe="") for x in basic)
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if form is not None else "GET")
    try:
        with OPENER.open(req, timeout=TIMEOUT) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read() if e.fp else b""


def errinfo(body):
    """Only the error fields of a token endpoint answer: never print a token."""
    return {k: body[k] for k in ("error", "error_description") if k in body}


def post_json(url, form, basic=None):
    status, _, body = request(url, form, basic)
    try:
        return status, json.loads(body) if body else {}
    except ValueError:
        return status, {"_raw": body[:200].decode("utf-8", "replace")}


class Server:
    def __init__(self, redirect_uris):
        args = ["node", os.path.join(HERE, "server.mjs"), "--port", "0"]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        self.proc = subprocess.Popen(
            args, cwd=HERE, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.info = {}
        self.stderr_lines = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        deadline = time.monotonic() + 30
        lines = []
        reader = threading.Thread(target=self._read_ready, args=(lines,), daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if "ready" not in lines:
            self.stop()
            raise AssertionError("server did not print ready: %r %s" % (lines, "".join(self.stderr_lines)))
        for line in lines:
            if "=" in line:
                k, v = line.split("=", 1)
                self.info[k] = v
        with open(self.info["confidential_client_secret_file"], encoding="utf-8") as f:
            self.secret = f.read().strip()
        mode = os.stat(self.info["confidential_client_secret_file"]).st_mode & 0o777
        check(mode == 0o600, "secret file mode is %o" % mode)

    def _read_ready(self, lines):
        for line in self.proc.stdout:
            lines.append(line.strip())
            if line.strip() == "ready":
                return

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def __getitem__(self, key):
        return self.info[key]

    def events(self):
        status, _, body = request(self.info["issuer"] + "/__test/events")
        check(status == 200, "events endpoint answered %d" % status)
        return json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


class Callback:
    """The app's loopback redirect listener: records each request's query string."""

    def __init__(self, port):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                hits.append((parts.path, dict(urllib.parse.parse_qsl(parts.query))))
                body = b"<html><body>You can close this window.</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(srv, client_id, redirect, state, challenge=None, scope=SCOPE, **extra):
    q = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": scope,
        "state": state,
    }
    if challenge is not None:
        q["code_challenge"] = challenge
        q["code_challenge_method"] = "S256"
    q.update(extra)
    return srv["authorization_endpoint"] + "?" + urllib.parse.urlencode(q)


def run_standin(url, log, **env):
    e = dict(os.environ, STANDIN_LOG=log)
    for k in ("STANDIN_USER", "STANDIN_PASSWORD", "STANDIN_ACTION", "STANDIN_CA_FILE"):
        e.pop(k, None)
    e.update(env)
    return subprocess.run(
        [sys.executable, STANDIN, url], env=e, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )


def browse(srv, cb, url, log, state, **env):
    """Run the stand-in and return the callback's query parameters."""
    before = len(cb.hits)
    out = run_standin(url, log, **env)
    check(out.returncode == 0, "stand-in failed (%d): %s" % (out.returncode, out.stderr.strip()))
    check(len(cb.hits) == before + 1, "the callback was not hit exactly once")
    path, params = cb.hits[-1]
    check(path == "/callback", "callback path %s" % path)
    check(params.get("state") == state, "state did not round-trip")
    check(params.get("iss") == srv["issuer"], "iss (RFC 9207) is %r" % params.get("iss"))
    return params


def introspect(srv, token, hint=None):
    form = {"token": token}
    if hint:
        form["token_type_hint"] = hint
    status, body = post_json(
        srv["introspection_endpoint"], form, basic=(srv["confidential_client_id"], srv.secret)
    )
    check(status == 200, "introspection answered %d %s" % (status, body.get("error")))
    return body


def main():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "oidc-provider")):
        sys.stderr.write("node_modules missing: run `npm ci` in tests/oauth-server (or scripts/setup.sh --test)\n")
        return 2
    port = free_port()
    redirect = "http://127.0.0.1:%d/callback" % port
    tmp = tempfile.mkdtemp(prefix="snconnect-smoke-")
    log = os.path.join(tmp, "standin.log")
    cb = Callback(port)
    srv = Server([redirect])
    issued = []  # every secret value seen, to check the stand-in's log
    try:
        pub = srv["public_client_id"]
        conf = srv["confidential_client_id"]
        token_url = srv["token_endpoint"]
        revoke_url = srv["revocation_endpoint"]
        issued.append(srv.secret)

        # ---- 1. public client: auth code + PKCE, refresh, revoke -----------------------
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        params = browse(srv, cb, authorize_url(srv, pub, redirect, state, challenge), log, state)
        code = params.get("code")
        check(code, "no code in the callback: %s" % params.get("error"))
        issued.append(code)
        status, tok = post_json(
            token_url,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": pub,
                "code_verifier": verifier,
            },
        )
        check(status == 200, "code exchange answered %d %s" % (status, errinfo(tok)))
        check(tok.get("token_type", "").lower() == "bearer", "token_type")
        check(isinstance(tok.get("expires_in"), int) and tok["expires_in"] > 0, "expires_in")
        check(tok.get("refresh_token"), "no refresh token for scope %r (granted %r)" % (SCOPE, tok.get("scope")))
        # OIDC Core §11: offline_access is granted only with prompt=consent (not sent here).
        check(tok.get("scope") == "openid", "granted scope %r" % tok.get("scope"))
        at1, rt1 = tok["access_token"], tok["refresh_token"]
        issued += [at1, rt1, tok.get("id_token", "")]
        check(srv.events()["grants"]["authorization_code"] == 1, "one authorization_code grant")

        status, tok = post_json(token_url, {"grant_type": "refresh_token", "refresh_token": rt1, "client_id": pub})
        check(status == 200, "refresh answered %d %s" % (status, errinfo(tok)))
        at2, rt2 = tok["access_token"], tok.get("refresh_token")
        issued += [at2, rt2 or ""]
        check(rt2 and rt2 != rt1, "a public client's refresh token is rotated")
        ev = srv.events()
        check(ev["grants"]["refresh_token"] == 1, "one refresh_token grant")
        check(ev["refresh_tokens_rotated"] == 1, "one rotation")
        check(introspect(srv, rt1, "refresh_token").get("active") is False, "the rotated refresh token is spent")
        info = introspect(srv, rt2, "refresh_token")
        check(info.get("active") is True and info.get("client_id") == pub, "the new refresh token is active")

        status, body, _ = request(
            revoke_url, {"token": rt2, "token_type_hint": "refresh_token", "client_id": pub}
        )
        check(status == 200, "revocation answered %d" % status)
        ev = srv.events()
        check(ev["revoked"]["refresh_token"] == 1, "the refresh token was revoked server-side: %s" % ev["revoked"])
        check(ev["grants_revoked"] == 1, "revoking the refresh token revoked its grant")
        check(introspect(srv, rt2, "refresh_token").get("active") is False, "revoked refresh token is inactive")
        check(introspect(srv, at2).get("active") is False, "its grant's access token died with it")
        status, tok = post_json(token_url, {"grant_type": "refresh_token", "refresh_token": rt2, "client_id": pub})
        check(status == 400 and tok.get("error") == "invalid_grant", "refresh after revocation: %d %s" % (status, errinfo(tok)))

        # ---- 2. confidential client: auth code (no PKCE), post then basic -------------
        state = secrets.token_urlsafe(16)
        params = browse(srv, cb, authorize_url(srv, conf, redirect, state), log, state)
        code = params["code"]
        issued.append(code)
        status, tok = post_json(
            token_url,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": conf,
                "client_secret": srv.secret,
            },
        )
        check(status == 200, "confidential exchange (client_secret_post) %d %s" % (status, errinfo(tok)))
        check(tok.get("refresh_token"), "the confidential client got a refresh token")
        crt = tok["refresh_token"]
        issued += [tok["access_token"], crt, tok.get("id_token", "")]
        status, tok = post_json(token_url, {"grant_type": "refresh_token", "refresh_token": crt}, basic=(conf, srv.secret))
        check(status == 200, "confidential refresh (client_secret_basic) %d %s" % (status, errinfo(tok)))
        issued += [tok["access_token"], tok.get("refresh_token", "")]
        check(tok.get("refresh_token") == crt, "a young confidential refresh token is not rotated")
        check(srv.events()["grants"]["refresh_token"] == 2, "two refresh_token grants")
        cat = tok["access_token"]
        status, _, _ = request(revoke_url, {"token": cat, "token_type_hint": "access_token"}, basic=(conf, srv.secret))
        check(status == 200, "access token revocation %d" % status)
        check(introspect(srv, cat).get("active") is False, "revoked access token is inactive")
        # oidc-provider revokes every token of the grant (RFC 7009 §2.1 allows it), but keeps
        # the grant itself (revokeGrantPolicy): the refresh token dies with the access token.
        check(introspect(srv, crt).get("active") is False, "revoking an access token kills its refresh token")
        ev = srv.events()
        check(ev["revoked"]["access_token"] == 1, "one access token revoked")
        check(ev["grants_revoked"] == 1, "an access token's revocation keeps the grant")

        # ---- 2b. scopes: any scope gets a refresh token; offline_access needs prompt=consent
        for scope, extra, granted in (
            ("api", {}, "api"),
            ("openid offline_access", {"prompt": "consent"}, "openid offline_access"),
        ):
            verifier, challenge = pkce_pair()
            state = secrets.token_urlsafe(16)
            params = browse(srv, cb, authorize_url(srv, pub, redirect, state, challenge, scope, **extra), log, state)
            issued.append(params["code"])
            status, tok = post_json(token_url, {
                "grant_type": "authorization_code", "code": params["code"], "redirect_uri": redirect,
                "client_id": pub, "code_verifier": verifier,
            })
            check(status == 200 and tok.get("refresh_token"), "scope %r: %d %s" % (scope, status, errinfo(tok)))
            check(tok.get("scope") == granted, "scope %r granted %r" % (scope, tok.get("scope")))
            issued += [tok["access_token"], tok["refresh_token"], tok.get("id_token", "")]

        # ---- 3. client credentials ------------------------------------------------------
        status, tok = post_json(token_url, {"grant_type": "client_credentials", "scope": "api"}, basic=(conf, srv.secret))
        check(status == 200, "client_credentials (basic) %d %s" % (status, errinfo(tok)))
        check("refresh_token" not in tok, "no refresh token for client_credentials")
        cc = tok["access_token"]
        issued.append(cc)
        info = introspect(srv, cc, "access_token")
        check(info.get("active") is True and info.get("client_id") == conf, "client_credentials token is active")
        status, tok = post_json(
            token_url, {"grant_type": "client_credentials", "client_id": conf, "client_secret": srv.secret}
        )
        check(status == 200, "client_credentials (post) %d %s" % (status, errinfo(tok)))
        issued.append(tok["access_token"])
        status, _, _ = request(
            revoke_url,
            {"token": cc, "token_type_hint": "access_token", "client_id": conf, "client_secret": srv.secret},
        )
        check(status == 200, "client_credentials revocation %d" % status)
        check(introspect(srv, cc).get("active") is False, "revoked client_credentials token is inactive")
        ev = srv.events()
        check(ev["revoked"]["client_credentials"] == 1, "client_credentials revoked: %s" % ev["revoked"])
        check(ev["grants"]["client_credentials"] == 2, "two client_credentials grants")

        # ---- 4. strictness --------------------------------------------------------------
        verifier, challenge = pkce_pair()
        status, _, _ = request(authorize_url(srv, "no-such-client", redirect, "s", challenge))
        check(status == 400, "unknown client at authorize: %d" % status)
        status, headers, _ = request(authorize_url(srv, pub, redirect, "s"))
        loc = urllib.parse.urlsplit(headers.get("Location") or "")
        err = dict(urllib.parse.parse_qsl(loc.query)).get("error")
        check(status in (302, 303) and err == "invalid_request", "public client without PKCE: %d %s" % (status, err))
        other = "http://127.0.0.1:%d/elsewhere" % port
        status, headers, _ = request(authorize_url(srv, pub, other, "s", challenge))
        check(status == 400 and not headers.get("Location"), "wrong redirect_uri (public): %d" % status)
        status, headers, _ = request(authorize_url(srv, conf, other, "s"))
        check(status == 400 and not headers.get("Location"), "wrong redirect_uri (confidential): %d" % status)
        q = {"response_type": "code", "client_id": pub, "scope": SCOPE, "state": "s",
             "code_challenge": challenge, "code_challenge_method": "S256"}
        status, headers, _ = request(srv["authorization_endpoint"] + "?" + urllib.parse.urlencode(q))
        check(status == 400 and not headers.get("Location"), "missing redirect_uri: %d" % status)
        q.update(redirect_uri=redirect, code_challenge_method="plain")
        status, headers, _ = request(srv["authorization_endpoint"] + "?" + urllib.parse.urlencode(q))
        err = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers.get("Location") or "").query)).get("error")
        check(err == "invalid_request", "PKCE plain refused: %s" % err)

        state = secrets.token_urlsafe(16)
        params = browse(srv, cb, authorize_url(srv, pub, redirect, state, challenge), log, state)
        code = params["code"]
        issued.append(code)
        base = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "client_id": pub}
        for bad, what in (
            ({}, "missing code_verifier"),
            ({"code_verifier": pkce_pair()[0]}, "wrong code_verifier"),
            ({"code_verifier": verifier, "redirect_uri": other}, "wrong redirect_uri at the token endpoint"),
            ({"code_verifier": verifier, "client_id": conf, "client_secret": srv.secret}, "another client's code"),
        ):
            status, tok = post_json(token_url, dict(base, **bad))
            check(status == 400 and tok.get("error") == "invalid_grant", "%s: %d %s" % (what, status, errinfo(tok)))
        status, tok = post_json(token_url, dict(base, code_verifier=verifier))
        check(status == 200, "exchange after the failures %d %s" % (status, errinfo(tok)))
        at3, rt3 = tok["access_token"], tok["refresh_token"]
        issued += [at3, rt3, tok.get("id_token", "")]
        status, tok = post_json(token_url, dict(base, code_verifier=verifier))
        check(status == 400 and tok.get("error") == "invalid_grant", "reused code: %d %s" % (status, errinfo(tok)))
        check(introspect(srv, at3).get("active") is False, "a reused code revokes the tokens issued from it")

        state = secrets.token_urlsafe(16)
        verifier, challenge = pkce_pair()
        params = browse(srv, cb, authorize_url(srv, pub, redirect, state, challenge), log, state)
        issued.append(params["code"])
        status, tok = post_json(token_url, dict(base, code=params["code"], code_verifier=verifier))
        check(status == 200, "exchange %d %s" % (status, errinfo(tok)))
        rt4 = tok["refresh_token"]
        issued += [tok["access_token"], rt4, tok.get("id_token", "")]
        status, tok = post_json(token_url, {"grant_type": "refresh_token", "refresh_token": rt4, "client_id": pub})
        check(status == 200, "refresh %d" % status)
        rt5 = tok["refresh_token"]
        issued += [tok["access_token"], rt5]
        status, tok = post_json(token_url, {"grant_type": "refresh_token", "refresh_token": rt4, "client_id": pub})
        check(status == 400 and tok.get("error") == "invalid_grant", "reused rotated refresh token: %s" % errinfo(tok))
        check(introspect(srv, rt5).get("active") is False, "reuse of a rotated refresh token revokes the grant")

        cc_form = {"grant_type": "client_credentials"}
        status, tok = post_json(token_url, cc_form, basic=(conf, "wrong-secret"))
        check(status == 401 and tok.get("error") == "invalid_client", "wrong secret (basic): %d %s" % (status, errinfo(tok)))
        status, tok = post_json(token_url, dict(cc_form, client_id=conf, client_secret="wrong-secret"))
        check(status == 401 and tok.get("error") == "invalid_client", "wrong secret (post): %d %s" % (status, errinfo(tok)))
        status, tok = post_json(token_url, dict(cc_form, client_id="no-such-client", client_secret="x"))
        check(status == 401 and tok.get("error") == "invalid_client", "unknown client at token: %d %s" % (status, errinfo(tok)))
        status, tok = post_json(token_url, dict(cc_form, client_id=conf))
        check(status == 401 and tok.get("error") == "invalid_client", "no secret: %d %s" % (status, errinfo(tok)))
        status, tok = post_json(token_url, dict(cc_form, client_id=pub))
        # RFC 6749 §5.2 would say unauthorized_client; oidc-provider says invalid_request.
        check(status == 400 and tok.get("error") in ("unauthorized_client", "invalid_request"),
              "public client_credentials: %s" % errinfo(tok))
        status, tok = post_json(token_url, dict(cc_form, client_id=conf, client_secret=srv.secret), basic=(conf, srv.secret))
        check(status == 400 and tok.get("error") == "invalid_request", "basic and post at once: %d %s" % (status, errinfo(tok)))
        status, _, _ = request(revoke_url, {"token": "x", "client_id": conf, "client_secret": "wrong"})
        check(status == 401, "revocation with a wrong secret: %d" % status)

        state = secrets.token_urlsafe(16)
        url = authorize_url(srv, pub, redirect, state, pkce_pair()[1])
        out = run_standin(url, log, STANDIN_PASSWORD="wrong-password")
        check(out.returncode != 0 and "login failed" in out.stderr, "wrong password: %s" % out.stderr.strip())
        params = browse(srv, cb, url, log, state, STANDIN_ACTION="deny")
        check(params.get("error") == "access_denied" and "code" not in params, "denied consent: %s" % params)

        ev = srv.events()
        check(ev["server_errors"] == 0, "no server errors")
        check(ev["failed_logins"] == 1 and ev["denials"] == 1, "one failed login, one denial")
        check(ev["grant_errors"].get("invalid_client", 0) >= 4, "invalid_client counted: %s" % ev["grant_errors"])

        # The stand-in's log has the steps and no secret.
        with open(log, encoding="utf-8") as f:
            text = f.read()
        check("submit login form (oidc-provider)" in text, "log has the login step")
        check("submit consent form (oidc-provider) action=allow" in text, "log has the consent step")
        check("callback GET" in text, "log has the callback")
        for s in [x for x in issued if x] + ["Admin#1234", "wrong-password"]:
            check(s not in text, "the stand-in log leaks a secret")
    finally:
        secret_file = srv.info.get("confidential_client_secret_file")
        rc = srv.stop()
        cb.close()
        shutil.rmtree(tmp, ignore_errors=True)
    check(rc == 0, "server exit code on SIGTERM: %r" % rc)
    check(not (secret_file and os.path.exists(secret_file)), "secret file removed on exit")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    try:
        code = main()
    except AssertionError as e:
        sys.stderr.write("smoke: FAILED after %d checks: %s\n" % (CHECKS, e))
        sys.exit(1)
    if code == 0:
        print("smoke: %d checks passed in %.1fs" % (CHECKS, time.monotonic() - started))
        print("1 passed, 0 failed")
    sys.exit(code)
