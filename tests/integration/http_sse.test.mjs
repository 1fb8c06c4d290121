// The 2024-11-05 HTTP+SSE transport: the official SDK's SSEClientTransport at
// /sse and at /mcp (where "type: SSE" tutorials point clients), the inspector
// CLI with --transport sse, and the details by hand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { startMcpd } from './lib/mcpd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let d;
before(async () => {
  d = await startMcpd({ plugins: ['hello', 'testkit'], config: { timeouts: { sse_keepalive_ms: 200 } } });
});
after(async () => { await d.stop(); });

async function sseClient(path) {
  const client = new Client({ name: 'http-sse-test', version: '1' });
  const transport = new SSEClientTransport(new URL(`${d.base}${path}`));
  await client.connect(transport);
  return { client, transport };
}

for (const path of ['/sse', '/mcp']) {
  test(`SSEClientTransport at ${path}: list, call, progress, resources, logging`, async () => {
    const { client } = await sseClient(path);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'over sse' } })).content[0].text, 'over sse');
    const progress = [];
    const r = await client.callTool({ name: 'count', arguments: { n: 3, delay_ms: 20 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    assert.equal(r.content[0].text, 'counted to 3');
    // The SDK's SSEClientTransport runs notification handlers on a later
    // microtask than the response: the last report, arriving in the same
    // chunk as the result, can be dropped by the client. The wire carries
    // all three (checked by hand below).
    assert.deepEqual(progress, [1, 2, 3].slice(0, progress.length));
    assert.ok(progress.length >= 2, `progress ${progress}`);
    assert.equal((await client.readResource({ uri: 'hello://greet/sse' })).contents[0].text, 'Hello, sse!');
    assert.equal((await client.callTool({ name: 'sleep', arguments: { ms: 50 } })).content[0].text, 'slept');
    await assert.rejects(client.callTool({ name: 'nope', arguments: {} }), /Unknown tool: nope/);
    await client.close();
  });
}

test('the inspector CLI with --transport sse', async () => {
  const cli = join(here, '../node_modules/.bin/mcp-inspector-cli');
  const { stdout } = await promisify(execFile)(cli, ['--cli', `${d.base}/sse`, '--transport', 'sse',
    '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'text="inspected"'], { cwd: here, timeout: 30000 });
  assert.equal(JSON.parse(stdout).content[0].text, 'inspected');
});

test('by hand: endpoint event, 202 Accepted, responses on the stream, both parameter spellings, keep-alives', async () => {
  const ac = new AbortController();
  const res = await fetch(`${d.base}/sse`, { signal: ac.signal, headers: { Accept: 'text/event-stream' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const until = async (pred) => {
    const t0 = Date.now();
    while (!pred(text) && Date.now() - t0 < 5000) text += dec.decode((await reader.read()).value);
    assert.ok(pred(text), `stream so far: ${JSON.stringify(text)}`);
  };
  await until((t) => t.includes('\n\n'));
  const m = text.match(/^event: endpoint\ndata: (\/messages\?sessionId=([0-9a-f]{32}))\n\n/);
  assert.ok(m, text);
  const [, endpoint, sid] = m;
  const post = (url, body) => fetch(`${d.base}${url}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  const init = await post(endpoint, { jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(init.status, 202);
  assert.equal(await init.text(), 'Accepted');
  await until((t) => t.includes('"protocolVersion":"2024-11-05"'));
  assert.match(text, /event: message\ndata: \{"jsonrpc":"2.0","id":0,"result":/);

  // The Python SDK's spelling: /messages/ and session_id.
  const ping = await post(`/messages/?session_id=${sid}`, { jsonrpc: '2.0', id: 'p', method: 'ping' });
  assert.equal(ping.status, 202);
  await until((t) => t.includes('{"jsonrpc":"2.0","id":"p","result":{}}'));

  // 2024-11-05 knows no title: the listing leaves it out.
  await (await post(endpoint, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).text();
  await until((t) => t.includes('"id":2,'));
  assert.doesNotMatch(text.slice(text.indexOf('"id":2,')), /"title"/);

  // Progress reports and the result, in order, on the stream.
  await (await post(endpoint, { jsonrpc: '2.0', id: 9, method: 'tools/call',
    params: { name: 'count', arguments: { n: 3, delay_ms: 10 }, _meta: { progressToken: 'pt' } } })).text();
  await until((t) => t.includes('"id":9,"result"'));
  const tail = text.slice(text.indexOf('"progressToken":"pt"') - 80);
  assert.deepEqual([...tail.matchAll(/"progressToken":"pt","progress":(\d)/g)].map((x) => Number(x[1])), [1, 2, 3]);
  assert.ok(tail.indexOf('"progress":3') < tail.indexOf('"id":9,"result"'));

  assert.equal((await post('/messages', { jsonrpc: '2.0', id: 3, method: 'ping' })).status, 400);
  assert.equal((await post('/messages?sessionId=00000000000000000000000000000000', { jsonrpc: '2.0', id: 3, method: 'ping' })).status, 404);
  const bad = await fetch(`${d.base}${endpoint}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{nope' });
  assert.equal(bad.status, 400);
  assert.equal((await fetch(`${d.base}${endpoint}`)).status, 405);

  await until((t) => (t.match(/: keep-alive\n\n/g) ?? []).length >= 2);

  // The session ends with its stream.
  ac.abort();
  await d.waitForLog(new RegExp(`event=session_closed session=${sid} transport=http_sse`));
  assert.equal((await post(endpoint, { jsonrpc: '2.0', id: 4, method: 'ping' })).status, 404);
});

test('a client that closes its stream cancels what it waits for', async () => {
  const ac = new AbortController();
  const res = await fetch(`${d.base}/sse`, { signal: ac.signal, headers: { Accept: 'text/event-stream' } });
  const reader = res.body.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  const endpoint = first.match(/data: (\S+)/)[1];
  const post = (body) => fetch(`${d.base}${endpoint}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  const before = await countCancels();
  assert.equal((await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 5000 } } })).status, 202);
  await sleep(100);
  ac.abort();
  const t0 = Date.now();
  while ((await countCancels()) === before && Date.now() - t0 < 3000) await sleep(50);
  assert.equal(await countCancels(), before + 1);
});

async function countCancels() {
  const { client } = await sseClient('/sse');
  const r = await client.callTool({ name: 'cancel_count', arguments: {} });
  await client.close();
  return r.structuredContent.cancels;
}
