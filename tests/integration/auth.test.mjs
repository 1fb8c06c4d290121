// auth.test.mjs -- mcpd as an OAuth 2.1 resource server (issue 14): static
// bearer tokens, JWTs checked against a JWKS fetched over HTTPS, RFC 7662
// introspection, per-tool scopes, sessions bound to the principal that made
// them, per-principal limits, the protected resource metadata, and the
// caller as plugins see it (host->call_principal). Real parts only: the
// authorization server is lib/authserver.mjs (node:https, keys from
// `jose`), the clients are the MCP SDK (with its client-credentials
// provider) and raw HTTP. The cases follow the table of design-auth.md §4.3;
// the exact challenges are those of §2.4. Every case also checks that no
// token, signature or secret used in the file shows up in mcpd's log.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, decodeJwt } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { startMcpd } from './lib/mcpd.mjs';
import { makeCerts } from './lib/certs.mjs';
import { startAuthServer, CLIENTS, INTROSPECTORS } from './lib/authserver.mjs';
import { tlsFetch } from './lib/tlsfetch.mjs';
import { rawExchange, parseResponses, mcpPost, sseMessages, ACCEPT } from './lib/http.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);

// error_description of each refusal (core/lib/auth_reason.c).
const WHY = {
  expired: 'the token has expired',
  notYet: 'the token is not valid yet',
  audience: 'the token is for another resource',
  issuer: "the token's issuer is not trusted",
  alg: "the token's signing algorithm is not allowed",
  unknownKid: 'the token is signed with an unknown key',
  signature: "the token's signature does not verify",
  inactive: 'the token is not active',
};
// error_description of the 400s (§2.4 gives the first; the other two are
// core/transport/auth_gate.c's, the table naming no sentence for them).
const QUERY_TOKEN = 'send the access token in the Authorization header, never in the query string';
const TWO_HEADERS = 'send one Authorization header';
const MALFORMED = 'the Authorization header must be Bearer and one token';

// ---- secrets, and the log check -----------------------------------------------

// Everything secret this file sends or configures; none may reach the log.
const secrets = new Set([...Object.values(CLIENTS).map((c) => c.secret), ...Object.values(INTROSPECTORS)]);
function secret(t) {
  secrets.add(t);
  return t;
}

function assertNoSecrets(log) {
  for (const s of secrets) {
    assert.ok(!log.includes(s), `a secret or token is in the log: ${s.slice(0, 24)}...`);
    const parts = s.split('.');
    // A JWT's signature alone identifies it too.
    if (parts.length === 3 && parts[2].length >= 16)
      assert.ok(!log.includes(parts[2]), `a token's signature is in the log: ${parts[2].slice(0, 24)}...`);
  }
}

const STATIC_CI = secret(randomBytes(24).toString('hex'));   // by ${MCPD_CI_TOKEN}
const STATIC_OPS = secret(randomBytes(24).toString('hex'));  // by its sha256
const STATIC_ALICE = secret(randomBytes(24).toString('hex'));
const STATIC_BOB = secret(randomBytes(24).toString('hex'));
const STATIC_CAROL = secret(randomBytes(24).toString('hex'));
const sha256hex = (s) => createHash('sha256').update(s).digest('hex');

// ---- raw HTTP ----------------------------------------------------------------------

let nextId = 1;

// One request on a fresh connection (optionally from another loopback
// address); the body is parsed as JSON, or as the last message of an SSE body.
// Not for streams that stay open (see openStream): it waits for the end, at
// most timeoutMs.
function hreq(url, { method = 'POST', headers = {}, body, localAddress, timeoutMs = 10000 } = {}) {
  const u = new URL(url);
  const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const h = {
    ...(data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
    ...(method === 'POST' ? { Accept: ACCEPT } : {}),
    ...headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h, agent: false, localAddress },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          let json;
          try {
            json = (res.headers['content-type'] ?? '').includes('text/event-stream') ? sseMessages(text).at(-1) : JSON.parse(text);
          } catch { /* not JSON */ }
          const count = (name) => res.rawHeaders.filter((v, i) => i % 2 === 0 && v.toLowerCase() === name).length;
          resolve({ status: res.statusCode, headers: res.headers, text, json, count });
        });
      });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${u.pathname}: no complete answer within ${timeoutMs} ms`)));
    req.end(data);
  });
}

const bearer = (t) => (t === undefined ? {} : { Authorization: `Bearer ${t}` });
const rpc = (method, params, id = nextId++) => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
const INIT = (id = nextId++) => rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'auth-test', version: '1' } }, id);

// Initializes a session with token; returns its id.
async function session(d, token, { localAddress } = {}) {
  const r = await hreq(d.url, { headers: bearer(token), body: INIT(), localAddress });
  assert.equal(r.status, 200, `initialize: ${r.status} ${r.headers['www-authenticate'] ?? ''} ${r.text}`);
  const sid = r.headers['mcp-session-id'];
  assert.ok(sid);
  const n = await hreq(d.url, { headers: { ...bearer(token), 'Mcp-Session-Id': sid }, body: { jsonrpc: '2.0', method: 'notifications/initialized' }, localAddress });
  assert.equal(n.status, 202, n.text);
  return sid;
}

function onSession(d, token, sid, body, extra = {}) {
  return hreq(d.url, { headers: { ...bearer(token), ...(sid ? { 'Mcp-Session-Id': sid } : {}), ...extra }, body });
}

async function callTool(d, token, sid, name, args = {}) {
  const r = await onSession(d, token, sid, rpc('tools/call', { name, arguments: args }));
  assert.equal(r.status, 200, `tools/call ${name}: ${r.status} ${r.headers['www-authenticate'] ?? ''} ${r.text}`);
  assert.ok(r.json?.result, r.text);
  return r.json.result;
}

async function toolNames(d, token, sid) {
  const r = await onSession(d, token, sid, rpc('tools/list'));
  assert.equal(r.status, 200, r.text);
  return r.json.result.tools.map((t) => t.name);
}

async function whoami(d, token, sid) {
  const r = await callTool(d, token, sid, 'whoami');
  return JSON.parse(r.content[0].text);
}

// A GET that stays open (an SSE stream): resolves once the head is in, with
// the text so far and a way to wait for more.
function openStream(url, headers = {}, { localAddress } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET', agent: false, localAddress,
      headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      const s = { status: res.statusCode, headers: res.headers, text: '', req, res };
      const waiters = new Set();
      res.setEncoding('utf8');
      res.on('data', (c) => { s.text += c; for (const w of waiters) w(); });
      res.on('end', () => { s.ended = true; for (const w of waiters) w(); });
      s.until = (pred, ms = 5000) => new Promise((res2, rej2) => {
        const check = () => {
          if (pred(s.text)) { clearTimeout(t); waiters.delete(check); res2(s.text); } else if (s.ended) { clearTimeout(t); waiters.delete(check); rej2(new Error(`stream ended: ${s.text}`)); }
        };
        const t = setTimeout(() => { waiters.delete(check); rej2(new Error(`timed out; stream so far: ${JSON.stringify(s.text)}`)); }, ms);
        waiters.add(check);
        check();
      });
      s.close = () => req.destroy();
      resolve(s);
    });
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${u.pathname}: no answer within 10 s`)));
    req.end();
  });
}

