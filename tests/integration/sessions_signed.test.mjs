// Legacy sessions that survive a restart and need no affinity: a session
// id is signed (version, the client capabilities that matter, the owner,
// an expiry) with the key in the state directory or state_key. The official
// SDK v1 client does not initialize again after a 404 (claude-code#60949),
// so before this a restart broke every connected client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd } from './lib/mcpd.mjs';
import { startNginx, freePort } from './lib/nginx.mjs';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

test('a restart keeps the SDK client\'s session: the key file is made once, 0600', async () => {
  const state = mkdtempSync(join(tmpdir(), 'mcpd-state-'));
  const port = await freePort();
  const start = () => startMcpd({ plugins: ['hello'], args: ['--listen', `127.0.0.1:${port}`], config: { state_dir: join(state, 'mcpd') } });
  let d = await start();
  try {
    const client = new Client({ name: 'restart', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
    await client.connect(transport);
    const sid = transport.sessionId;
    assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'before' } })).content[0].text, 'before');
    const key = join(state, 'mcpd', 'state.key');
    assert.equal(statSync(key).mode & 0o777, 0o600);
    const first = readFileSync(key, 'utf8');
    await d.stop();
    d = await start();
    // The same client, the same session id: served, with no new initialize.
    assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'after' } })).content[0].text, 'after');
    assert.equal(transport.sessionId, sid);
    await d.waitForLog(new RegExp(`event=session_restored session=${sid} protocol=2025-11-25`));
    assert.doesNotMatch(d.log(), /event=session_created/);
    assert.equal(readFileSync(key, 'utf8'), first, 'the key is made once');
    await client.close();
  } finally {
    await d.stop();
    rmSync(state, { recursive: true, force: true });
  }
});

test('another instance with the same state_key serves the session; a forged, a deleted or another caller\'s id is 404', async () => {
  const key = randomBytes(32).toString('hex');
  const tokens = [{ name: 'alice', token: 'alice-token-0123456789', scopes: [] }, { name: 'bob', token: 'bob-token-0123456789ab', scopes: [] }];
  const a = await startMcpd({ plugins: ['hello'], config: { state_key: key, auth: { tokens } } });
  const b = await startMcpd({ plugins: ['hello'], config: { state_key: key, auth: { tokens } } });
  const c = await startMcpd({ plugins: ['hello'], config: { state_key: randomBytes(32).toString('hex'), auth: { tokens } } });
  const alice = { Authorization: 'Bearer alice-token-0123456789' };
  const bob = { Authorization: 'Bearer bob-token-0123456789ab' };
  try {
    const r = await post(a.url, INIT, alice);
    const sid = r.headers.get('mcp-session-id');
    const call = (d, who, id = sid) => post(d.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
      { ...who, 'Mcp-Session-Id': id, 'MCP-Protocol-Version': '2025-06-18' });
    assert.equal((await call(b, alice)).status, 200, 'instance b takes it up');
    assert.equal((await call(b, bob)).status, 404, 'bound to alice');
    assert.equal((await call(c, alice)).status, 404, 'another key');
    const forged = sid.slice(0, 20) + (sid[20] === 'A' ? 'B' : 'A') + sid.slice(21);
    assert.equal((await call(b, alice, forged)).status, 404, 'a forged id');
    const del = await fetch(b.url, { method: 'DELETE', headers: { ...alice, 'Mcp-Session-Id': sid } });
    assert.equal(del.status, 200);
    assert.equal((await call(b, alice)).status, 404, 'deleted here: never taken up again here');
    assert.ok(!a.log().includes('alice-token') && !b.log().includes('alice-token'));
  } finally {
    await a.stop();
    await b.stop();
    await c.stop();
  }
});

test('three instances, no affinity: 1,000 legacy calls from SDK v1 clients land anywhere, and a restart in the middle', { timeout: 240000 }, async () => {
  const key = randomBytes(32).toString('hex');
  const ds = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    ds.push(await startMcpd({ plugins: ['hello'], args: ['--listen', `127.0.0.1:${port}`], config: { state_key: key } }));
  }
  const nginx = await startNginx((port) => `
  upstream mcpd { ${ds.map((d) => `server 127.0.0.1:${d.port} max_fails=0;`).join(' ')} keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mcpd;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_next_upstream error timeout non_idempotent;
    }
  }`, { logFormat: '$upstream_addr $request $status' });
  try {
    const clients = [];
    for (let i = 0; i < 8; i++) {
      const c = new Client({ name: `v1-${i}`, version: '1' });
      await c.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${nginx.port}/mcp`)));
      clients.push(c);
    }
    let ok = 0, failed = 0;
    const work = Promise.all(clients.map(async (c, i) => {
      for (let k = 0; k < 125; k++) {
        try {
          const r = await c.callTool({ name: 'echo', arguments: { text: `${i}-${k}` } });
          if (r.content[0].text === `${i}-${k}`) ok++;
          else failed++;
        } catch {
          failed++;
        }
      }
    }));
    await new Promise((r) => setTimeout(r, 200));
    const port = ds[1].port;
    await ds[1].stop();
    ds[1] = await startMcpd({ plugins: ['hello'], args: ['--listen', `127.0.0.1:${port}`], config: { state_key: key } });
    await work;
    assert.equal(ok, 1000, `${failed} calls failed`);
    const restored = ds.reduce((n, d) => n + (d.log().match(/event=session_restored/g) ?? []).length, 0);
    assert.ok(restored >= 8, `sessions were taken up on other instances (${restored})`);
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  } finally {
    await nginx.stop();
    for (const d of ds) await d.stop();
  }
});
