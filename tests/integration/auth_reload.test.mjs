// auth_reload.test.mjs -- the auth section across SIGHUP: turning auth on
// leaves the sessions made before it unowned (404, the client initializes
// again with a token); a changed token's scopes apply at once (the token
// cache is emptied); a key file that does not load fails the reload and
// keeps the running settings. Sessions stay their creator's: another
// principal gets 404 for them, DELETE included, and they live on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMcpd } from './lib/mcpd.mjs';

const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789abc';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

async function post(url, body, headers = {}, method = 'POST') {
  const r = await fetch(url, { method, headers: { 'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream', ...headers }, body: method === 'POST' ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text, json: text.startsWith('{') ? JSON.parse(text) : null };
}

const auth = (t) => (t ? { Authorization: `Bearer ${t}` } : {});

async function init(url, token) {
  const r = await post(url, INIT, auth(token));
  assert.equal(r.status, 200, r.body);
  const sid = r.headers.get('mcp-session-id');
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...auth(token), 'Mcp-Session-Id': sid });
  return sid;
}

const tools = async (url, sid, token) => {
  const r = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...auth(token), 'Mcp-Session-Id': sid });
  return { status: r.status, names: r.json?.result?.tools?.map((t) => t.name).sort() };
};

async function reload(d) {
  const before = (d.log().match(/event=reload_(done|failed)/g) ?? []).length;
  d.proc.kill('SIGHUP');
  const t0 = Date.now();
  while ((d.log().match(/event=reload_(done|failed)/g) ?? []).length <= before) {
    if (Date.now() - t0 > 10000) throw new Error(`no reload:\n${d.log()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('auth on by SIGHUP, scopes changed by SIGHUP, a broken key file refused; sessions stay their creator\'s', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-auth-reload-'));
  const file = join(work, 'mcpd.json');
  const write = (cfg) => writeFileSync(file, JSON.stringify(cfg));
  const tokens = (aliceScopes) => [{ name: 'alice', token: ALICE, scopes: aliceScopes }, { name: 'bob', token: BOB, scopes: ['mcp'] }];
  const withAuth = (aliceScopes) => ({ auth: { tokens: tokens(aliceScopes), scopes: { rules: [{ tools: 'count', scopes: ['counting'] }] } } });
  write({});
  const d = await startMcpd({ args: ['--config', file] });
  try {
    const before = await init(d.url, null);
    assert.equal((await tools(d.url, before)).status, 200);

    write(withAuth(['mcp']));
    await reload(d);
    assert.match(d.log(), /event=reload_done/);
    // The old session has no owner: nobody may use it now, not even with a token.
    assert.equal((await tools(d.url, before, ALICE)).status, 404);
    assert.equal((await post(d.url, INIT)).status, 401);
    const sid = await init(d.url, ALICE);
    assert.deepEqual((await tools(d.url, sid, ALICE)).names, ['echo']);
    // Bob's token on Alice's session: 404, for DELETE too, and her session lives on.
    assert.equal((await tools(d.url, sid, BOB)).status, 404);
    assert.equal((await post(d.url, null, { ...auth(BOB), 'Mcp-Session-Id': sid }, 'DELETE')).status, 404);
    assert.equal((await tools(d.url, sid, ALICE)).status, 200);

    // Alice gets "counting": the cached verification is dropped with the reload.
    write(withAuth(['mcp', 'counting']));
    await reload(d);
    assert.deepEqual((await tools(d.url, sid, ALICE)).names, ['count', 'echo']);

    // A key file that does not load: the reload fails, the running settings stay.
    const broken = join(work, 'jwks.json');
    writeFileSync(broken, '{"keys": ');
    write({ auth: { tokens: tokens(['mcp']), jwt: { issuer: 'https://as.example', jwks_file: broken } } });
    await reload(d);
    assert.match(d.log(), /event=reload_failed reason="auth\.jwt\.jwks_file [^"]*" kept=previous_configuration/);
    assert.deepEqual((await tools(d.url, sid, ALICE)).names, ['count', 'echo']);
    assert.ok(!d.log().includes(ALICE) && !d.log().includes(BOB), 'no token in the log');
  } finally {
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
