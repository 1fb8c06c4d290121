// Scale-out with no affinity, 2026-07-28: three mcpd instances behind nginx
// round-robin (no session affinity: the modern era has no session), the
// SDK v2 client pinned to 2026-07-28. 1,000 calls, each of which asks the
// user a question (input_required) and so takes two requests that land on
// different instances: the requestState one instance signed, another reads,
// because they share state_key. An instance is restarted in the middle and
// no call fails. Without the shared key the retries that change instance
// are refused: that is what the key is for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startMcpd, buildDir } from './lib/mcpd.mjs';
import { startNginx, freePort } from './lib/nginx.mjs';

const plugins = join(buildDir, 'tests/fixtures/conformance');

async function instances(n, stateKey) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    out.push(await startMcpd({ pluginsDir: plugins, args: ['--listen', `127.0.0.1:${port}`],
      config: stateKey ? { state_key: stateKey } : {} }));
  }
  return out;
}

function nginxFor(ds) {
  return startNginx((port) => `
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
}

async function client(url) {
  const c = new Client({ name: 'scaleout-modern', version: '1' },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
  c.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Alice' } }));
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

test('three instances, no affinity, one shared state_key: 1,000 input_required calls across instances and a restart', { timeout: 240000 }, async () => {
  const key = randomBytes(32).toString('hex');
  const ds = await instances(3, key);
  const nginx = await nginxFor(ds);
  const url = `http://127.0.0.1:${nginx.port}/mcp`;
  try {
    const clients = await Promise.all(Array.from({ length: 8 }, () => client(url)));
    let done = 0, failed = 0;
    const run = async (c, n) => {
      for (let i = 0; i < n; i++) {
        try {
          const r = await c.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
          if (/"name":"Alice"/.test(r.content[0].text)) done++;
          else failed++;
        } catch {
          failed++;
        }
      }
    };
    const work = Promise.all(clients.map((c) => run(c, 125)));
    // Restart the second instance while the calls run, on the same port.
    await new Promise((r) => setTimeout(r, 300));
    const port = ds[1].port;
    await ds[1].stop();
    ds[1] = await startMcpd({ pluginsDir: plugins, args: ['--listen', `127.0.0.1:${port}`], config: { state_key: key } });
    await work;
    assert.equal(done, 1000, `${failed} calls failed`);
    // The rounds did change instances: every instance answered retries.
    const log = nginx.accessLog().split('\n').filter(Boolean);
    const by = {};
    for (const l of log) by[l.split(' ')[0]] = (by[l.split(' ')[0]] ?? 0) + 1;
    for (const d of ds) assert.ok((by[`127.0.0.1:${d.port}`] ?? 0) > 100, `instance ${d.port} answered ${by[`127.0.0.1:${d.port}`]}`);
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await nginx.stop();
    for (const d of ds) await d.stop();
  }
});

test('three instances without a shared state_key: retries that change instance are refused', { timeout: 120000 }, async () => {
  const ds = [];
  for (let i = 0; i < 3; i++) ds.push(...await instances(1, randomBytes(32).toString('hex')));
  const nginx = await nginxFor(ds);
  try {
    const c = await client(`http://127.0.0.1:${nginx.port}/mcp`);
    let refused = 0;
    for (let i = 0; i < 30; i++) {
      try {
        await c.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
      } catch (e) {
        if (/requestState/.test(String(e?.message))) refused++;
      }
    }
    assert.ok(refused > 0, 'every retry reached the instance that signed its state');
    await c.close();
  } finally {
    await nginx.stop();
    for (const d of ds) await d.stop();
  }
});
