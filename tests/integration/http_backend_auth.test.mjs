// http_backend with mcpd's client authentication (design-auth.md §3): the
// OpenAPI "security" of each operation becomes the scopes its tool needs,
// claims of the caller go to the backend as headers (claim_headers), the
// backend gets its own token by the OAuth client credentials grant (oauth2),
// never the MCP client's, and a backend token the backend refuses (401) is
// replaced once and the request sent again.
//
// The backend and its token endpoint are node servers in this file: the
// backend serves an OpenAPI document and echoes the headers it gets; the
// token endpoint issues opaque tokens to one client (Basic auth), counts its
// requests and can revoke tokens (the backend then answers 401).
//
// The first test needs the core's side of auth (the "auth" section, list
// filtering by scope, call_principal); the others use only http_backend and
// run on any 1.3 host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, makePluginsDir, buildDir, runMcpd } from './lib/mcpd.mjs';

const PLUGIN = join(buildDir, 'plugins/http_backend.so');
const CLIENT_ID = 'shop-backend';
const CLIENT_SECRET = 'cs-7f3a9c1e5b2d4f60';
const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789ab';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function listen(server) {
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res(server.address().port)));
}

function readBody(req) {
  return new Promise((res) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => res(b));
  });
}

// The authorization server: client_credentials only, Basic auth, opaque tokens.
async function startTokenEndpoint() {
  const as = {
    tokenRequests: 0,
    issued: [],
    valid: new Set(),
    delayMs: 0,
    lastForm: null,
    revoke(t) { this.valid.delete(t); },
    revokeAll() { this.valid.clear(); },
  };
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const json = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(obj));
    };
    if (req.method !== 'POST' || req.url !== '/token') return json(404, { error: 'not_found' });
    as.tokenRequests++;
    if (as.delayMs) await sleep(as.delayMs);
    const form = new URLSearchParams(body);
    as.lastForm = form;
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [id, secret] = m ? Buffer.from(m[1], 'base64').toString().split(':').map(decodeURIComponent) : [];
    if (id !== CLIENT_ID || secret !== CLIENT_SECRET) return json(401, { error: 'invalid_client', error_description: 'bad client credentials' });
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return json(400, { error: 'invalid_request' });
    if (form.get('grant_type') !== 'client_credentials') return json(400, { error: 'unsupported_grant_type' });
    const token = `bt-${as.tokenRequests}-${randomBytes(12).toString('hex')}`;
    as.issued.push(token);
    as.valid.add(token);
    json(200, { access_token: token, token_type: 'Bearer', expires_in: 300, scope: form.get('scope') ?? '' });
  });
  as.port = await listen(server);
  as.url = `http://127.0.0.1:${as.port}/token`;
  as.stop = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return as;
}

const DOC = {
  openapi: '3.1.0',
  info: { title: 'Items', version: '1' },
  components: {
    securitySchemes: {
      oauth: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://as.example/token', scopes: { 'items:read': '', 'items:write': '' } } } },
      key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
    },
  },
  security: [{ oauth: ['items:read'] }],
  paths: {
    '/items': {
      get: { operationId: 'list_items', responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } } },
      post: {
        operationId: 'create_item', summary: 'Create an item', security: [{ oauth: ['items:write'] }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } } },
        responses: { 201: { description: 'created', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/ping': {
      get: { operationId: 'ping', security: [], responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } } },
    },
    '/whoami': {
      get: {
        operationId: 'whoami', security: [{ oauth: [] }],
        parameters: [{ name: 'X-User-Id', in: 'header', required: true, schema: { type: 'string' } }, { name: 'X-Trace', in: 'header', schema: { type: 'string' } }],
        responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
  },
};

// The backend: the document without a token, every operation only with a
// token the token endpoint issued and did not revoke. Echoes the headers.
async function startBackend(as) {
  const be = { seen: [], unauthorized: 0 };
  const server = http.createServer(async (req, res) => {
    await readBody(req);
    const json = (status, obj) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
    if (req.url === '/openapi.json') return json(200, DOC);
    be.seen.push({ method: req.method, url: req.url, headers: req.headers });
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m || !as.valid.has(m[1])) {
      be.unauthorized++;
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' });
      return res.end(JSON.stringify({ detail: 'token refused' }));
    }
    json(req.method === 'POST' ? 201 : 200, { headers: req.headers });
  });
  be.port = await listen(server);
  be.url = `http://127.0.0.1:${be.port}`;
  be.stop = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return be;
}

