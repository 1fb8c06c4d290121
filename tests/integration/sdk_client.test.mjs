// The official MCP TypeScript SDK client against the real mcpd with the
// example plugin: the path every MCP client takes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd } from './lib/mcpd.mjs';

let d;
before(async () => { d = await startMcpd({ plugins: ['hello'] }); });
after(async () => { await d.stop(); });

async function connect() {
  const client = new Client({ name: 'mcpd-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(d.url));
  await client.connect(transport);
  return { client, transport };
}

test('initialize negotiates the newest revision and names the server', async () => {
  const { client, transport } = await connect();
  assert.equal(client.getServerVersion().name, 'mcpd');
  assert.match(client.getServerVersion().version, /^\d+\.\d+\.\d+/);
  assert.ok(client.getServerCapabilities().tools, 'tools capability');
  assert.ok(client.getServerCapabilities().resources, 'resources capability');
  assert.match(transport.sessionId, /^[A-Za-z0-9_-]{32,102}$/);
  await transport.terminateSession();
  await client.close();
});

test('tools/list shows the example tools with their schemas', async () => {
  const { client } = await connect();
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['count', 'echo']);
  const echo = tools.find((t) => t.name === 'echo');
  assert.equal(echo.title, 'Echo');
  assert.deepEqual(echo.inputSchema.required, ['text']);
  assert.equal(echo.annotations.readOnlyHint, true);
  await client.close();
});

test('tools/call echo returns the text', async () => {
  const { client } = await connect();
  const r = await client.callTool({ name: 'echo', arguments: { text: 'hello, mcpd' } });
  assert.deepEqual(r.content, [{ type: 'text', text: 'hello, mcpd' }]);
  assert.notEqual(r.isError, true);
  await client.close();
});

test('count runs on a worker thread and streams progress over SSE before the result', async () => {
  const { client } = await connect();
  const progress = [];
  const r = await client.callTool({ name: 'count', arguments: { n: 4, delay_ms: 20 } }, undefined, {
    onprogress: (p) => progress.push(p),
  });
  assert.deepEqual(r.content, [{ type: 'text', text: 'counted to 4' }]);
  assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3, 4]);
  assert.ok(progress.every((p) => p.total === 4));
  await client.close();
});

test('an invalid argument is a -32602 error that says what is wrong', async () => {
  const { client } = await connect();
  await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 42 } }), (e) => {
    assert.equal(e.code, -32602);
    assert.match(e.message, /Invalid arguments for tool echo: \/text: expected string, got integer/);
    return true;
  });
  await assert.rejects(client.callTool({ name: 'echo', arguments: {} }), /missing required property "text"/);
  await assert.rejects(client.callTool({ name: 'nope', arguments: {} }), (e) => e.code === -32602 && /Unknown tool: nope/.test(e.message));
  await client.close();
});

test('resources: list, read the static one, read through the template', async () => {
  const { client } = await connect();
  const { resources } = await client.listResources();
  assert.deepEqual(resources.map((r) => r.uri), ['hello://readme']);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), ['hello://greet/{name}']);
  const readme = await client.readResource({ uri: 'hello://readme' });
  assert.equal(readme.contents[0].mimeType, 'text/plain');
  assert.match(readme.contents[0].text, /example plugin/);
  const greet = await client.readResource({ uri: 'hello://greet/Ada%20Lovelace' });
  assert.equal(greet.contents[0].text, 'Hello, Ada Lovelace!');
  assert.equal(greet.contents[0].uri, 'hello://greet/Ada%20Lovelace');
  await assert.rejects(client.readResource({ uri: 'hello://nothing' }), (e) => {
    assert.equal(e.code, -32002);
    assert.match(e.message, /Resource not found/);
    return true;
  });
  await client.close();
});

test('ping answers', async () => {
  const { client } = await connect();
  assert.deepEqual(await client.ping(), {});
  await client.close();
});

test('two clients at once keep separate sessions and interleave calls', async () => {
  const a = await connect();
  const b = await connect();
  assert.notEqual(a.transport.sessionId, b.transport.sessionId);
  const slow = a.client.callTool({ name: 'count', arguments: { n: 5, delay_ms: 30 } });
  const fast = [];
  for (let i = 0; i < 20; i++) fast.push(b.client.callTool({ name: 'echo', arguments: { text: `b${i}` } }));
  const fastResults = await Promise.all(fast);
  fastResults.forEach((r, i) => assert.equal(r.content[0].text, `b${i}`));
  assert.equal((await slow).content[0].text, 'counted to 5');
  await a.transport.terminateSession();
  await b.transport.terminateSession();
  await a.client.close();
  await b.client.close();
});

test('DELETE ends the session: later requests get 404', async () => {
  const { client, transport } = await connect();
  const sid = transport.sessionId;
  await transport.terminateSession();
  const res = await fetch(d.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error.code, -32001);
  await client.close();
});
