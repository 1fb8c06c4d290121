// tls_listener.test.mjs -- the HTTPS listener, with real parts only: the
// certificates are made by the openssl command for each run (a CA, a server
// certificate for 127.0.0.1 and localhost, client certificates from that CA
// and from another one, an expired one), the MCP SDK client speaks to mcpd
// over https:// through a fetch on node:https, nginx is a TLS client in
// front of it, and raw sockets stall handshakes and send plain HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { startMcpd, runMcpd, makePluginsDir } from './lib/mcpd.mjs';
import { rawExchange } from './lib/http.mjs';
import { startNginx } from './lib/nginx.mjs';
import { tlsFetch as tlsFetchFor } from './lib/tlsfetch.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let dir; // the certificates
const pem = (name) => readFileSync(join(dir, name));

function ossl(args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A key and a certificate signed by caName (or self-signed when caName is
// null), with the subject and extensions given.
function makeCert(name, subject, caName, { days = 30, ext = '' } = {}) {
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  if (caName === null)
    ossl(['x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-out', `${name}.pem`, '-days', String(days),
      '-extfile', `${name}.ext`]);
  else
    ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial',
      '-out', `${name}.pem`, '-days', String(days), '-extfile', `${name}.ext`]);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcpd-tls-'));
  const caExt = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign';
  makeCert('ca', '/CN=mcpd test CA', null, { ext: caExt });
  makeCert('otherca', '/CN=another CA', null, { ext: caExt });
  const san = 'subjectAltName=IP:127.0.0.1,DNS:localhost';
  makeCert('server', '/CN=localhost', 'ca', { ext: san });
  makeCert('renewed', '/CN=renewed.localhost', 'ca', { ext: san });
  makeCert('alice', '/O=Example Corp/CN=alice', 'ca');
  makeCert('mallory', '/CN=mallory', 'otherca');
  // An expired client certificate: `openssl ca` takes explicit dates.
  mkdirSync(join(dir, 'newcerts'));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), `[ca]\ndefault_ca = d\n[d]\ndir = ${dir}\ndatabase = ${dir}/index.txt\n` +
    `new_certs_dir = ${dir}/newcerts\nserial = ${dir}/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n`);
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'expired.key',
    '-out', 'expired.csr', '-subj', '/CN=expired']);
  ossl(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', 'expired.csr',
    '-out', 'expired.pem', '-notext', '-startdate', '20200101000000Z', '-enddate', '20200201000000Z']);
  writeFileSync(join(dir, 'garbage.pem'), 'this is not a certificate\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

function tlsConfig(extra = {}, more = {}) {
  return { tls: { cert_file: join(dir, 'server.pem'), key_file: join(dir, 'server.key'), ...extra }, ...more };
}

// A fetch for the SDK over node:https (lib/tlsfetch.mjs): trusts the test
// CA, and presents a client certificate when given one (file names in dir).
// Streams the body (SSE).
function tlsFetch({ cert, key, agent } = {}) {
  return tlsFetchFor({ ca: join(dir, 'ca.pem'), cert: cert && join(dir, cert), key: key && join(dir, key), agent });
}

// One GET over https; resolves to {status, body, socket info}.
function get(port, path, { cert, key, agent, servername } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path, servername, agent: agent ?? false, ca: pem('ca.pem'),
      cert: cert && pem(cert), key: key && pem(key), headers: { Host: '127.0.0.1' },
    }, (res) => {
      let body = '';
      const { socket } = res;
      const peer = socket.getPeerCertificate();
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, peer, socket, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function sdkClient(url, fetchOpts = {}) {
  const client = new Client({ name: 'tls-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: tlsFetch(fetchOpts) }));
  return client;
}

function metric(text, name) {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

const httpsUrl = (d) => `https://127.0.0.1:${d.port}/mcp`;

test('MCP over HTTPS: the SDK client, /healthz, /metrics, an SSE GET stream and the 2024-11-05 transport', async () => {
  const d = await startMcpd({ config: tlsConfig() });
  try {
    assert.match(d.log(), /event=tls_ready subject="CN=localhost" not_after=\S+ client_certificates=off/);
    assert.match(d.log(), /event=listening address=\S+ endpoint=https:\/\/127\.0\.0\.1:\d+\/mcp/);
    const client = await sdkClient(httpsUrl(d));
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'echo'));
    const r = await client.callTool({ name: 'echo', arguments: { text: 'over tls' } });
    assert.equal(r.content[0].text, 'over tls');

    // A GET stream of a 2025-11-25 session opens with its priming event.
    const f = tlsFetch();
    const init = await f(httpsUrl(d), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    assert.equal(init.status, 200);
    const sid = init.headers.get('mcp-session-id');
    await init.text();
    const ac = new AbortController();
    const stream = await f(httpsUrl(d), { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' }, signal: ac.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type'), /text\/event-stream/);
    const reader = stream.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^id: \S+\nretry: \d+\ndata: *\n/m);
    ac.abort();
    reader.cancel().catch(() => {});
    f.agent.destroy();

    // The older HTTP+SSE transport: GET /sse, POST /messages.
    const legacy = new Client({ name: 'tls-legacy', version: '1' });
    const lf = tlsFetch();
    await legacy.connect(new SSEClientTransport(new URL(`https://127.0.0.1:${d.port}/sse`), { fetch: lf, eventSourceInit: { fetch: lf } }));
    const lr = await legacy.callTool({ name: 'echo', arguments: { text: 'legacy over tls' } });
    assert.equal(lr.content[0].text, 'legacy over tls');
    await legacy.close();
    lf.agent.destroy();

    const health = await get(d.port, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    const m = await get(d.port, '/metrics');
    assert.equal(m.status, 200);
    assert.ok(metric(m.body, 'mcpd_tls_handshakes_total') >= 5, m.body);
    assert.equal(metric(m.body, 'mcpd_tls_handshake_failures_total'), 0);
    await client.close();
  } finally {
    await d.stop();
  }
});

// Opens a TLS connection with the given options; resolves to the socket's
// state once the handshake ends, or to the error.
function handshake(port, opts) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: pem('ca.pem'), servername: 'localhost', ...opts }, () => {
      const out = { ok: true, alpn: s.alpnProtocol, protocol: s.getProtocol(), cipher: s.getCipher().name };
      s.end();
      resolve(out);
    });
    s.on('error', (e) => resolve({ ok: false, error: e }));
  });
}

