// The bundled http_backend plugin against a real FastAPI app
// (tests/fixtures/backend/app.py, Debian's python3-fastapi and uvicorn):
// every operation becomes a tool, calls reach the backend with the right
// request, results come back structured, credentials are forwarded only
// when configured, filters and resources work, a slow endpoint serves
// calls in parallel, a spec change is picked up on SIGHUP, a backend that
// is down at start is retried, and a backend that misbehaves gets clean
// errors while mcpd keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, utimesSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startMcpd, makePluginsDir, buildDir, runMcpd } from './lib/mcpd.mjs';
import { post, initSession } from './lib/http.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const APP = join(here, '../fixtures/backend/app.py');
const PLUGIN = join(buildDir, 'plugins/http_backend.so');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

// Starts the FastAPI app on port (a free one when omitted).
async function startApp(port) {
  port = port ?? await freePort();
  const proc = spawn('/usr/bin/python3', [APP, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (b) => { log += b; });
  proc.stderr.on('data', (b) => { log += b; });
  const url = `http://127.0.0.1:${port}`;
  for (let t = Date.now(); ; await sleep(50)) {
    if (proc.exitCode !== null) throw new Error(`the FastAPI app exited: ${log}`);
    try { if ((await fetch(`${url}/openapi.json`)).ok) break; } catch { /* not yet */ }
    if (Date.now() - t > 20000) throw new Error(`the FastAPI app did not start: ${log}`);
  }
  return { port, url, proc, log: () => log, stop: () => { proc.kill(); return new Promise((r) => proc.on('exit', r)); } };
}

function config(backend, extra = {}) {
  return { plugins: { http_backend: { backends: [{ name: 'shop', base_url: backend.url, openapi: '/openapi.json', ...extra }] } } };
}

async function startWith(cfg, env = {}) {
  const d = await startMcpd({ pluginsDir: makePluginsDir([PLUGIN]), config: cfg, env });
  return d;
}

// Waits until the plugin has published its tools (they arrive after the
// document is fetched).
async function waitTools(d, n = 1) {
  await d.waitForLog(/event=plugin_updated plugin=http_backend tools=(\d+)/, 20000);
  const h = await (await fetch(`${d.base}/healthz`)).json();
  assert.ok(h.tools >= n, `only ${h.tools} tools`);
}

async function connect(d, onListChanged, protocolVersion) {
  const client = new Client({ name: 'http-backend-test', version: '1' });
  if (onListChanged) client.setNotificationHandler(ToolListChangedNotificationSchema, onListChanged);
  const transport = new StreamableHTTPClientTransport(new URL(d.url), protocolVersion ? { requestInit: { headers: { 'MCP-Protocol-Version': protocolVersion } } } : undefined);
  await client.connect(transport);
  return client;
}

let app;
before(async () => { app = await startApp(); });
after(async () => { await app?.stop(); });

test('every operation is a tool with schemas and annotations; calls reach FastAPI with the right request', async () => {
  const d = await startWith(config(app));
  const client = await connect(d);
  try {
    await waitTools(d, 15);
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const n of ['read_item', 'list_items', 'create_item', 'replace_item', 'delete_item', 'slow', 'whoami', 'tree', 'bulk', 'login', 'logo', 'thing', 'thing_2', 'admin_reset'])
      assert.ok(byName[n], `tool ${n} (have ${Object.keys(byName).join(' ')})`);
    assert.ok(tools.every((t) => /^[A-Za-z0-9_.-]{1,64}$/.test(t.name)));
    const ri = byName.read_item;
    assert.equal(ri.title, 'Read one item');
    assert.match(ri.description, /Returns the item with this id/);
    assert.deepEqual(ri.inputSchema.required, ['item_id']);
    assert.equal(ri.inputSchema.properties.item_id.type, 'integer');
    assert.equal(ri.annotations.readOnlyHint, true);
    assert.equal(byName.delete_item.annotations.destructiveHint, true);
    assert.equal(byName.create_item.annotations.readOnlyHint, false);
    assert.equal(ri.outputSchema.type, 'object');

    // Path and query; structured content and a text copy.
    let r = await client.callTool({ name: 'read_item', arguments: { item_id: 1, q: 'a b/c' } });
    assert.equal(r.isError, false);
    assert.equal(r.structuredContent.name, 'hammer');
    assert.equal(r.structuredContent.description, 'q=a b/c');
    assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent);
    // 404 from the backend.
    r = await client.callTool({ name: 'read_item', arguments: { item_id: 999 } });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /^HTTP 404 Not Found: .*no item 999/);
    // A JSON body with a nested model and Optional fields; 201.
    r = await client.callTool({ name: 'create_item', arguments: { name: 'saw', price: 3.5, dimensions: { width: 1, height: 2 } } });
    assert.equal(r.isError, false);
    assert.deepEqual(r.structuredContent.dimensions, { width: 1, height: 2 });
    assert.equal(r.structuredContent.description, null);
    const newId = r.structuredContent.item_id;
    // 422: a rule only the backend knows.
    r = await client.callTool({ name: 'create_item', arguments: { name: 'reserved', price: 1 } });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /^HTTP 422 .*the name 'reserved' is taken/);
    // Query arrays and enums.
    r = await client.callTool({ name: 'list_items', arguments: { tag: ['tools', 'none'], sort: 'desc' } });
    assert.deepEqual(r.structuredContent.result.map((i) => i.name), ['hammer']);
    await assert.rejects(client.callTool({ name: 'list_items', arguments: { sort: 'sideways' } }), /-32602|Invalid arguments/);
    // The path and the body have the same item_id (same name, same schema): one
    // argument, and its value arrives in both places.
    const put = byName.replace_item.inputSchema.properties;
    assert.ok(put.item_id && !put.item_id__path, JSON.stringify(put));
    r = await client.callTool({ name: 'replace_item', arguments: { item_id: 5, name: 'x', price: 1 } });
    assert.deepEqual(r.structuredContent.result, { path_item_id: 5, body_item_id: 5, name: 'x' });
    // 204.
    r = await client.callTool({ name: 'delete_item', arguments: { item_id: newId } });
    assert.equal(r.isError, false);
    // A self-referencing model, a non-object body, a form body, a header parameter.
    r = await client.callTool({ name: 'tree', arguments: { name: 'a', children: [{ name: 'b', children: [{ name: 'c' }] }] } });
    assert.equal(r.structuredContent.result.count, 3);
    r = await client.callTool({ name: 'bulk', arguments: { body: [1, 2, 3] } });
    assert.deepEqual(r.structuredContent.result.received, [1, 2, 3]);
    r = await client.callTool({ name: 'login', arguments: { username: 'bob', password: 'secret' } });
    assert.deepEqual(r.structuredContent.result, { user: 'bob', password_length: 6 });
    const hdrArg = Object.keys(byName.echo_header.inputSchema.properties)[0];
    r = await client.callTool({ name: 'echo_header', arguments: { [hdrArg]: 'trace-1' } });
    assert.equal(r.structuredContent.result.x_trace, 'trace-1');
    // Text, an image, a redacted 401, a truncated 500.
    r = await client.callTool({ name: 'hello_txt', arguments: {} });
    assert.equal(r.content[0].text, 'hello from the backend');
    r = await client.callTool({ name: 'logo', arguments: {} });
    assert.equal(r.content[0].type, 'image');
    assert.equal(r.content[0].mimeType, 'image/png');
    assert.equal(Buffer.from(r.content[0].data, 'base64').subarray(1, 4).toString(), 'PNG');
    r = await client.callTool({ name: 'secret', arguments: {} });
    assert.equal(r.isError, true);
    assert.doesNotMatch(r.content[0].text, /abc123/);
    r = await client.callTool({ name: 'fail', arguments: { code: 500 } });
    assert.equal(r.isError, true);
    assert.ok(r.content[0].text.length < 1200, `error text not cut: ${r.content[0].text.length}`);
    // Both things, and the metrics saw the backend.
    assert.equal((await client.callTool({ name: 'thing', arguments: { kind: 'k' } })).structuredContent.result.kind, 'k');
    assert.equal((await client.callTool({ name: 'thing_2', arguments: { kind: 'k', sub: 's' } })).structuredContent.result.sub, 's');
    const m = await (await fetch(`${d.base}/metrics`)).text();
    assert.match(m, /^mcpd_backend_requests_total\{backend="shop",outcome="2xx"\} \d+/m);
    assert.match(m, /^mcpd_backend_requests_total\{backend="shop",outcome="4xx"\} [1-9]/m);
  } finally {
    await client.close();
    await d.stop();
  }
});

