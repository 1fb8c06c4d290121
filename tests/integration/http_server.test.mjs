// The HTTP/1.1 layer of mcpd, driven over raw sockets: keep-alive,
// pipelining, chunked bodies, 100-continue, limits, timeouts and the
// routes outside /mcp. After every abuse the daemon must still serve a
// normal initialize and stop cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startMcpd } from './lib/mcpd.mjs';
import { rawExchange, parseResponses, mcpPost, post, initSession } from './lib/http.mjs';

// The main daemon: small body and header limits, default timeouts.
// (limits.max_headers has its own daemon: fetch() alone sends more than 8.)
const LIMITS = { max_body_bytes: 2048, max_header_bytes: 1024 };

let d;
let sid;
before(async () => {
  d = await startMcpd({ plugins: ['hello', 'testkit'], config: { limits: LIMITS } });
  ({ sid } = await initSession(d.url));
});
after(async () => { await d.stop(); });

// ---- helpers ---------------------------------------------------------------

// A raw connection for exchanges that must act between reads.
function openConn(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const listeners = new Set();
    const notify = () => { for (const l of [...listeners]) l(); };
    const c = {
      sock,
      text: '',
      closed: false,
      closedAt: 0,
      lastDataAt: 0,
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
              rej(new Error(`connection closed while waiting for ${what}; received:\n${c.text}`));
            }
          };
          const t = setTimeout(() => {
            done();
            rej(new Error(`timed out waiting for ${what}; received:\n${c.text}`));
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
    sock.on('data', (b) => { c.text += b.toString('latin1'); c.lastDataAt = Date.now(); notify(); });
    sock.on('close', () => { c.closed = true; c.closedAt = Date.now(); notify(); });
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

function rpc(id, method, params) {
  return params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
}

function get(path, headers = {}, version = '1.1') {
  const h = { Host: '127.0.0.1', ...headers };
  return `GET ${path} HTTP/${version}\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A normal MCP exchange still works: nothing crashed or wedged.
async function assertServes(daemon) {
  const r = await post(daemon.url, {
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'after-abuse', version: '1' } },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
  assert.match(r.headers.get('mcp-session-id'), /^[A-Za-z0-9_-]{32,102}$/);
}

// ---- keep-alive and pipelining -------------------------------------------------

test('keep-alive: two requests on one socket are both answered and the socket stays open', async () => {
  const c = await openConn(d.port);
  c.write(mcpPost(rpc(1, 'ping'), { 'Mcp-Session-Id': sid }));
  const [r1] = await c.responses(1);
  assert.equal(r1.status, 200);
  assert.notEqual(r1.headers.connection, 'close');
  assert.deepEqual(JSON.parse(r1.body), { jsonrpc: '2.0', id: 1, result: {} });
  c.write(mcpPost(rpc(2, 'tools/call', { name: 'echo', arguments: { text: 'again' } }), { 'Mcp-Session-Id': sid }));
  const rs = await c.responses(2);
  assert.equal(rs[1].status, 200);
  const b2 = JSON.parse(rs[1].body);
  assert.equal(b2.id, 2);
  assert.equal(b2.result.content[0].text, 'again');
  await sleep(100);
  assert.equal(c.closed, false, 'the server closed a keep-alive connection');
  c.destroy();
});

test('pipelining: three requests in one write are answered in request order', async () => {
  const c = await openConn(d.port);
  const h = { 'Mcp-Session-Id': sid };
  const t0 = Date.now();
  c.write(
    mcpPost(rpc(1, 'tools/call', { name: 'sleep', arguments: { ms: 200 } }), h) +
    mcpPost(rpc(2, 'ping'), h) +
    mcpPost(rpc(3, 'tools/call', { name: 'echo', arguments: { text: 'fast' } }), h),
  );
  const rs = await c.responses(3);
  const elapsed = Date.now() - t0;
  assert.equal(rs.length, 3);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  const bodies = rs.map((r) => JSON.parse(r.body));
  assert.deepEqual(bodies.map((b) => b.id), [1, 2, 3]);
  assert.equal(bodies[0].result.content[0].text, 'slept');
  assert.deepEqual(bodies[1].result, {});
  assert.equal(bodies[2].result.content[0].text, 'fast');
  assert.ok(elapsed >= 190, `the slow request finished too early (${elapsed} ms)`);
  assert.equal(c.closed, false);
  c.destroy();
});

// ---- request bodies ---------------------------------------------------------------

test('a chunked request body in several chunks and several writes is parsed', async () => {
  const c = await openConn(d.port);
  const body = JSON.stringify(rpc(7, 'tools/call', { name: 'echo', arguments: { text: 'chunked body across writes' } }));
  const parts = [body.slice(0, 10), body.slice(10, 45), body.slice(45)];
  c.write(
    'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Accept: application/json, text/event-stream\r\nMcp-Session-Id: ${sid}\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  for (const p of parts) {
    await sleep(20);
    // The size line and the data in separate writes, the data itself split too.
    c.write(`${p.length.toString(16)}\r\n`);
    await sleep(10);
    c.write(p.slice(0, 3));
    await sleep(10);
    c.write(`${p.slice(3)}\r\n`);
  }
  await sleep(20);
  c.write('0\r\n\r\n');
  const [r] = await c.responses(1);
  assert.equal(r.status, 200, r.body);
  const msg = JSON.parse(r.body);
  assert.equal(msg.id, 7);
  assert.equal(msg.result.content[0].text, 'chunked body across writes');
  c.destroy();
});

test('Expect: 100-continue gets the interim 100 before the body is sent, then the 200', async () => {
  const c = await openConn(d.port);
  const body = JSON.stringify(rpc(5, 'ping'));
  c.write(
    'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Accept: application/json\r\nMcp-Session-Id: ${sid}\r\nExpect: 100-continue\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
  );
  await c.until((x) => x.text.includes('\r\n\r\n'), 'the interim response');
  assert.ok(c.text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), `expected 100 Continue first, got:\n${c.text}`);
  await sleep(50);
  assert.equal(completeResponses(c.text).filter((r) => r.status >= 200).length, 0, 'a final response came before the body');
  c.write(body);
  const rs = await c.responses(2);
  assert.equal(rs[0].status, 100);
  assert.equal(rs[1].status, 200);
  assert.deepEqual(JSON.parse(rs[1].body), { jsonrpc: '2.0', id: 5, result: {} });
  c.destroy();
});

// ---- limits ----------------------------------------------------------------------------

test('413: a Content-Length above max_body_bytes is refused before the body is sent, and the connection closes', async () => {
  const c = await openConn(d.port);
  c.write(
    'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    'Accept: application/json\r\nContent-Length: 5000\r\n\r\n',
  );
  // No body byte is sent: the answer must not wait for it.
  const [r] = await c.responses(1);
  assert.equal(r.status, 413);
  assert.equal(r.headers.connection, 'close');
  assert.match(r.body, /^413 Content Too Large: the request body is larger than the limit/);
  await c.waitClose();

  // With Expect: 100-continue the refusal replaces the 100.
  const e = await openConn(d.port);
  e.write(
    'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    'Accept: application/json\r\nExpect: 100-continue\r\nContent-Length: 2049\r\n\r\n',
  );
  const [er] = await e.responses(1);
  assert.equal(er.status, 413, e.text);
  await e.waitClose();

  // Exactly max_body_bytes is accepted.
  const body = JSON.stringify(rpc(3, 'ping'));
  const padded = body + ' '.repeat(2048 - body.length);
  const ok = await rawExchange(d.port, mcpPost(padded, { 'Mcp-Session-Id': sid, Connection: 'close' }));
  const [o] = parseResponses(ok.text);
  assert.equal(o.status, 200, ok.text);
  assert.deepEqual(JSON.parse(o.body), { jsonrpc: '2.0', id: 3, result: {} });
  await assertServes(d);
});

test('413: a chunked body that grows past max_body_bytes is refused, and the connection closes', async () => {
  const c = await openConn(d.port);
  c.write(
    'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    'Accept: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  const chunk = `${(1000).toString(16)}\r\n${'x'.repeat(1000)}\r\n`;
  c.write(chunk);
  await sleep(20);
  c.write(chunk);
  await sleep(20);
  assert.equal(c.text, '', 'answered before the limit was passed');
  c.write(chunk);
  const [r] = await c.responses(1);
  assert.equal(r.status, 413);
  assert.equal(r.headers.connection, 'close');
  await c.waitClose();
  await assertServes(d);
});

test('431: a header block above max_header_bytes', async () => {
  const { text, closed } = await rawExchange(d.port, get('/healthz', { 'X-Big': 'a'.repeat(1100) }));
  const [r] = parseResponses(text);
  assert.equal(r.status, 431);
  assert.match(r.body, /^431 Request Header Fields Too Large/);
  assert.equal(r.headers.connection, 'close');
  assert.equal(closed, true);
  await assertServes(d);
});

test('431: more header fields than max_headers; exactly max_headers is fine', async () => {
  const t = await startMcpd({ plugins: ['hello'], config: { limits: { max_headers: 8 } } });
  try {
    // Host + 7 more = 8 fields: accepted.
    const seven = { A1: '1', A2: '2', A3: '3', A4: '4', A5: '5', A6: '6', Connection: 'close' };
    const ok = await rawExchange(t.port, get('/healthz', seven));
    assert.equal(parseResponses(ok.text)[0].status, 200);
    // Host + 8 more = 9 fields: refused.
    const { text, closed } = await rawExchange(t.port, get('/healthz', { ...seven, A7: '7' }));
    const [r] = parseResponses(text);
    assert.equal(r.status, 431);
    assert.equal(r.headers.connection, 'close');
    assert.match(r.body, /too many header fields/);
    assert.equal(closed, true);
    const after = await rawExchange(t.port, mcpPost({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }, { Connection: 'close' }));
    const [i] = parseResponses(after.text);
    assert.equal(i.status, 200);
    assert.equal(JSON.parse(i.body).result.protocolVersion, '2025-11-25');
  } finally {
    await t.stop();
  }
});

// ---- malformed requests ----------------------------------------------------------------

test('a malformed request line gets 400 and the connection closes', async () => {
  const { text, closed } = await rawExchange(d.port, 'THIS IS NOT HTTP\r\n\r\n');
  const [r] = parseResponses(text);
  assert.equal(r.status, 400);
  assert.equal(r.headers.connection, 'close');
  assert.match(r.body, /^400 Bad Request: malformed request/);
  assert.equal(closed, true);
  await assertServes(d);
});

test('an invalid header token gets 400 and the connection closes', async () => {
  // "@" is not a token character (RFC 9110 5.6.2).
  const { text, closed } = await rawExchange(d.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad@Header: x\r\n\r\n');
  const [r] = parseResponses(text);
  assert.equal(r.status, 400);
  assert.equal(r.headers.connection, 'close');
  assert.match(r.body, /^400 Bad Request: malformed request/);
  assert.equal(closed, true);
  await assertServes(d);
});

test('whitespace inside a field name or before its colon gets 400 (RFC 9112 5.1)', async () => {
  // "A server MUST reject, with a response status code of 400 (Bad
  // Request), any received request message that contains whitespace
  // between a header field name and colon."
  const wrong = [];
  for (const line of ['Bad Header: x', 'Bad : x', 'Content-Length : 0']) {
    const { text, closed } = await rawExchange(d.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${line}\r\n\r\n`, { idleMs: 500 });
    const [r] = parseResponses(text);
    if (r?.status !== 400 || !closed) wrong.push(`${JSON.stringify(line)}: ${text.split('\r\n')[0]}, closed=${closed}`);
  }
  assert.deepEqual(wrong, [], 'accepted whitespace before the colon');
  await assertServes(d);
});

