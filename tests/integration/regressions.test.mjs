// Regression tests for the review's findings (fixed together): each test
// drives the exact sequence that crashed, hung or misbehaved before the
// fix, then stops its own daemon, so that under the ASan build
// (MCPD_BUILD_DIR=build-asan) a use-after-free surfaces as a sanitizer
// report in stop() and fails the test that caused it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startMcpd } from './lib/mcpd.mjs';
import { rawExchange, parseResponses, mcpPost, post, initSession, sseMessages } from './lib/http.mjs';

// ---- helpers ---------------------------------------------------------------

function rpc(id, method, params) {
  return params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
}

function toolCall(id, name, args, meta) {
  const params = { name, arguments: args };
  if (meta !== undefined) params._meta = meta;
  return rpc(id, 'tools/call', params);
}

function initBody(protocolVersion = '2025-11-25', id = 0) {
  return rpc(id, 'initialize', {
    protocolVersion, capabilities: {}, clientInfo: { name: 'regression-test', version: '1' },
  });
}

function get(path, headers = {}, version = '1.1') {
  const h = { Host: '127.0.0.1', ...headers };
  return `GET ${path} HTTP/${version}\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A session set up over one raw Connection: close exchange each, so that
// no keep-alive connection of fetch() stays open (tests that count the
// daemon's connections need that).
async function rawSession(port, protocolVersion = '2025-11-25') {
  const init = await rawExchange(port, mcpPost(initBody(protocolVersion), { Connection: 'close' }));
  const [r] = parseResponses(init.text);
  assert.equal(r?.status, 200, init.text);
  const sid = r.headers['mcp-session-id'];
  assert.match(sid, /^[A-Za-z0-9_-]{32,102}$/);
  const note = await rawExchange(port, mcpPost({ jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'Mcp-Session-Id': sid, Connection: 'close' }));
  assert.equal(parseResponses(note.text)[0]?.status, 202, note.text);
  return sid;
}

// The "connections" count of GET /healthz, asked over a connection of its
// own (which counts as one).
async function connections(port) {
  const { text } = await rawExchange(port, get('/healthz', { Connection: 'close' }));
  const [r] = parseResponses(text);
  assert.equal(r?.status, 200, text);
  return JSON.parse(r.body).connections;
}

// Polls connections() until pred holds or timeoutMs passes; returns the
// last count.
async function waitConnections(port, pred, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let n;
  while (!pred(n = await connections(port)) && Date.now() < deadline) await sleep(50);
  return n;
}

// A raw connection for exchanges that must act between reads.
function openConn(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const listeners = new Set();
    const notify = () => { for (const l of [...listeners]) l(); };
    const c = {
      sock,
      text: '',
      bytes: 0,
      closed: false,
      write(s) { sock.write(s); },
      destroy() { sock.destroy(); },
      // Resolves once pred(c) is truthy; rejects on timeout, or when the
      // connection closes first.
      until(pred, what, timeoutMs = 3000) {
        return new Promise((res, rej) => {
          const done = () => { clearTimeout(t); listeners.delete(check); };
          const check = () => {
            const v = pred(c);
            if (v) { done(); res(v); } else if (c.closed) {
              done();
              rej(new Error(`connection closed while waiting for ${what}; received:\n${c.text.slice(0, 2000)}`));
            }
          };
          const t = setTimeout(() => {
            done();
            rej(new Error(`timed out waiting for ${what}; received:\n${c.text.slice(0, 2000)}`));
          }, timeoutMs);
          listeners.add(check);
          check();
        });
      },
      // Resolves when count complete responses have arrived.
      responses(count, timeoutMs) {
        return c.until((x) => {
          const r = completeResponses(x.text);
          return r.length >= count ? r : null;
        }, `${count} response(s)`, timeoutMs);
      },
      waitClose(timeoutMs = 3000) {
        return c.until((x) => x.closed, 'the server to close the connection', timeoutMs);
      },
    };
    sock.on('data', (b) => { c.text += b.toString('latin1'); c.bytes += b.length; notify(); });
    sock.on('close', () => { c.closed = true; notify(); });
    sock.on('error', (e) => { if (!c.connected) reject(e); });
    sock.on('connect', () => { c.connected = true; resolve(c); });
  });
}

// The responses in text that have fully arrived (interim 1xx included).
function completeResponses(text) {
  const out = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let after = rest.slice(end + 4);
    let body = '';
    if (status < 200 || status === 204 || status === 304) {
      // no body
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (after.length < n) return out;
      body = after.slice(0, n);
      after = after.slice(n);
    } else if ((headers['transfer-encoding'] ?? '').includes('chunked')) {
      let ended = false;
      for (;;) {
        const nl = after.indexOf('\r\n');
        if (nl < 0) break;
        const size = parseInt(after.slice(0, nl), 16);
        if (after.length < nl + 2 + size + 2) break;
        body += after.slice(nl + 2, nl + 2 + size);
        after = after.slice(nl + 2 + size + 2);
        if (size === 0) { ended = true; break; }
      }
      if (!ended) return out;
    } else {
      return out; // a body delimited by the end of the connection
    }
    out.push({ statusLine: lines[0], status, headers, body });
    rest = after;
  }
}

// The JSON-RPC messages of a response: a JSON body or an SSE stream.
function messagesOf(r) {
  if ((r.headers['content-type'] ?? '').startsWith('text/event-stream')) return sseMessages(r.body);
  return [JSON.parse(r.body)];
}

// A normal MCP exchange still works: nothing crashed or wedged.
async function assertServes(daemon) {
  const r = await post(daemon.url, initBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
  const sid = r.headers.get('mcp-session-id');
  const ping = await post(daemon.url, rpc(99, 'ping'), { 'Mcp-Session-Id': sid });
  assert.deepEqual(ping.json, { jsonrpc: '2.0', id: 99, result: {} });
}

// ---- 1. a batch that cancels its own request ------------------------------------------------

test('a 2025-03-26 batch whose notification cancels its own pending call is answered 202 at once', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'] });
  try {
    const { sid } = await initSession(d.url, '2025-03-26');
    const started = Date.now();
    const r = await post(d.url, [
      toolCall(1, 'sleep', { ms: 2000 }),
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'changed my mind' } },
    ], { 'Mcp-Session-Id': sid });
    const took = Date.now() - started;
    assert.equal(r.status, 202, r.text);
    assert.equal(r.text, '');
    assert.ok(took < 1000, `the batch took ${took} ms to answer`);

    const count = await post(d.url, toolCall(2, 'cancel_count', {}), { 'Mcp-Session-Id': sid });
    assert.equal(count.status, 200, count.text);
    // (2025-03-26 has no structuredContent: the count is in the text.)
    assert.deepEqual(JSON.parse(count.json.result.content[0].text), { cancels: 1 }, 'the sleep saw its cancel callback');
    await assertServes(d);
  } finally {
    await d.stop();
  }
});

// ---- 2. a client gone just before a log notification ------------------------------------------

test('clients that vanish right after asking for a logging call do not break the daemon', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'] });
  try {
    const { sid } = await initSession(d.url);
    const request = mcpPost(toolCall(1, 'log', { n: 1 }), { 'Mcp-Session-Id': sid });
    for (let i = 0; i < 30; i++) {
      for (const how of ['destroy', 'resetAndDestroy']) {
        await new Promise((resolve, reject) => {
          const sock = net.connect(d.port, '127.0.0.1');
          sock.on('error', () => {});
          sock.on('close', resolve);
          sock.on('connect', () => {
            sock.write(request);
            sock[how]();
          });
          setTimeout(() => reject(new Error('the socket did not close')), 3000).unref();
        });
      }
    }
    // The same call from a client that stays gets its notification and result.
    const r = await post(d.url, toolCall(2, 'log', { n: 1 }), { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 200, r.text);
    const msgs = sseMessages(r.text);
    assert.equal(msgs[0].method, 'notifications/message', r.text);
    assert.equal(msgs.at(-1).id, 2);
    assert.equal(msgs.at(-1).result.content[0].text, 'logged');
    await assertServes(d);
  } finally {
    await d.stop();
  }
});

// ---- 3. chunked trailer fields -------------------------------------------------------------

function chunkedPost(path, body, trailers, headers = {}) {
  const h = {
    Host: '127.0.0.1',
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'Transfer-Encoding': 'chunked',
    ...headers,
  };
  const head = `POST ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  const chunk = `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n`;
  return `${head}${chunk}${trailers.map((t) => `${t}\r\n`).join('')}\r\n`;
}

