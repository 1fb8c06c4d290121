// http_backend against a small node:http backend that echoes what it receives
// (method, the request target as raw bytes, headers, the body in base64) and
// serves an OpenAPI document with the cases of issue 16, items 4-6: values
// that keep '/' (x-multi-segment) or reserved characters (allowReserved), path
// level parameters, +json bodies, a path parameter and a body property that
// are one argument, server variables (no base_url: the document's servers),
// multipart/form-data with files in base64, application/octet-stream,
// text/plain, a body that cannot be sent (no tool), an answer that does not
// match its output schema (the official SDK client must not throw), and the
// output_schemas and read_only settings. Every call goes through the official
// MCP SDK client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, makePluginsDir, buildDir } from './lib/mcpd.mjs';

const PLUGIN = join(buildDir, 'plugins/http_backend.so');

const ECHO = {
  description: 'what the backend received',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          method: { type: 'string' },
          raw: { type: 'string' },
          headers: { type: 'object' },
          body_base64: { type: 'string' },
        },
        required: ['method', 'raw'],
      },
    },
  },
};
const ok = { 200: ECHO };

function documentFor(port) {
  const str = { type: 'string' };
  return {
    openapi: '3.1.0',
    info: { title: 'Echo', version: '1' },
    servers: [{
      url: 'http://127.0.0.1:{port}/{stage}',
      variables: { port: { default: String(port) }, stage: { default: 'v1', enum: ['v1', 'v2'] } },
    }],
    paths: {
      '/repos/{owner}/contents/{path}': {
        get: {
          operationId: 'get_contents',
          parameters: [
            { name: 'owner', in: 'path', required: true, schema: str },
            { name: 'path', in: 'path', required: true, 'x-multi-segment': true, schema: str },
            { name: 'q', in: 'query', allowReserved: true, schema: str },
          ],
          responses: ok,
        },
      },
      '/items/{id}': {
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'trace', in: 'query', description: 'path level', schema: { type: 'integer' } },
        ],
        get: {
          operationId: 'read_item',
          parameters: [{ name: 'trace', in: 'query', description: 'op level', schema: str }],
          responses: ok,
        },
        patch: {
          operationId: 'patch_item',
          requestBody: { content: { 'application/merge-patch+json': { schema: { type: 'object', properties: { name: str } } } } },
          responses: ok,
        },
      },
      '/things/{id}': {
        post: {
          operationId: 'make_thing',
          parameters: [{ name: 'id', in: 'path', required: true, schema: str }],
          requestBody: {
            required: true,
            content: { 'application/vnd.api+json': { schema: { type: 'object', properties: { id: str, data: { type: 'object' } }, required: ['id'] } } },
          },
          responses: ok,
        },
      },
      '/upload': {
        post: {
          operationId: 'upload',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  properties: {
                    title: str,
                    tags: { type: 'array', items: str },
                    file: { type: 'string', format: 'binary' },
                    attachments: { type: 'array', items: { type: 'string', format: 'binary' } },
                  },
                  required: ['file'],
                },
              },
            },
          },
          responses: ok,
        },
      },
      '/blob': {
        put: {
          operationId: 'put_blob',
          requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          responses: ok,
        },
      },
      '/note': {
        post: {
          operationId: 'post_note',
          requestBody: { required: true, content: { 'text/plain': { schema: str } } },
          responses: ok,
        },
      },
      '/parts': {
        post: {
          operationId: 'mixed_parts',
          requestBody: { content: { 'multipart/mixed': { schema: { type: 'object' } } } },
          responses: ok,
        },
      },
      '/count': {
        get: {
          operationId: 'count',
          responses: { 200: { description: 'n', content: { 'application/json': { schema: { type: 'object', properties: { count: { type: 'integer' } }, required: ['count'] } } } } },
        },
      },
      '/count_ok': {
        get: {
          operationId: 'count_ok',
          responses: { 200: { description: 'n', content: { 'application/json': { schema: { type: 'object', properties: { count: { type: 'integer' } }, required: ['count'] } } } } },
        },
      },
    },
  };
}

let backend, port;
const received = [];

function startBackend() {
  return new Promise((res) => {
    const srv = http.createServer((req, resp) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const send = (obj) => {
          const text = JSON.stringify(obj);
          resp.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
          resp.end(text);
        };
        if (req.url.endsWith('/openapi.json')) return send(documentFor(port));
        if (req.url.endsWith('/count')) return send({ count: 'many' });
        if (req.url.endsWith('/count_ok')) return send({ count: 3 });
        const echo = { method: req.method, raw: req.url, headers: req.headers, body_base64: body.toString('base64') };
        received.push(echo);
        send(echo);
      });
    });
    srv.listen(0, '127.0.0.1', () => res(srv));
  });
}

let d, client;

