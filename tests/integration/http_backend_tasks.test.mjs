// http_backend operations that run as tasks (2026-07-28 tasks extension):
// a slow report endpoint marked x-mcp-task in its document, an export made
// task-only by the config's task_operations, a quick one left alone. A
// 2026-07-28 client that declares the extension gets a task id at once and
// the backend's answer when it polls; tasks/cancel aborts the backend
// request; a client without the extension gets -32021 from the task-only
// tool; a result over the client's budget (limits.max_task_bytes_per_client)
// fails its task; the official SDK v1 client (legacy era) gets every call
// run as usual.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, makePluginsDir, buildDir } from './lib/mcpd.mjs';
import { post } from './lib/http.mjs';

const PLUGIN = join(buildDir, 'plugins/http_backend.so');
const EXT = 'io.modelcontextprotocol/tasks';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const json = { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } };
const DOC = {
  openapi: '3.1.0',
  info: { title: 'Reports', version: '1' },
  paths: {
    '/report': { get: { operationId: 'getReport', 'x-mcp-task': 'optional', parameters: [{ name: 'ms', in: 'query', schema: { type: 'integer' } }, { name: 'pad', in: 'query', schema: { type: 'integer' } }], responses: json } },
    '/export': { post: { operationId: 'exportAll', responses: json } },
    '/quick': { get: { operationId: 'getQuick', responses: json } },
  },
};

let backend, d, aborted = 0;

function startBackend() {
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/openapi.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(DOC));
    }
    const ms = Number(u.searchParams.get('ms') ?? (u.pathname === '/export' ? 300 : 0));
    let done = false;
    res.on('close', () => { if (!done) aborted++; });
    setTimeout(() => {
      done = true;
      if (res.destroyed) return;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const pad = Number(u.searchParams.get('pad') ?? 0);
      res.end(JSON.stringify({ path: u.pathname, waited: ms, ...(pad ? { pad: 'x'.repeat(pad) } : {}) }));
    }, ms);
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv)));
}

const META = (caps) => ({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': caps });

async function modern(method, params, caps = { extensions: { [EXT]: {} } }) {
  const name = method === 'tools/call' ? params.name : params.taskId;
  const r = await post(d.url, { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META(caps) } },
    { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method, ...(name ? { 'Mcp-Name': name } : {}) });
  return r.json;
}

async function poll(taskId) {
  for (let t = Date.now(); Date.now() - t < 10000; await sleep(50)) {
    const r = (await modern('tasks/get', { taskId })).result;
    if (['completed', 'failed', 'cancelled'].includes(r.status)) return r;
  }
  assert.fail(`task ${taskId} did not end`);
}

before(async () => {
  backend = await startBackend();
  const port = backend.address().port;
  d = await startMcpd({ pluginsDir: makePluginsDir([PLUGIN]), config: { limits: { max_task_bytes_per_client: 65536 }, plugins: { http_backend: { backends: [
    { name: 'rep', base_url: `http://127.0.0.1:${port}`, task_operations: { exportAll: 'required' } },
  ] } } } });
  await d.waitForLog(/event=plugin_updated plugin=http_backend tools=3/, 20000);
});

after(async () => {
  await d?.stop();
  backend?.close();
});

test('a slow report runs as a task and the poll gets the backend\'s answer; a quick one stays a plain call', async () => {
  const t0 = Date.now();
  const created = (await modern('tools/call', { name: 'getReport', arguments: { ms: 700 } })).result;
  assert.ok(Date.now() - t0 < 600, 'the task id came before the backend answered');
  assert.equal(created.resultType, 'task');
  const done = await poll(created.taskId);
  assert.equal(done.status, 'completed');
  assert.deepEqual(JSON.parse(done.result.content[0].text), { path: '/report', waited: 700 });
  const quick = (await modern('tools/call', { name: 'getQuick', arguments: {} })).result;
  assert.equal(quick.resultType, 'complete');
  assert.match(quick.content[0].text, /"path":"\/quick"/);
});

test('task_operations makes exportAll task-only: -32021 without the extension, a task with it', async () => {
  const refused = await modern('tools/call', { name: 'exportAll', arguments: {} }, {});
  assert.equal(refused.error.code, -32021);
  const created = (await modern('tools/call', { name: 'exportAll', arguments: {} })).result;
  assert.equal(created.resultType, 'task');
  assert.match((await poll(created.taskId)).result.content[0].text, /"path":"\/export"/);
});

test('a result over the client\'s budget of kept results fails its task, saying which limit; smaller ones still fit', async () => {
  const big = (await modern('tools/call', { name: 'getReport', arguments: { pad: 100000 } })).result;
  const failed = await poll(big.taskId);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error.message, /limits\.max_task_bytes_per_client/);
  assert.match(d.log(), new RegExp(`event=task_result_dropped task=${big.taskId} reason="over the client's budget"`));
  const small = (await modern('tools/call', { name: 'getReport', arguments: { pad: 1000 } })).result;
  assert.equal((await poll(small.taskId)).status, 'completed');
});

test('tasks/cancel aborts the backend request', async () => {
  const before = aborted;
  const created = (await modern('tools/call', { name: 'getReport', arguments: { ms: 5000 } })).result;
  await sleep(200);
  const ack = await modern('tasks/cancel', { taskId: created.taskId });
  assert.equal(ack.result.resultType, 'complete');
  for (let t = Date.now(); aborted === before; await sleep(20))
    assert.ok(Date.now() - t < 3000, 'the backend request was not aborted');
  assert.equal((await modern('tasks/get', { taskId: created.taskId })).result.status, 'cancelled');
});

test('the legacy era (SDK v1 client): every call is run as usual, task-only tools included', async () => {
  const client = new Client({ name: 'tasks-legacy', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
  try {
    const r = await client.callTool({ name: 'getReport', arguments: { ms: 100 } });
    assert.match(r.content[0].text, /"waited":100/);
    const e = await client.callTool({ name: 'exportAll', arguments: {} });
    assert.match(e.content[0].text, /"path":"\/export"/);
  } finally {
    await client.close();
  }
});
