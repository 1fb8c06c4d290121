// Plugin ABI 1.2 against the real daemon, through the testkit plugin: the
// asynchronous HTTP client (keep-alive pool, chunked and close-delimited
// bodies, timeouts, size cap, garbage, resets, cancellation, concurrency),
// the MCP client's request headers, timers, and a plugin that changes its
// tools after init() (clients hear list_changed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startMcpd } from './lib/mcpd.mjs';
import { post, initSession } from './lib/http.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A backend with one route per behaviour, counting connections and the
// requests in flight at once.
async function startBackend() {
  const state = { connections: 0, inFlight: 0, maxInFlight: 0, closedHang: 0, bodies: [] };
  const server = http.createServer(async (req, res) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const done = () => { state.inFlight--; };
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url, 'http://x');
    switch (url.pathname) {
      case '/ok':
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ ok: true, path: url.pathname, query: url.search, ua: req.headers['user-agent'] ?? null, hdr: req.headers['x-test'] ?? null }));
        return done();
      case '/echo':
        state.bodies.push(body);
        res.setHeader('Content-Type', 'text/plain');
        res.end(`${req.method} ${body}`);
        return done();
      case '/chunked':
        res.setHeader('Content-Type', 'text/plain');
        res.write('part1-');
        await sleep(20);
        res.write('part2-');
        await sleep(20);
        res.end('end');
        return done();
      case '/slow':
        await sleep(Number(url.searchParams.get('ms') ?? 300));
        res.end('slept');
        return done();
      case '/big':
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(Buffer.alloc(Number(url.searchParams.get('bytes') ?? 100000), 'x'));
        return done();
      case '/hang':
        req.socket.on('close', () => { state.closedHang++; done(); });
        return undefined; // never answers
      case '/nocontent':
        res.statusCode = 204;
        res.end();
        return done();
      default:
        res.statusCode = 404;
        res.end('not here');
        return done();
    }
  });
  server.on('connection', () => { state.connections++; });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  // Raw misbehaviour: garbage, a reset, a close-delimited HTTP/1.0 body,
  // a chunked body with a trailer, and answers sent before the request body
  // is read (the connection stays open; each request is answered at once,
  // "denied N" for the Nth on that connection).
  const raw = net.createServer((sock) => {
    sock.once('data', (d) => {
      const line = d.toString().split('\r\n')[0];
      if (line.includes('/early')) earlyAnswers(sock, d);
      else if (line.includes('/trailers')) {
        sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
          '5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n');
      } else if (line.includes('/garbage')) sock.end('this is not HTTP at all\r\n\r\n');
      else if (line.includes('/reset')) sock.resetAndDestroy();
      else if (line.includes('/close-delimited')) sock.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
      else sock.destroy();
    });
  });
  await new Promise((r) => raw.listen(0, '127.0.0.1', r));
  return {
    state,
    url: `http://127.0.0.1:${server.address().port}`,
    rawUrl: `http://127.0.0.1:${raw.address().port}`,
    close: () => { server.closeAllConnections?.(); server.close(); raw.close(); },
  };
}