// The head of a GET that may turn into a stream: status and headers, then closed.
async function streamHead(url, headers = {}) {
  const s = await openStream(url, headers);
  s.close();
  return s;
}

// ---- challenges (§2.4) ---------------------------------------------------------------

const metadataUrl = (d) => `${d.base}/.well-known/oauth-protected-resource/mcp`;

// A 401 challenge in OAuth mode: error, error_description, resource_metadata, scope.
function challenge(d, { error, why, scope = 'mcp' } = {}) {
  const parts = [];
  if (error) parts.push(`error="${error}"`);
  if (why) parts.push(`error_description="${why}"`);
  parts.push(`resource_metadata="${metadataUrl(d)}"`);
  if (scope) parts.push(`scope="${scope}"`);
  return `Bearer ${parts.join(', ')}`;
}

// A 400 in OAuth mode: error, error_description, resource_metadata (every
// challenge carries it, §1.1), no scope.
const badRequest = (d, why) => `Bearer error="invalid_request", error_description="${why}", resource_metadata="${metadataUrl(d)}"`;

// The 403 challenge: the attributes in the order §2.4 gives for all of them
// (its 403 example row, copied from the MCP spec, orders them differently).
const forbidden = (d, scope, why) =>
  `Bearer error="insufficient_scope", error_description="${why}", resource_metadata="${metadataUrl(d)}", scope="${scope}"`;

// A 401 for a bad token on /mcp: the exact challenge, no-store, the JSON body.
function assertInvalidToken(d, r, why, { scope = 'mcp' } = {}) {
  assert.equal(r.status, 401, r.text);
  assert.equal(r.count('www-authenticate'), 1);
  assert.equal(r.headers['www-authenticate'], challenge(d, { error: 'invalid_token', why, scope }));
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.deepEqual(r.json, { error: 'invalid_token', error_description: why }, r.text);
  assert.equal(r.headers['mcp-session-id'], undefined);
}

function assertBadRequest(d, r, why, { json = true } = {}) {
  assert.equal(r.status, 400, r.text);
  assert.equal(r.headers['www-authenticate'], badRequest(d, why));
  assert.equal(r.headers['cache-control'], 'no-store');
  if (json) assert.deepEqual(r.json, { error: 'invalid_request', error_description: why }, r.text);
}

// ---- the authorization server ----------------------------------------------------------

let certs;
let as;
before(async () => {
  certs = makeCerts();
  as = await startAuthServer({ certs });
});
after(async () => {
  if (as) await as.stop();
  if (certs) certs.remove();
});

// A JWT for mcpd d (aud = its resource URI), signed by rs1 unless told.
async function jwtFor(d, claims = {}, opts = {}) {
  return secret(await as.jwt({ aud: d.url, scope: 'mcp', ...claims }, opts));
}