test('TLS policy: 1.2 with ECDHE and AEAD only, ALPN http/1.1 only', async () => {
  const d = await startMcpd({ config: tlsConfig() });
  try {
    const aead = await handshake(d.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    assert.ok(aead.ok, String(aead.error));
    assert.equal(aead.protocol, 'TLSv1.2');
    const cbc = await handshake(d.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA' });
    assert.equal(cbc.ok, false, 'a CBC suite was accepted');
    const both = await handshake(d.port, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(both.alpn, 'http/1.1');
    assert.equal(both.protocol, 'TLSv1.3');
    const h2 = await handshake(d.port, { ALPNProtocols: ['h2'] });
    assert.equal(h2.ok, false, 'h2 alone was accepted');
    await d.waitForLog(/event=tls_handshake_failed client=127\.0\.0\.1 reason="no shared cipher" failed=1/);
    const m = await get(d.port, '/metrics');
    assert.equal(metric(m.body, 'mcpd_tls_handshake_failures_total'), 2);
  } finally {
    await d.stop();
  }
});

// A client-certificate mcpd that a client presenting `cert` tries to reach;
// the refusal is the one line logged.
async function refusedWith(cert) {
  const d = await startMcpd({ config: tlsConfig({ client_ca_file: join(dir, 'ca.pem') }) });
  try {
    const opts = cert ? { cert, key: cert.replace('.pem', '.key') } : {};
    await assert.rejects(get(d.port, '/healthz', opts));
    const line = await d.waitForLog(/event=tls_handshake_failed client=127\.0\.0\.1 reason=("[^"]*"|\S+)/);
    const m = await get(d.port, '/metrics', { cert: 'alice.pem', key: 'alice.key' });
    assert.equal(metric(m.body, 'mcpd_tls_handshake_failures_total'), 1);
    return line[1];
  } finally {
    await d.stop();
  }
}

test('client certificates: none, another CA\'s and an expired one are refused, with the reason logged', async () => {
  assert.equal(await refusedWith(null), '"peer did not return a certificate"');
  assert.equal(await refusedWith('mallory.pem'), '"certificate verify failed: unable to get local issuer certificate"');
  assert.equal(await refusedWith('expired.pem'), '"certificate verify failed: certificate has expired"');
});

test('client certificates: a good one is served, and its subject is the principal in the access log', async () => {
  const d = await startMcpd({ config: tlsConfig({ client_ca_file: join(dir, 'ca.pem') }) });
  try {
    assert.match(d.log(), /client_certificates=required/);
    const client = await sdkClient(httpsUrl(d), { cert: 'alice.pem', key: 'alice.key' });
    const r = await client.callTool({ name: 'echo', arguments: { text: 'mtls' } });
    assert.equal(r.content[0].text, 'mtls');
    await d.waitForLog(/event=request [^\n]*path=\/mcp status=200 [^\n]*tool=echo principal="CN=alice,O=Example Corp"\n/);
    await client.close();
  } finally {
    await d.stop();
  }
});

test('nginx in front, as a TLS client that verifies mcpd and presents a client certificate', async () => {
  const d = await startMcpd({ config: tlsConfig({ client_ca_file: join(dir, 'ca.pem') }) });
  let nginx;
  try {
    nginx = await startNginx((port) => `
  upstream mcpd { server 127.0.0.1:${d.port}; keepalive 4; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass https://mcpd;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${dir}/ca.pem;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
      proxy_ssl_certificate ${dir}/alice.pem;
      proxy_ssl_certificate_key ${dir}/alice.key;
      proxy_ssl_session_reuse on;
    }
  }`);
    const client = new Client({ name: 'via-nginx', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${nginx.port}/mcp`)));
    for (let i = 0; i < 3; i++) {
      const r = await client.callTool({ name: 'echo', arguments: { text: `via nginx ${i}` } });
      assert.equal(r.content[0].text, `via nginx ${i}`);
    }
    await client.close();
    await d.waitForLog(/event=request [^\n]*tool=echo principal="CN=alice,O=Example Corp"/);
    assert.doesNotMatch(d.log(), /tls_handshake_failed/);
  } finally {
    if (nginx) await nginx.stop();
    await d.stop();
  }
});

// A raw socket from `from` that sends `bytes` and then nothing; resolves
// `closed` with the time the server closed it.
function stall(port, bytes, from = '127.0.0.1') {
  const s = netConnect({ port, host: '127.0.0.1', localAddress: from });
  const t0 = Date.now();
  s.on('connect', () => { if (bytes.length) s.write(bytes); });
  s.on('data', () => {});
  s.on('error', () => {});
  s.closedAfter = new Promise((res) => s.on('close', () => res(Date.now() - t0)));
  return s;
}

test('a client stalling in the handshake is closed at timeouts.tls_handshake_ms while others are served', async () => {
  const d = await startMcpd({ config: tlsConfig({}, { timeouts: { tls_handshake_ms: 1500 } }) });
  try {
    // A record header announcing a 512-byte ClientHello, and 40 bytes of it.
    const half = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.alloc(29, 7)]);
    const a = stall(d.port, half);
    const b = stall(d.port, Buffer.alloc(0));
    await sleep(200);
    const t0 = Date.now();
    const h = await get(d.port, '/healthz');
    assert.equal(h.status, 200);
    assert.ok(Date.now() - t0 < 1000, 'the other client waited');
    const [ta, tb] = await Promise.all([a.closedAfter, b.closedAfter]);
    for (const t of [ta, tb]) assert.ok(t >= 1300 && t < 5000, `closed after ${t} ms`);
    await d.waitForLog(/event=tls_handshake_failed client=127\.0\.0\.1 reason="the handshake did not complete within timeouts.tls_handshake_ms"/);
    const m = await get(d.port, '/metrics');
    assert.equal(metric(m.body, 'mcpd_tls_handshake_failures_total'), 2);
  } finally {
    await d.stop();
  }
});

test('handshakes count against limits.max_connections_per_client: a stalled one is evicted for a new client', async () => {
  const d = await startMcpd({ config: tlsConfig({}, { limits: { max_connections_per_client: 2 } }) });
  try {
    const s1 = stall(d.port, Buffer.alloc(0), '127.0.0.2');
    await sleep(100);
    const s2 = stall(d.port, Buffer.from([0x16, 0x03, 0x01]), '127.0.0.2');
    await sleep(100);
    const agent = new https.Agent({ localAddress: '127.0.0.2', ca: pem('ca.pem') });
    const h = await get(d.port, '/healthz', { agent });
    assert.equal(h.status, 200);
    assert.ok(await s1.closedAfter < 3000, 'the oldest stalled handshake was not evicted');
    await d.waitForLog(/event=http_connection_evicted reason=max_connections_per_client client=127\.0\.0\.2/);
    s2.destroy();
    agent.destroy();
  } finally {
    await d.stop();
  }
});

test('plain HTTP sent to the TLS port gets a 400 and a close; HTTPS goes on', async () => {
  const d = await startMcpd({ config: tlsConfig() });
  try {
    const r = await rawExchange(d.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Connection: close\r\n\r\n400 Bad Request: this port only speaks HTTPS\n$/);
    assert.equal(r.closed, true);
    await d.waitForLog(/event=tls_handshake_failed client=127\.0\.0\.1 reason="plain HTTP sent to the TLS port"/);
    assert.equal((await get(d.port, '/healthz')).status, 200);
  } finally {
    await d.stop();
  }
});

// A TLS connection that sends `text` and collects what comes back until
// the server closes it. With resumeWhen it reads nothing (so it cannot see
// the close either) and gives up once that promise resolves.
function tlsExchange(port, text, { resumeWhen } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let data = '';
    const s = tls.connect({ host: '127.0.0.1', port, ca: pem('ca.pem'), servername: 'localhost' }, () => {
      if (resumeWhen) {
        s.pause();
        resumeWhen.then(() => { resolve({ closedBy: Date.now() - t0 }); s.destroy(); });
      }
      s.write(text);
    });
    s.setEncoding('latin1');
    s.on('data', (d) => { data += d; });
    s.on('error', () => {});
    s.on('close', () => resolve({ text: data, after: Date.now() - t0 }));
  });
}

test('over TLS, the header timeout answers 408, and a client that does not read is closed at send_ms', async () => {
  const d = await startMcpd({ config: tlsConfig({}, { timeouts: { header_ms: 800, send_ms: 1000 }, limits: { max_unread_bytes: 4096 } }) });
  try {
    const slow = await tlsExchange(d.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
    assert.ok(slow.after >= 700 && slow.after < 5000, `closed after ${slow.after} ms`);

    // Pipelined requests whose answers (about 20 MB) are never read.
    const many = 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(4000);
    const deaf = await tlsExchange(d.port, many, { resumeWhen: d.waitForLog(/event=http_slow_client reason=send_ms client=127\.0\.0\.1/, 15000) });
    assert.ok(deaf.closedBy < 15000);
    const m = await get(d.port, '/metrics');
    assert.ok(metric(m.body, 'mcpd_slow_clients_closed_total') >= 1);
    assert.ok(metric(m.body, 'mcpd_http_requests_total\\{path="/metrics",status="200"\\}') < 4000);
  } finally {
    await d.stop();
  }
});

async function reload(d, re) {
  const before = (d.log().match(/event=reload_done/g) ?? []).length;
  d.proc.kill('SIGHUP');
  const t0 = Date.now();
  while ((d.log().match(/event=reload_done/g) ?? []).length === before) {
    if (Date.now() - t0 > 10000) throw new Error(`no reload_done:\n${d.log()}`);
    await sleep(20);
  }
  if (re) assert.match(d.log(), re);
}

test('SIGHUP: a new certificate serves new connections while an open one keeps going; a broken one keeps the old', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-tls-reload-'));
  const cert = join(work, 'cert.pem'), key = join(work, 'key.pem');
  copyFileSync(join(dir, 'server.pem'), cert);
  copyFileSync(join(dir, 'server.key'), key);
  const d = await startMcpd({ config: { tls: { cert_file: cert, key_file: key } } });
  const keep = new https.Agent({ keepAlive: true, maxSockets: 1, ca: pem('ca.pem') });
  try {
    const first = await get(d.port, '/healthz', { agent: keep });
    assert.equal(first.peer.subject.CN, 'localhost');

    copyFileSync(join(dir, 'renewed.pem'), cert);
    copyFileSync(join(dir, 'renewed.key'), key);
    await reload(d, /event=tls_reloaded subject="CN=renewed.localhost"/);
    const again = await get(d.port, '/healthz', { agent: keep });
    assert.equal(again.status, 200);
    assert.equal(again.reused, true, 'the keep-alive connection was not reused');
    assert.equal(again.socket, first.socket);
    assert.equal(again.peer.subject.CN, 'localhost'); // it keeps its certificate
    assert.equal((await get(d.port, '/healthz')).peer.subject.CN, 'renewed.localhost');

    // A broken certificate: the renewed one keeps serving, the reload goes on.
    writeFileSync(cert, 'not a certificate\n');
    await reload(d, /level=error event=tls_reload_failed reason="tls.cert_file \\"[^"]*cert.pem\\": not a PEM certificate \(no BEGIN CERTIFICATE line\)" kept=previous_certificate/);
    assert.match(d.log(), /event=reload_done [^\n]*tls=failed/);
    assert.equal((await get(d.port, '/healthz')).peer.subject.CN, 'renewed.localhost');
    // A key that is not the certificate's.
    copyFileSync(join(dir, 'server.pem'), cert);
    await reload(d, /event=tls_reload_failed reason="tls.key_file \\"[^"]*key.pem\\" does not match the certificate/);
    const h = await get(d.port, '/healthz');
    assert.equal(h.peer.subject.CN, 'renewed.localhost');
    const health = JSON.parse(h.body);
    assert.equal(health.reload_failures, 2);
    assert.match(health.last_reload_error, /does not match the certificate/);
    // The keep-alive connection is still the first one.
    const last = await get(d.port, '/healthz', { agent: keep });
    assert.equal(last.socket, first.socket);
  } finally {
    keep.destroy();
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test('the settings are checked: at start, by --check, and on the command line', async () => {
  const plugins = makePluginsDir(['hello']);
  const work = mkdtempSync(join(tmpdir(), 'mcpd-tls-check-'));
  const check = async (tlsSettings) => {
    const file = join(work, 'c.json');
    writeFileSync(file, JSON.stringify({ plugins_dir: plugins, runtime_dir: join(work, 'run'), tls: tlsSettings }));
    return runMcpd(['--check', '--config', file]);
  };
  try {
    const good = await check({ cert_file: join(dir, 'server.pem'), key_file: join(dir, 'server.key'), client_ca_file: join(dir, 'ca.pem') });
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^tls: subject="CN=localhost" not_after=\S+ client_certificates=required$/m);
    const missing = await check({ cert_file: join(work, 'nope.pem'), key_file: join(dir, 'server.key') });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^error: tls\.cert_file "[^"]*nope\.pem": No such file or directory$/m);
    const notPem = await check({ cert_file: join(dir, 'garbage.pem'), key_file: join(dir, 'server.key') });
    assert.match(notPem.stdout, /^error: tls\.cert_file "[^"]*garbage\.pem": not a PEM certificate/m);
    execFileSync('openssl', ['pkey', '-in', join(dir, 'server.key'), '-aes256', '-passout', 'pass:x', '-out', join(work, 'enc.key')]);
    const encrypted = await check({ cert_file: join(dir, 'server.pem'), key_file: join(work, 'enc.key') });
    assert.match(encrypted.stdout, /^error: tls\.key_file "[^"]*enc\.key": the key is encrypted; mcpd needs it without a passphrase$/m);
    const keyNotPem = await check({ cert_file: join(dir, 'server.pem'), key_file: join(dir, 'garbage.pem') });
    assert.match(keyNotPem.stdout, /^error: tls\.key_file "[^"]*garbage\.pem": not a PEM private key/m);
    const mismatch = await check({ cert_file: join(dir, 'server.pem'), key_file: join(dir, 'alice.key') });
    assert.match(mismatch.stdout, /^error: tls\.key_file "[^"]*alice\.key" does not match the certificate in tls\.cert_file/m);
    const badCa = await check({ cert_file: join(dir, 'server.pem'), key_file: join(dir, 'server.key'), client_ca_file: join(dir, 'garbage.pem') });
    assert.match(badCa.stdout, /^error: tls\.client_ca_file "[^"]*garbage\.pem": no PEM certificate in it/m);
    for (const r of [notPem, encrypted, keyNotPem, mismatch, badCa]) assert.equal(r.code, 1);

    const half = await check({ cert_file: join(dir, 'server.pem') });
    assert.equal(half.code, 2);
    assert.match(half.stderr, /tls: cert_file is set but not key_file/);
    const unknown = await check({ cert: 'x' });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown setting "tls\.cert"/);

    // At start: the reason, and exit 1.
    const file = join(work, 'bad.json');
    writeFileSync(file, JSON.stringify({ tls: { cert_file: join(dir, 'server.pem'), key_file: join(dir, 'alice.key') } }));
    const start = await runMcpd(['--listen', '127.0.0.1:0', '--plugins', plugins, '--config', file]);
    assert.equal(start.code, 1);
    assert.match(start.stderr, /level=error event=tls_failed reason="tls\.key_file \\"[^"]*alice\.key\\" does not match/);

    const help = await runMcpd(['--help']);
    assert.match(help.stdout, /--tls-cert FILE/);
    assert.match(help.stdout, /--tls-key FILE/);
    assert.match(help.stdout, /--tls-client-ca FILE/);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(plugins, { recursive: true, force: true });
  }
});

test('--tls-cert and --tls-key turn HTTPS on without a config file', async () => {
  const d = await startMcpd({ args: ['--tls-cert', join(dir, 'server.pem'), '--tls-key', join(dir, 'server.key')] });
  try {
    const h = await get(d.port, '/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.peer.subject.CN, 'localhost');
  } finally {
    await d.stop();
  }
});
