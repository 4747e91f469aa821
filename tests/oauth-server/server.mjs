#!/usr/bin/env node
// A strict, standards-compliant OAuth 2.0 / OpenID Connect server on loopback, for tests only.
//
// It is `oidc-provider` (a certified OpenID Provider implementation) with two clients, a
// minimal login + consent interaction that a person (or tests/support/browser_standin.py)
// must actually submit, and a test-only counters endpoint. snconnect's tests point the CLI
// at it through custom URLs to prove it works with any RFC 6749 / 7636 / 7009 / 7662 server,
// not just the ServiceNow simulator.
//
//   node server.mjs --port 0 --redirect-uri http://127.0.0.1:PORT/callback [--redirect-uri …]
//
// Prints, one per line on stdout: issuer=, authorization_endpoint=, token_endpoint=,
// revocation_endpoint=, introspection_endpoint=, public_client_id=, confidential_client_id=,
// confidential_client_secret_file= (a 0600 file; the secret is never printed), then `ready`.
//
// Options (all optional except --redirect-uri):
//   --port N                   listen port on 127.0.0.1 (default 0 = any free port)
//   --redirect-uri URI         registered for both clients (repeatable, at least one)
//   --secret-file PATH         where to write the confidential client's secret (default: a
//                              fresh private temp dir, removed on exit)
//   --access-token-ttl S       access token lifetime in seconds (default 3600)
//   --refresh-token-ttl S      refresh token lifetime in seconds (default 14 days)
//   --user NAME / --password P the one account of the login form (default admin / Admin#1234,
//                              the defaults of tests/support/browser_standin.py)
//   --exit-on-stdin-eof        exit cleanly when stdin closes (a parent's lifeline)
//
// Requests the authorization endpoint honours strictly: response_type=code only, PKCE S256
// required for the public client, redirect_uri required and matched against the
// registration, codes single use. Refresh tokens come with every authorization code grant,
// whatever the scope (e.g. "openid offline_access", "api"); offline_access itself is granted
// only with prompt=consent (OIDC Core §11). Client auth: client_secret_basic and
// client_secret_post are both accepted for the confidential client (one per request).
// Refresh tokens of the public client rotate on every refresh (reuse of a spent one revokes
// the grant). Revocation (RFC 7009) of a refresh token OR an access token from the code flow
// revokes every token of that grant. Test-only: GET /__test/events (JSON counters).
//
// Exits 0 on SIGTERM / SIGINT (and on stdin EOF with --exit-on-stdin-eof).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const PUBLIC_CLIENT_ID = 'snconnect-test-public';
const CONFIDENTIAL_CLIENT_ID = 'snconnect-test-confidential';
const HOST = '127.0.0.1';

function fail(message) {
  process.stderr.write(`oauth-server: ${message}\n`);
  process.exit(2);
}

function positiveInt(name, value) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) fail(`--${name} must be a positive integer`);
  return n;
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'redirect-uri': { type: 'string', multiple: true, default: [] },
      'secret-file': { type: 'string' },
      'access-token-ttl': { type: 'string', default: '3600' },
      'refresh-token-ttl': { type: 'string', default: String(14 * 24 * 3600) },
      user: { type: 'string', default: 'admin' },
      password: { type: 'string', default: 'Admin#1234' },
      'exit-on-stdin-eof': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  fail(e.message);
}

const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be 0..65535');
const redirectUris = args['redirect-uri'];
if (redirectUris.length === 0) fail('at least one --redirect-uri is needed');
for (const uri of redirectUris) {
  if (!URL.canParse(uri)) fail(`--redirect-uri is not a URL: ${uri}`);
}
const accessTokenTtl = positiveInt('access-token-ttl', args['access-token-ttl']);
const refreshTokenTtl = positiveInt('refresh-token-ttl', args['refresh-token-ttl']);

// ---- the confidential client's secret: a 0600 file, never on stdout/stderr ----------------

const clientSecret = crypto.randomBytes(32).toString('base64url');
let secretFile;
let secretDirToRemove;
if (args['secret-file']) {
  secretFile = path.resolve(args['secret-file']);
} else {
  secretDirToRemove = fs.mkdtempSync(path.join(os.tmpdir(), 'snconnect-oauth-server-'));
  secretFile = path.join(secretDirToRemove, 'confidential_client_secret');
}
fs.writeFileSync(secretFile, clientSecret, { mode: 0o600, flag: 'w' });
fs.chmodSync(secretFile, 0o600);

