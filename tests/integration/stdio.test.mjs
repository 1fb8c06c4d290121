// The stdio transport: `mcpd --stdio` launched as a subprocess by the official
// SDK's StdioClientTransport, the way desktop clients run servers; the same
// plugins and features as over HTTP; EOF on stdin exits cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { mcpdBin, makePluginsDir, pluginPath } from './lib/mcpd.mjs';

const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer/;

test('StdioClientTransport: tools, progress, resources, prompts, log messages and sampling', async () => {
  const dir = makePluginsDir(['hello', 'testkit', pluginPath('conformance')]);
  const transport = new StdioClientTransport({ command: mcpdBin, args: ['--stdio', '--plugins', dir], stderr: 'pipe' });
  let stderr = '';
  transport.stderr.on('data', (b) => { stderr += b; });
  const client = new Client({ name: 'stdio-test', version: '1' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    role: 'assistant', model: 'test-model',
    content: { type: 'text', text: `echo of ${req.params.messages[0].content.text}` },
  }));
  const logs = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params.data));
  await client.connect(transport);

  assert.equal(client.getServerVersion().name, 'mcpd');
  const names = (await client.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes('echo') && names.includes('test_sampling'));
  assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'via stdio' } })).content[0].text, 'via stdio');
  const progress = [];
  const counted = await client.callTool({ name: 'count', arguments: { n: 3, delay_ms: 10 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  assert.equal(counted.content[0].text, 'counted to 3');
  assert.deepEqual(progress.slice(0, 2), [1, 2]);
  assert.equal((await client.readResource({ uri: 'hello://greet/stdio' })).contents[0].text, 'Hello, stdio!');
  assert.ok((await client.listPrompts()).prompts.some((p) => p.name === 'test_simple_prompt'));
  await client.callTool({ name: 'log', arguments: { n: 2 } });
  assert.deepEqual(logs.slice(0, 2), ['message 0', 'message 1']);
  // A request to the client, and its answer, over stdin/stdout.
  const sampled = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hi there' } });
  assert.match(sampled.content[0].text, /echo of hi there/);
  assert.notEqual(sampled.isError, true);
  await client.close();
  await new Promise((r) => setTimeout(r, 200));
  assert.doesNotMatch(stderr, SANITIZER);
  assert.match(stderr, /event=stdio_ready/);
});

test('EOF on stdin: calls in flight finish, their answers are written, and mcpd exits 0', async () => {
  const dir = makePluginsDir(['hello']);
  const proc = spawn(mcpdBin, ['--stdio', '--plugins', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stdout.on('data', (b) => { out += b; });
  proc.stderr.on('data', (b) => { err += b; });
  const lines = [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'count', arguments: { n: 3, delay_ms: 50 } } },
    '{not json',
    { jsonrpc: '2.0', id: 3, method: 'nope' },
  ];
  proc.stdin.end(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  const code = await new Promise((r) => proc.on('exit', r));
  assert.equal(code, 0, err);
  assert.doesNotMatch(err, SANITIZER);
  const msgs = out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(msgs.find((m) => m.id === 2).result.content[0].text, 'counted to 3', 'answered after EOF');
  assert.equal(msgs.find((m) => m.error?.code === -32700).id, null);
  assert.equal(msgs.find((m) => m.id === 3).error.code, -32601);
  assert.match(err, /event=stdio_eof/);
  assert.match(err, /event=stopped/);
  assert.doesNotMatch(out, /ts=/, 'logs stay on stderr');
});

test('a 2025-03-26 session on stdio takes a batch and answers it as one array', async () => {
  const dir = makePluginsDir(['hello']);
  const proc = spawn(mcpdBin, ['--stdio', '--plugins', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b) => { out += b; });
  proc.stderr.on('data', () => {});
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const batch = [
    { jsonrpc: '2.0', id: 'a', method: 'ping' },
    { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'count', arguments: { n: 1, delay_ms: 10 } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
  ];
  proc.stdin.end(`${JSON.stringify(init)}\n${JSON.stringify(batch)}\n`);
  assert.equal(await new Promise((r) => proc.on('exit', r)), 0);
  const msgs = out.trim().split('\n').map((l) => JSON.parse(l));
  const arr = msgs.find((m) => Array.isArray(m));
  assert.ok(arr, out);
  assert.deepEqual(arr.map((r) => r.id).sort(), ['a', 'b']);
});

test('at the shutdown deadline the running call is cancelled, and the batch it belongs to is still answered', async () => {
  const dir = makePluginsDir(['testkit']);
  const work = mkdtempSync('/tmp/mcpd-stdio-');
  const cfg = `${work}/mcpd.json`;
  writeFileSync(cfg, JSON.stringify({ timeouts: { shutdown_ms: 100 } }));
  const proc = spawn(mcpdBin, ['--stdio', '--plugins', dir, '--config', cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stdout.on('data', (b) => { out += b; });
  proc.stderr.on('data', (b) => { err += b; });
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const batch = [
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 30000 } } },
    { jsonrpc: '2.0', id: 3, method: 'ping' },
  ];
  proc.stdin.end(`${JSON.stringify(init)}\n${JSON.stringify(batch)}\n`);
  assert.equal(await new Promise((r) => proc.on('exit', r)), 0, err);
  assert.doesNotMatch(err, SANITIZER);
  assert.match(err, /event=shutdown_deadline calls_cancelled=1/);
  assert.doesNotMatch(err, /exit_with_calls_running/);
  const arr = out.trim().split('\n').map((l) => JSON.parse(l)).find((m) => Array.isArray(m));
  assert.ok(arr, `no batch answer in:\n${out}`);
  assert.deepEqual(arr.map((r) => r.id).sort(), [2, 3]);
  rmSync(work, { recursive: true, force: true });
});

test('2026-07-28 on stdio: a task, subscriptions/listen with its notifications, a listen cancelled, and the others ended with their result at SIGTERM', async () => {
  const dir = makePluginsDir([pluginPath('conformance')]);
  const proc = spawn(mcpdBin, ['--stdio', '--plugins', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const msgs = [];
  let buf = '', err = '';
  proc.stdout.on('data', (b) => {
    buf += b;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      msgs.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr.on('data', (b) => { err += b; });
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } } };
  const send = (m) => proc.stdin.write(`${JSON.stringify(m)}\n`);
  const waitFor = async (pred, what) => {
    for (let t = Date.now(); !msgs.some(pred); await new Promise((r) => setTimeout(r, 20)))
      assert.ok(Date.now() - t < 10000, `no ${what}: ${JSON.stringify(msgs)}\n${err}`);
    return msgs.find(pred);
  };
  try {
    send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow_compute', arguments: { seconds: 1 }, _meta: meta } });
    const created = (await waitFor((m) => m.id === 1, 'task')).result;
    assert.equal(created.resultType, 'task');
    send({ jsonrpc: '2.0', id: 'L1', method: 'subscriptions/listen', params: { notifications: { taskIds: [created.taskId] }, _meta: meta } });
    send({ jsonrpc: '2.0', id: 'L2', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: meta } });
    const ack = await waitFor((m) => m.method === 'notifications/subscriptions/acknowledged'
      && m.params._meta['io.modelcontextprotocol/subscriptionId'] === 'L1', 'acknowledgement');
    assert.deepEqual(ack.params.notifications.taskIds, [created.taskId]);
    const note = await waitFor((m) => m.method === 'notifications/tasks' && m.params.status === 'completed', 'task notification');
    assert.equal(note.params.taskId, created.taskId);
    assert.equal(note.params._meta['io.modelcontextprotocol/subscriptionId'], 'L1');
    assert.ok(!msgs.some((m) => m.method === 'notifications/tasks' && m.params._meta['io.modelcontextprotocol/subscriptionId'] === 'L2'));
    // Without the extension, task ids are refused.
    send({ jsonrpc: '2.0', id: 'L3', method: 'subscriptions/listen', params: { notifications: { taskIds: ['x'] },
      _meta: { ...meta, 'io.modelcontextprotocol/clientCapabilities': {} } } });
    assert.equal((await waitFor((m) => m.id === 'L3', 'refusal')).error.code, -32021);
    // L1 cancelled: no answer; L2 ends with its result at SIGTERM, L1 not.
    send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'L1' } });
    send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'greet', arguments: { name: 'x' }, _meta: meta } });
    await waitFor((m) => m.id === 9, 'greet');
    proc.kill('SIGTERM');
    const st = await new Promise((r) => proc.on('exit', (code) => r(code)));
    assert.equal(st, 0, err);
    const ends = msgs.filter((m) => m.id === 'L1' || m.id === 'L2');
    assert.deepEqual(ends.map((m) => m.id), ['L2']);
    assert.equal(ends[0].result.resultType, 'complete');
    assert.doesNotMatch(err, SANITIZER);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
});
