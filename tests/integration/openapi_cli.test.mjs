// mcpd --openapi URL_OR_FILE [--base-url URL]: an API served with no config
// file, against the FastAPI test app (tests/fixtures/backend/app.py,
// Debian's python3-fastapi and uvicorn). A URL alone; a file with
// --base-url next to a config file's own backend; a relative YAML file whose
// servers say where the API is; the command-line backends kept across
// SIGHUP; --check; and the mistakes: --base-url without --openapi, twice for
// one --openapi, not http(s), and no http_backend in the plugins directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, makePluginsDir, buildDir, mcpdBin, runMcpd } from './lib/mcpd.mjs';

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

async function startApp() {
  const port = await freePort();
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
  return { port, url, stop: () => { proc.kill(); return new Promise((r) => proc.on('exit', r)); } };
}

// Runs mcpd to completion in cwd.
function runIn(cwd, args, timeoutMs = 30000) {
  return new Promise((res, rej) => {
    const proc = spawn(mcpdBin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (b) => { out += b; });
    proc.stderr.on('data', (b) => { err += b; });
    const t = setTimeout(() => { proc.kill('SIGKILL'); rej(new Error('mcpd did not exit')); }, timeoutMs);
    proc.on('exit', (code) => { clearTimeout(t); res({ code, stdout: out, stderr: err }); });
  });
}