function cleanupSecret() {
  try {
    if (secretDirToRemove) fs.rmSync(secretDirToRemove, { recursive: true, force: true });
    else fs.rmSync(secretFile, { force: true });
  } catch {
    // best effort
  }
}

// ---- counters for GET /__test/events ------------------------------------------------------

const counters = {
  // successful token endpoint responses by grant_type
  grants: { authorization_code: 0, refresh_token: 0, client_credentials: 0 },
  // failed token endpoint requests by OAuth error code (invalid_client, invalid_grant, …)
  grant_errors: {},
  authorizations: 0, // authorization.success (code sent to a redirect URI)
  authorization_errors: {}, // by OAuth error code
  logins: 0,
  failed_logins: 0,
  consents: 0,
  denials: 0,
  revocation_requests: 0, // every POST to the revocation endpoint that passed client auth
  revocation_errors: {}, // by OAuth error code
  // tokens destroyed because they were presented to the revocation endpoint, by kind
  revoked: { access_token: 0, refresh_token: 0, client_credentials: 0 },
  grants_revoked: 0, // whole grants revoked (revoking a refresh token revokes its grant)
  // every token destroyed, by kind, whatever the route
  destroyed: { access_token: 0, refresh_token: 0, client_credentials: 0 },
  refresh_tokens_rotated: 0, // refresh_token.consumed: a refresh that issued a new one
  codes_consumed: 0,
  introspections: 0,
  introspection_errors: {},
  server_errors: 0,
};

function bump(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

// ---- the provider ---------------------------------------------------------------------------

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, HOST, () => {
    server.off('error', reject);
    resolve();
  });
});
const issuer = `http://${HOST}:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-rs256' };

const routes = {
  authorization: '/auth',
  token: '/token',
  revocation: '/token/revocation',
  introspection: '/token/introspection',
  jwks: '/jwks',
  userinfo: '/me',
};

const provider = new Provider(issuer, {
  clients: [
    {
      // A native app (RFC 8252): no secret, PKCE S256 required, loopback redirect URIs.
      client_id: PUBLIC_CLIENT_ID,
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
    },
    {
      // A confidential client. Registered as client_secret_basic; oidc-provider accepts the
      // same secret through client_secret_post too (never both in one request).
      client_id: CONFIDENTIAL_CLIENT_ID,
      client_secret: clientSecret,
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: redirectUris,
    },
  ],
  clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  scopes: ['openid', 'offline_access', 'api'],
  claims: { openid: ['sub'] },
  routes,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // Strict: the authorization request must carry redirect_uri even with one registered.
  allowOmittingSingleRegisteredRedirectUri: false,
  // PKCE (S256 only) required for public clients; verified whenever a challenge was sent.
  pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
  // Refresh tokens: for every authorization code grant (and every refresh of one) of a client
  // registered for refresh_token, whatever the scope, as plain OAuth 2.0 servers do. (oidc-
  // provider's default issues them only for the OIDC scope offline_access, and it keeps
  // offline_access in a request only when prompt=consent is sent too — OIDC Core §11 — so a
  // client that sends scope "openid offline_access" without prompt=consent is granted "openid"
  // and would get no refresh token at all.)
  issueRefreshToken: async (_ctx, client, source) => client.grantTypeAllowed('refresh_token')
    && (source.kind === 'AuthorizationCode' || source.kind === 'RefreshToken'),
  // Tokens live by their own TTLs, not by the browser login session (the default ties them
  // to the session unless offline_access was granted).
  expiresWithSession: async () => false,
  // oidc-provider's default rotation policy, spelled out: public clients get a new refresh
  // token on every refresh (the old one is consumed; reusing it revokes the whole grant),
  // confidential clients once 70% of the refresh token's lifetime has passed.
  rotateRefreshToken: (ctx) => {
    const { RefreshToken: refreshToken, Client: client } = ctx.oidc.entities;
    if (client.clientAuthMethod === 'none' && !refreshToken.isSenderConstrained()) return true;
    return refreshToken.ttlPercentagePassed() >= 70;
  },
  ttl: {
    AccessToken: accessTokenTtl,
    ClientCredentials: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: refreshTokenTtl,
    Interaction: 600,
    Session: 3600,
    Grant: refreshTokenTtl,
  },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub }),
  }),
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  // Revocation and introspection keep oidc-provider's default policies: a client may revoke
  // only its own tokens; a public client may introspect only its own, a confidential one any.
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><p id="error">${esc(out.error)}</p>`
      + `<p id="error_description">${esc(out.error_description ?? '')}</p>`);
  },
});

