// HTTPS in the host's HTTP client (http_request, plugin ABI 1.3) and in the
// bundled http_backend: nginx as an HTTPS backend (HTTP/2, client
// certificates), Node.js TLS servers with each kind of broken certificate,
// a server that stalls in the handshake, plain HTTP on an https:// URL, and
// a small CONNECT proxy. Certificates are made by the test with openssl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, makePluginsDir, buildDir, runMcpd } from './lib/mcpd.mjs';
import { makeCerts } from './lib/certs.mjs';
import { startNginx } from './lib/nginx.mjs';

const PLUGIN = join(buildDir, 'plugins/http_backend.so');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (r) => r.content.map((c) => c.text).join('');

const DOC = JSON.stringify({
  openapi: '3.0.0',
  info: { title: 'shop', version: '1' },
  paths: {
    '/items/{item_id}': {
      get: {
        operationId: 'get_item',
        parameters: [{ name: 'item_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { 200: { description: 'ok' } },
      },
    },
  },
});

let certs;
before(() => { certs = makeCerts(); });
after(() => certs.remove());

// nginx serving the document and /items/N over TLS with HTTP/2; with
// verifyClient, a client certificate from the test CA is required.
function nginxTls(cert, { verifyClient = false } = {}) {
  return startNginx((port) => `
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${cert.cert};
    ssl_certificate_key ${cert.key};
    ${verifyClient ? `ssl_verify_client on; ssl_client_certificate ${certs.ca.cert};` : ''}
    default_type application/json;
    location = /openapi.json { return 200 '${DOC}'; }
    location ~ ^/items/(\\d+)$ { return 200 '{"id":$1,"name":"widget"}'; }
  }`, { logFormat: '$request_method $uri $status $server_protocol client=[$ssl_client_s_dn]' });
}

async function connect(d) {
  const client = new Client({ name: 'tls-client-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
  return client;
}

function backendConfig(url, extra = {}) {
  return { plugins: { http_backend: { backends: [{ name: 'shop', base_url: url, ...extra }] } } };
}

async function withBackend(cfg, fn, env = {}) {
  const d = await startMcpd({ pluginsDir: makePluginsDir([PLUGIN]), config: cfg, env });
  let client;
  try {
    await d.waitForLog(/event=plugin_updated plugin=http_backend tools=1/, 15000);
    client = await connect(d);
    await fn(d, client);
  } finally {
    if (client) await client.close();
    await d.stop();
  }
}

async function check(cfg) {
  const dir = mkdtempSync(join(tmpdir(), 'mcpd-check-'));
  const file = join(dir, 'mcpd.json');
  writeFileSync(file, JSON.stringify(cfg));
  try {
    return await runMcpd(['--check', '--config', file, '--plugins', makePluginsDir([PLUGIN])], { timeoutMs: 30000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A Node.js HTTPS server with cert; opts go to https.createServer.
async function tlsServer(cert, opts = {}) {
  const seen = [];
  const headers = [];
  const server = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key), ...opts }, (req, res) => {
    const peer = req.socket.getPeerCertificate?.();
    seen.push(peer?.subject?.CN ?? null);
    headers.push(req.headers);
    req.resume();
    res.setHeader('Content-Type', 'text/plain');
    res.end(`hello ${peer?.subject?.CN ?? 'stranger'}`);
  });
  server.on('tlsClientError', () => {});
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${server.address().port}`, seen, headers, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

test('http_backend over HTTPS: the document and calls with ca_file, HTTP/2 with nginx, and the default store refusing the test CA', async () => {
  const ng = await nginxTls(certs.server);
  try {
    const url = `https://127.0.0.1:${ng.port}`;
    await withBackend(backendConfig(url, { ca_file: certs.ca.cert }), async (d, client) => {
      const tools = await client.listTools();
      assert.deepEqual(tools.tools.map((t) => t.name), ['get_item']);
      const r = await client.callTool({ name: 'get_item', arguments: { item_id: 7 } });
      assert.equal(r.isError ?? false, false, text(r));
      assert.deepEqual(JSON.parse(text(r)), { id: 7, name: 'widget' });
    });
    assert.match(ng.accessLog(), /GET \/openapi\.json 200 HTTP\/2\.0/, 'the document came over HTTP/2');
    assert.match(ng.accessLog(), /GET \/items\/7 200 HTTP\/2\.0/);

    // Without ca_file the system's store does not know the test CA.
    const c = await check(backendConfig(url));
    assert.equal(c.code, 1, c.stderr);
    assert.match(c.stderr, /backend shop \(https:\/\/127\.0\.0\.1:\d+\): the server's certificate is signed by an unknown CA \(give the CA in ca_file\)/);
    assert.doesNotMatch(c.stderr, /error:[0-9A-F]{8}|SSL routines|curl/i, 'no library codes');

    // insecure_skip_verify works, and says loudly what it costs.
    await withBackend(backendConfig(url, { insecure_skip_verify: true }), async (d, client) => {
      const r = await client.callTool({ name: 'get_item', arguments: { item_id: 8 } });
      assert.deepEqual(JSON.parse(text(r)), { id: 8, name: 'widget' });
      assert.match(d.log(), /level=warn .*insecure_skip_verify is on: the certificate of https:\/\/127\.0\.0\.1:\d+ is NOT checked/);
      assert.match(d.log(), /level=warn event=plugin_http_insecure plugin=http_backend/);
    });
  } finally {
    await ng.stop();
  }
});

test('http_backend with a client certificate (mTLS) to nginx; without one, a clean isError', async () => {
  const ng = await nginxTls(certs.server, { verifyClient: true });
  try {
    const url = `https://127.0.0.1:${ng.port}`;
    await withBackend(backendConfig(url, { ca_file: certs.ca.cert, client_cert_file: certs.client.cert, client_key_file: certs.client.key }), async (d, client) => {
      const r = await client.callTool({ name: 'get_item', arguments: { item_id: 3 } });
      assert.deepEqual(JSON.parse(text(r)), { id: 3, name: 'widget' });
    });
    assert.match(ng.accessLog(), /GET \/items\/3 200 HTTP\/2\.0 client=\[CN=agent-7,O=mcpd tests\]/);
    // No client certificate: nginx answers 400, never the document.
    const c = await check(backendConfig(url, { ca_file: certs.ca.cert }));
    assert.equal(c.code, 1);
    assert.match(c.stderr, /backend=shop .*answered HTTP 400/);
    // Settings are checked at start: a missing file, a file that is not PEM.
    const missing = await check(backendConfig(url, { ca_file: '/nonexistent/ca.pem' }));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /backend shop: ca_file \/nonexistent\/ca\.pem: No such file or directory/);
    const notPem = await check(backendConfig(url, { client_cert_file: PLUGIN }));
    assert.match(notPem.stderr, /client_cert_file .* is not a PEM file/);
    const keyAlone = await check(backendConfig(url, { client_key_file: certs.client.key }));
    assert.match(keyAlone.stderr, /client_key_file needs client_cert_file/);
  } finally {
    await ng.stop();
  }
});

test('http_request over TLS: each broken certificate, plain HTTP, a stalled handshake and client certificates, in words', async () => {
  const d = await startMcpd({ plugins: ['testkit'] });
  const client = await connect(d);
  const fetch = async (args) => text(await client.callTool({ name: 'fetch', arguments: { detail: true, ...args } }));
  const servers = [];
  try {
    const good = await tlsServer(certs.server);
    const wrongHost = await tlsServer(certs.wrongHost);
    const expired = await tlsServer(certs.expired);
    const selfSigned = await tlsServer(certs.selfSigned);
    servers.push(good, wrongHost, expired, selfSigned);
    const ca = certs.ca.cert;
    assert.match(await fetch({ url: `${good.url}/x`, ca_file: ca }), /^status=200 .* body=hello stranger$/);
    // Only what the plugin sent: no form Content-Type, Accept or Expect of
    // curl's own, even for a large POST.
    assert.match(await fetch({ url: `${good.url}/x`, ca_file: ca, method: 'POST', body: 'x'.repeat(1000), repeat: 2000 }), /^status=200 /);
    const sent = good.headers.at(-1);
    assert.equal(sent['content-length'], '2000000');
    assert.equal(sent['content-type'], undefined);
    assert.equal(sent.accept, undefined);
    assert.equal(sent.expect, undefined);
    assert.equal(sent['user-agent'], 'mcpd');
    assert.equal(await fetch({ url: `${good.url}/x` }),
      'error: certificate rejected: the server\'s certificate is signed by an unknown CA (give the CA in ca_file)');
    assert.equal(await fetch({ url: `${wrongHost.url}/x`, ca_file: ca }),
      'error: certificate rejected: the server\'s certificate is not for the host name 127.0.0.1');
    assert.equal(await fetch({ url: `${expired.url}/x`, ca_file: ca }),
      'error: certificate rejected: the server\'s certificate has expired');
    assert.equal(await fetch({ url: `${selfSigned.url}/x` }),
      'error: certificate rejected: the server\'s certificate is self-signed and not trusted (give its CA in ca_file, or set insecure_skip_verify for development)');
    assert.match(await fetch({ url: `${selfSigned.url}/x`, insecure: true }), /^status=200 /);
    assert.match(await fetch({ url: `${good.url}/x`, ca_file: '/nonexistent.pem' }), /^error: invalid argument: the CA file cannot be used/);

    // Plain HTTP on an https:// URL.
    const plain = http.createServer((req, res) => res.end('plain'));
    await new Promise((r) => plain.listen(0, '127.0.0.1', r));
    servers.push({ close: () => new Promise((r) => { plain.closeAllConnections(); plain.close(r); }) });
    assert.equal(await fetch({ url: `https://127.0.0.1:${plain.address().port}/x` }),
      'error: protocol error: the server did not answer in TLS (plain HTTP on an https:// URL?)');

    // A server that accepts and then says nothing: the handshake times out.
    const held = [];
    const mute = net.createServer((sock) => held.push(sock));
    await new Promise((r) => mute.listen(0, '127.0.0.1', r));
    servers.push({ close: () => new Promise((r) => { for (const s of held) s.destroy(); mute.close(r); }) });
    const t0 = Date.now();
    assert.match(await fetch({ url: `https://127.0.0.1:${mute.address().port}/x`, timeout_ms: 400 }),
      /^error: timed out: timed out in the TLS handshake with 127\.0\.0\.1$/);
    assert.ok(Date.now() - t0 < 3000);

    // A server that wants a client certificate from the test CA.
    const mtls = await tlsServer(certs.server, { requestCert: true, rejectUnauthorized: true, ca: readFileSync(ca) });
    servers.push(mtls);
    // Without one: the server's alert, or (TLS 1.3) a close right after.
    assert.match(await fetch({ url: `${mtls.url}/x`, ca_file: ca }),
      /^error: (connection aborted: the server refused the TLS handshake: it wants a client certificate|connection reset: the server (closed|reset) the connection without answering \(right after the TLS handshake: it may want a client certificate\))/);
    // In TLS 1.3 the server checks a client certificate after the
    // handshake and may just close; in TLS 1.2 it refuses the handshake.
    assert.match(await fetch({ url: `${mtls.url}/x`, ca_file: ca, client_cert: certs.otherClient.cert, client_key: certs.otherClient.key }),
      /^error: (connection aborted: the server refused the TLS handshake: it does not accept this client certificate|connection reset: the server (closed|reset) the connection without answering \(right after the TLS handshake: it may not accept this client certificate\))$/);
    const mtls12 = await tlsServer(certs.server, { requestCert: true, rejectUnauthorized: true, ca: readFileSync(ca), maxVersion: 'TLSv1.2' });
    servers.push(mtls12);
    assert.match(await fetch({ url: `${mtls12.url}/x`, ca_file: ca, client_cert: certs.otherClient.cert, client_key: certs.otherClient.key }),
      /^error: connection (aborted|reset): the server (refused|closed the connection in) the TLS handshake.*(it does not accept this client certificate|it may not accept this client certificate)/);
    assert.match(await fetch({ url: `${mtls12.url}/x`, ca_file: ca }),
      /^error: connection (aborted|reset): the server (refused|closed the connection in) the TLS handshake/);
    assert.match(await fetch({ url: `${mtls12.url}/x`, ca_file: ca, client_cert: certs.client.cert, client_key: certs.client.key }),
      /^status=200 .* body=hello agent-7$/);
    assert.match(await fetch({ url: `${mtls.url}/x`, ca_file: ca, client_cert: certs.client.cert, client_key: certs.client.key }),
      /^status=200 .* body=hello agent-7$/);
    assert.deepEqual(mtls.seen, ['agent-7']);
    assert.doesNotMatch(d.log(), /error:[0-9A-F]{8}|SSL_ERROR|SSL routines/, 'no OpenSSL codes in the log');
  } finally {
    await client.close();
    await d.stop();
    for (const s of servers) await s.close();
  }
});

// A CONNECT-only proxy that records what it was asked for.
async function connectProxy() {
  const asked = [];
  const server = net.createServer((sock) => {
    sock.once('data', (d) => {
      const head = d.toString('latin1');
      const m = /^CONNECT ([^ ]+) HTTP\/1\.1\r\n/.exec(head);
      if (!m) { sock.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n'); return; }
      asked.push(m[1]);
      const [host, port] = m[1].split(':');
      const up = net.connect(Number(port), host, () => {
        sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.pipe(sock);
        sock.pipe(up);
      });
      up.on('error', () => sock.destroy());
      sock.on('error', () => up.destroy());
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, asked, close: () => new Promise((r) => server.close(r)) };
}

test('proxies: a backend\'s proxy setting, HTTPS_PROXY from the environment, NO_PROXY, and "" for none', async () => {
  const ng = await nginxTls(certs.server);
  const proxy = await connectProxy();
  try {
    const url = `https://127.0.0.1:${ng.port}`;
    await withBackend(backendConfig(url, { ca_file: certs.ca.cert, proxy: proxy.url }), async (d, client) => {
      const r = await client.callTool({ name: 'get_item', arguments: { item_id: 5 } });
      assert.deepEqual(JSON.parse(text(r)), { id: 5, name: 'widget' });
    });
    assert.ok(proxy.asked.length >= 1 && proxy.asked.every((a) => a === `127.0.0.1:${ng.port}`), JSON.stringify(proxy.asked));

    // The environment's HTTPS_PROXY, unless NO_PROXY names the host or the
    // backend says "" (no proxy).
    proxy.asked.length = 0;
    await withBackend(backendConfig(url, { ca_file: certs.ca.cert }), async (d, client) => {
      await client.callTool({ name: 'get_item', arguments: { item_id: 6 } });
    }, { HTTPS_PROXY: proxy.url, NO_PROXY: '' });
    assert.ok(proxy.asked.length >= 1, 'HTTPS_PROXY was used');
    proxy.asked.length = 0;
    await withBackend(backendConfig(url, { ca_file: certs.ca.cert }), async () => {}, { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    await withBackend(backendConfig(url, { ca_file: certs.ca.cert, proxy: '' }), async () => {}, { HTTPS_PROXY: proxy.url, NO_PROXY: '' });
    assert.deepEqual(proxy.asked, [], 'NO_PROXY and proxy "" bypass it');

    // A proxy that is down is named as such.
    const c = await check(backendConfig(url, { ca_file: certs.ca.cert, proxy: 'http://127.0.0.1:1' }));
    assert.equal(c.code, 1);
    assert.match(c.stderr, /backend=shop .*not loaded/);
    const bad = await check(backendConfig(url, { proxy: 'proxy.example:3128' }));
    assert.match(bad.stderr, /\\"proxy\\" must be a URL like \\"http:\/\/proxy:3128\\", or \\"\\" for none/);
  } finally {
    await proxy.close();
    await ng.stop();
  }
});
