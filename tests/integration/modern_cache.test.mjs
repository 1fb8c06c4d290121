// Cache hints of the 2026-07-28 era: listings and discovery carry the
// config's timeouts.list_ttl_ms, a read carries what its resource's plugin
// declared (cache_ttl_ms, ABI 1.3: hello's readme, an hour), a template
// without a hint 0; cacheScope is public without auth. Legacy answers carry
// none of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMcpd } from './lib/mcpd.mjs';
import { post, initSession } from './lib/http.mjs';

const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

async function modern(url, method, params = {}, name) {
  const r = await post(url, { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META } },
    { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method, ...(name ? { 'Mcp-Name': name } : {}) });
  assert.equal(r.status, 200, r.text);
  return r.json.result;
}

test('cache hints: lists from timeouts.list_ttl_ms, reads from the resource\'s cache_ttl_ms; none on the legacy path', async () => {
  const d = await startMcpd({ plugins: ['hello'], config: { timeouts: { list_ttl_ms: 60000 } } });
  try {
    for (const m of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'server/discover']) {
      const r = await modern(d.url, m);
      assert.equal(r.ttlMs, 60000, m);
      assert.equal(r.cacheScope, 'public', m);
    }
    const readme = await modern(d.url, 'resources/read', { uri: 'hello://readme' }, 'hello://readme');
    assert.equal(readme.ttlMs, 3600000);
    assert.equal(readme.cacheScope, 'public');
    const greet = await modern(d.url, 'resources/read', { uri: 'hello://greet/ann' }, 'hello://greet/ann');
    assert.equal(greet.ttlMs, 0);

    const { sid } = await initSession(d.url);
    const legacy = await post(d.url, { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'hello://readme' } },
      { 'Mcp-Session-Id': sid });
    assert.equal(legacy.status, 200, legacy.text);
    assert.ok(!('ttlMs' in legacy.json.result) && !('cacheScope' in legacy.json.result));
    const list = await post(d.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'Mcp-Session-Id': sid });
    assert.ok(!('ttlMs' in list.json.result));
  } finally {
    await d.stop();
  }
});