function backendConfig(as, be, extra = {}) {
  return {
    name: 'shop', base_url: be.url, openapi: '/openapi.json',
    oauth2: { token_url: as.url, client_id: CLIENT_ID, client_secret: '${HB_TEST_SECRET}', scopes: ['items'] },
    ...extra,
  };
}

const AUTH = { tokens: [
  { name: 'alice', token: ALICE, scopes: ['mcp', 'items:write'] },
  { name: 'bob', token: BOB, scopes: ['mcp'] },
] };

async function connect(d, token) {
  const client = new Client({ name: 'http-backend-auth-test', version: '1' });
  const opts = token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : undefined;
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url), opts));
  return client;
}

async function waitTools(d) {
  await d.waitForLog(/event=plugin_updated plugin=http_backend tools=(\d+)/, 20000);
}

function noSecrets(text, as) {
  assert.doesNotMatch(text, new RegExp(CLIENT_SECRET));
  assert.doesNotMatch(text, new RegExp(ALICE));
  for (const t of as.issued) assert.ok(!text.includes(t), 'a backend token in the log');
}

let as, be;
before(async () => { as = await startTokenEndpoint(); be = await startBackend(as); });
after(async () => { await be?.stop(); await as?.stop(); });

// Needs the core's auth: the "auth" section, tools/list filtered by the
// tools' required_scopes, call_principal (claim_headers), and the host
// refusing tools/call of a tool the caller lacks the scope for.
test('with mcpd auth: scopes from security, claims as headers, the backend\'s own token', async () => {
  const d = await startMcpd({
    pluginsDir: makePluginsDir([PLUGIN]),
    config: { auth: AUTH, plugins: { http_backend: { backends: [backendConfig(as, be, { claim_headers: { 'X-User-Id': 'sub' } })] } } },
    env: { HB_TEST_SECRET: CLIENT_SECRET },
  });
  const before = as.tokenRequests;
  let alice, bob;
  try {
    await waitTools(d);
    alice = await connect(d, ALICE);
    bob = await connect(d, BOB);
    const aliceTools = (await alice.listTools()).tools.map((t) => t.name).sort();
    const bobTools = (await bob.listTools()).tools.map((t) => t.name).sort();
    // create_item needs items:write (its own security); ping has security: [];
    // whoami asks for an oauth2 token with no scope (any valid token);
    // list_items inherits the document's items:read, which neither holds.
    assert.deepEqual(aliceTools, ['create_item', 'ping', 'whoami']);
    assert.deepEqual(bobTools, ['ping', 'whoami']);
    // The header named in claim_headers is no argument: the model cannot set it.
    const whoami = (await alice.listTools()).tools.find((t) => t.name === 'whoami');
    assert.equal(whoami.inputSchema.properties?.['X-User-Id'], undefined);
    assert.ok(whoami.inputSchema.properties?.['X-Trace']);
    const w = await bob.callTool({ name: 'whoami', arguments: { 'X-Trace': 't1' } });
    assert.equal(w.isError, false, JSON.stringify(w));
    assert.equal(be.seen.at(-1).headers['x-user-id'], 'bob');
    assert.equal(be.seen.at(-1).headers['x-trace'], 't1');

    const n0 = be.seen.length;
    const r = await alice.callTool({ name: 'create_item', arguments: { name: 'saw' } });
    assert.equal(r.isError, false, JSON.stringify(r));
    const got = be.seen.slice(n0);
    assert.equal(got.length, 1);
    const h = got[0].headers;
    assert.equal(h['x-user-id'], 'alice');
    assert.equal(h.authorization, `Bearer ${as.issued.at(-1)}`);
    assert.ok(as.valid.has(as.issued.at(-1)));
    for (const s of be.seen) assert.ok(!JSON.stringify(s.headers).includes(ALICE), 'the MCP token reached the backend');
    assert.equal(as.tokenRequests - before, 1);
    assert.equal(as.lastForm.get('scope'), 'items');

    // bob may not call it (the host checks the scope again on tools/call).
    await assert.rejects(bob.callTool({ name: 'create_item', arguments: { name: 'x' } }), /Forbidden|403|scope/i);

    // The backend revokes its token: the next call gets a 401, one new token,
    // and succeeds on the second try.
    as.revokeAll();
    const unauth = be.unauthorized, reqs = as.tokenRequests;
    const r2 = await alice.callTool({ name: 'ping', arguments: {} });
    assert.equal(r2.isError, false, JSON.stringify(r2));
    assert.equal(as.tokenRequests, reqs + 1);
    assert.equal(be.unauthorized, unauth + 1);
    assert.equal(be.seen.at(-1).headers.authorization, `Bearer ${as.issued.at(-1)}`);
    assert.equal(be.seen.at(-1).headers['x-user-id'], 'alice');
    noSecrets(d.log(), as);
  } finally {
    await alice?.close();
    await bob?.close();
    await d.stop();
  }
});