provider.on('grant.success', (ctx) => bump(counters.grants, ctx.oidc.params.grant_type));
provider.on('grant.error', (_ctx, err) => bump(counters.grant_errors, err.error ?? 'unknown'));
provider.on('authorization.success', () => { counters.authorizations += 1; });
provider.on('authorization.error', (_ctx, err) => bump(counters.authorization_errors, err.error ?? 'unknown'));
provider.on('revocation.error', (_ctx, err) => bump(counters.revocation_errors, err.error ?? 'unknown'));
provider.on('introspection.error', (_ctx, err) => bump(counters.introspection_errors, err.error ?? 'unknown'));
provider.on('grant.revoked', () => { counters.grants_revoked += 1; });
provider.on('refresh_token.consumed', () => { counters.refresh_tokens_rotated += 1; });
provider.on('authorization_code.consumed', () => { counters.codes_consumed += 1; });
provider.on('server_error', (_ctx, err) => {
  counters.server_errors += 1;
  process.stderr.write(`oauth-server: server_error: ${err?.stack ?? err}\n`);
});
for (const kind of ['access_token', 'refresh_token', 'client_credentials']) {
  provider.on(`${kind}.destroyed`, () => {
    counters.destroyed[kind] += 1;
    if (Provider.ctx?.oidc?.route === 'revocation') counters.revoked[kind] += 1;
  });
}
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route === 'revocation' && ctx.status === 200) counters.revocation_requests += 1;
  if (ctx.oidc?.route === 'introspection' && ctx.status === 200) counters.introspections += 1;
});

