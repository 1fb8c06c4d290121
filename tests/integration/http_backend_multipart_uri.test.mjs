// http_backend: a multipart/form-data file given as a resource URI of this
// mcpd ({"uri": "test://static-text"}) instead of base64. The plugin reads
// the resource through mcpd (host->read_resource, as the tool's caller) and
// sends its bytes: a text resource as its UTF-8, a blob decoded; the
// resource's mimeType and the URI's last segment unless mime_type and
// filename are given. A small node:http backend echoes the parts it got.
// An unknown URI, a resource whose handler says not found, both forms at
// once, and (with auth on) a resource the caller lacks the scope for are
// tool errors naming what is wrong. Every call goes through the official
// MCP SDK client.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, makePluginsDir, buildDir } from './lib/mcpd.mjs';

const PLUGINS = [join(buildDir, 'plugins/http_backend.so'), 'conformance', 'testkit'];
const TEXT = 'This is the content of the static text resource.';

function documentFor() {
  const echo = { description: 'the parts', content: { 'application/json': { schema: { type: 'object' } } } };
  return {
    openapi: '3.0.3',
    info: { title: 'Uploads', version: '1' },
    paths: {
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
                    title: { type: 'string' },
                    file: { type: 'string', format: 'binary' },
                    attachments: { type: 'array', items: { type: 'string', format: 'binary' } },
                  },
                  required: ['file'],
                },
              },
            },
          },
          responses: { 200: echo },
        },
      },
    },
  };
}

// The parts of a multipart/form-data body: [{name, filename, type, data (a Buffer)}].
function parseParts(contentType, body) {
  const boundary = /boundary=([^;\s]+)/.exec(contentType)[1];
  const text = body.toString('latin1');
  assert.ok(text.endsWith(`--${boundary}--\r\n`), 'closing delimiter');
  return text.split(`--${boundary}`).slice(1, -1).map((p) => {
    const [head, ...rest] = p.slice(2, -2).split('\r\n\r\n');
    const disp = /name="([^"]*)"(?:; filename="([^"]*)")?/.exec(head);
    const type = /\r\nContent-Type: (.*)$/m.exec(head);
    return { name: disp[1], filename: disp[2] ?? null, type: type ? type[1] : null, data: Buffer.from(rest.join('\r\n\r\n'), 'latin1') };
  });
}

let backend, port;
const received = [];

function startBackend() {
  return new Promise((res) => {
    const srv = http.createServer((req, resp) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const send = (obj) => {
          const text = JSON.stringify(obj);
          resp.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
          resp.end(text);
        };
        if (req.url.endsWith('/openapi.json')) return send(documentFor());
        const parts = parseParts(req.headers['content-type'], Buffer.concat(chunks));
        received.push(parts);
        send({ parts: parts.map((p) => ({ name: p.name, filename: p.filename, type: p.type, size: p.data.length })) });
      });
    });
    srv.listen(0, '127.0.0.1', () => res(srv));
  });
}

async function startWith(extra = {}) {
  const config = {
    ...extra,
    plugins: {
      http_backend: { backends: [{ name: 'up', base_url: `http://127.0.0.1:${port}`, openapi: '/openapi.json' }] },
    },
  };
  const d = await startMcpd({ pluginsDir: makePluginsDir(PLUGINS), config });
  await d.waitForLog(/event=plugin_updated plugin=http_backend tools=1/, 20000);
  return d;
}

async function connect(d, token) {
  const client = new Client({ name: 'multipart-uri-test', version: '1' });
  const opts = token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url), opts));
  return client;
}

before(async () => {
  backend = await startBackend();
  port = backend.address().port;
});

after(async () => {
  await new Promise((r) => backend?.close(r) ?? r());
});