async function connect(d) {
  const client = new Client({ name: 'openapi-cli-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
  return client;
}

// Waits until /healthz counts n tools (they arrive after the documents).
async function waitTools(d, n) {
  for (let t = Date.now(); ; await sleep(50)) {
    const h = await (await fetch(`${d.base}/healthz`)).json();
    if (h.tools >= n) return h.tools;
    assert.ok(Date.now() - t < 20000, `only ${h.tools} tools of ${n}:\n${d.log()}`);
  }
}

const TINY_YAML = (url) => `openapi: 3.0.3
info:
  title: Tiny
  version: "1"
servers:
  - url: ${url}
paths:
  /items/{item_id}:
    get:
      operationId: fetch_item
      parameters:
        - name: item_id
          in: path
          required: true
          schema:
            type: integer
      responses:
        "200":
          description: the item
`;

let app, work, plugins, specFile;
before(async () => {
  app = await startApp();
  work = mkdtempSync(join(tmpdir(), 'mcpd-openapi-cli-'));
  plugins = makePluginsDir([PLUGIN]);
  specFile = join(work, 'shop.json');
  writeFileSync(specFile, await (await fetch(`${app.url}/openapi.json`)).text());
  writeFileSync(join(work, 'tiny.yaml'), TINY_YAML(app.url));
});
after(async () => {
  await app?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  if (plugins) rmSync(plugins, { recursive: true, force: true });
});

test('--openapi URL alone: every operation is a tool, calls reach the backend', async () => {
  const d = await startMcpd({ pluginsDir: plugins, args: ['--openapi', `${app.url}/openapi.json`] });
  const client = await connect(d);
  try {
    await waitTools(d, 20);
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const n of ['read_item', 'create_item', 'list_items', 'thing_2'])
      assert.ok(names.includes(n), `tool ${n} (have ${names.join(' ')})`);
    // Named after the document's host and port; no base_url: the document's host.
    assert.match(d.log(), new RegExp(`backend=127_0_0_1_${app.port} document=${app.url}/openapi.json title=\\\\"Shop`));
    const r = await client.callTool({ name: 'read_item', arguments: { item_id: 1, q: 'x' } });
    assert.equal(r.isError, false);
    assert.equal(r.structuredContent.name, 'hammer');
    assert.equal(r.structuredContent.description, 'q=x');
  } finally {
    await client.close();
    await d.stop();
  }
});

test('--openapi FILE --base-url URL next to a config file backend; both survive SIGHUP', async () => {
  const config = {
    plugins: { http_backend: { backends: [{ name: 'shop', base_url: app.url, tool_prefix: 'cfg_', include_operations: ['read_item'] }] } },
  };
  const d = await startMcpd({ pluginsDir: plugins, config, args: ['--openapi', specFile, '--base-url', app.url] });
  const client = await connect(d);
  try {
    await waitTools(d, 21);
    const before = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.ok(before.includes('cfg_read_item') && before.includes('read_item') && before.includes('create_item'), before.join(' '));
    // The file's backend is named after the file, made unique against the config's "shop".
    assert.match(d.log(), new RegExp(`backend=shop_2 document=file://${specFile} title=\\\\"Shop`));
    let r = await client.callTool({ name: 'read_item', arguments: { item_id: 1 } });
    assert.equal(r.structuredContent.name, 'hammer');

    // A reload builds the configuration again: the command line's backend is
    // still there (a plugin config without it would drop its tools).
    const fetched = () => (d.log().match(/document=file:\/\/\S+ title=\\"Shop/g) ?? []).length;
    const n = fetched();
    d.proc.kill('SIGHUP');
    await d.waitForLog(/event=reload_done .*failed=0/, 10000);
    for (let t = Date.now(); fetched() === n; await sleep(20)) assert.ok(Date.now() - t < 10000, 'the file was not read again');
    await sleep(200);
    // Same settings, so the plugin was not even restarted.
    assert.equal((d.log().match(/event=plugin_loaded plugin=http_backend /g) ?? []).length, 1);
    assert.doesNotMatch(d.log(), /event=plugin_retired plugin=http_backend /);
    const after = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(after, before);
    r = await client.callTool({ name: 'cfg_read_item', arguments: { item_id: 1 } });
    assert.equal(r.structuredContent.item_id, 1);
    r = await client.callTool({ name: 'create_item', arguments: { name: 'saw', price: 2 } });
    assert.equal(r.isError, false);
    assert.equal(r.structuredContent.name, 'saw');
  } finally {
    await client.close();
    await d.stop();
  }
});

test('--check with a relative YAML file whose servers say where the API is', async () => {
  const r = await runIn(work, ['--plugins', plugins, '--openapi', './tiny.yaml', '--check']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^tool fetch_item \(plugin http_backend\)$/m);
  assert.match(r.stdout, /^ok: 1 plugin\(s\) loaded, 0 failed$/m);
  assert.match(r.stderr, new RegExp(`backend=tiny document=file://${work}/tiny.yaml title=\\\\"Tiny`));

  // Served the same way, a call goes to the server the document names.
  const d = await startMcpd({ pluginsDir: plugins, args: ['--openapi', join(work, 'tiny.yaml')] });
  const client = await connect(d);
  try {
    await waitTools(d, 1);
    const res = await client.callTool({ name: 'fetch_item', arguments: { item_id: 1 } });
    assert.equal(res.isError, false);
    assert.equal(JSON.parse(res.content[0].text).name, 'hammer');
  } finally {
    await client.close();
    await d.stop();
  }

  // A document that does not load fails the check, naming the backend.
  const bad = await runIn(work, ['--plugins', plugins, '--openapi', 'missing.yaml', '--base-url', app.url, '--check']);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /^error: plugin http_backend: backend=missing document=file:\/\/\S+\/missing\.yaml not loaded/m);
});

test('command-line mistakes are refused with a clear message', async () => {
  let r = await runMcpd(['--plugins', plugins, '--base-url', app.url, '--check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^mcpd: --base-url http:\/\/127\.0\.0\.1:\d+: no --openapi before it \(a --base-url sets the base URL of the --openapi it follows\)$/m);
  r = await runMcpd(['--plugins', plugins, '--base-url', app.url, '--openapi', specFile, '--check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no --openapi before it/);
  r = await runMcpd(['--plugins', plugins, '--openapi', specFile, '--base-url', app.url, '--base-url', app.url, '--check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /already has --base-url/);
  r = await runMcpd(['--plugins', plugins, '--openapi', specFile, '--base-url', 'ftp://h', '--check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^mcpd: --base-url ftp:\/\/h: not an http:\/\/ or https:\/\/ URL$/m);
  // No http_backend where the plugins are.
  const empty = mkdtempSync(join(tmpdir(), 'mcpd-empty-'));
  try {
    r = await runMcpd(['--plugins', empty, '--openapi', specFile, '--base-url', app.url, '--check']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--openapi needs the http_backend plugin, and the plugins directory \S+ has no http_backend\.so/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  // --help says it all.
  r = await runMcpd(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--openapi URL\|FILE/);
  assert.match(r.stdout, /--base-url URL/);
});