// ---- the interaction: a login form, then a consent form, both POSTed -----------------------

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function page(title, body) {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>\n`
    + `<body>\n${body}\n</body></html>\n`;
}

function loginPage(uid, clientId, error) {
  return page('Sign-in', `<h1>Sign-in</h1>
<p>Client <code>${esc(clientId)}</code> wants you to sign in.</p>
${error ? `<p id="login_error">${esc(error)}</p>` : ''}
<form autocomplete="off" action="/interaction/${esc(uid)}/login" method="post">
  <input type="hidden" name="prompt" value="login">
  <input required type="text" name="login" placeholder="User name">
  <input required type="password" name="password" placeholder="Password">
  <button type="submit">Sign-in</button>
</form>
<p><a href="/interaction/${esc(uid)}/abort">[ Cancel ]</a></p>`);
}

function consentPage(uid, clientId, scope) {
  return page('Authorize', `<h1>Authorize</h1>
<p>Client <code>${esc(clientId)}</code> asks for: <code>${esc(scope ?? '')}</code></p>
<form autocomplete="off" action="/interaction/${esc(uid)}/confirm" method="post">
  <input type="hidden" name="prompt" value="consent">
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button>
</form>
<p><a href="/interaction/${esc(uid)}/abort">[ Cancel ]</a></p>`);
}

function send(res, status, type, body) {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sameString(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

async function handleInteraction(req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (e) {
    send(res, 400, 'text/html; charset=utf-8', page('Error', `<h1>Error</h1><p id="error">${esc(e.message)}</p>`));
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, 'text/html; charset=utf-8', page('Error', '<h1>Error</h1><p id="error">interaction mismatch</p>'));
    return;
  }
  const { prompt, params, session } = details;

  if (req.method === 'GET' && action === '') {
    const body = prompt.name === 'login'
      ? loginPage(uid, params.client_id)
      : consentPage(uid, params.client_id, params.scope);
    send(res, 200, 'text/html; charset=utf-8', body);
    return;
  }

  if (req.method === 'GET' && action === 'abort') {
    counters.denials += 1;
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (req.method === 'POST' && action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    if (form.get('prompt') !== 'login'
        || !sameString(form.get('login') ?? '', args.user)
        || !sameString(form.get('password') ?? '', args.password)) {
      counters.failed_logins += 1;
      send(res, 200, 'text/html; charset=utf-8', loginPage(uid, params.client_id, 'Wrong user name or password.'));
      return;
    }
    counters.logins += 1;
    await provider.interactionFinished(req, res, { login: { accountId: args.user } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }

  if (req.method === 'POST' && action === 'confirm' && prompt.name === 'consent') {
    const form = await readForm(req);
    const decision = form.get('decision');
    if (form.get('prompt') !== 'consent' || (decision !== 'allow' && decision !== 'deny')) {
      send(res, 400, 'text/html; charset=utf-8', page('Error', '<h1>Error</h1><p id="error">bad consent form</p>'));
      return;
    }
    if (decision === 'deny') {
      counters.denials += 1;
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'End-User denied the authorization request',
      }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    if (missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    counters.consents += 1;
    await provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
    return;
  }

  send(res, 400, 'text/html; charset=utf-8', page('Error', '<h1>Error</h1><p id="error">unexpected interaction step</p>'));
}

// ---- a resource server in ServiceNow's shape, so `snconnect test` can prove a token works --------
// GET /api/now/ui/user/current_user and GET /api/now/table/<table> accept a live access token of
// this server (Bearer) and answer like an instance; anything else gets ServiceNow's 401 body.

counters.api_requests = 0;
counters.api_rejected = 0;

async function handleApi(req, res, pathname) {
  counters.api_requests += 1;
  const auth = req.headers.authorization ?? '';
  const value = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  const token = value ? await provider.AccessToken.find(value) : undefined;
  if (!token || token.isExpired) {
    counters.api_rejected += 1;
    send(res, 401, 'application/json', JSON.stringify({
      error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
      status: 'failure',
    }));
    return;
  }
  const user = token.accountId ?? token.clientId;
  if (pathname === '/api/now/ui/user/current_user') {
    send(res, 200, 'application/json', JSON.stringify({
      result: { user_sys_id: `sys-${user}`, user_name: user, user_display_name: `Test user ${user}` },
    }));
    return;
  }
  res.setHeader('X-Total-Count', '1');
  send(res, 200, 'application/json', JSON.stringify({ result: [{ sys_id: `sys-${user}`, user_name: user }] }));
}

const API = /^\/api\/now\/(ui\/user\/current_user|table\/[a-z_]+)$/;

const providerCallback = provider.callback();
const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/;

server.on('request', (req, res) => {
  const { pathname } = new URL(req.url, issuer);
  if (pathname === '/__test/events') {
    if (req.method !== 'GET') {
      send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    send(res, 200, 'application/json', `${JSON.stringify(counters)}\n`);
    return;
  }
  if (req.method === 'GET' && API.test(pathname)) {
    handleApi(req, res, pathname).catch((e) => {
      process.stderr.write(`oauth-server: api failed: ${e?.stack ?? e}\n`);
      if (!res.headersSent) send(res, 500, 'application/json', '{"error":{"message":"api failed"}}');
    });
    return;
  }
  const m = INTERACTION.exec(pathname);
  if (m) {
    handleInteraction(req, res, m[1], m[2] ?? '').catch((e) => {
      process.stderr.write(`oauth-server: interaction failed: ${e?.stack ?? e}\n`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'interaction failed\n');
      else res.end();
    });
    return;
  }
  providerCallback(req, res);
});

// ---- ready, and a clean exit ----------------------------------------------------------------

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  cleanupSecret();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('exit', cleanupSecret);
if (args['exit-on-stdin-eof']) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

const lines = [
  `issuer=${issuer}`,
  `authorization_endpoint=${issuer}${routes.authorization}`,
  `token_endpoint=${issuer}${routes.token}`,
  `revocation_endpoint=${issuer}${routes.revocation}`,
  `introspection_endpoint=${issuer}${routes.introspection}`,
  `public_client_id=${PUBLIC_CLIENT_ID}`,
  `confidential_client_id=${CONFIDENTIAL_CLIENT_ID}`,
  `confidential_client_secret_file=${secretFile}`,
  'ready',
];
process.stdout.write(`${lines.join('\n')}\n`);