test('an HTTP/1.1 request without Host, or with two Host fields, gets 400 (RFC 9112 3.2)', async () => {
  // "A server MUST respond with a 400 (Bad Request) status code to any
  // HTTP/1.1 request message that lacks a Host header field and to any
  // request message that contains more than one Host header field line".
  const init = JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
  const postMcp = (hostLines) => 'POST /mcp HTTP/1.1\r\n' + hostLines +
    'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
    `Content-Length: ${Buffer.byteLength(init)}\r\n\r\n${init}`;
  const cases = {
    'GET /healthz without Host': 'GET /healthz HTTP/1.1\r\n\r\n',
    'GET /healthz with two Host fields': 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n',
    'POST /mcp without Host': postMcp(''),
    'POST /mcp with Host localhost and Host evil.example.com': postMcp('Host: localhost\r\nHost: evil.example.com\r\n'),
  };
  const wrong = [];
  for (const [what, bytes] of Object.entries(cases)) {
    const { text } = await rawExchange(d.port, bytes, { idleMs: 500 });
    const [r] = parseResponses(text);
    if (r?.status !== 400) wrong.push(`${what}: ${text.split('\r\n')[0]}`);
  }
  assert.deepEqual(wrong, [], 'accepted a request with a missing or repeated Host');
  await assertServes(d);
});