// About n bytes of trailer fields.
function manyTrailers(n) {
  const out = [];
  for (let i = 0, size = 0; size < n; i++) {
    const line = `X-Trailer-${i}: ${'v'.repeat(40)}`;
    out.push(line);
    size += line.length + 2;
  }
  return out;
}

test('chunked trailer fields: answered, never taken as headers, and bounded by max_header_bytes (431)', async () => {
  const d = await startMcpd({ plugins: ['hello'], config: { limits: { max_header_bytes: 4096 } } });
  try {
    // A body that is not JSON, then ~1 KB of trailers, on /mcp and elsewhere.
    for (const path of ['/mcp', '/nowhere']) {
      const { text } = await rawExchange(d.port, chunkedPost(path, 'hello', manyTrailers(1024), { Connection: 'close' }));
      const rs = parseResponses(text);
      assert.equal(rs.length, 1, `${path}: ${text}`);
      assert.ok(rs[0].status >= 200 && rs[0].status < 600, `${path}: ${text}`);
      assert.match(text, /^HTTP\/1\.1 \d{3} /);
    }

    // A trailer is not the Mcp-Session-Id header: the request has no session.
    const { sid } = await initSession(d.url);
    const body = JSON.stringify(rpc(1, 'ping'));
    const { text } = await rawExchange(d.port,
      chunkedPost('/mcp', body, [...manyTrailers(1024), `Mcp-Session-Id: ${sid}`]) +
      mcpPost(rpc(2, 'ping'), { 'Mcp-Session-Id': sid, Connection: 'close' }));
    const [noSession, withHeader] = parseResponses(text);
    assert.equal(noSession?.status, 400, text);
    assert.equal(JSON.parse(noSession.body).error.code, -32000);
    assert.match(JSON.parse(noSession.body).error.message, /Mcp-Session-Id/);
    assert.equal(withHeader?.status, 200, text);
    assert.deepEqual(JSON.parse(withHeader.body), { jsonrpc: '2.0', id: 2, result: {} });

    // Trailers past the header limit: 431, and the connection closes.
    const big = await rawExchange(d.port, chunkedPost('/mcp', body, manyTrailers(6000), { 'Mcp-Session-Id': sid }));
    const [r] = parseResponses(big.text);
    assert.equal(r?.status, 431, big.text);
    assert.equal(big.closed, true);
    await assertServes(d);
  } finally {
    await d.stop();
  }
});