test('the test authorization server: metadata, JWKS, client credentials, introspection, failures', async () => {
  const f = tlsFetch({ ca: certs.ca.cert });
  try {
    const get = async (path) => {
      const r = await f(`${as.issuer}${path}`);
      return { status: r.status, headers: r.headers, json: await r.json().catch(() => undefined) };
    };
    for (const p of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const m = await get(p);
      assert.equal(m.status, 200);
      assert.equal(m.json.issuer, as.issuer);
      assert.equal(m.json.token_endpoint, `${as.issuer}/token`);
      assert.equal(m.json.jwks_uri, `${as.issuer}/jwks`);
      assert.equal(m.json.introspection_endpoint, `${as.issuer}/introspect`);
      assert.ok(m.json.authorization_endpoint);
      assert.deepEqual(m.json.response_types_supported, ['code']);
      assert.deepEqual(m.json.grant_types_supported, ['client_credentials']);
      assert.deepEqual(m.json.token_endpoint_auth_methods_supported, ['client_secret_basic']);
    }

    const hits = as.jwksHits;
    const jwks = await get('/jwks');
    assert.equal(jwks.status, 200);
    assert.equal(as.jwksHits, hits + 1);
    assert.deepEqual(jwks.json.keys.map((k) => `${k.kid} ${k.alg}`), ['rs1 RS256', 'ps1 PS256', 'es1 ES256']);
    assert.ok(jwks.json.keys.every((k) => k.d === undefined && k.use === 'sig'), 'no private parts, use=sig');
    const keySet = createLocalJWKSet(jwks.json);

    // client_credentials with Basic auth: scope = requested ∩ allowed, aud = resource.
    const tokenReq = (id, secretValue, params) => f(`${as.issuer}/token`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${id}:${secretValue}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    const before = as.tokenRequests;
    let r = await tokenReq('agent', CLIENTS.agent.secret, { grant_type: 'client_credentials', scope: 'mcp admin tools', resource: 'http://127.0.0.1:9/mcp' });
    assert.equal(r.status, 200);
    const tok = await r.json();
    secret(tok.access_token);
    assert.equal(tok.token_type, 'Bearer');
    assert.equal(tok.scope, 'mcp tools');
    assert.equal(tok.expires_in, 300);
    const v = await jwtVerify(tok.access_token, keySet, { issuer: as.issuer, audience: 'http://127.0.0.1:9/mcp' });
    assert.equal(v.protectedHeader.kid, 'rs1');
    assert.equal(v.protectedHeader.alg, 'RS256');
    assert.equal(v.payload.sub, 'agent');
    assert.equal(v.payload.client_id, 'agent');
    assert.equal(v.payload.scope, 'mcp tools');
    assert.ok(v.payload.exp - nowS() > 290);
    assert.equal(as.tokenRequests, before + 1);
    r = await tokenReq('agent', 'wrong', { grant_type: 'client_credentials' });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'invalid_client');
    r = await tokenReq('agent', CLIENTS.agent.secret, { grant_type: 'password' });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error, 'unsupported_grant_type');

    // An opaque token, and introspection (Basic auth of the resource server).
    r = await tokenReq('opaque-agent', CLIENTS['opaque-agent'].secret, { grant_type: 'client_credentials', scope: 'mcp', resource: 'http://127.0.0.1:9/mcp' });
    const opaque = secret((await r.json()).access_token);
    assert.equal(opaque.split('.').length, 1);
    const introspect = (token, cred = ['mcpd', INTROSPECTORS.mcpd]) => f(`${as.issuer}/introspect`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(cred.join(':')).toString('base64')}`, Accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    }).then(async (x) => ({ status: x.status, json: await x.json() }));
    let i = await introspect(opaque);
    assert.equal(i.status, 200);
    assert.equal(i.json.active, true);
    assert.equal(i.json.sub, 'opaque-agent');
    assert.equal(i.json.client_id, 'opaque-agent');
    assert.equal(i.json.scope, 'mcp');
    assert.equal(i.json.aud, 'http://127.0.0.1:9/mcp');
    assert.equal(i.json.iss, as.issuer);
    assert.ok(i.json.exp > nowS());
    assert.equal((await introspect(opaque, ['mcpd', 'wrong'])).status, 401);
    assert.deepEqual((await introspect('no-such-token')).json, { active: false });
    assert.deepEqual((await introspect(as.opaque({ sub: 'x', exp: nowS() - 1 }))).json, { active: false });
    as.revoke(opaque);
    assert.deepEqual((await introspect(opaque)).json, { active: false });

    // Helpers: a key never published, a key published later.
    const ghost = await as.sign({ sub: 'x', iss: as.issuer, exp: nowS() + 60 }, { key: 'ghost', kid: 'k-123' });
    await assert.rejects(jwtVerify(ghost, keySet));
    const extra = await as.newKey('ES256', 'selftest');
    as.publish(extra);
    assert.ok((await get('/jwks')).json.keys.some((k) => k.kid === 'selftest'));
    as.unpublish('selftest');
    assert.ok(!(await get('/jwks')).json.keys.some((k) => k.kid === 'selftest'));

    // The failure toggles: 500, then connections refused, then back.
    as.failJwks(true);
    assert.equal((await get('/jwks')).status, 500);
    as.failJwks(false);
    await as.stopJwks();
    f.destroy();
    await assert.rejects(tlsFetch({ ca: certs.ca.cert })(`${as.issuer}/jwks`), (e) => e.code === 'ECONNREFUSED');
    await as.startJwks();
    assert.equal((await get('/jwks')).status, 200);
  } finally {
    f.destroy();
  }
});

// ---- one mcpd with jwt, introspection and static tokens ---------------------------------

const ORIGIN = 'https://app.example.test';

describe('one mcpd: jwt, introspection (cache_s 1), static tokens, scopes.required ["mcp"]', () => {
  let d;
  before(async () => {
    d = await startMcpd({
      plugins: ['hello', 'testkit', 'old_minor'],
      env: { MCPD_CI_TOKEN: STATIC_CI, MCPD_INTROSPECT_SECRET: INTROSPECTORS.mcpd },
      config: {
        allowed_origins: [ORIGIN],
        auth: {
          tokens: [
            { name: 'ci', token: '${MCPD_CI_TOKEN}', scopes: ['mcp', 'deploy'] },
            { name: 'ops', sha256: sha256hex(STATIC_OPS), scopes: ['mcp', 'metrics'] },
          ],
          jwt: { issuer: as.issuer, jwks_url: `${as.issuer}/jwks`, ca_file: certs.ca.cert },
          introspection: {
            endpoint: `${as.issuer}/introspect`, client_id: 'mcpd', client_secret: '${MCPD_INTROSPECT_SECRET}',
            cache_s: 1, ca_file: certs.ca.cert,
          },
          scopes: { required: ['mcp'] },
          protect_metrics: 'metrics',
        },
      },
    });
  });
  after(async () => {
    if (d) {
      assertNoSecrets(d.log());
      await d.stop();
    }
  });
  afterEach(() => { if (d) assertNoSecrets(d.log()); });

  test('1: no Authorization (or another scheme) gets 401 with resource_metadata and the required scope', async () => {
    for (const headers of [{}, { Authorization: `Basic ${Buffer.from('ci:x').toString('base64')}` }]) {
      const r = await hreq(d.url, { headers, body: INIT() });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.count('www-authenticate'), 1);
      assert.equal(r.headers['www-authenticate'],
        `Bearer resource_metadata="http://127.0.0.1:${d.port}/.well-known/oauth-protected-resource/mcp", scope="mcp"`);
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.headers['mcp-session-id'], undefined);
    }
    // The GET stream and DELETE are behind the same gate.
    const g = await streamHead(d.url);
    assert.equal(g.status, 401);
    assert.equal(g.headers['www-authenticate'], challenge(d));
    const del = await hreq(d.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': 'a'.repeat(32) } });
    assert.equal(del.status, 401);
  });

  test('the protected resource metadata: both well-known paths, identical, resource = the URL clients connect to', async () => {
    const root = await hreq(`${d.base}/.well-known/oauth-protected-resource`, { method: 'GET' });
    const mcp = await hreq(metadataUrl(d), { method: 'GET', headers: { Origin: 'https://elsewhere.example' } });
    for (const r of [root, mcp]) {
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.equal(r.headers['cache-control'], 'max-age=300');
    }
    assert.equal(root.text, mcp.text);
    const m = root.json;
    assert.equal(m.resource, d.url);
    assert.deepEqual(m.authorization_servers, [as.issuer]);
    assert.deepEqual(m.bearer_methods_supported, ['header']);
    assert.equal(m.resource_name, 'mcpd');
    assert.ok(m.scopes_supported.includes('mcp') && m.scopes_supported.includes('admin'), JSON.stringify(m.scopes_supported));
    assert.deepEqual(m.scopes_supported, [...m.scopes_supported].sort());
    assert.ok(!m.scopes_supported.includes('offline_access'));
  });

  test('2-5: expired, not yet valid, another audience, another issuer: 401 invalid_token with the reason', async () => {
    const t = nowS();
    const cases = [
      [{ exp: t - 120, iat: t - 600 }, WHY.expired],
      [{ nbf: t + 300 }, WHY.notYet],
      [{ aud: `http://127.0.0.1:${d.port}/other` }, WHY.audience],
      [{ iss: 'https://evil.example' }, WHY.issuer],
    ];
    for (const [claims, why] of cases) {
      const tok = await jwtFor(d, { sub: 'alice', ...claims });
      assertInvalidToken(d, await hreq(d.url, { headers: bearer(tok), body: INIT() }), why);
    }
    // Within the leeway (30 s) an expired token still passes.
    const late = await jwtFor(d, { sub: 'alice', exp: t - 5, iat: t - 300 });
    assert.equal((await hreq(d.url, { headers: bearer(late), body: INIT() })).status, 200);
  });

  test('6-7: alg none, and HS256 keyed with rs1\'s public key: 401 algorithm not allowed', async () => {
    const t = nowS();
    const claims = { iss: as.issuer, sub: 'alice', aud: d.url, scope: 'mcp', iat: t, exp: t + 300 };
    const none = secret(as.rawJwt({ alg: 'none', typ: 'JWT' }, claims, ''));
    assertInvalidToken(d, await hreq(d.url, { headers: bearer(none), body: INIT() }), WHY.alg);
    const hdr = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'rs1' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const mac = createHmac('sha256', Buffer.from(as.keys.rs1.spki)).update(`${hdr}.${body}`).digest('base64url');
    const hs = secret(`${hdr}.${body}.${mac}`);
    assertInvalidToken(d, await hreq(d.url, { headers: bearer(hs), body: INIT() }), WHY.alg);
  });

  test('8: 50 tokens with random kids signed by an unpublished key: all 401, at most one JWKS fetch', async () => {
    const tokens = [];
    for (let i = 0; i < 50; i++)
      tokens.push(await jwtFor(d, { sub: 'alice' }, { key: 'ghost', kid: `k${randomBytes(8).toString('hex')}` }));
    const hits = as.jwksHits;
    // Five source addresses, so that the per-address bucket for failed
    // authentications (burst 40) is not what answers.
    const rs = await Promise.all(tokens.map((tok, i) =>
      hreq(d.url, { headers: bearer(tok), body: INIT(), localAddress: `127.0.0.${11 + (i % 5)}` })));
    for (const r of rs) assertInvalidToken(d, r, WHY.unknownKid);
    assert.ok(as.jwksHits - hits <= 1, `${as.jwksHits - hits} JWKS fetches for one burst`);
  });

  test('9: a payload changed under its signature: 401 bad signature', async () => {
    const good = await jwtFor(d, { sub: 'alice' });
    const [h, p, s] = good.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.sub = 'mallory';
    const forged = secret(`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`);
    assertInvalidToken(d, await hreq(d.url, { headers: bearer(forged), body: INIT() }), WHY.signature);
    assert.equal((await hreq(d.url, { headers: bearer(good), body: INIT() })).status, 200);
  });

  test('10: introspection: revoked before use -> 401; revoked after use -> 401 once cache_s has passed', async () => {
    const dead = secret(as.opaque({ sub: 'carol', client_id: 'opaque-agent', scope: 'mcp', aud: d.url }));
    as.revoke(dead);
    assertInvalidToken(d, await hreq(d.url, { headers: bearer(dead), body: INIT() }), WHY.inactive);

    const live = secret(as.opaque({ sub: 'carol', client_id: 'opaque-agent', scope: 'mcp', aud: d.url }));
    const sid = await session(d, live);
    assert.ok((await toolNames(d, live, sid)).includes('echo'));
    as.revoke(live);
    await sleep(1100);
    assertInvalidToken(d, await onSession(d, live, sid, rpc('tools/list')), WHY.inactive);
    // An opaque token for another resource is refused too (require_audience).
    const other = secret(as.opaque({ sub: 'carol', scope: 'mcp', aud: `http://127.0.0.1:${d.port}/other` }));
    assert.equal((await hreq(d.url, { headers: bearer(other), body: INIT() })).status, 401);
  });

  test('11: a token in the query string: 400 invalid_request on /mcp and /messages', async () => {
    const tok = await jwtFor(d, { sub: 'alice' });
    assertBadRequest(d, await hreq(`${d.url}?access_token=${tok}`, { body: INIT() }), QUERY_TOKEN);
    // Even alongside a good header.
    assertBadRequest(d, await hreq(`${d.url}?access_token=${tok}`, { headers: bearer(tok), body: INIT() }), QUERY_TOKEN);
    const m = await hreq(`${d.base}/messages?sessionId=${'0'.repeat(32)}&access_token=${tok}`, { body: INIT() });
    assertBadRequest(d, m, QUERY_TOKEN, { json: false });
  });

  test('12: a session belongs to its principal: bob gets 404 for alice\'s session and cannot delete it', async () => {
    const alice = await jwtFor(d, { sub: 'alice' });
    const bob = await jwtFor(d, { sub: 'bob' });
    const sid = await session(d, alice);
    const id = nextId++;
    const stolen = await onSession(d, bob, sid, rpc('tools/list', undefined, id));
    assert.equal(stolen.status, 404, stolen.text);
    assert.equal(stolen.json?.error?.code, -32001, stolen.text);
    // The same answer as for a session that does not exist.
    const unknown = await onSession(d, bob, randomBytes(16).toString('hex'), rpc('tools/list', undefined, id));
    assert.equal(unknown.status, 404);
    assert.equal(stolen.text, unknown.text);
    const del = await hreq(d.url, { method: 'DELETE', headers: { ...bearer(bob), 'Mcp-Session-Id': sid } });
    assert.equal(del.status, 404, del.text);
    if (del.json) assert.equal(del.json.error?.code, -32001);
    const stream = await streamHead(d.url, { ...bearer(bob), 'Mcp-Session-Id': sid });
    assert.equal(stream.status, 404);
    // Alice's session is untouched.
    assert.ok((await toolNames(d, alice, sid)).includes('echo'));
    // Another token of alice (same issuer and subject) is the same principal.
    const alice2 = await jwtFor(d, { sub: 'alice', jti: 'second' });
    assert.ok((await toolNames(d, alice2, sid)).includes('echo'));

    // The legacy transport binds its sessions the same way.
    const sse = await openStream(`${d.base}/sse`, bearer(alice));
    try {
      assert.equal(sse.status, 200);
      const text = await sse.until((t) => t.includes('\n\n'));
      const m = /^event: endpoint\r?\ndata: (\/messages\?sessionId=[0-9a-f]+)\r?\n/m.exec(text);
      assert.ok(m, text);
      const body = rpc('initialize', { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'legacy', version: '1' } });
      const theirs = await hreq(`${d.base}${m[1]}`, { headers: bearer(bob), body });
      assert.equal(theirs.status, 404, theirs.text);
      const mine = await hreq(`${d.base}${m[1]}`, { headers: bearer(alice), body });
      assert.equal(mine.status, 202, mine.text);
    } finally {
      sse.close();
    }
  });

  test('13: a tool needing "admin": 403 insufficient_scope without it, and the list leaves it out', async () => {
    const plain = await jwtFor(d, { sub: 'alice', scope: 'mcp' });
    const sid = await session(d, plain);
    const id = nextId++;
    const r = await onSession(d, plain, sid, rpc('tools/call', { name: 'admin_only', arguments: {} }, id));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.count('www-authenticate'), 1);
    assert.equal(r.headers['www-authenticate'], forbidden(d, 'mcp admin', 'tools/call admin_only needs admin'));
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.json?.jsonrpc, '2.0', r.text);
    assert.equal(r.json.id, id);
    assert.equal(r.json.error.code, -32000);
    assert.equal(r.json.error.message, 'Forbidden: tools/call admin_only needs scope admin');
    const names = await toolNames(d, plain, sid);
    assert.ok(names.includes('echo') && names.includes('whoami'), names.join(' '));
    assert.ok(!names.includes('admin_only'), names.join(' '));

    const admin = await jwtFor(d, { sub: 'alice', scope: 'mcp admin' });
    assert.ok((await toolNames(d, admin, sid)).includes('admin_only'));
    assert.equal((await callTool(d, admin, sid, 'admin_only')).content[0].text, 'admin ok');
    // Holding admin without the required "mcp" is not enough for anything.
    const adminOnly = await jwtFor(d, { sub: 'alice', scope: 'admin' });
    const noBase = await onSession(d, adminOnly, sid, rpc('tools/list'));
    assert.equal(noBase.status, 403, noBase.text);
    assert.match(noBase.headers['www-authenticate'], /^Bearer error="insufficient_scope", /);
    assert.match(noBase.headers['www-authenticate'], /, scope="mcp"(,|$)/);
  });

  test('14: two Authorization headers, or "Bearer" without a token: 400 invalid_request', async () => {
    const tok = await jwtFor(d, { sub: 'alice' });
    const host = { Host: `127.0.0.1:${d.port}`, Connection: 'close' };
    const two = mcpPost(INIT(), host).replace('\r\n\r\n', `\r\nAuthorization: Bearer ${tok}\r\nAuthorization: Bearer ${tok}\r\n\r\n`);
    const empty = mcpPost(INIT(), { ...host, Authorization: 'Bearer' });
    const spaces = mcpPost(INIT(), { ...host, Authorization: 'Bearer    ' });
    const junk = mcpPost(INIT(), { ...host, Authorization: 'Bearer a b' });
    for (const [raw, why] of [[two, TWO_HEADERS], [empty, MALFORMED], [spaces, MALFORMED], [junk, MALFORMED]]) {
      const [res] = parseResponses((await rawExchange(d.port, raw, { idleMs: 300 })).text);
      assert.ok(res, 'no answer');
      assert.equal(res.status, 400, `${raw.split('\r\n').filter((l) => l.startsWith('Authorization')).join(' | ').slice(0, 40)}: ${res.body}`);
      assert.equal(res.headers['www-authenticate'], badRequest(d, why));
      assert.equal(res.headers['cache-control'], 'no-store');
    }
  });

  test('15: /metrics with protect_metrics "metrics": 401 without a token, 403 without the scope, 200 with it; /healthz open', async () => {
    const none = await hreq(`${d.base}/metrics`, { method: 'GET' });
    assert.equal(none.status, 401);
    assert.match(none.headers['www-authenticate'], /^Bearer /);
    assert.match(none.headers['www-authenticate'], /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
    const ci = await hreq(`${d.base}/metrics`, { method: 'GET', headers: bearer(STATIC_CI) });
    assert.equal(ci.status, 403);
    assert.match(ci.headers['www-authenticate'], /^Bearer error="insufficient_scope"/);
    const ops = await hreq(`${d.base}/metrics`, { method: 'GET', headers: bearer(STATIC_OPS) });
    assert.equal(ops.status, 200, ops.text);
    assert.match(ops.text, /^mcpd_/m);
    const jwtOps = await jwtFor(d, { sub: 'prometheus', scope: 'mcp metrics' });
    assert.equal((await hreq(`${d.base}/metrics`, { method: 'GET', headers: bearer(jwtOps) })).status, 200);
    const health = await hreq(`${d.base}/healthz`, { method: 'GET' });
    assert.equal(health.status, 200);
  });

  test('21: the CORS preflight needs no token; a 401 to an allowed Origin exposes WWW-Authenticate', async () => {
    const pre = await hreq(d.url, { method: 'OPTIONS', headers: {
      Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type, mcp-session-id' } });
    assert.equal(pre.status, 204, pre.text);
    assert.equal(pre.headers['www-authenticate'], undefined);
    assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
    assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
    assert.match(pre.headers['access-control-allow-headers'], /Mcp-Method/);
    assert.match(pre.headers['access-control-allow-headers'], /Mcp-Name/);
    assert.equal(pre.headers['access-control-max-age'], '86400');
    const r = await hreq(d.url, { headers: { Origin: ORIGIN }, body: INIT() });
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], challenge(d));
    assert.equal(r.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(r.headers['access-control-expose-headers'], 'Mcp-Session-Id, WWW-Authenticate');
    // A foreign Origin is still refused before any authentication.
    const evil = await hreq(d.url, { headers: { Origin: 'https://evil.example', ...bearer(await jwtFor(d, { sub: 'alice' })) }, body: INIT() });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers['www-authenticate'], undefined);
  });

  test('ABI: whoami shows the principal (JWT, static token, introspection) from a worker thread; call_header hides Authorization', async () => {
    const t = nowS();
    const tok = await jwtFor(d, { sub: 'alice', client_id: 'cli-1', scope: 'mcp tools read', tenant: 't1', exp: t + 200 });
    const sid = await session(d, tok);
    const me = await whoami(d, tok, sid);
    assert.equal(me.kind, 'jwt');
    assert.equal(me.subject, 'alice');
    assert.equal(me.client_id, 'cli-1');
    assert.equal(me.issuer, as.issuer);
    assert.deepEqual(me.scopes, ['mcp', 'read', 'tools']);
    assert.equal(me.scopes_terminated, true);
    assert.equal(me.claims.tenant, 't1');
    assert.equal(me.claims.aud, d.url);
    assert.equal(me.claims.sub, 'alice');
    assert.equal(me.expires_at, t + 200);
    const hdr = await callTool(d, tok, sid, 'header', { name: 'authorization' });
    assert.equal(hdr.content[0].text, '(none)');
    const proxyHdr = await onSession(d, tok, sid, rpc('tools/call', { name: 'header', arguments: { name: 'proxy-authorization' } }),
      { 'Proxy-Authorization': 'Basic c2VjcmV0' });
    assert.equal(proxyHdr.json.result.content[0].text, '(none)');

    // azp when there is no client_id; the client id as subject when there is no sub.
    const azp = await jwtFor(d, { sub: 'dave', azp: 'cli-2' });
    assert.equal((await whoami(d, azp, await session(d, azp))).client_id, 'cli-2');
    const cc = await jwtFor(d, { client_id: 'robot-7' });
    const robot = await whoami(d, cc, await session(d, cc));
    assert.equal(robot.subject, 'robot-7');
    assert.equal(robot.client_id, 'robot-7');

    const ci = await whoami(d, STATIC_CI, await session(d, STATIC_CI));
    assert.equal(ci.kind, 'token');
    assert.equal(ci.subject, 'ci');
    assert.equal(ci.client_id, null);
    assert.equal(ci.issuer, null);
    assert.deepEqual(ci.scopes, ['deploy', 'mcp']);
    assert.equal(ci.claims.sub, 'ci');
    assert.deepEqual(ci.claims.scope.split(' ').sort(), ['deploy', 'mcp']);
    assert.equal(ci.expires_at, 0);

    const opq = secret(as.opaque({ sub: 'erin', client_id: 'opaque-agent', scope: 'mcp admin', aud: d.url }));
    const intro = await whoami(d, opq, await session(d, opq));
    assert.equal(intro.kind, 'introspection');
    assert.equal(intro.subject, 'erin');
    assert.equal(intro.client_id, 'opaque-agent');
    assert.equal(intro.issuer, as.issuer);
    assert.deepEqual(intro.scopes, ['admin', 'mcp']);
    assert.equal(intro.claims.active, true);
    assert.ok(intro.expires_at > t);

    // A plugin built against ABI 1.0 still loads and serves.
    assert.match(d.log(), /event=plugin_loaded plugin=old_minor version=1\.0 /);
    assert.match((await callTool(d, tok, sid, 'old_tool')).content[0].text, /^old plugin on host ABI 1\.\d+$/);
  });

  test('the access log names the principal, how it authenticated and the tool, never a token', async () => {
    const tok = await jwtFor(d, { sub: 'alice' });
    const sid = await session(d, tok);
    assert.equal((await callTool(d, tok, sid, 'echo', { text: 'logged' })).content[0].text, 'logged');
    const sidCi = await session(d, STATIC_CI);
    assert.equal((await callTool(d, STATIC_CI, sidCi, 'echo', { text: 'ci' })).content[0].text, 'ci');
    // One request line with both, in whatever order the fields come.
    const line = (who) => new RegExp(`^(?=[^\\n]*event=request )(?=[^\\n]*tool=echo(?: |$))(?=[^\\n]*${who}(?: |$))[^\\n]*$`, 'm');
    await d.waitForLog(line('principal="alice" auth=jwt'));
    await d.waitForLog(line('principal="ci" auth=token'));
    assertNoSecrets(d.log());
  });

  // ---- the SDK as an OAuth client ----

  // fetch for the SDK (plain-HTTP mcpd, HTTPS authorization server) that
  // records what it asked for, and shows the provider each challenge.
  function recordingFetch(provider) {
    const f = tlsFetch({ ca: certs.ca.cert });
    const seen = [];
    const g = async (url, init = {}) => {
      const res = await f(url, init);
      seen.push({ method: init.method ?? 'GET', url: String(url), status: res.status });
      provider?.noteChallenge?.(res);
      return res;
    };
    g.seen = seen;
    g.destroy = f.destroy;
    return g;
  }

  // The SDK's ClientCredentialsProvider (1.32.2) asks the token endpoint for
  // clientMetadata.scope only: fetchToken() never sees the scope of a
  // challenge, so with it a 403 insufficient_scope leads to the same token
  // again. This one asks for the scope of mcpd's last challenge (401 or 403),
  // as MCP's scope-selection strategy says a client should.
  class ChallengeScopedProvider extends ClientCredentialsProvider {
    noteChallenge(res) {
      const m = /(?:^Bearer |, )scope="([^"]*)"/.exec(res.headers.get('www-authenticate') ?? '');
      if (m && (res.status === 401 || res.status === 403)) this.challengeScope = m[1];
    }

    get clientMetadata() {
      return { ...super.clientMetadata, scope: this.challengeScope ?? super.clientMetadata.scope };
    }
  }

  test('SDK authProvider over Streamable HTTP: 401, metadata, token for this resource, retry; upscoping on 403', async () => {
    const f = recordingFetch();
    const start = as.tokenRequests;
    const issued = as.issued.length;
    const provider = new ClientCredentialsProvider({ clientId: 'agent', clientSecret: CLIENTS.agent.secret, expectedIssuer: as.issuer });
    const client = new Client({ name: 'auth-sdk', version: '1' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(d.url), { authProvider: provider, fetch: f }));
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('echo') && !names.includes('admin_only'), names.join(' '));
      assert.equal(as.tokenRequests - start, 1);
      assert.equal(f.seen[0].status, 401);
      assert.ok(f.seen.some((s) => s.url === metadataUrl(d) && s.status === 200), JSON.stringify(f.seen));
      const tok = secret(as.issued.at(-1).token);
      assert.equal(as.issued.length, issued + 1);
      assert.equal(decodeJwt(tok).aud, d.url);
      // No scope asked for (see ChallengeScopedProvider): all the client may have.
      assert.equal(decodeJwt(tok).scope, 'mcp tools');
      const r = await client.callTool({ name: 'echo', arguments: { text: 'with a token' } });
      assert.equal(r.content[0].text, 'with a token');
      const me = JSON.parse((await client.callTool({ name: 'whoami', arguments: {} })).content[0].text);
      assert.equal(me.subject, 'agent');
      assert.equal(me.client_id, 'agent');
    } finally {
      await client.close();
      f.destroy();
    }

    // A client allowed "admin" that asks for the challenge's scope: "mcp" at
    // first, then the 403 names "mcp admin" and the SDK gets a new token.
    const root = new ChallengeScopedProvider({ clientId: 'root', clientSecret: CLIENTS.root.secret, expectedIssuer: as.issuer });
    const f2 = recordingFetch(root);
    const start2 = as.tokenRequests;
    const admin = new Client({ name: 'auth-sdk-admin', version: '1' });
    try {
      await admin.connect(new StreamableHTTPClientTransport(new URL(d.url), { authProvider: root, fetch: f2 }));
      assert.equal(as.tokenRequests - start2, 1);
      assert.equal(secret(as.issued.at(-1).token) && as.issued.at(-1).scope, 'mcp');
      assert.ok(!(await admin.listTools()).tools.some((t) => t.name === 'admin_only'));
      const r = await admin.callTool({ name: 'admin_only', arguments: {} });
      assert.equal(r.content[0].text, 'admin ok');
      assert.equal(as.tokenRequests - start2, 2);
      const up = as.issued.at(-1);
      secret(up.token);
      assert.equal(up.scope, 'mcp admin');
      assert.equal(up.aud, d.url);
      assert.ok(f2.seen.some((s) => s.status === 403), JSON.stringify(f2.seen));
    } finally {
      await admin.close();
      f2.destroy();
    }
  });

  test('SDK authProvider with an opaque token: mcpd introspects it', async () => {
    const f = recordingFetch();
    const start = as.tokenRequests;
    const intro = as.introspections;
    const provider = new ClientCredentialsProvider({ clientId: 'opaque-agent', clientSecret: CLIENTS['opaque-agent'].secret, expectedIssuer: as.issuer });
    const client = new Client({ name: 'auth-sdk-opaque', version: '1' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(d.url), { authProvider: provider, fetch: f }));
      assert.equal(as.tokenRequests - start, 1);
      const t = as.issued.at(-1);
      secret(t.token);
      assert.equal(t.opaque, true);
      assert.equal(t.aud, d.url);
      assert.ok((await client.listTools()).tools.some((x) => x.name === 'echo'));
      const me = JSON.parse((await client.callTool({ name: 'whoami', arguments: {} })).content[0].text);
      assert.equal(me.kind, 'introspection');
      assert.equal(me.subject, 'opaque-agent');
      assert.ok(as.introspections > intro);
      assert.ok(as.introspected.includes(t.token));
    } finally {
      await client.close();
      f.destroy();
    }
  });

  test('SDK authProvider over the legacy HTTP+SSE transport', async () => {
    const f = recordingFetch();
    const start = as.tokenRequests;
    // The SDK checks that the metadata's resource is a prefix of the URL it
    // connects to; /sse is not under /mcp, so the client accepts mcpd's
    // single resource explicitly (same origin only).
    class SseProvider extends ClientCredentialsProvider {
      async validateResourceURL(serverUrl, resource) {
        assert.equal(resource, d.url);
        assert.equal(new URL(resource).origin, new URL(serverUrl).origin);
        return new URL(resource);
      }
    }
    const provider = new SseProvider({ clientId: 'agent', clientSecret: CLIENTS.agent.secret, expectedIssuer: as.issuer });
    const client = new Client({ name: 'auth-sdk-sse', version: '1' });
    try {
      await client.connect(new SSEClientTransport(new URL(`${d.base}/sse`), { authProvider: provider, fetch: f, eventSourceInit: { fetch: f } }));
      assert.equal(as.tokenRequests - start, 1);
      const t = as.issued.at(-1);
      secret(t.token);
      assert.equal(t.aud, d.url);
      assert.equal(f.seen[0].status, 401);
      const r = await client.callTool({ name: 'echo', arguments: { text: 'legacy with a token' } });
      assert.equal(r.content[0].text, 'legacy with a token');
    } finally {
      await client.close();
      f.destroy();
    }
  });
});