test('a valid request followed by garbage: 200, then 400, then close', async () => {
  const { text, closed } = await rawExchange(d.port, get('/healthz') + 'NOT HTTP AT ALL\r\n\r\n');
  const rs = parseResponses(text);
  assert.deepEqual(rs.map((r) => r.status), [200, 400]);
  assert.equal(rs[1].headers.connection, 'close');
  assert.equal(closed, true);
  await assertServes(d);
});

// ---- timeouts ----------------------------------------------------------------------------

test('timeouts: a stalled header block gets 408 after header_ms; an idle keep-alive connection is closed after keepalive_ms', async () => {
  const t = await startMcpd({ plugins: ['hello'], config: { timeouts: { header_ms: 300, keepalive_ms: 300 } } });
  try {
    // Half a header block, then nothing.
    const c = await openConn(t.port);
    const t0 = Date.now();
    c.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-');
    const [r] = await c.responses(1, 3000);
    const waited = Date.now() - t0;
    assert.equal(r.status, 408);
    assert.equal(r.headers.connection, 'close');
    assert.match(r.body, /^408 Request Timeout/);
    assert.ok(waited >= 250 && waited < 2000, `408 after ${waited} ms, configured 300`);
    await c.waitClose();

    // A finished request, then silence: the server closes the connection.
    const k = await openConn(t.port);
    k.write(get('/healthz'));
    const [h] = await k.responses(1);
    assert.equal(h.status, 200);
    assert.equal(k.closed, false);
    await k.waitClose(3000);
    const idle = k.closedAt - k.lastDataAt;
    assert.ok(idle >= 150 && idle < 2000, `closed ${idle} ms after the response, configured 300`);
    await assertServes(t);
  } finally {
    await t.stop();
  }
});