test('structuredContent only for sessions at 2025-06-18 or later', async () => {
  const d = await startWith(config(app));
  try {
    await waitTools(d);
    for (const [version, structured] of [['2025-03-26', false], ['2025-06-18', true]]) {
      const { sid } = await initSession(d.url, version);
      const r = await post(d.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_item', arguments: { item_id: 1 } } },
        { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': version });
      assert.equal('structuredContent' in r.json.result, structured, version);
      assert.equal(JSON.parse(r.json.result.content[0].text).name, 'hammer');
    }
  } finally {
    await d.stop();
  }
});

test('the client\'s Authorization goes to the backend only when forward_headers lists it; static headers from the environment', async () => {
  const off = await startWith(config(app, { headers: { 'X-Static': 'k-${SHOP_TOKEN}' } }), { SHOP_TOKEN: 's3cret' });
  const on = await startWith(config(app, { forward_headers: ['authorization', 'x-api-key'] }));
  try {
    await waitTools(off);
    await waitTools(on);
    for (const [d, expect] of [[off, { authorization: null, x_api_key: null, x_static: 'k-s3cret' }],
      [on, { authorization: 'Bearer client-token', x_api_key: 'key-1', x_static: null }]]) {
      const { sid } = await initSession(d.url, '2025-06-18');
      const r = await post(d.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
        { 'Mcp-Session-Id': sid, Authorization: 'Bearer client-token', 'X-Api-Key': 'key-1' });
      assert.deepEqual(r.json.result.structuredContent.result, expect);
    }
    assert.doesNotMatch(off.log() + on.log(), /client-token|s3cret/);
  } finally {
    await off.stop();
    await on.stop();
  }
  // A header that names a variable that is not set is a settings error.
  const work = mkdtempSync(join(tmpdir(), 'mcpd-hb-'));
  try {
    const file = join(work, 'c.json');
    writeFileSync(file, JSON.stringify(config(app, { headers: { 'X-Key': '${NO_SUCH_VARIABLE_X}' } })));
    const r = await runMcpd(['--check', '--config', file, '--plugins', makePluginsDir([PLUGIN])]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /environment variable NO_SUCH_VARIABLE_X \(used in a header\) is not set/);
    writeFileSync(file, JSON.stringify(config(app, { base_url: 'https://127.0.0.1:1' })));
    const t = await runMcpd(['--check', '--config', file, '--plugins', makePluginsDir([PLUGIN])]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /backend shop refused the connection \(is https:\/\/127\.0\.0\.1:1 up\?\)/);
    writeFileSync(file, JSON.stringify(config(app, { timeout: 5 })));
    const u = await runMcpd(['--check', '--config', file, '--plugins', makePluginsDir([PLUGIN])]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /backend shop: unknown setting \\"timeout\\"/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('filters, tool_prefix, and GET operations as resources', async () => {
  const d = await startWith({ plugins: { http_backend: { backends: [
    { name: 'shop', base_url: app.url, exclude_tags: ['admin', 'auth'], exclude_operations: ['bulk'], tool_prefix: 'shop_' },
    { name: 'res', base_url: app.url, include_tags: ['items', 'misc'], get_as_resources: true, tool_prefix: 'r_' },
  ] } } });
  const client = await connect(d);
  try {
    await d.waitForLog(/event=plugin_updated plugin=http_backend tools=\d+ resources=[1-9]\d* templates=[1-9]/, 20000);
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('shop_read_item'));
    assert.ok(!names.includes('shop_admin_reset') && !names.includes('shop_login') && !names.includes('shop_bulk'), names.join(' '));
    assert.ok(names.includes('r_create_item'), 'POST stays a tool');
    assert.ok(!names.includes('r_read_item'), 'GET became a resource template');
    const resources = (await client.listResources()).resources.map((r) => r.uri);
    assert.ok(resources.includes('api://res/hello.txt'), resources.join(' '));
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    assert.ok(templates.some((t) => t.startsWith('api://res/items/{item_id}')), templates.join(' '));
    const txt = await client.readResource({ uri: 'api://res/hello.txt' });
    assert.equal(txt.contents[0].text, 'hello from the backend');
    const item = await client.readResource({ uri: 'api://res/items/1' });
    assert.equal(JSON.parse(item.contents[0].text).name, 'hammer');
    await assert.rejects(client.readResource({ uri: 'api://res/items/999' }), /not found/i);
  } finally {
    await client.close();
    await d.stop();
  }
});

test('a slow endpoint: calls run in parallel at the backend', async () => {
  const d = await startWith(config(app));
  const client = await connect(d);
  try {
    await waitTools(d);
    await fetch(`${app.url}/_stats`);
    const rs = await Promise.all([0, 1, 2].map(() => client.callTool({ name: 'slow', arguments: { ms: 500 } })));
    for (const r of rs) assert.equal(r.structuredContent.result.slept_ms, 500);
    const stats = await (await fetch(`${app.url}/_stats`)).json();
    assert.ok(stats.max_in_flight >= 3, `the backend saw at most ${stats.max_in_flight} at once`);
  } finally {
    await client.close();
    await d.stop();
  }
});

test('SIGHUP fetches the document again: a new operation reaches clients with list_changed; no change, no news', async () => {
  const own = await startApp();
  const d = await startWith(config(own));
  let changes = 0;
  const client = await connect(d, () => { changes++; });
  try {
    await waitTools(d);
    await sleep(200);
    const count = (await client.listTools()).tools.length;
    // Nothing changed: a reload says so.
    d.proc.kill('SIGHUP');
    await d.waitForLog(/event=plugin_updated plugin=http_backend .*tools_changed=0/, 10000);
    assert.equal(changes, 0);
    // The backend grows an operation.
    assert.equal((await fetch(`${own.url}/_toggle`, { method: 'POST' })).status, 200);
    d.proc.kill('SIGHUP');
    for (let t = Date.now(); changes === 0; await sleep(20)) assert.ok(Date.now() - t < 10000, 'no list_changed');
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.equal(tools.length, count + 1);
    assert.ok(tools.includes('extra'));
    assert.deepEqual((await client.callTool({ name: 'extra', arguments: {} })).structuredContent.result, { extra: true });
  } finally {
    await client.close();
    await d.stop();
    await own.stop();
  }
});

test('a backend that is down at start is retried in the background; its tools appear when it comes up', async () => {
  const port = await freePort();
  const d = await startWith(config({ url: `http://127.0.0.1:${port}` }));
  let late;
  try {
    await d.waitForLog(/backend=shop document=\/openapi.json not loaded \(attempt 1\): backend shop refused the connection/);
    assert.equal((await (await fetch(`${d.base}/healthz`)).json()).tools, 0);
    late = await startApp(port);
    await waitTools(d, 15);
    const { sid } = await initSession(d.url, '2025-06-18');
    const r = await post(d.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_item', arguments: { item_id: 1 } } },
      { 'Mcp-Session-Id': sid });
    assert.equal(r.json.result.structuredContent.name, 'hammer');
  } finally {
    await d.stop();
    await late?.stop();
  }
});

test('a version replaced while its backend is down stops retrying at the drain deadline and unloads', async () => {
  const port = await freePort();
  const dir = makePluginsDir([PLUGIN]);
  const d = await startMcpd({ pluginsDir: dir, config: { ...config({ url: `http://127.0.0.1:${port}` }), timeouts: { drain_ms: 500 } } });
  try {
    await d.waitForLog(/backend=shop document=\/openapi.json not loaded \(attempt 1\)/);
    // A new file: the reload loads it as a new version and retires the old,
    // whose retry timer must not keep it loaded.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'http_backend.so'), later, later);
    d.proc.kill('SIGHUP');
    await d.waitForLog(/event=plugin_retired plugin=http_backend version=\S+ gen=1 reason=replaced/);
    await d.waitForLog(/event=plugin_unloaded plugin=http_backend version=\S+ gen=1\b/, 8000);
    // The new version keeps trying on its own.
    await d.waitForLog(/not loaded \(attempt 1\)[\s\S]*not loaded \(attempt 1\)/);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a backend that closes connections, answers garbage or sends 100 MB gets clean isError results; mcpd keeps serving', async () => {
  // A raw TCP server, described by a local OpenAPI file.
  const raw = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', (d) => {
      const line = d.toString().split('\r\n')[0];
      if (line.includes('/garbage')) sock.end('\x00\x01 nonsense\r\n\r\n');
      else if (line.includes('/huge')) {
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n');
        const chunk = Buffer.alloc(1 << 20, 'x');
        let sent = 0;
        const pump = () => { while (sent < 100 && sock.write(chunk)) sent++; if (sent < 100 && !sock.destroyed) sock.once('drain', pump); };
        pump();
      } else sock.destroy();
    });
  });
  await new Promise((r) => raw.listen(0, '127.0.0.1', r));
  const work = mkdtempSync(join(tmpdir(), 'mcpd-hb-'));
  const spec = {
    openapi: '3.1.0', info: { title: 'bad', version: '1' },
    paths: Object.fromEntries(['garbage', 'close', 'huge'].map((p) => [`/${p}`, { get: { operationId: p, responses: { 200: { description: 'ok' } } } }])),
  };
  writeFileSync(join(work, 'bad.json'), JSON.stringify(spec));
  const d = await startWith({ plugins: { http_backend: { backends: [
    { name: 'bad', base_url: `http://127.0.0.1:${raw.address().port}`, openapi: join(work, 'bad.json').replace(/^\//, 'file:///') },
  ] } } });
  const client = await connect(d);
  try {
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['close', 'garbage', 'huge']);
    let r = await client.callTool({ name: 'garbage', arguments: {} });
    assert.equal(r.isError, true);
    assert.equal(r.content[0].text, 'backend bad answered something that is not HTTP');
    r = await client.callTool({ name: 'close', arguments: {} });
    assert.equal(r.isError, true);
    assert.equal(r.content[0].text, 'backend bad closed the connection before answering');
    r = await client.callTool({ name: 'huge', arguments: {} });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /answered more than max_response_bytes \(10485760 bytes\)/);
    const h = await (await fetch(`${d.base}/healthz`)).json();
    assert.equal(h.status, 'ok');
  } finally {
    await client.close();
    await d.stop();
    raw.close();
    rmSync(work, { recursive: true, force: true });
  }
});