function earlyAnswers(sock, first) {
  let buf = Buffer.alloc(0);
  let left = 0;
  let n = 0;
  const feed = (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (left > 0) {
        const k = Math.min(left, buf.length);
        left -= k;
        buf = buf.subarray(k);
        if (left > 0 || buf.length === 0) return;
      }
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      left = Number(/content-length: *(\d+)/i.exec(buf.toString('latin1', 0, end))?.[1] ?? 0);
      buf = buf.subarray(end + 4);
      const body = `denied ${++n}`;
      sock.write(`HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
  };
  sock.on('data', feed);
  sock.on('error', () => {});
  feed(first);
}

async function connect(d, onListChanged) {
  const client = new Client({ name: 'abi12-test', version: '1' });
  if (onListChanged) client.setNotificationHandler(ToolListChangedNotificationSchema, onListChanged);
  const transport = new StreamableHTTPClientTransport(new URL(d.url));
  await client.connect(transport);
  return { client, transport };
}

const text = (r) => r.content[0].text;

test('http_request: responses, keep-alive reuse, chunked and close-delimited bodies, bodies sent, 204', async () => {
  const be = await startBackend();
  const d = await startMcpd({ plugins: ['testkit'] });
  const { client } = await connect(d);
  try {
    const ok = await client.callTool({ name: 'fetch', arguments: { url: `${be.url}/ok?a=1&b=%2F`, header: 'X-Test: yes' } });
    assert.match(text(ok), /^status=200 content-type=application\/json headers=\d+ last=\[.*\] length=\d+ body=/);
    const body = JSON.parse(text(ok).split(' body=')[1]);
    assert.deepEqual(body, { ok: true, path: '/ok', query: '?a=1&b=%2F', ua: 'mcpd', hdr: 'yes' });
    // Twenty requests one after the other share one connection.
    const before = be.state.connections;
    for (let i = 0; i < 20; i++)
      assert.match(text(await client.callTool({ name: 'fetch', arguments: { url: `${be.url}/ok` } })), /^status=200/);
    assert.equal(be.state.connections - before, 0, 'the kept-alive connection is reused');
    assert.match(text(await client.callTool({ name: 'fetch', arguments: { url: `${be.url}/chunked` } })), /body=part1-part2-end$/);
    assert.match(text(await client.callTool({ name: 'fetch', arguments: { url: `${be.rawUrl}/close-delimited` } })), /^status=200 .* body=until the end$/);
    const posted = await client.callTool({ name: 'fetch', arguments: { url: `${be.url}/echo`, method: 'POST', body: '{"x":1}', header: 'Content-Type: application/json' } });
    assert.match(text(posted), /body=POST \{"x":1\}$/);
    assert.match(text(await client.callTool({ name: 'fetch', arguments: { url: `${be.url}/nocontent` } })), /^status=204 .* length=0 body=$/);
    assert.match(text(await client.callTool({ name: 'fetch', arguments: { url: `${be.url}/missing` } })), /^status=404 .* body=not here$/);
  } finally {
    await client.close();
    await d.stop();
    be.close();
  }
});

test('http_request: timeouts, size cap, garbage, resets, refused connections and bad URLs are clean errors', async () => {
  const be = await startBackend();
  const d = await startMcpd({ plugins: ['testkit'] });
  const { client } = await connect(d);
  const call = (args) => client.callTool({ name: 'fetch', arguments: args });
  try {
    let r = await call({ url: `${be.url}/slow?ms=2000`, timeout_ms: 150 });
    assert.equal(r.isError, true);
    assert.equal(text(r), 'error: timed out');
    r = await call({ url: `${be.url}/big?bytes=200000`, max_bytes: 100000 });
    assert.equal(text(r), 'error: too large');
    assert.match(text(await call({ url: `${be.url}/big?bytes=99000`, max_bytes: 100000 })), /^status=200 .* length=99000 /);
    assert.equal(text(await call({ url: `${be.rawUrl}/garbage` })), 'error: protocol error');
    assert.equal(text(await call({ url: `${be.rawUrl}/reset` })), 'error: connection reset');
    const closed = await new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
    assert.equal(text(await call({ url: `http://127.0.0.1:${closed}/x` })), 'error: connection refused');
    // Since 1.3 https:// is a URL like another; the error buffer says why.
    assert.equal(text(await call({ url: `https://127.0.0.1:${closed}/x`, detail: true })), 'error: connection refused: connection refused');
    assert.equal(text(await call({ url: 'ftp://x/y' })), 'refused: protocol not supported');
    assert.match(d.log(), /event=plugin_http_refused plugin=testkit reason="the URL must start with http:\/\/ or https:\/\/"/);
    assert.equal(text(await call({ url: 'http://user:pw@127.0.0.1/' })), 'refused: invalid argument');
    assert.equal(text(await call({ url: `${be.url}/ok`, header: 'Bad\r\nInjected: 1' })), 'refused: invalid argument');
    assert.equal(text(await call({ url: 'http://no-such-host.invalid/x', timeout_ms: 5000 })), 'error: host unreachable');
    // The daemon is fine, and counted all of it.
    assert.match(text(await call({ url: `${be.url}/ok` })), /^status=200/);
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    assert.match(metrics, /^mcpd_backend_requests_total\{backend="testkit",outcome="2xx"\} [1-9]/m);
    assert.match(metrics, /^mcpd_backend_requests_total\{backend="testkit",outcome="error"\} [1-9]/m);
    assert.match(metrics, /^mcpd_backend_timeouts_total\{backend="testkit"\} 1$/m);
  } finally {
    await client.close();
    await d.stop();
    be.close();
  }
});

test('http_request: an answer before the upload is written, trailers, unsafe URLs and header names, a connect that fails at once', async () => {
  const be = await startBackend();
  const d = await startMcpd({ plugins: ['testkit'] });
  const { client } = await connect(d);
  const call = (args) => client.callTool({ name: 'fetch', arguments: args });
  try {
    // 8 MB upload answered 401 at once: the answer is delivered, and the
    // next request gets its own answer whole: on a new connection (the
    // client closes one whose upload was cut short), or on the same one
    // once the upload was written.
    let r = await call({ url: `${be.rawUrl}/early`, method: 'POST', body: 'x'.repeat(1000), repeat: 8000 });
    assert.match(text(r), /^status=401 .* body=denied 1$/);
    await sleep(300);
    r = await call({ url: `${be.rawUrl}/early`, method: 'POST', body: 'y' });
    assert.match(text(r), /^status=401 .* length=8 body=denied [12]$/);
    // A trailer is not a header; the headers end where they should. (By
    // name: another origin than the connection kept for /early.)
    r = await call({ url: `${be.rawUrl.replace('127.0.0.1', 'localhost')}/trailers` });
    assert.equal(text(r), 'status=200 content-type=text/plain headers=3 last=[trailer: X-Checksum] length=5 body=hello');
    // Nothing from a URL or a header name reaches the wire unchecked.
    for (const url of [`${be.url}/ok x`, `${be.url}/ok\r\nX-Injected: 1`, `${be.url}/caf\u00e9`, 'http://bad_host!/x', 'http://[zz]/x']) {
      assert.equal(text(await call({ url })), 'refused: invalid argument', url);
    }
    for (const header of [' X-Test: 1', 'X Test: 1', 'Host : evil', 'X-Test: a\u0001b']) {
      assert.equal(text(await call({ url: `${be.url}/ok`, header })), 'refused: invalid argument', header);
    }
    // connect() failing on the spot (no route to a broadcast address) ends
    // the call cleanly, on a later loop turn.
    r = await call({ url: 'http://255.255.255.255:9/x' });
    assert.equal(r.isError, true);
    assert.match(text(r), /^error: /);
    assert.match(text(await call({ url: `${be.url}/ok`, header: 'X-Test: fine' })), /^status=200 .*"hdr":"fine"/);
  } finally {
    await client.close();
    await d.stop();
    be.close();
  }
});