describe('no auth', () => {
  let d, client;
  before(async () => {
    d = await startWith();
    client = await connect(d);
  });
  after(async () => {
    await client?.close();
    await d?.stop();
  });

  // Calls upload; returns the parts the backend got (asserting it got the request).
  async function upload(args) {
    const before = received.length;
    const r = await client.callTool({ name: 'upload', arguments: args });
    assert.equal(r.isError, false, JSON.stringify(r.content));
    assert.equal(received.length, before + 1);
    return received.at(-1);
  }

  async function refused(args, re) {
    const before = received.length;
    const r = await client.callTool({ name: 'upload', arguments: args });
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.match(r.content[0].text, re);
    assert.equal(received.length, before, 'nothing reaches the backend');
  }

  test('the file argument offers uri beside content_base64, neither required', async () => {
    const { tools } = await client.listTools();
    const file = tools.find((t) => t.name === 'upload').inputSchema.properties.file;
    assert.deepEqual(Object.keys(file.properties).sort(), ['content_base64', 'filename', 'mime_type', 'uri']);
    assert.equal(file.required, undefined);
    assert.equal(file.additionalProperties, false);
    assert.match(file.description, /"uri": a resource URI of this server/);
    assert.match(file.description, /exactly one of the two/);
  });

  test('a text resource: its UTF-8 bytes, its mimeType, the URI\'s last segment as file name', async () => {
    const [p] = await upload({ file: { uri: 'test://static-text' } });
    assert.deepEqual({ name: p.name, filename: p.filename, type: p.type }, { name: 'file', filename: 'static-text', type: 'text/plain' });
    assert.equal(p.data.toString('utf8'), TEXT);
  });

  test('a blob resource: its decoded bytes, exactly', async () => {
    const read = await client.readResource({ uri: 'test://static-binary' });
    const bytes = Buffer.from(read.contents[0].blob, 'base64');
    assert.ok(bytes.length > 0);
    const [p] = await upload({ file: { uri: 'test://static-binary' } });
    assert.deepEqual({ filename: p.filename, type: p.type }, { filename: 'static-binary', type: 'image/png' });
    assert.deepEqual(p.data, bytes);
  });

  test('filename and mime_type given win; a template match; arrays mix both forms', async () => {
    const ps = await upload({
      title: 'both kinds',
      file: { uri: 'test://template/42/data', filename: 'r.json', mime_type: 'application/vnd.x+json' },
      attachments: [
        { content_base64: Buffer.from('inline').toString('base64'), filename: 'a.txt' },
        { uri: 'test://static-text' },
        { uri: 'test://template/7/data' },
      ],
    });
    assert.deepEqual(ps.map((p) => [p.name, p.filename, p.type]), [
      ['title', null, null],
      ['file', 'r.json', 'application/vnd.x+json'],
      ['attachments', 'a.txt', 'application/octet-stream'],
      ['attachments', 'static-text', 'text/plain'],
      ['attachments', 'data', 'application/json'],
    ]);
    assert.deepEqual(JSON.parse(ps[1].data.toString('utf8')), { id: '42', templateTest: true, data: 'Data for ID: 42' });
    assert.equal(ps[2].data.toString(), 'inline');
    assert.equal(ps[3].data.toString('utf8'), TEXT);
    assert.equal(JSON.parse(ps[4].data.toString('utf8')).id, '7');
  });

  test('errors are tool errors naming what is wrong; nothing is sent', async () => {
    await refused({ file: { uri: 'test://nope' } }, /^argument "file": resource test:\/\/nope not found$/);
    // The resource's own handler says not found.
    await refused({ file: { uri: 'testkit://missing/1' } }, /^argument "file": resource testkit:\/\/missing\/1 not found$/);
    await refused({ file: { uri: 'test://static-text', content_base64: 'aGk=' } }, /argument "file": give content_base64 or uri, not both/);
    await refused({ file: {} }, /argument "file": a file is \{"content_base64": "..."\} or \{"uri": "..."\}/);
    await refused({ file: { content_base64: 'aGk=' }, attachments: [{ uri: 'test://static-text' }, { uri: 'test://gone' }] },
      /^argument "attachments": resource test:\/\/gone not found$/);
  });
});

describe('auth on: the read is the caller\'s', () => {
  const ALICE = 'alice-token-0123456789abcdef';
  const BOB = 'bob-token-0123456789abcdef';
  let d;
  before(async () => {
    d = await startWith({
      auth: {
        tokens: [
          { name: 'alice', token: ALICE, scopes: ['mcp'] },
          { name: 'bob', token: BOB, scopes: ['mcp', 'files:read'] },
        ],
        scopes: { rules: [{ resources: 'test://static-binary', scopes: ['files:read'] }] },
      },
    });
  });
  after(async () => { await d?.stop(); });

  test('a caller without the resource\'s scope gets a tool error naming it; one with it uploads', async () => {
    const alice = await connect(d, ALICE);
    const before = received.length;
    let r = await alice.callTool({ name: 'upload', arguments: { file: { uri: 'test://static-binary' } } });
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.equal(r.content[0].text, 'argument "file": resource test://static-binary needs scope files:read');
    assert.equal(received.length, before);
    // What she may read, she may upload.
    r = await alice.callTool({ name: 'upload', arguments: { file: { uri: 'test://static-text' } } });
    assert.equal(r.isError, false, JSON.stringify(r.content));
    await alice.close();

    const bob = await connect(d, BOB);
    r = await bob.callTool({ name: 'upload', arguments: { file: { uri: 'test://static-binary' } } });
    assert.equal(r.isError, false, JSON.stringify(r.content));
    assert.equal(received.at(-1)[0].type, 'image/png');
    await bob.close();
  });
});