// ---- 4. Connection: close to a client that never reads ----------------------------------------

// 8 MB is more than loopback buffers in the kernel (node cannot shrink the
// receive buffer of a TCP socket), so the daemon's own write stays pending.
test('timeouts.send_ms: a Connection: close response nobody reads is dropped after send_ms', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'], config: { timeouts: { send_ms: 300 } } });
  let c;
  try {
    const sid = await rawSession(d.port);
    // Only the /healthz connection itself (the session's have closed).
    assert.equal(await waitConnections(d.port, (n) => n === 1, 1000), 1);
    c = await openConn(d.port);
    c.sock.pause();
    c.write(mcpPost(toolCall(1, 'big', { bytes: 8000000 }), { 'Mcp-Session-Id': sid, Connection: 'close' }));
    const started = Date.now();
    await sleep(100);
    assert.equal(await connections(d.port), 2, 'the unread response holds its connection at first');
    const n = await waitConnections(d.port, (k) => k === 1, 2500);
    const took = Date.now() - started;
    assert.equal(n, 1, `the connection of the unread response was still open after ${took} ms`);
    await assertServes(d);
  } finally {
    c?.destroy();
    await d.stop();
  }
});

// ---- 5. SIGTERM in the middle of a large response -------------------------------------------
//
// The responses are 8 MB: larger than what the kernel buffers on loopback
// (Send-Q up to tcp_wmem's 4 MB plus the client's receive buffer), so that
// part of each is still in the daemon's write queue when it is told to stop.
// (At 3 MB the kernel takes the whole response at once and the test would
// pass whatever the daemon does.)
const BIG = 8000000;

