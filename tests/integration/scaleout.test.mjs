// Scale-out: Debian's nginx with the shipped packaging/nginx/mcpd.conf in
// front of two mcpd instances. A full MCP session runs through it (the
// official SDK client: initialize, tools/call, the GET stream and a
// notification on it), sessions of both transports stick to their instance,
// and when one instance dies the survivor takes its sessions up (their ids
// are signed with the state_key both share) and new sessions land there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startMcpd, buildDir } from './lib/mcpd.mjs';
import { startNginx as startNginxWith } from './lib/nginx.mjs';
import { post, initSession } from './lib/http.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const shipped = join(here, '../../packaging/nginx/mcpd.conf');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// nginx unprivileged with the shipped file, its addresses replaced.
async function startNginx(portA, portB) {
  const n = await startNginxWith((port) => {
    const site = readFileSync(shipped, 'utf8')
      .replaceAll('127.0.0.1:8001', `127.0.0.1:${portA}`)
      .replaceAll('127.0.0.1:8002', `127.0.0.1:${portB}`)
      .replaceAll('listen 127.0.0.1:8080', `listen 127.0.0.1:${port}`);
    assert.ok(site.includes(`127.0.0.1:${portA}`) && site.includes(`listen 127.0.0.1:${port}`), 'the shipped file changed shape');
    return site;
  }, { logFormat: '$remote_addr $request $status' });
  return { ...n, url: `http://127.0.0.1:${n.port}/mcp`, base: `http://127.0.0.1:${n.port}` };
}

test('nginx in front of two instances: a full session through it, affinity, and life after one instance dies', async () => {
  // One state_key: a session one instance began, the other can take up.
  const stateKey = randomBytes(32).toString('hex');
  const a = await startMcpd({ plugins: ['hello', 'testkit'], config: { session_id_prefix: 'a-', state_key: stateKey } });
  const b = await startMcpd({ plugins: ['hello', 'testkit'], config: { session_id_prefix: 'b-', state_key: stateKey } });
  const nginx = await startNginx(a.port, b.port);
  const inst = { a, b };
  let client;
  try {
    // A full session with the official client, through nginx.
    const updates = [];
    client = new Client({ name: 'scaleout-test', version: '1' });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updates.push(n.params.uri); });
    const transport = new StreamableHTTPClientTransport(new URL(nginx.url));
    await client.connect(transport);
    const sid = transport.sessionId;
    assert.match(sid, /^[ab]-[A-Za-z0-9_-]{32,102}$/);
    const owner = sid[0];
    const other = owner === 'a' ? 'b' : 'a';
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'through nginx' } });
    assert.equal(echoed.content[0].text, 'through nginx');
    // The client opened its GET stream after initialize: it reached the owner.
    const streams = async (d) => {
      const m = (await (await fetch(`${d.base}/metrics`)).text()).match(/^mcpd_sse_streams\{state="attached"\} (\d+)$/m);
      return Number(m[1]);
    };
    for (let t = Date.now(); (await streams(inst[owner])) < 1; await sleep(20))
      assert.ok(Date.now() - t < 5000, 'no GET stream reached the owner');
    assert.equal(await streams(inst[other]), 0);
    await client.subscribeResource({ uri: 'testkit://counter' });
    const touched = await client.callTool({ name: 'touch', arguments: { uri: 'testkit://counter' } });
    assert.equal(touched.content[0].text, 'touched');
    const t0 = Date.now();
    while (updates.length === 0 && Date.now() - t0 < 5000) await sleep(10);
    assert.deepEqual(updates, ['testkit://counter'], 'the notification did not come through the GET stream');
    // Everything of this session went to its owner, nothing to the other.
    assert.doesNotMatch(inst[other].log(), new RegExp(sid));
    assert.match(inst[owner].log(), new RegExp(`method=POST path=/mcp status=200 bytes=\\d+ duration_ms=[0-9.]+ session=${sid} tool=touch`));

    // New sessions spread over both instances, and each stays on its own.
    const seen = new Set();
    for (let i = 0; i < 6; i++) {
      const s = await initSession(nginx.url);
      seen.add(s.sid[0]);
      const r = await post(nginx.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: `n${i}` } } },
        { 'Mcp-Session-Id': s.sid });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.result.content[0].text, `n${i}`);
    }
    assert.deepEqual([...seen].sort(), ['a', 'b']);

    // The 2024-11-05 transport: the sessionId query parameter routes.
    const legacy = new Client({ name: 'scaleout-legacy', version: '1' });
    await legacy.connect(new SSEClientTransport(new URL(`${nginx.base}/sse`)));
    for (let i = 0; i < 4; i++) {
      const r = await legacy.callTool({ name: 'echo', arguments: { text: `l${i}` } });
      assert.equal(r.content[0].text, `l${i}`);
    }
    await legacy.close();

    // The owner dies without a goodbye: nginx sends its sessions to the
    // survivor, which takes them up from their signed ids (same state_key).
    inst[owner].proc.kill('SIGKILL');
    await inst[owner].exited;
    const kept = await post(nginx.url, { jsonrpc: '2.0', id: 9, method: 'ping' }, { 'Mcp-Session-Id': sid });
    assert.equal(kept.status, 200, kept.text);
    const again = await client.callTool({ name: 'echo', arguments: { text: 'on the survivor' } });
    assert.equal(again.content[0].text, 'on the survivor');
    await inst[other].waitForLog(new RegExp(`event=session_restored session=${sid}`));
    await client.close().catch(() => {});
    client = undefined;

    // New sessions still work: all on the survivor.
    for (let i = 0; i < 4; i++) {
      const c = new Client({ name: `after-${i}`, version: '1' });
      const t = new StreamableHTTPClientTransport(new URL(nginx.url));
      await c.connect(t);
      assert.equal(t.sessionId[0], other);
      const r = await c.callTool({ name: 'echo', arguments: { text: `after ${i}` } });
      assert.equal(r.content[0].text, `after ${i}`);
      await c.close();
    }
  } finally {
    if (client) await client.close().catch(() => {});
    const log = await nginx.stop();
    assert.doesNotMatch(log, /\[emerg\]|\[crit\]/, log);
    for (const d of [a, b]) {
      if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop();
    }
  }
});

