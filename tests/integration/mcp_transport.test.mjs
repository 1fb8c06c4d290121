// The Streamable HTTP transport at /mcp, by hand: sessions, Origin and
// Host checks, protocol revisions, Accept and Content-Type, JSON-RPC
// edge cases, batches, pagination, the GET stream and progress over SSE.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMcpd } from './lib/mcpd.mjs';
import { rawExchange, parseResponses, mcpPost, post, initSession, sseMessages, ACCEPT } from './lib/http.mjs';

let d;
before(async () => {
  d = await startMcpd({ plugins: ['hello', 'testkit'], config: { timeouts: { sse_keepalive_ms: 200 } } });
});
after(async () => { await d.stop(); });

// ---- helpers ---------------------------------------------------------------

const ALL_TOOLS = ['admin_only', 'ask', 'big', 'bad_result', 'cancel_count', 'count', 'echo', 'fail', 'fetch', 'grow', 'header', 'log', 'no_args', 'sleep', 'structured', 'touch', 'whoami'];

function initBody(protocolVersion = '2025-11-25', id = 0) {
  const params = { capabilities: {}, clientInfo: { name: 'transport-test', version: '1' } };
  if (protocolVersion !== null) params.protocolVersion = protocolVersion;
  return { jsonrpc: '2.0', id, method: 'initialize', params };
}

function rpc(id, method, params) {
  return params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
}

// A POST on a session.
function sPost(sid, body, headers = {}, url = d.url) {
  return post(url, body, { 'Mcp-Session-Id': sid, ...headers });
}

function del(sid, url = d.url) {
  return fetch(url, { method: 'DELETE', headers: sid === undefined ? {} : { 'Mcp-Session-Id': sid } });
}

// An HTTP-level rejection: the status and a JSON-RPC error with id null.
function assertRejected(r, status, code, message) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.json?.jsonrpc, '2.0', r.text);
  assert.equal(r.json.id, null);
  assert.equal(r.json.error.code, code, r.text);
  if (message) assert.match(r.json.error.message, message);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Reads a streaming fetch body until pred(text) holds.