test('503: above max_connections, with no idle connection to close, a new connection is refused and closed; once one closes, a new one works', async () => {
  const t = await startMcpd({ plugins: ['hello'], config: { limits: { max_connections: 2 } } });
  try {
    const a = await openConn(t.port);
    const b = await openConn(t.port);
    // Both are accepted and served.
    a.write(get('/healthz'));
    b.write(get('/healthz'));
    assert.equal((await a.responses(1))[0].status, 200);
    assert.equal((await b.responses(1))[0].status, 200);
    // Both busy (half a body each): neither may be closed to make room.
    const half = 'POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n12345';
    a.write(half);
    b.write(half);
    await sleep(100);
    const third = await rawExchange(t.port, get('/healthz'));
    const [r] = parseResponses(third.text);
    assert.equal(r.status, 503);
    assert.equal(r.headers.connection, 'close');
    assert.ok(r.headers['retry-after'], 'Retry-After');
    assert.equal(third.closed, true);
    // The first two are unaffected.
    assert.equal(a.closed, false);
    b.write('67890');
    assert.equal((await b.responses(2))[1].status, 404);
    b.write(get('/healthz'));
    assert.equal((await b.responses(3))[2].status, 200);
    a.destroy();
    await a.waitClose();
    // The server notices the close on its next loop turn.
    let status;
    for (let i = 0; i < 20; i++) {
      const again = await rawExchange(t.port, get('/healthz', { Connection: 'close' }));
      status = parseResponses(again.text)[0]?.status;
      if (status === 200) break;
      await sleep(25);
    }
    assert.equal(status, 200);
    b.destroy();
  } finally {
    await t.stop();
  }
});

