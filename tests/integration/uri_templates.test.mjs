// uri_templates.test.mjs -- what a plugin receives from a resource template:
// a {var} value is an RFC 6570 simple string, so a URI whose value decodes to
// something with '/' in it, or to "." or "..", matches nothing (resource not
// found) and never reaches the plugin; {+var} and {/var*} still carry
// slashes (issue 12, item 7).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startMcpd, buildDir } from './lib/mcpd.mjs';
import { initSession, post } from './lib/http.mjs';

const HOSTKIT = join(buildDir, 'tests/fixtures/host/hostkit.so');

test('{var} values cannot climb the path; {+var} and {/var*} still take slashes', async () => {
  const d = await startMcpd({ plugins: ['hello', HOSTKIT] });
  try {
    const { sid } = await initSession(d.url);
    let id = 1;
    const read = async (uri) => {
      const r = await post(d.url, { jsonrpc: '2.0', id: id++, method: 'resources/read', params: { uri } }, { 'Mcp-Session-Id': sid });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const text = async (uri) => {
      const r = await read(uri);
      assert.equal(r.error, undefined, `${uri}: ${JSON.stringify(r.error)}`);
      return r.result.contents[0].text;
    };
    const notFound = async (uri) => {
      const r = await read(uri);
      assert.equal(r.error?.code, -32002, `${uri} reached a plugin: ${JSON.stringify(r.result)}`);
      assert.deepEqual(r.error.data, { uri });
    };

    // The hello plugin's template, hello://greet/{name}.
    assert.equal(await text('hello://greet/world'), 'Hello, world!');
    assert.equal(await text('hello://greet/J%C3%BCrgen%20M'), 'Hello, J\u00fcrgen M!');
    for (const uri of ['hello://greet/..%2F..%2Fetc%2Fpasswd', 'hello://greet/..%2f..%2fetc%2fpasswd',
      'hello://greet/a%2Fb', 'hello://greet/..', 'hello://greet/.', 'hello://greet/%2E%2E', 'hello://greet/.%2e',
      'hello://greet/../../etc/passwd'])
      await notFound(uri);
    // Dots inside a value are fine.
    assert.equal(await text('hello://greet/..hidden'), 'Hello, ..hidden!');
    assert.equal(await text('hello://greet/a.b'), 'Hello, a.b!');

    // What reaches the plugin, exactly.
    assert.deepEqual(JSON.parse(await text('hostkit://name/r%C3%A9sum%C3%A9')), { name: 'r\u00e9sum\u00e9' });
    await notFound('hostkit://name/%2Fetc');
    assert.deepEqual(JSON.parse(await text('hostkit://files/docs/a%20b/c.txt')), { path: 'docs/a b/c.txt' });
    assert.deepEqual(JSON.parse(await text('hostkit://files/..%2F..%2Fetc%2Fpasswd')), { path: '../../etc/passwd' });
    assert.deepEqual(JSON.parse(await text('hostkit://segments/a/b%2Fc/d')), { parts: 'a/b/c/d' });
    assert.deepEqual(JSON.parse(await text('hostkit://segments/one')), { parts: 'one' });
  } finally {
    await d.stop();
  }
});
