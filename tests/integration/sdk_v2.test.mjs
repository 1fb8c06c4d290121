// The official TypeScript SDK v2 client (@modelcontextprotocol/client 2.4.0)
// against the real daemon, in each way it picks an era: 'auto' (probes
// server/discover, goes modern when it may), pinned to 2026-07-28 (modern
// only: fails against a legacy-only server), and 'legacy' (initialize).
// Against hello, the conformance plugin (a question answered across
// retries, input_required, through the client's own elicitation handler)
// and http_backend in front of a small node backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startMcpd, buildDir, makePluginsDir } from './lib/mcpd.mjs';

const MODES = [['auto', { mode: 'auto' }], ['pinned to 2026-07-28', { mode: { pin: '2026-07-28' } }], ['legacy', { mode: 'legacy' }]];

async function connect(url, versionNegotiation, capabilities = {}) {
  const client = new Client({ name: 'v2-test', version: '1.0.0' }, { capabilities, versionNegotiation });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

for (const [label, negotiation] of MODES) {
  const modern = label !== 'legacy';
  test(`SDK v2 (${label}) against hello: tools, resources, version`, async () => {
    const d = await startMcpd({ plugins: ['hello'] });
    try {
      const c = await connect(d.url, negotiation);
      assert.equal(c.getNegotiatedProtocolVersion(), modern ? '2026-07-28' : '2025-11-25');
      const tools = (await c.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(tools, ['count', 'echo']);
      const r = await c.callTool({ name: 'echo', arguments: { text: 'hi v2' } });
      assert.equal(r.content[0].text, 'hi v2');
      const res = await c.readResource({ uri: 'hello://readme' });
      assert.ok(res.contents[0].text.length > 0);
      await c.close();
      if (modern) {
        // No session was made for the modern client: its requests stood alone.
        assert.doesNotMatch(d.log(), /event=session_created/);
      }
    } finally {
      await d.stop();
    }
  });
}

test('SDK v2 (auto) against the conformance plugin: a question answered across a retry (input_required)', async () => {
  const d = await startMcpd({ pluginsDir: join(buildDir, 'tests/fixtures/conformance') });
  try {
    const c = new Client({ name: 'v2-test', version: '1.0.0' }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } });
    let asked = 0;
    c.setRequestHandler('elicitation/create', async () => {
      asked++;
      return { action: 'accept', content: { name: 'Alice' } };
    });
    await c.connect(new StreamableHTTPClientTransport(new URL(d.url)));
    assert.equal(c.getNegotiatedProtocolVersion(), '2026-07-28');
    const r = await c.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
    assert.equal(asked, 2, 'two rounds, one question each');
    assert.equal(r.content[0].text, 'Both rounds answered');
    const one = await c.callTool({ name: 'test_input_required_result_elicitation', arguments: {} });
    assert.match(one.content[0].text, /"name":"Alice"/);
    await c.close();
  } finally {
    await d.stop();
  }
});

test('SDK v2 (pinned and auto) against http_backend: the backend\'s operation as a modern tool', async () => {
  const doc = {
    openapi: '3.0.3', info: { title: 'items', version: '1' },
    paths: { '/items/{id}': { get: { operationId: 'read_item', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } } } } },
  };
  const backend = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/openapi.json') return res.end(JSON.stringify(doc));
    const m = /^\/items\/(\d+)$/.exec(req.url);
    res.end(JSON.stringify(m ? { id: Number(m[1]), name: `item ${m[1]}` } : { error: 'no' }));
  });
  await new Promise((r) => backend.listen(0, '127.0.0.1', r));
  let d;
  try {
    d = await startMcpd({ pluginsDir: makePluginsDir([join(buildDir, 'plugins/http_backend.so')]), config: { plugins: { http_backend: {
      backends: [{ name: 'items', base_url: `http://127.0.0.1:${backend.address().port}`, openapi: '/openapi.json' }] } } } });
    await d.waitForLog(/event=plugin_updated plugin=http_backend tools=1/, 20000);
    for (const negotiation of [{ mode: { pin: '2026-07-28' } }, { mode: 'auto' }]) {
      const c = await connect(d.url, negotiation);
      assert.equal(c.getNegotiatedProtocolVersion(), '2026-07-28');
      const r = await c.callTool({ name: 'read_item', arguments: { id: 7 } });
      assert.deepEqual(r.structuredContent, { id: 7, name: 'item 7' });
      await c.close();
    }
  } finally {
    await d?.stop();
    backend.close();
  }
});

test('a JSON-RPC batch with a 2026-07-28 header is refused 400 -32600, even with a legacy session id', async () => {
  const d = await startMcpd({ plugins: ['hello'] });
  try {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const init = await fetch(d.url, { method: 'POST', headers: { ...headers, 'MCP-Protocol-Version': '2025-03-26' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid);
    const batch = [{ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }];
    const r = await fetch(d.url, { method: 'POST', headers: { ...headers, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/list', 'Mcp-Session-Id': sid },
      body: JSON.stringify(batch) });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.code, -32600);
    // The same batch in the 2025-03-26 session, with its own header, still runs.
    const ok = await fetch(d.url, { method: 'POST', headers: { ...headers, 'MCP-Protocol-Version': '2025-03-26', 'Mcp-Session-Id': sid },
      body: JSON.stringify([{ jsonrpc: '2.0', id: 3, method: 'tools/list' }]) });
    assert.equal(ok.status, 200);
  } finally {
    await d.stop();
  }
});