// Reads everything from a paused connection: resumes it, waits for the
// server to close it, and returns the complete responses.
async function drainPaused(c, count) {
  c.sock.resume();
  await c.waitClose(10000);
  const rs = completeResponses(c.text);
  assert.equal(rs.length, count,
    `${rs.length} complete response(s) of ${count}; ${c.bytes} bytes received, head ${JSON.stringify(c.text.slice(0, 200))}`);
  return rs;
}

function assertBig(r, id) {
  assert.equal(r.status, 200);
  assert.equal(r.body.length, Number(r.headers['content-length']));
  const msg = JSON.parse(r.body);
  assert.equal(msg.id, id);
  assert.equal(msg.result.content[0].text.length, BIG);
}

test('SIGTERM before a large response is ready: the stop waits until the client has all of it, then exit 0', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'] });
  let c;
  try {
    const sid = await rawSession(d.port);
    c = await openConn(d.port);
    c.sock.pause();
    // The big response waits behind a call in flight when SIGTERM comes.
    const h = { 'Mcp-Session-Id': sid };
    c.write(mcpPost(toolCall(6, 'sleep', { ms: 400 }), h) + mcpPost(toolCall(7, 'big', { bytes: BIG }), h));
    await sleep(100);
    d.proc.kill('SIGTERM');
    await sleep(700); // the call is done, the responses are queued, nobody reads yet
    const [slept, big] = await drainPaused(c, 2);
    assert.equal(JSON.parse(slept.body).result.content[0].text, 'slept');
    assertBig(big, 7);
    const st = await d.exited;
    assert.deepEqual(st, { code: 0, signal: null }, d.log());
  } finally {
    c?.destroy();
    await d.stop();
  }
});

test('SIGTERM while a large finished response is still being written: the client gets all of it, then exit 0', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'] });
  let c;
  try {
    const sid = await rawSession(d.port);
    c = await openConn(d.port);
    c.sock.pause();
    c.write(mcpPost(toolCall(7, 'big', { bytes: BIG }), { 'Mcp-Session-Id': sid }));
    await sleep(300); // the response is written as far as the socket takes it
    d.proc.kill('SIGTERM');
    await sleep(200);
    const [big] = await drainPaused(c, 1);
    assertBig(big, 7);
    const st = await d.exited;
    assert.deepEqual(st, { code: 0, signal: null }, d.log());
  } finally {
    c?.destroy();
    await d.stop();
  }
});

// ---- 6. a long allowed Origin -------------------------------------------------------------------