// ---- static tokens only, public_url, per-principal limits --------------------------------

describe('static tokens only, public_url, principal_rate_per_s 5, max_sessions_per_principal 2', () => {
  let d;
  before(async () => {
    d = await startMcpd({
      plugins: ['hello'],
      config: {
        public_url: 'https://mcp.example.test',
        limits: { principal_rate_per_s: 5, max_sessions_per_principal: 2 },
        auth: {
          tokens: [
            { name: 'alice', token: STATIC_ALICE, scopes: ['mcp'] },
            { name: 'bob', token: STATIC_BOB, scopes: ['mcp'] },
            { name: 'carol', token: STATIC_CAROL, scopes: ['mcp'] },
          ],
        },
      },
    });
  });
  after(async () => {
    if (d) {
      assertNoSecrets(d.log());
      await d.stop();
    }
  });
  afterEach(() => { if (d) assertNoSecrets(d.log()); });

  test('19: static-only: 401 Bearer realm="mcp" (invalid_token for a wrong token); no metadata document', async () => {
    const none = await hreq(d.url, { body: INIT() });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="mcp"');
    const wrong = secret(randomBytes(24).toString('hex'));
    const r = await hreq(d.url, { headers: bearer(wrong), body: INIT() });
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="mcp", error="invalid_token"');
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const m = await hreq(`${d.base}${p}`, { method: 'GET' });
      assert.equal(m.status, 404, `${p}: ${m.text}`);
    }
    assert.equal((await hreq(d.url, { headers: bearer(STATIC_CAROL), body: INIT() })).status, 200);
  });

  test('22: /sse needs a token; with public_url its endpoint event is absolute', async () => {
    const refused = await streamHead(`${d.base}/sse`);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="mcp"');
    const s = await openStream(`${d.base}/sse`, bearer(STATIC_CAROL));
    try {
      assert.equal(s.status, 200);
      assert.match(s.headers['content-type'], /^text\/event-stream/);
      assert.equal(s.headers['x-accel-buffering'], 'no');
      const text = await s.until((t) => t.includes('\n\n'));
      assert.match(text, /^event: endpoint\r?\ndata: https:\/\/mcp\.example\.test\/messages\?sessionId=[0-9a-f]{32}\r?\n\r?\n/);
    } finally {
      s.close();
    }
  });

  test('17: max_sessions_per_principal 2: a third initialize while two sessions hold GET streams gets 429', async () => {
    const streams = [];
    try {
      for (let i = 0; i < 2; i++) {
        const r = await hreq(d.url, { headers: bearer(STATIC_BOB), body: INIT() });
        assert.equal(r.status, 200, r.text);
        const s = await openStream(d.url, { ...bearer(STATIC_BOB), 'Mcp-Session-Id': r.headers['mcp-session-id'] });
        streams.push(s);
        assert.equal(s.status, 200);
      }
      const third = await hreq(d.url, { headers: bearer(STATIC_BOB), body: INIT() });
      assert.equal(third.status, 429, third.text);
      assert.equal(third.headers['retry-after'], '1');
      // Another principal is not affected.
      assert.equal((await hreq(d.url, { headers: bearer(STATIC_CAROL), body: INIT() })).status, 200);
    } finally {
      for (const s of streams) s.close();
    }
  });

  test('16: principal_rate_per_s 5: of 20 quick calls some get 429 with Retry-After: 1', async () => {
    const r0 = await hreq(d.url, { headers: bearer(STATIC_ALICE), body: INIT() });
    assert.equal(r0.status, 200, r0.text);
    const sid = r0.headers['mcp-session-id'];
    const rs = await Promise.all(Array.from({ length: 20 }, () =>
      onSession(d, STATIC_ALICE, sid, rpc('tools/call', { name: 'echo', arguments: { text: 'x' } }))));
    const by = {};
    for (const r of rs) by[r.status] = (by[r.status] ?? 0) + 1;
    assert.deepEqual(Object.keys(by).sort(), ['200', '429'], JSON.stringify(by));
    assert.ok(by[200] <= 11, JSON.stringify(by)); // burst 2 x 5, and what refills meanwhile
    for (const r of rs.filter((x) => x.status === 429)) assert.equal(r.headers['retry-after'], '1');
    // Carol has her own bucket.
    assert.equal((await hreq(d.url, { headers: bearer(STATIC_CAROL), body: INIT() })).status, 200);
  });
});