async function readUntil(reader, state, pred, what, timeoutMs = 3000) {
  const dec = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  while (!pred(state.text)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(state.text)}`);
    let timer;
    const r = await Promise.race([
      reader.read(),
      new Promise((res) => { timer = setTimeout(() => res({ timeout: true }), left); }),
    ]);
    clearTimeout(timer);
    if (r.timeout) continue;
    if (r.done) { state.done = true; return; }
    state.text += dec.decode(r.value, { stream: true });
  }
}

// ---- sessions --------------------------------------------------------------

test('sessions: a request without Mcp-Session-Id is 400, an unknown one 404 (-32001)', async () => {
  assertRejected(await post(d.url, rpc(1, 'tools/list')), 400, -32000, /Mcp-Session-Id/);
  assertRejected(await sPost('0123456789abcdef0123456789abcdef', rpc(1, 'tools/list')), 404, -32001, /Session not found/);
  assertRejected(await sPost('not-a-session', rpc(1, 'ping')), 404, -32001);
});

test('sessions: initialize carrying an Mcp-Session-Id is 400; new ids are 32 hex characters and differ', async () => {
  const a = await initSession(d.url);
  const b = await initSession(d.url);
  assert.match(a.sid, /^[A-Za-z0-9_-]{32,102}$/);
  assert.match(b.sid, /^[A-Za-z0-9_-]{32,102}$/);
  assert.notEqual(a.sid, b.sid);
  const r = await sPost(a.sid, initBody());
  assertRejected(r, 400, -32600, /must not carry Mcp-Session-Id/);
  assert.equal(r.headers.get('mcp-session-id'), null);
  // The session it named is untouched.
  const ping = await sPost(a.sid, rpc(2, 'ping'));
  assert.equal(ping.status, 200);
  assert.deepEqual(ping.json, { jsonrpc: '2.0', id: 2, result: {} });
});

test('sessions: an idle one expires after session_idle_ms, a busy one does not', async () => {
  const t = await startMcpd({ plugins: ['hello'], config: { timeouts: { session_idle_ms: 400 } } });
  try {
    const idle = await initSession(t.url);
    const busy = await initSession(t.url);
    const started = Date.now();
    while (Date.now() - started < 1000) {
      const r = await sPost(busy.sid, rpc(1, 'ping'), {}, t.url);
      assert.equal(r.status, 200, `the busy session was lost after ${Date.now() - started} ms`);
      await sleep(100);
    }
    assertRejected(await sPost(idle.sid, rpc(2, 'ping'), {}, t.url), 404, -32001);
    assert.equal((await sPost(busy.sid, rpc(3, 'ping'), {}, t.url)).status, 200);
    await t.waitForLog(new RegExp(`event=session_expired session=${idle.sid}`), 2000);
    assert.doesNotMatch(t.log(), new RegExp(`event=session_expired session=${busy.sid}`));
  } finally {
    await t.stop();
  }
});

test('DELETE /mcp ends the session; DELETE without a session header is 400', async () => {
  const { sid } = await initSession(d.url);
  const r = await del(sid);
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  assertRejected(await sPost(sid, rpc(1, 'ping')), 404, -32001);
  const again = await del(sid);
  assert.equal(again.status, 404);
  assert.equal((await again.json()).error.code, -32001);
  const none = await del(undefined);
  assert.equal(none.status, 400);
  const body = await none.json();
  assert.equal(body.error.code, -32000);
  assert.equal(body.id, null);
});

test('limits.max_sessions: a full table evicts the least recently active idle session; 503 when all are busy', async () => {
  const t = await startMcpd({ plugins: ['hello'], config: { limits: { max_sessions: 2 } } });
  try {
    const a = await initSession(t.url);
    const b = await initSession(t.url);
    // b is now the more recently active one; a third session evicts a.
    assert.equal((await sPost(b.sid, rpc(1, 'ping'), {}, t.url)).status, 200);
    const c = await post(t.url, initBody());
    assert.equal(c.status, 200);
    const cSid = c.headers.get('mcp-session-id');
    assert.match(cSid, /^[A-Za-z0-9_-]{32,102}$/);
    await t.waitForLog(new RegExp(`event=session_evicted session=${a.sid}`));
    assert.equal((await sPost(a.sid, rpc(2, 'ping'), {}, t.url)).status, 404);
    assert.equal((await sPost(b.sid, rpc(3, 'ping'), {}, t.url)).status, 200);

    // With both sessions busy (an open GET stream each), nothing can be evicted: 503.
    const streams = [];
    for (const sid of [b.sid, cSid]) {
      const ac = new AbortController();
      const res = await fetch(t.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid }, signal: ac.signal });
      assert.equal(res.status, 200);
      streams.push(ac);
    }
    const full = await post(t.url, initBody());
    assertRejected(full, 503, -32603, /too many sessions/);
    assert.equal(full.headers.get('mcp-session-id'), null);
    for (const ac of streams) ac.abort();
  } finally {
    await t.stop();
  }
});

// ---- Origin and Host ------------------------------------------------------------------

test('Origin: a foreign origin is 403; a loopback origin is accepted with CORS headers', async () => {
  const evil = await post(d.url, initBody(), { Origin: 'http://evil.example.com' });
  assertRejected(evil, 403, -32000, /Origin http:\/\/evil\.example\.com is not allowed/);
  assert.equal(evil.headers.get('mcp-session-id'), null);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  // Not configured: refused here too.
  assert.equal((await post(d.url, initBody(), { Origin: 'https://app.example.com' })).status, 403);
  const local = await post(d.url, initBody(), { Origin: 'http://localhost:1234' });
  assert.equal(local.status, 200, local.text);
  assert.equal(local.json.result.protocolVersion, '2025-11-25');
  assert.equal(local.headers.get('access-control-allow-origin'), 'http://localhost:1234');
  assert.match(local.headers.get('access-control-expose-headers'), /Mcp-Session-Id/i);
});

test('Host: a foreign Host is 421; localhost:PORT is accepted', async () => {
  const evil = await rawExchange(d.port, mcpPost(initBody(), { Host: 'evil.example.com', Connection: 'close' }));
  const [r] = parseResponses(evil.text);
  assert.equal(r.status, 421);
  const body = JSON.parse(r.body);
  assert.equal(body.error.code, -32000);
  assert.equal(body.id, null);
  assert.match(body.error.message, /Host evil\.example\.com is not allowed/);
  assert.equal(r.headers['mcp-session-id'], undefined);
  const ok = await rawExchange(d.port, mcpPost(initBody(), { Host: `localhost:${d.port}`, Connection: 'close' }));
  const [o] = parseResponses(ok.text);
  assert.equal(o.status, 200, ok.text);
  assert.equal(JSON.parse(o.body).result.protocolVersion, '2025-11-25');
  assert.match(o.headers['mcp-session-id'], /^[A-Za-z0-9_-]{32,102}$/);
});

test('allowed_origins and allowed_hosts: configured names are accepted, others still refused; OPTIONS preflight', async () => {
  const t = await startMcpd({
    plugins: ['hello'],
    config: { allowed_origins: ['https://app.example.com'], allowed_hosts: ['mcp.internal'] },
  });
  try {
    const app = await post(t.url, initBody(), { Origin: 'https://app.example.com' });
    assert.equal(app.status, 200, app.text);
    assert.equal(app.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.match(app.headers.get('vary') ?? '', /Origin/i);
    assert.equal((await post(t.url, initBody(), { Origin: 'http://evil.example.com' })).status, 403);

    const pre = await fetch(t.url, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example.com',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, mcp-session-id, mcp-protocol-version',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const methods = pre.headers.get('access-control-allow-methods').split(',').map((s) => s.trim());
    for (const m of ['GET', 'POST', 'DELETE']) assert.ok(methods.includes(m), `Allow-Methods lacks ${m}`);
    const allowed = pre.headers.get('access-control-allow-headers').toLowerCase().split(',').map((s) => s.trim());
    for (const h of ['content-type', 'mcp-session-id', 'mcp-protocol-version']) assert.ok(allowed.includes(h), `Allow-Headers lacks ${h}`);
    const preEvil = await fetch(t.url, { method: 'OPTIONS', headers: { Origin: 'http://evil.example.com' } });
    assert.equal(preEvil.status, 403);

    for (const host of ['mcp.internal', 'mcp.internal:8080']) {
      const x = await rawExchange(t.port, mcpPost(initBody(), { Host: host, Connection: 'close' }));
      assert.equal(parseResponses(x.text)[0].status, 200, `Host ${host}: ${x.text.split('\r\n')[0]}`);
    }
    const evil = await rawExchange(t.port, mcpPost(initBody(), { Host: 'evil.example.com', Connection: 'close' }));
    assert.equal(parseResponses(evil.text)[0].status, 421);
  } finally {
    await t.stop();
  }
});

test('OPTIONS preflight: a 204 carries no Content-Length (RFC 9110 8.6)', async () => {
  // "A server MUST NOT send a Content-Length header field in any response
  // with a status code of 1xx (Informational) or 204 (No Content)."
  const { text } = await rawExchange(d.port,
    `OPTIONS /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\nConnection: close\r\n\r\n`);
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  assert.match(head, /^HTTP\/1\.1 204 /);
  assert.match(head, /\r\nAccess-Control-Allow-Methods: /i);
  assert.doesNotMatch(head, /\r\nContent-Length:/i, `204 response head:\n${head}`);
  assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), '', '204 with a body');
});

// ---- protocol revisions ----------------------------------------------------------------

test('MCP-Protocol-Version: unsupported is 400; an older supported one and none are accepted', async () => {
  const { sid } = await initSession(d.url, '2025-11-25');
  assertRejected(await sPost(sid, rpc(1, 'ping'), { 'MCP-Protocol-Version': '1999-01-01' }), 400, -32000, /1999-01-01/);
  const old = await sPost(sid, rpc(2, 'ping'), { 'MCP-Protocol-Version': '2025-03-26' });
  assert.equal(old.status, 200);
  assert.deepEqual(old.json, { jsonrpc: '2.0', id: 2, result: {} });
  const same = await sPost(sid, rpc(3, 'ping'), { 'MCP-Protocol-Version': '2025-11-25' });
  assert.equal(same.status, 200);
  const none = await sPost(sid, rpc(4, 'ping'));
  assert.equal(none.status, 200);
  assert.equal(none.json.id, 4);
});

test('initialize echoes each supported revision, offers 2025-11-25 for an unknown one, needs protocolVersion', async () => {
  for (const v of ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']) {
    const r = await post(d.url, initBody(v));
    assert.equal(r.status, 200);
    assert.equal(r.json.result.protocolVersion, v);
    assert.equal(r.json.result.serverInfo.name, 'mcpd');
    assert.match(r.headers.get('mcp-session-id'), /^[A-Za-z0-9_-]{32,102}$/);
  }
  const unknown = await post(d.url, initBody('2099-01-01'));
  assert.equal(unknown.status, 200);
  assert.equal(unknown.json.result.protocolVersion, '2025-11-25');
  const missing = await post(d.url, initBody(null, 9));
  assert.equal(missing.json.id, 9);
  assert.equal(missing.json.error.code, -32602);
  assert.match(missing.json.error.message, /protocolVersion/);
  assert.equal(missing.headers.get('mcp-session-id'), null, 'a failed initialize created a session');
});

test('revision gating of tools/list: title, outputSchema and annotations', async () => {
  const list = async (v) => {
    const { sid } = await initSession(d.url, v);
    const r = await sPost(sid, rpc(1, 'tools/list'));
    assert.equal(r.status, 200);
    return Object.fromEntries(r.json.result.tools.map((t) => [t.name, t]));
  };
  const t0326 = await list('2025-03-26');
  assert.equal('title' in t0326.echo, false, '2025-03-26: title');
  assert.equal('outputSchema' in t0326.structured, false, '2025-03-26: outputSchema');
  assert.deepEqual(t0326.echo.annotations, { readOnlyHint: true });
  assert.ok(t0326.echo.inputSchema);
  const t1105 = await list('2024-11-05');
  assert.equal('annotations' in t1105.echo, false, '2024-11-05: annotations');
  assert.equal('title' in t1105.echo, false, '2024-11-05: title');
  assert.equal('outputSchema' in t1105.structured, false, '2024-11-05: outputSchema');
  const t0618 = await list('2025-06-18');
  assert.equal(t0618.echo.title, 'Echo');
  assert.deepEqual(t0618.echo.annotations, { readOnlyHint: true });
  assert.equal(t0618.structured.outputSchema.type, 'object');
  assert.ok(t0618.structured.outputSchema.properties.answer);
});

test('revision gating of tools/call: structuredContent only from 2025-06-18', async () => {
  const callStructured = async (v) => {
    const { sid } = await initSession(d.url, v);
    const r = await sPost(sid, rpc(1, 'tools/call', { name: 'structured', arguments: {} }));
    assert.equal(r.status, 200);
    return r.json.result;
  };
  const newer = await callStructured('2025-06-18');
  assert.deepEqual(newer.structuredContent, { answer: 42, unit: 'none' });
  assert.deepEqual(JSON.parse(newer.content[0].text), { answer: 42, unit: 'none' });
  const older = await callStructured('2025-03-26');
  assert.equal('structuredContent' in older, false);
  assert.equal(older.content[0].type, 'text');
  assert.deepEqual(JSON.parse(older.content[0].text), { answer: 42, unit: 'none' });
});

// ---- Accept and Content-Type -------------------------------------------------------------

test('Accept in either order works; Accept text/html is 406; Content-Type text/plain is 415', async () => {
  const { sid } = await initSession(d.url);
  const rev = await sPost(sid, rpc(1, 'ping'), { Accept: 'text/event-stream, application/json' });
  assert.equal(rev.status, 200);
  assert.deepEqual(rev.json, { jsonrpc: '2.0', id: 1, result: {} });
  assertRejected(await sPost(sid, rpc(2, 'ping'), { Accept: 'text/html' }), 406, -32000, /Not Acceptable/);
  const plain = await fetch(d.url, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain', Accept: ACCEPT, 'Mcp-Session-Id': sid },
    body: JSON.stringify(rpc(3, 'ping')),
  });
  assert.equal(plain.status, 415);
  const body = await plain.json();
  assert.equal(body.error.code, -32000);
  assert.match(body.error.message, /Unsupported Media Type/);
});

// ---- JSON-RPC ----------------------------------------------------------------------------

test('JSON-RPC: parse errors, invalid requests, unknown methods', async () => {
  const { sid } = await initSession(d.url);
  assertRejected(await sPost(sid, '{"jsonrpc": "2.0", "id": 1, "method": '), 400, -32700, /Parse error/);
  const v1 = await sPost(sid, { jsonrpc: '1.0', id: 1, method: 'ping' });
  assert.equal(v1.status, 400);
  assert.equal(v1.json.error.code, -32600);
  assert.match(v1.json.error.message, /"jsonrpc" must be "2.0"/);
  const unknown = await sPost(sid, rpc(2, 'tools/frobnicate'));
  assert.equal(unknown.status, 200);
  assert.equal(unknown.json.id, 2);
  assert.equal(unknown.json.error.code, -32601);
  assert.match(unknown.json.error.message, /tools\/frobnicate/);
});

test('JSON-RPC: notifications and client responses get 202 with an empty body', async () => {
  const { sid } = await initSession(d.url);
  const n = await sPost(sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
  assert.equal(n.status, 202);
  assert.equal(n.text, '');
  const unknownNote = await sPost(sid, { jsonrpc: '2.0', method: 'notifications/whatever', params: {} });
  assert.equal(unknownNote.status, 202);
  assert.equal(unknownNote.text, '');
  const resp = await sPost(sid, { jsonrpc: '2.0', id: 'srv-1', result: {} });
  assert.equal(resp.status, 202);
  assert.equal(resp.text, '');
  const errResp = await sPost(sid, { jsonrpc: '2.0', id: 5, error: { code: -1, message: 'no' } });
  assert.equal(errResp.status, 202);
});

test('JSON-RPC: the id is echoed with its type; array params are -32602; arguments may be omitted', async () => {
  const { sid } = await initSession(d.url);
  const s = await sPost(sid, rpc('7', 'ping'));
  assert.ok(s.text.includes('"id":"7"'), s.text);
  assert.equal(s.json.id, '7');
  const n = await sPost(sid, rpc(7, 'ping'));
  assert.ok(n.text.includes('"id":7'), n.text);
  assert.equal(n.json.id, 7);
  const arr = await sPost(sid, rpc(8, 'tools/list', ['x']));
  assert.equal(arr.status, 200);
  assert.equal(arr.json.id, 8);
  assert.equal(arr.json.error.code, -32602);
  const noArgs = await sPost(sid, rpc(9, 'tools/call', { name: 'no_args' }));
  assert.equal(noArgs.status, 200);
  assert.deepEqual(noArgs.json.result.content, [{ type: 'text', text: 'no arguments' }]);
});

// ---- batches ---------------------------------------------------------------------------------

test('batches are refused in a 2025-11-25 session', async () => {
  const { sid } = await initSession(d.url, '2025-11-25');
  assertRejected(await sPost(sid, [rpc(1, 'ping'), rpc(2, 'ping')]), 400, -32600, /2025-03-26/);
});

test('batches in a 2025-03-26 session', async () => {
  const { sid } = await initSession(d.url, '2025-03-26');
  const r = await sPost(sid, [
    rpc(1, 'ping'),
    rpc('two', 'tools/call', { name: 'echo', arguments: { text: 'in a batch' } }),
    { jsonrpc: '2.0', method: 'notifications/initialized' },
  ]);
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json), r.text);
  assert.equal(r.json.length, 2);
  const byId = new Map(r.json.map((m) => [m.id, m]));
  assert.deepEqual(byId.get(1).result, {});
  assert.equal(byId.get('two').result.content[0].text, 'in a batch');

  // An asynchronous call in a batch is waited for.
  const slow = await sPost(sid, [rpc('slow', 'tools/call', { name: 'sleep', arguments: { ms: 50 } }), rpc('fast', 'ping')]);
  assert.equal(slow.status, 200);
  const ids = slow.json.map((m) => m.id).sort();
  assert.deepEqual(ids, ['fast', 'slow']);
  assert.equal(slow.json.find((m) => m.id === 'slow').result.content[0].text, 'slept');

  const notes = await sPost(sid, [
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'nothing' } },
  ]);
  assert.equal(notes.status, 202);
  assert.equal(notes.text, '');

  assertRejected(await sPost(sid, []), 400, -32600, /empty batch/);

  const withInit = await sPost(sid, [initBody('2025-03-26', 'init'), rpc('p', 'ping')]);
  assert.equal(withInit.status, 200);
  assert.equal(withInit.json.length, 2);
  const initErr = withInit.json.find((m) => m.id === 'init');
  assert.equal(initErr.error.code, -32600);
  assert.equal('result' in initErr, false);
  assert.deepEqual(withInit.json.find((m) => m.id === 'p').result, {});
});

// ---- pagination --------------------------------------------------------------------------------

test('pagination: page_size 1 pages through every tool once; a bogus cursor is -32602', async () => {
  const t = await startMcpd({ plugins: ['hello', 'testkit'], config: { limits: { page_size: 1 } } });
  try {
    const { sid } = await initSession(t.url);
    const names = [];
    let cursor;
    for (let page = 0; page < 50; page++) {
      const r = await sPost(sid, rpc(page, 'tools/list', cursor === undefined ? {} : { cursor }), {}, t.url);
      assert.equal(r.status, 200);
      assert.equal(r.json.error, undefined, r.text);
      assert.ok(r.json.result.tools.length <= 1, `page ${page} has ${r.json.result.tools.length} tools`);
      names.push(...r.json.result.tools.map((x) => x.name));
      cursor = r.json.result.nextCursor;
      if (cursor === undefined) break;
      assert.equal(typeof cursor, 'string');
    }
    assert.equal(cursor, undefined, 'nextCursor never went away');
    assert.equal(new Set(names).size, names.length, `duplicates: ${names}`);
    assert.deepEqual([...names].sort(), [...ALL_TOOLS].sort());
    for (const bogus of ['nope', 'mcpd1:999', 42]) {
      const r = await sPost(sid, rpc('b', 'tools/list', { cursor: bogus }), {}, t.url);
      assert.equal(r.json.error?.code, -32602, `cursor ${JSON.stringify(bogus)}: ${r.text}`);
    }
  } finally {
    await t.stop();
  }
});

// ---- GET: the standalone stream ------------------------------------------------------------

test('GET /mcp: the session stream, 409 for a second, 406, a session-less GET is HTTP+SSE, keep-alives, DELETE ends it', async () => {
  const { sid } = await initSession(d.url);
  const ac = new AbortController();
  try {
    const res = await fetch(d.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid }, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const reader = res.body.getReader();
    const state = { text: '', done: false };

    const second = await fetch(d.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid } });
    assert.equal(second.status, 409);
    assert.equal((await second.json()).error.code, -32000);

    const notSse = await fetch(d.url, { headers: { Accept: 'application/json', 'Mcp-Session-Id': sid } });
    assert.equal(notSse.status, 406);
    await notSse.arrayBuffer();
    // Without a session, a GET that accepts SSE is a 2024-11-05 (HTTP+SSE)
    // client: it gets a session of its own and the endpoint to POST to.
    const legacy = await fetch(d.url, { headers: { Accept: 'text/event-stream' } });
    assert.equal(legacy.status, 200);
    const lr = legacy.body.getReader();
    const first = new TextDecoder().decode((await lr.read()).value);
    assert.match(first, /^event: endpoint\ndata: \/messages\?sessionId=[A-Za-z0-9_-]{32,102}\n\n/);
    await lr.cancel();

    // sse_keepalive_ms is 200: comments arrive while it is idle.
    await readUntil(reader, state, (x) => (x.match(/: keep-alive\n\n/g) ?? []).length >= 2, 'two keep-alive comments', 3000);
    assert.equal(state.done, false, 'the stream ended early');

    const dr = await del(sid);
    assert.equal(dr.status, 200);
    await readUntil(reader, state, () => state.done, 'the end of the stream', 3000);
    assert.equal(state.done, true);
    // A 2025-11-25 stream opens with a priming event (an id to resume from, a
    // retry hint, empty data); after it, only keep-alives.
    assert.match(state.text, /^id: \d+-0\nretry: \d+\ndata: \n\n/);
    const rest = state.text.replace(/^id: \d+-0\nretry: \d+\ndata: \n\n/, '').replace(/: keep-alive\n\n/g, '');
    assert.doesNotMatch(rest, /\S/, `unexpected stream content ${JSON.stringify(state.text)}`);
  } finally {
    ac.abort();
  }
});

// ---- progress over SSE ------------------------------------------------------------------------

test('progress: with a progressToken the call answers as an SSE stream of progress, then the result', async () => {
  const { sid } = await initSession(d.url);
  const r = await sPost(sid, rpc(42, 'tools/call', { name: 'count', arguments: { n: 3, delay_ms: 10 }, _meta: { progressToken: 'tok' } }));
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const msgs = sseMessages(r.text);
  const progress = msgs.filter((m) => m.method === 'notifications/progress');
  assert.equal(progress.length, 3, r.text);
  for (const p of progress) {
    assert.equal(p.jsonrpc, '2.0');
    assert.equal(p.params.progressToken, 'tok');
    assert.equal(p.params.total, 3);
  }
  const values = progress.map((p) => p.params.progress);
  for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `progress not increasing: ${values}`);
  const last = msgs[msgs.length - 1];
  assert.equal(last.id, 42);
  assert.deepEqual(last.result.content, [{ type: 'text', text: 'counted to 3' }]);
  assert.equal(msgs.length, 4);

  const plain = await sPost(sid, rpc(43, 'tools/call', { name: 'count', arguments: { n: 3, delay_ms: 10 } }));
  assert.equal(plain.status, 200);
  assert.match(plain.headers.get('content-type'), /^application\/json/);
  assert.equal(plain.json.id, 43);
  assert.deepEqual(plain.json.result.content, [{ type: 'text', text: 'counted to 3' }]);
});