test('a long allowed Origin on asynchronous and progress replies keeps the framing intact', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'] });
  const origin = `http://${'a'.repeat(180)}.localhost`;
  let c;
  try {
    const { sid } = await initSession(d.url);
    c = await openConn(d.port);
    const h = { 'Mcp-Session-Id': sid, Origin: origin };

    c.write(mcpPost(toolCall(1, 'sleep', { ms: 50 }), h));
    let [r] = await c.responses(1);
    assert.equal(r.status, 200, c.text);
    assert.equal(r.headers['access-control-allow-origin'], origin);
    assert.equal(messagesOf(r).at(-1).result.content[0].text, 'slept');

    c.write(mcpPost(toolCall(2, 'count', { n: 2, delay_ms: 10 }, { progressToken: 'p' }), h));
    r = (await c.responses(2))[1];
    assert.equal(r.status, 200, c.text);
    assert.equal(r.headers['access-control-allow-origin'], origin);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    const msgs = messagesOf(r);
    assert.equal(msgs.filter((m) => m.method === 'notifications/progress').length, 2, r.body);
    assert.equal(msgs.at(-1).id, 2);
    assert.equal(msgs.at(-1).result.content[0].text, 'counted to 2');

    // The same connection still carries a request after both.
    c.write(mcpPost(rpc(3, 'ping'), h));
    r = (await c.responses(3))[2];
    assert.equal(r.status, 200, c.text);
    assert.deepEqual(messagesOf(r).at(-1), { jsonrpc: '2.0', id: 3, result: {} });
    assert.equal(c.closed, false);
  } finally {
    c?.destroy();
    await d.stop();
  }
});

// ---- 7. HTTP/1.0 keep-alive stream with a pipelined request ---------------------------------------

test('HTTP/1.0 keep-alive: a request pipelined after a GET stream is not executed', async () => {
  const d = await startMcpd({ plugins: ['hello'] });
  let c;
  try {
    const { sid } = await initSession(d.url);
    c = await openConn(d.port);
    const h = { Connection: 'keep-alive', 'Mcp-Session-Id': sid };
    c.write(get('/mcp', { ...h, Accept: 'text/event-stream' }, '1.0') +
      `DELETE /mcp HTTP/1.0\r\nHost: 127.0.0.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    await c.until((x) => x.text.includes('\r\n\r\n'), 'the stream head');
    assert.match(c.text, /^HTTP\/1\.[01] 200 /, c.text);
    assert.match(c.text, /\r\nContent-Type: text\/event-stream/i);
    await sleep(300);
    assert.equal(c.text.match(/HTTP\/1\.[01] \d{3}/g).length, 1, `a second response on the stream: ${c.text}`);
    c.destroy();
    await sleep(50);

    const r = await post(d.url, rpc(1, 'ping'), { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 200, `the session was deleted: ${r.text}`);
    assert.deepEqual(r.json, { jsonrpc: '2.0', id: 1, result: {} });
  } finally {
    c?.destroy();
    await d.stop();
  }
});

// ---- 8. queue_work() from init() ------------------------------------------------------------------

test('a plugin that calls queue_work() from init() is skipped (EPERM); the others still serve', async () => {
  const d = await startMcpd({ plugins: ['hello', 'bad_work_in_init'] });
  try {
    await d.waitForLog(/event=plugins_ready /);
    const skipped = d.log().split('\n').filter((l) => l.includes('event=plugin_skipped'));
    assert.equal(skipped.length, 1, d.log());
    assert.match(skipped[0], /bad_work_in_init\.so /);
    assert.match(skipped[0], /init\(\) failed: operation not permitted/);
    assert.match(d.log(), /event=plugins_ready dir=\S+ loaded=1 failed=1 /);

    const { sid } = await initSession(d.url);
    const r = await post(d.url, toolCall(1, 'echo', { text: 'still here' }), { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.result.content, [{ type: 'text', text: 'still here' }]);
  } finally {
    await d.stop();
  }
});

// ---- 9. limits.max_calls_per_session -----------------------------------------------------------

test('limits.max_calls_per_session: a call over the limit is refused (-32603); later calls work', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'], config: { limits: { max_calls_per_session: 2 } } });
  try {
    const { sid } = await initSession(d.url);
    const rs = await Promise.all([1, 2, 3].map((id) =>
      post(d.url, toolCall(id, 'sleep', { ms: 300 }), { 'Mcp-Session-Id': sid })));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const slept = rs.filter((r) => r.json.result?.content?.[0]?.text === 'slept');
    const refused = rs.filter((r) => r.json.error !== undefined);
    assert.equal(slept.length, 2, rs.map((r) => r.text).join('\n'));
    assert.equal(refused.length, 1, rs.map((r) => r.text).join('\n'));
    assert.equal(refused[0].json.error.code, -32603);
    assert.match(refused[0].json.error.message, /too many calls in flight/);

    // Another session is not limited by this one; this one recovers.
    const other = await initSession(d.url);
    const r = await post(d.url, toolCall(4, 'sleep', { ms: 10 }), { 'Mcp-Session-Id': other.sid });
    assert.equal(r.json.result.content[0].text, 'slept');
    const again = await post(d.url, toolCall(5, 'sleep', { ms: 10 }), { 'Mcp-Session-Id': sid });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.result.content[0].text, 'slept');
  } finally {
    await d.stop();
  }
});

// ---- 10. a paused connection resumes early --------------------------------------------------------

test('limits.max_pipelined_requests: a paused connection resumes as soon as a slot frees', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'], config: { limits: { max_pipelined_requests: 2 } } });
  let c;
  try {
    const { sid } = await initSession(d.url);
    const h = { 'Mcp-Session-Id': sid };

    // A slow call, then four fast ones: all answered, in order, in about 1 s.
    c = await openConn(d.port);
    let started = Date.now();
    c.write([toolCall(1, 'sleep', { ms: 1000 }), rpc(2, 'ping'), rpc(3, 'ping'), rpc(4, 'ping'), rpc(5, 'ping')]
      .map((m) => mcpPost(m, h)).join(''));
    let rs = await c.responses(5, 4000);
    let took = Date.now() - started;
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.deepEqual(rs.map((r) => messagesOf(r).at(-1).id), [1, 2, 3, 4, 5]);
    assert.equal(messagesOf(rs[0]).at(-1).result.content[0].text, 'slept');
    assert.ok(took >= 950 && took < 2000, `five pipelined requests took ${took} ms`);
    c.destroy();

    // A short call frees a slot while a long one still holds the head: the
    // third request is read then, and runs alongside the second (about
    // 1.1 s in all, not 2 s).
    c = await openConn(d.port);
    started = Date.now();
    c.write([toolCall(1, 'sleep', { ms: 100 }), toolCall(2, 'sleep', { ms: 1000 }), toolCall(3, 'sleep', { ms: 1000 })]
      .map((m) => mcpPost(m, h)).join(''));
    rs = await c.responses(3, 4000);
    took = Date.now() - started;
    assert.deepEqual(rs.map((r) => messagesOf(r).at(-1).id), [1, 2, 3]);
    for (const r of rs) assert.equal(messagesOf(r).at(-1).result.content[0].text, 'slept');
    assert.ok(took < 1700, `the third request waited for the second: ${took} ms`);
  } finally {
    c?.destroy();
    await d.stop();
  }
});

test('POST /healthz is 405 and leaks nothing (the sanitizer build checks at exit)', async () => {
  const t = await startMcpd({ plugins: ['hello'] });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${t.base}/healthz`, { method: 'POST', body: '{}' });
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'GET, HEAD');
      await r.arrayBuffer();
    }
  } finally {
    await t.stop();
  }
});