// ---- routes ------------------------------------------------------------------------------------

test('404 for an unknown path', async () => {
  const { text } = await rawExchange(d.port, get('/nowhere', { Connection: 'close' }));
  const [r] = parseResponses(text);
  assert.equal(r.status, 404);
  assert.match(r.body, /the MCP endpoint is \/mcp/);
});

test('405 with an Allow header for PUT /mcp', async () => {
  const { text } = await rawExchange(d.port, 'PUT /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  const [r] = parseResponses(text);
  assert.equal(r.status, 405);
  const allow = r.headers.allow.split(',').map((s) => s.trim()).sort();
  assert.deepEqual(allow, ['DELETE', 'GET', 'OPTIONS', 'POST']);
});

test('GET /healthz reports status, version, plugins and the tool count', async () => {
  const { text } = await rawExchange(d.port, get('/healthz', { Connection: 'close' }));
  const [r] = parseResponses(text);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  const h = JSON.parse(r.body);
  assert.equal(h.status, 'ok');
  assert.match(h.version, /^\d+\.\d+\.\d+/);
  assert.deepEqual(h.plugins.map((p) => p.name).sort(), ['hello', 'testkit']);
  assert.deepEqual(h.plugins.find((p) => p.name === 'hello'), { name: 'hello', version: '1.0.0' });
  assert.deepEqual(h.plugins.find((p) => p.name === 'testkit'), { name: 'testkit', version: '0.0.1' });
  assert.equal(h.tools, 17); // hello: echo, count; testkit: 15
});

test('HEAD /healthz has the headers of GET and no body', async () => {
  // HEAD then GET on one connection: the GET response must start right
  // after the HEAD response's header block.
  const { text } = await rawExchange(d.port,
    'HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' + get('/healthz', { Connection: 'close' }));
  const first = text.indexOf('\r\n\r\n');
  assert.ok(first > 0);
  assert.match(text.slice(0, first), /^HTTP\/1\.1 200 /);
  assert.match(text.slice(0, first), /\r\nContent-Type: application\/json/i);
  const rest = text.slice(first + 4);
  assert.match(rest, /^HTTP\/1\.1 200 /, `HEAD response carried a body: ${JSON.stringify(rest.slice(0, 80))}`);
  const [g] = parseResponses(rest);
  assert.equal(JSON.parse(g.body).status, 'ok');
});

test('HTTP/1.0 without keep-alive gets Connection: close and the socket closes', async () => {
  const c = await openConn(d.port);
  c.write('GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n');
  await c.waitClose();
  const [r] = parseResponses(c.text);
  assert.equal(r.status, 200);
  assert.equal(r.headers.connection, 'close');
  assert.equal(JSON.parse(r.body).status, 'ok');
});

test('after all of the above the daemon still serves initialize', async () => {
  await assertServes(d);
  const { text } = await rawExchange(d.port, get('/healthz', { Connection: 'close' }));
  assert.equal(parseResponses(text)[0].status, 200);
});