// Needs the core's "auth" section (and auth_enabled).
test('forward_headers naming authorization fails --check while mcpd authenticates its clients', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-hba-'));
  try {
    const file = join(work, 'c.json');
    writeFileSync(file, JSON.stringify({ auth: AUTH, plugins: { http_backend: { backends: [
      { name: 'shop', base_url: be.url, openapi: '/openapi.json', forward_headers: ['X-Request-Id', 'Authorization'] }] } } }));
    const r = await runMcpd(['--check', '--config', file, '--plugins', makePluginsDir([PLUGIN])]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /backend shop: forward_headers names authorization, but mcpd authenticates its clients \(auth\): the client's token is never forwarded; give the backend its own credentials \(\\?"headers\\?" or \\?"oauth2\\?"\)/);
    // Without auth the same backend is fine.
    writeFileSync(file, JSON.stringify({ plugins: { http_backend: { backends: [
      { name: 'shop', base_url: be.url, openapi: '/openapi.json', forward_headers: ['Authorization'] }] } } }));
    const ok = await runMcpd(['--check', '--config', file, '--plugins', makePluginsDir([PLUGIN])]);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

// http_backend alone: runs without the core's auth.
test('oauth2: one token request for concurrent calls, a 401 refetches once, cancelled waits', async () => {
  const d = await startMcpd({
    pluginsDir: makePluginsDir([PLUGIN]),
    config: { plugins: { http_backend: { backends: [backendConfig(as, be)] } } },
    env: { HB_TEST_SECRET: CLIENT_SECRET },
  });
  const client = await connect(d);
  try {
    await waitTools(d);
    const before = as.tokenRequests;
    // Single flight: the token endpoint is slow, eight calls wait for one request.
    as.delayMs = 300;
    const rs = await Promise.all(Array.from({ length: 8 }, () => client.callTool({ name: 'ping', arguments: {} })));
    as.delayMs = 0;
    for (const r of rs) assert.equal(r.isError, false, JSON.stringify(r));
    assert.equal(as.tokenRequests - before, 1);
    const token = as.issued.at(-1);
    assert.equal(be.seen.at(-1).headers.authorization, `Bearer ${token}`);
    assert.equal(as.lastForm.get('scope'), 'items');
    assert.equal(as.lastForm.get('client_secret'), null); // Basic auth, not in the form

    // Kept: the next call asks for no token.
    await client.callTool({ name: 'ping', arguments: {} });
    assert.equal(as.tokenRequests - before, 1);

    // Revoked: 401, one new token, the request once more, success.
    as.revoke(token);
    let unauth = be.unauthorized;
    const r = await client.callTool({ name: 'create_item', arguments: { name: 'saw' } });
    assert.equal(r.isError, false, JSON.stringify(r));
    assert.equal(as.tokenRequests - before, 2);
    assert.equal(be.unauthorized, unauth + 1);
    assert.deepEqual(be.seen.slice(-2).map((s) => s.method), ['POST', 'POST']);

    // Several calls refused at once: still one new token between them.
    as.revokeAll();
    unauth = be.unauthorized;
    const rs2 = await Promise.all(Array.from({ length: 4 }, () => client.callTool({ name: 'ping', arguments: {} })));
    for (const x of rs2) assert.equal(x.isError, false, JSON.stringify(x));
    assert.equal(as.tokenRequests - before, 3);

    // A call cancelled while it waits for a token leaves the wait list; the
    // others still get theirs.
    as.revokeAll();
    as.delayMs = 500;
    const ctl = new AbortController();
    const cancelled = client.callTool({ name: 'ping', arguments: {} }, undefined, { signal: ctl.signal });
    await sleep(100);
    const waiting = client.callTool({ name: 'ping', arguments: {} });
    await sleep(100);
    ctl.abort();
    await assert.rejects(cancelled);
    const w = await waiting;
    as.delayMs = 0;
    assert.equal(w.isError, false, JSON.stringify(w));

    // A backend that refuses every token: one retry, then the 401 is the answer.
    const reqs = as.tokenRequests;
    const orig = as.valid.has.bind(as.valid);
    as.valid.has = () => false;
    try {
      const bad = await client.callTool({ name: 'ping', arguments: {} });
      assert.equal(bad.isError, true);
      assert.match(bad.content[0].text, /^HTTP 401/);
      assert.equal(as.tokenRequests, reqs + 1);
    } finally {
      as.valid.has = orig;
    }
    noSecrets(d.log(), as);
  } finally {
    await client.close();
    await d.stop();
  }
});

test('oauth2: token endpoint failures are tool errors without secrets; settings errors', async () => {
  const d = await startMcpd({
    pluginsDir: makePluginsDir([PLUGIN]),
    config: { plugins: { http_backend: { backends: [backendConfig(as, be)] } } },
    env: { HB_TEST_SECRET: 'wrong-secret-0000' },
  });
  const client = await connect(d);
  try {
    await waitTools(d);
    const r = await client.callTool({ name: 'ping', arguments: {} });
    assert.equal(r.isError, true);
    assert.equal(r.content[0].text, 'backend shop: no access token from token_url: HTTP 401 invalid_client');
    assert.doesNotMatch(d.log(), /wrong-secret-0000/);
  } finally {
    await client.close();
    await d.stop();
  }

  const work = mkdtempSync(join(tmpdir(), 'mcpd-hba-'));
  try {
    const file = join(work, 'c.json');
    const check = async (extra, re) => {
      writeFileSync(file, JSON.stringify({ plugins: { http_backend: { backends: [backendConfig(as, be, extra)] } } }));
      const c = await runMcpd(['--check', '--config', file, '--plugins', makePluginsDir([PLUGIN])]);
      assert.equal(c.code, 1, c.stderr);
      assert.match(c.stderr, re);
      assert.doesNotMatch(c.stderr, /cs-7f3a9c1e5b2d4f60/);
    };
    await check({ headers: { Authorization: 'Bearer static' } }, /backend shop: \\?"oauth2\\?" and an Authorization header in \\?"headers\\?" cannot both be set/);
    await check({ forward_headers: ['authorization'] }, /backend shop: \\?"oauth2\\?" and forward_headers authorization cannot both be set/);
    await check({ oauth2: { token_url: as.url, client_id: CLIENT_ID, client_secret: '${HB_NO_SUCH_VAR_X}' } }, /environment variable HB_NO_SUCH_VAR_X \(used in oauth2.client_secret\) is not set/);
    await check({ oauth2: { token_url: as.url, client_id: CLIENT_ID, client_secret: 'x', auth_method: 'private_key_jwt' } }, /oauth2.auth_method must be/);
    await check({ oauth2: { token_url: 'ftp://x', client_id: CLIENT_ID, client_secret: 'x' } }, /oauth2.token_url must be an http:\/\/ or https:\/\/ URL/);
    await check({ oauth2: { token_url: as.url, client_id: CLIENT_ID, client_secret: 'x', scope: 'a' } }, /oauth2: unknown setting \\?"scope\\?"/);
    await check({ scope_prefix: 'a b' }, /\\?"scope_prefix\\?" must be a string without spaces/);
    await check({ security_scopes: 'yes' }, /\\?"security_scopes\\?" must be true or false/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