// ---- second review: sessions of two transports, clients that cannot be asked, late resumes ----

// Opens GET /sse on a raw connection; resolves to { c, sid } once the
// endpoint event is in.
async function legacySession(port) {
  const c = await openConn(port);
  c.write(get('/sse', { Accept: 'text/event-stream' }));
  const m = await c.until((x) => x.text.match(/sessionId=([A-Za-z0-9_-]{32,102})/), 'the endpoint event');
  return { c, sid: m[1] };
}

test('an HTTP+SSE session is not a Streamable HTTP one: DELETE, POST and resuming GET on /mcp are 404, its stream lives on', { timeout: 30000 }, async () => {
  const t = await startMcpd({ plugins: ['hello'] });
  try {
    const { c, sid } = await legacySession(t.port);
    const del = await fetch(t.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
    assert.equal(del.status, 404);
    const p = await post(t.url, rpc(1, 'ping'), { 'Mcp-Session-Id': sid });
    assert.equal(p.status, 404);
    const resume = await fetch(t.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'Last-Event-ID': '1-0' } });
    assert.equal(resume.status, 404);
    await resume.arrayBuffer();
    // The session still works the 2024-11-05 way, on its own stream.
    const ok = await fetch(`${t.base}/messages?sessionId=${sid}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(rpc(7, 'ping')),
    });
    assert.equal(ok.status, 202);
    await c.until((x) => x.text.includes('{"jsonrpc":"2.0","id":7,"result":{}}'), 'the ping answer on the stream');
    assert.equal(c.closed, false);
    c.destroy();
  } finally {
    await t.stop();
  }
});

test('a plugin that asks the client again after every failure cannot wedge the loop: DELETE of its session is answered', { timeout: 30000 }, async () => {
  const t = await startMcpd({ plugins: ['testkit'] });
  try {
    const sid = await rawSession(t.port);
    const c = await openConn(t.port);
    c.write(mcpPost(toolCall(2, 'ask', { method: 'ping', retry: true }), { 'Mcp-Session-Id': sid }));
    await c.until((x) => x.text.includes('"method":"ping"'), 'the ping request to the client');
    const del = await fetch(t.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
    assert.equal(del.status, 200);
    const h = await fetch(`${t.base}/healthz`);
    assert.equal(h.status, 200);
    assert.equal((await h.json()).sessions, 0);
    c.destroy();
  } finally {
    await t.stop();
  }
});

test('a request to the client from a call answered as plain JSON fails at once with -ENOTSUP, not at the timeout', { timeout: 30000 }, async () => {
  const t = await startMcpd({ plugins: ['testkit'], config: { timeouts: { client_request_ms: 600000 } } });
  try {
    const sid = await rawSession(t.port);
    const r = await post(t.url, toolCall(3, 'ask', { method: 'ping' }), { 'Mcp-Session-Id': sid, Accept: 'application/json' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.isError, true);
    assert.match(r.json.result.content[0].text, /^request refused: .*not supported/i);
  } finally {
    await t.stop();
  }
});

test('a finished SSE answer can still be resumed with Last-Event-ID (its connection may have died unnoticed)', { timeout: 30000 }, async () => {
  const t = await startMcpd({ plugins: ['hello'] });
  try {
    const sid = await rawSession(t.port);
    const c = await openConn(t.port);
    c.write(mcpPost(toolCall(4, 'count', { n: 2, delay_ms: 10 }, { progressToken: 'p' }), { 'Mcp-Session-Id': sid }));
    const [r] = await c.responses(1, 5000);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    const first = r.body.match(/^id: (\S+)$/m)[1];
    assert.ok(sseMessages(r.body).some((m) => m.id === 4 && m.result), r.body);
    c.destroy();
    const again = await fetch(t.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'Last-Event-ID': first } });
    assert.equal(again.status, 200);
    const body = await again.text();
    const msgs = sseMessages(body);
    assert.equal(msgs.at(-1).id, 4, body);
    assert.equal(msgs.at(-1).result.content[0].text, 'counted to 2');
  } finally {
    await t.stop();
  }
});

test('timeouts.sse_poll_ms leaves streams of sessions older than 2025-11-25 alone: the answer arrives on the same response', { timeout: 30000 }, async () => {
  const t = await startMcpd({ plugins: ['hello'], config: { timeouts: { sse_poll_ms: 50 } } });
  try {
    const sid = await rawSession(t.port, '2025-06-18');
    const c = await openConn(t.port);
    c.write(mcpPost(toolCall(5, 'count', { n: 4, delay_ms: 60 }, { progressToken: 'p' }),
      { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' }));
    const [r] = await c.responses(1, 10000);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.doesNotMatch(r.body, /^retry:/m);
    const msgs = sseMessages(r.body);
    assert.equal(msgs.at(-1).id, 5, r.body);
    assert.equal(msgs.at(-1).result.content[0].text, 'counted to 4');
    c.destroy();
  } finally {
    await t.stop();
  }
});