// 2026-07-28 tasks through the same file: a task lives in the instance that
// runs it, and its id starts with that instance's prefix, which the map
// reads from Mcp-Name. Tasks are created round robin (no state yet) and
// every poll reaches the instance that holds its task.
test('nginx with the shipped file: tasks are created on any instance and every tasks/get reaches the one that holds the task', async () => {
  const dir = join(buildDir, 'tests/fixtures/conformance');
  const a = await startMcpd({ pluginsDir: dir, config: { session_id_prefix: 'a-' } });
  const b = await startMcpd({ pluginsDir: dir, config: { session_id_prefix: 'b-' } });
  const nginx = await startNginx(a.port, b.port);
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } } };
  const call = async (method, params, name) => {
    const r = await post(nginx.url, { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } },
      { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method, 'Mcp-Name': name });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.result, r.text);
    return r.json.result;
  };
  try {
    const ids = [];
    for (let i = 0; i < 6; i++)
      ids.push((await call('tools/call', { name: 'slow_compute', arguments: { seconds: 1 } }, 'slow_compute')).taskId);
    assert.deepEqual([...new Set(ids.map((id) => id[0]))].sort(), ['a', 'b'], 'round robin reached both');
    // Each task polled three times in a row: round robin alone would send
    // one of each three to the other instance.
    for (const id of ids) {
      for (let n = 0; n < 3; n++) {
        const t = await call('tasks/get', { taskId: id }, id);
        assert.equal(t.taskId, id);
      }
    }
    await sleep(1200);
    for (const id of ids) assert.equal((await call('tasks/get', { taskId: id }, id)).status, 'completed');
  } finally {
    const log = await nginx.stop();
    assert.doesNotMatch(log, /\[emerg\]|\[crit\]/, log);
    await a.stop();
    await b.stop();
  }
});