before(async () => {
  backend = await startBackend();
  port = backend.address().port;
  const config = {
    plugins: {
      http_backend: {
        backends: [
          // No base_url: requests go to the document's servers[0].
          { name: 'api', openapi: `http://127.0.0.1:${port}/openapi.json`, server_variables: { stage: 'v2' } },
          { name: 'ro', base_url: `http://127.0.0.1:${port}/v1`, openapi: '/openapi.json', tool_prefix: 'ro_', read_only: true, output_schemas: false },
        ],
      },
    },
  };
  d = await startMcpd({ pluginsDir: makePluginsDir([PLUGIN]), config });
  await d.waitForLog(/event=plugin_updated plugin=http_backend tools=(\d+)/, 20000);
  // Both documents (9 tools and 4): the second publish may come separately.
  for (let t = Date.now(); Date.now() - t < 10000;) {
    const h = await (await fetch(`${d.base}/healthz`)).json();
    if (h.tools >= 13) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  client = new Client({ name: 'bodies-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
});

after(async () => {
  await client?.close();
  await d?.stop();
  await new Promise((r) => backend?.close(r) ?? r());
});

async function call(name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, false, `${name}: ${JSON.stringify(r.content)}`);
  assert.ok(r.structuredContent, `${name}: no structuredContent`);
  return r.structuredContent;
}

// The parts of a multipart/form-data body: [{headers, data (a latin1 string)}].
function parts(echo) {
  const boundary = /boundary=([^;\s]+)/.exec(echo.headers['content-type'])[1];
  const text = Buffer.from(echo.body_base64, 'base64').toString('latin1');
  assert.ok(text.endsWith(`--${boundary}--\r\n`), 'closing delimiter');
  return text.split(`--${boundary}`).slice(1, -1).map((p) => {
    assert.ok(p.startsWith('\r\n') && p.endsWith('\r\n'));
    const [head, ...rest] = p.slice(2, -2).split('\r\n\r\n');
    return { head, data: rest.join('\r\n\r\n') };
  });
}

test('parameters: multi-segment and reserved values, path-level parameters, +json bodies, one argument for the same parameter, server variables', async () => {
  const { tools } = await client.listTools();
  const by = Object.fromEntries(tools.map((t) => [t.name, t]));

  // x-multi-segment keeps '/', a plain path parameter does not; '?' and '#' never pass.
  let e = await call('get_contents', { owner: 'a/b', path: 'docs/sub dir/x.md', q: 'a/b?c:d&e=f' });
  assert.equal(e.raw, '/v2/repos/a%2Fb/contents/docs/sub%20dir/x.md?q=a/b?c:d%26e%3Df');
  e = await call('get_contents', { owner: 'o', path: 'a/b?x=1#frag' });
  assert.equal(e.raw, '/v2/repos/o/contents/a/b%3Fx%3D1%23frag');
  const before = received.length;
  const r = await client.callTool({ name: 'get_contents', arguments: { owner: 'o', path: 'a/../../admin' } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /"\.\." segment/);
  assert.equal(received.length, before, 'a dot segment never reaches the backend');

  // Path-level parameters, the operation's own of the same name winning.
  assert.equal(by.read_item.inputSchema.properties.trace.description, 'op level');
  assert.equal(by.read_item.inputSchema.properties.trace.type, 'string');
  assert.equal(by.patch_item.inputSchema.properties.trace.description, 'path level');
  e = await call('read_item', { id: 7, trace: 'abc' });
  assert.equal(e.raw, '/v2/items/7?trace=abc');

  // application/*+json bodies are JSON, with their own Content-Type.
  e = await call('patch_item', { id: 7, name: 'new' });
  assert.equal(e.headers['content-type'], 'application/merge-patch+json');
  assert.deepEqual(JSON.parse(Buffer.from(e.body_base64, 'base64')), { name: 'new' });

  // The path's id and the body's id are one argument, sent to both places.
  assert.deepEqual(Object.keys(by.make_thing.inputSchema.properties).sort(), ['data', 'id', 'server_stage']);
  e = await call('make_thing', { id: 'x-1', data: { a: 1 } });
  assert.equal(e.raw, '/v2/things/x-1');
  assert.equal(e.headers['content-type'], 'application/vnd.api+json');
  assert.deepEqual(JSON.parse(Buffer.from(e.body_base64, 'base64')), { id: 'x-1', data: { a: 1 } });

  // Server variables: the default (v1) replaced by server_variables (v2); the enum
  // choice as an optional argument; a variable without choices is no argument.
  const stage = by.get_contents.inputSchema.properties.server_stage;
  assert.deepEqual(stage.enum, ['v1', 'v2']);
  assert.equal(stage.default, 'v2');
  assert.equal(by.get_contents.inputSchema.properties.server_port, undefined);
  assert.ok(!(by.get_contents.inputSchema.required ?? []).includes('server_stage'));
  e = await call('read_item', { id: 1, server_stage: 'v1' });
  assert.equal(e.raw, '/v1/items/1');
  await assert.rejects(client.callTool({ name: 'read_item', arguments: { id: 1, server_stage: 'v3' } }), /-32602|Invalid arguments/);
  // With base_url, the document's servers do not matter and there is no such argument.
  assert.equal(by.ro_read_item.inputSchema.properties.server_stage, undefined);
});

test('bodies that are not JSON: multipart fields and base64 files, bytes, text; a body that cannot be sent has no tool', async () => {
  const { tools } = await client.listTools();
  const by = Object.fromEntries(tools.map((t) => [t.name, t]));
  const file = by.upload.inputSchema.properties.file;
  assert.equal(file.type, 'object');
  assert.equal(file.required, undefined); // content_base64 or uri (http_backend_multipart_uri)
  assert.match(file.description, /content_base64/);

  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x0d, 0x0a, 0xff]);
  let e = await call('upload', {
    title: 'Q3 "report"\r\nX-Evil: 1',
    tags: ['a', 'b'],
    file: { content_base64: png.toString('base64'), filename: 'logo.png', mime_type: 'image/png' },
    attachments: [{ content_base64: Buffer.from('one').toString('base64') }, { content_base64: Buffer.from('two').toString('base64'), filename: 't"w\no.txt' }],
  });
  assert.match(e.headers['content-type'], /^multipart\/form-data; boundary=/);
  const ps = parts(e);
  assert.deepEqual(ps.map((p) => p.head), [
    'Content-Disposition: form-data; name="title"',
    'Content-Disposition: form-data; name="tags"',
    'Content-Disposition: form-data; name="tags"',
    'Content-Disposition: form-data; name="file"; filename="logo.png"\r\nContent-Type: image/png',
    'Content-Disposition: form-data; name="attachments"; filename="attachments"\r\nContent-Type: application/octet-stream',
    'Content-Disposition: form-data; name="attachments"; filename="t%22w%0Ao.txt"\r\nContent-Type: application/octet-stream',
  ]);
  assert.equal(ps[0].data, 'Q3 "report"\r\nX-Evil: 1');
  assert.deepEqual([ps[1].data, ps[2].data], ['a', 'b']);
  assert.deepEqual(Buffer.from(ps[3].data, 'latin1'), png);
  assert.deepEqual([ps[4].data, ps[5].data], ['one', 'two']);
  const bad = await client.callTool({ name: 'upload', arguments: { file: { content_base64: '***' } } });
  assert.equal(bad.isError, true);
  assert.match(bad.content[0].text, /content_base64 is not base64/);

  // application/octet-stream: base64 in, the bytes out.
  const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
  assert.equal(by.put_blob.inputSchema.properties.body.contentEncoding, 'base64');
  e = await call('put_blob', { body: bytes.toString('base64') });
  assert.equal(e.method, 'PUT');
  assert.equal(e.headers['content-type'], 'application/octet-stream');
  assert.deepEqual(Buffer.from(e.body_base64, 'base64'), bytes);

  // text/plain: the string as it is.
  e = await call('post_note', { body: 'café {not json}' });
  assert.equal(e.headers['content-type'], 'text/plain');
  assert.equal(Buffer.from(e.body_base64, 'base64').toString('utf8'), 'café {not json}');

  // multipart/mixed cannot be sent: no tool, and a log line naming the operation.
  assert.equal(by.mixed_parts, undefined);
  assert.match(d.log(), /backend=api POST \/parts: the request body is multipart\/mixed, which mcpd cannot send.*operation skipped/);
});

test('an answer that does not match the output schema reaches the SDK client as text, without throwing; logged once', async () => {
  const { tools } = await client.listTools();
  const count = tools.find((t) => t.name === 'count');
  assert.ok(count.outputSchema, 'the tool declares an output schema');
  for (let i = 0; i < 2; i++) {
    const r = await client.callTool({ name: 'count', arguments: {} }); // must not throw
    assert.equal(r.structuredContent, undefined);
    assert.equal(r.isError, true);
    assert.equal(r.content[0].text, '{"count":"many"}');
  }
  const good = await client.callTool({ name: 'count_ok', arguments: {} });
  assert.deepEqual(good.structuredContent, { count: 3 });
  assert.equal(good.isError, false);
  const lines = d.log().split('\n').filter((l) => /tool=count answered HTTP 200 with something that does not match its output schema/.test(l));
  assert.equal(lines.length, 1, d.log());
});

test('output_schemas: false leaves output schemas out; read_only: true keeps only GET and HEAD', async () => {
  const { tools } = await client.listTools();
  const ro = tools.filter((t) => t.name.startsWith('ro_')).map((t) => t.name).sort();
  assert.deepEqual(ro, ['ro_count', 'ro_count_ok', 'ro_get_contents', 'ro_read_item']);
  for (const t of tools.filter((x) => x.name.startsWith('ro_'))) assert.equal(t.outputSchema, undefined, t.name);
  assert.ok(tools.find((t) => t.name === 'read_item').outputSchema, 'the other backend keeps them');
  // No output schema: a mismatching answer is an ordinary success.
  const r = await client.callTool({ name: 'ro_count', arguments: {} });
  assert.equal(r.isError, false);
  assert.equal(r.content[0].text, '{"count":"many"}');
  const e = await client.callTool({ name: 'ro_read_item', arguments: { id: 3 } });
  assert.equal(JSON.parse(e.content[0].text).raw, '/v1/items/3');
});