test('http_request: requests run concurrently, and a cancelled call aborts its request', async () => {
  const be = await startBackend();
  const d = await startMcpd({ plugins: ['testkit'] });
  const { client } = await connect(d);
  try {
    const both = await Promise.all([1, 2, 3].map(() => client.callTool({ name: 'fetch', arguments: { url: `${be.url}/slow?ms=400` } })));
    for (const r of both) assert.match(text(r), /body=slept$/);
    assert.equal(be.state.maxInFlight, 3, 'three requests were at the backend at once');
    const ctl = new AbortController();
    const hanging = client.callTool({ name: 'fetch', arguments: { url: `${be.url}/hang` } }, undefined, { signal: ctl.signal });
    while (be.state.inFlight === 0) await sleep(10);
    ctl.abort();
    await assert.rejects(hanging);
    for (let t = Date.now(); be.state.closedHang === 0; await sleep(10))
      assert.ok(Date.now() - t < 5000, 'the backend connection was not closed after the cancel');
  } finally {
    await client.close();
    await d.stop();
    be.close();
  }
});

test('SIGTERM with a request in flight: it ends with -ESHUTDOWN and mcpd exits 0 without waiting for it', async () => {
  const be = await startBackend();
  const d = await startMcpd({ plugins: ['testkit'], config: { timeouts: { shutdown_ms: 300 } } });
  try {
    const { sid } = await initSession(d.url);
    const pending = post(d.url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'fetch', arguments: { url: `${be.url}/hang` } } },
      { 'Mcp-Session-Id': sid }).catch(() => null);
    while (be.state.inFlight === 0) await sleep(10);
    const st = await d.stop();
    assert.equal(st.code, 0);
    assert.doesNotMatch(d.log(), /exit_with_calls_running|plugin_left_loaded/);
    await pending;
  } finally {
    be.close();
  }
});

test('call_header: a tool reads the MCP client\'s request headers while it runs; not over stdio', async () => {
  const d = await startMcpd({ plugins: ['testkit'] });
  try {
    const { sid } = await initSession(d.url);
    const r = await post(d.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'header', arguments: { name: 'x-custom' } } },
      { 'Mcp-Session-Id': sid, 'X-Custom': 'from the client' });
    assert.equal(r.json.result.content[0].text, 'from the client');
    const none = await post(d.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'header', arguments: { name: 'x-custom' } } },
      { 'Mcp-Session-Id': sid });
    assert.equal(none.json.result.content[0].text, '(none)');
  } finally {
    await d.stop();
  }
});

test('update_begin/commit: a tool added later reaches clients with list_changed; a name another plugin holds is refused', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'] });
  let changes = 0;
  const { client } = await connect(d, () => { changes++; });
  try {
    const names = async () => (await client.listTools()).tools.map((t) => t.name);
    assert.ok(!(await names()).includes('dyn_a'));
    await sleep(200); // the GET stream is open
    assert.equal(text(await client.callTool({ name: 'grow', arguments: { name: 'dyn_a', delay_ms: 30 } })), 'scheduled');
    for (let t = Date.now(); changes === 0; await sleep(10)) assert.ok(Date.now() - t < 5000, 'no list_changed');
    assert.ok((await names()).includes('dyn_a'));
    assert.equal(text(await client.callTool({ name: 'dyn_a', arguments: {} })), 'dynamic dyn_a');
    assert.match(d.log(), /event=plugin_updated plugin=testkit tools=\d+ .*tools_changed=1/);
    // "echo" belongs to hello: the update is refused and nothing changes.
    const before = await names();
    await client.callTool({ name: 'grow', arguments: { name: 'echo', delay_ms: 10 } });
    await d.waitForLog(/grow: echo refused/);
    assert.deepEqual(await names(), before);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'still hello' } })), 'still hello');
    const health = await (await fetch(`${d.base}/healthz`)).json();
    assert.equal(health.tools, before.length);
  } finally {
    await client.close();
    await d.stop();
  }
});