// ---- key rotation and an unreachable JWKS -------------------------------------------------

describe('jwks_cooldown_s 5: rotation, then the JWKS server stopped', () => {
  let d;
  before(async () => {
    d = await startMcpd({
      plugins: ['hello'],
      config: { auth: { jwt: { issuer: as.issuer, jwks_url: `${as.issuer}/jwks`, ca_file: certs.ca.cert, jwks_cooldown_s: 5 } } },
    });
  });
  after(async () => {
    if (!as.running()) await as.startJwks();
    if (d) {
      assertNoSecrets(d.log());
      await d.stop();
    }
  });
  afterEach(() => { if (d) assertNoSecrets(d.log()); });

  // Waits until cool-down seconds have passed since the last JWKS fetch.
  async function afterCooldown() {
    const last = as.jwksLastHit;
    const left = last + 5000 + 300 - Date.now();
    if (left > 0) await sleep(left);
  }

  test('20: a key published after the last fetch: 401 during the cool-down, 200 after it (one refetch)', async () => {
    const known = await jwtFor(d, { sub: 'alice', scope: 'mcp' });
    assert.equal((await hreq(d.url, { headers: bearer(known), body: INIT() })).status, 200);
    const hits = as.jwksHits;
    as.publish(await as.newKey('ES256', 'es2'));
    const rotated = await jwtFor(d, { sub: 'alice', scope: 'mcp' }, { alg: 'ES256', kid: 'es2' });
    const early = await hreq(d.url, { headers: bearer(rotated), body: INIT() });
    assert.equal(early.status, 401, early.text);
    assert.equal(early.headers['www-authenticate'],
      `Bearer error="invalid_token", error_description="${WHY.unknownKid}", resource_metadata="${metadataUrl(d)}"`);
    assert.equal(as.jwksHits, hits, 'a refetch inside the cool-down');
    await afterCooldown();
    const later = await hreq(d.url, { headers: bearer(rotated), body: INIT() });
    assert.equal(later.status, 200, later.text);
    assert.equal(as.jwksHits, hits + 1);
  });

  test('18: the JWKS server stopped, a new kid after the cool-down: 503 Retry-After: 5, never 401; known keys still work', async () => {
    await as.stopJwks();
    try {
      as.publish(await as.newKey('RS256', 'rs2'));
      await afterCooldown();
      const tok = await jwtFor(d, { sub: 'alice', scope: 'mcp' }, { kid: 'rs2' });
      const r = await hreq(d.url, { headers: bearer(tok), body: INIT() });
      assert.equal(r.status, 503, r.text);
      assert.equal(r.headers['retry-after'], '5');
      assert.equal(r.headers['www-authenticate'], undefined);
      // The key set it has is kept.
      const known = await jwtFor(d, { sub: 'alice', scope: 'mcp' }, { kid: 'es1', alg: 'ES256' });
      assert.equal((await hreq(d.url, { headers: bearer(known), body: INIT() })).status, 200);
    } finally {
      await as.startJwks();
    }
  });
});

test('18 (start-up): a JWKS answering 500 from the start gives 503 Retry-After: 5, and mcpd recovers once it is back', async () => {
  as.failJwks(true);
  let d;
  try {
    d = await startMcpd({
      plugins: ['hello'],
      config: { auth: { jwt: { issuer: as.issuer, jwks_url: `${as.issuer}/jwks`, ca_file: certs.ca.cert } } },
    });
    const tok = await jwtFor(d, { sub: 'alice', scope: 'mcp' });
    const r = await hreq(d.url, { headers: bearer(tok), body: INIT() });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers['retry-after'], '5');
    as.failJwks(false);
    // The refresh backs off from 1 s after a failure.
    let status;
    for (let i = 0; i < 40 && status !== 200; i++) {
      await sleep(200);
      status = (await hreq(d.url, { headers: bearer(tok), body: INIT() })).status;
      assert.ok(status === 200 || status === 503, `status ${status}`);
    }
    assert.equal(status, 200);
    assertNoSecrets(d.log());
  } finally {
    as.failJwks(false);
    if (d) await d.stop();
  }
});
