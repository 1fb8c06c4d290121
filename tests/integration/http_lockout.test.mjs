// http_lockout.test.mjs -- no client can lock the others out of the
// connection table (issue 12, item 2): per-address caps on connections
// (limits.max_connections_per_client) and SSE streams
// (limits.max_streams_per_client); a full server closes its oldest idle or
// header-waiting connection to admit a new one; a stream whose client reads
// nothing is closed after timeouts.sse_stall_ms; refusals are logged once per
// interval per address, with a count. Attackers use other loopback addresses
// (127.0.0.2 ...), the victim 127.0.0.1; every test bounds its traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { startMcpd } from './lib/mcpd.mjs';
import { post, initSession, parseResponses } from './lib/http.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A raw connection from localAddress that records what arrives and whether
// the server closed it.
function connectFrom(port, localAddress) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    const c = { sock, text: '', closed: false, write: (s) => sock.write(s) };
    sock.on('data', (b) => { c.text += b.toString('latin1'); });
    sock.on('close', () => { c.closed = true; });
    sock.on('error', () => {});
    sock.once('connect', () => resolve(c));
    sock.once('error', reject);
  });
}

// Polls pred() every 10 ms until it holds or ms pass; returns its last value.
async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  let v = await pred();
  while (!v && Date.now() < end) {
    await sleep(10);
    v = await pred();
  }
  return v;
}

async function echo(url, sid, text) {
  const r = await post(url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text } } },
    { 'Mcp-Session-Id': sid });
  return r.json?.result?.content?.[0]?.text;
}

const SLOW = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '; // a header block never finished

test('slowloris from four addresses: each keeps at most its share, and a victim still gets /healthz and a tool call', async () => {
  const d = await startMcpd({
    config: { limits: { max_connections: 64, max_connections_per_client: 16 }, timeouts: { header_ms: 60000 } },
  });
  const all = [];
  try {
    const attackers = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const held = {};
    // 24 each, one address after the other: 96 in all, for 64 slots.
    for (const addr of attackers) {
      held[addr] = [];
      for (let i = 0; i < 24; i++) {
        const c = await connectFrom(d.port, addr);
        c.write(SLOW);
        held[addr].push(c);
        all.push(c);
      }
    }
    // 32 of the 96 are closed, one way or another, before the table settles.
    const open = () => attackers.map((a) => held[a].filter((c) => !c.closed).length);
    await waitFor(() => all.filter((c) => c.closed).length >= 32, 5000);

    // The table is full of header-waiting connections: the victim gets in.
    const h = await fetch(`${d.base}/healthz`);
    assert.equal(h.status, 200, 'the victim gets /healthz while the table is full');
    await h.text();
    const { sid } = await initSession(d.url);
    assert.equal(await echo(d.url, sid, 'served'), 'served');

    // Each address beyond its 16 closed its own oldest: 8 of each went.
    assert.ok(open().every((n) => n <= 16), `open per attacker: ${open()}`);
    for (const a of attackers)
      assert.ok(held[a].every((c) => c.closed || c.text === ''), 'the open ones were never answered');
    assert.match(d.log(), /event=http_connection_evicted reason=max_connections_per_client/);
  } finally {
    for (const c of all) c.sock.destroy();
    await d.stop();
  }
});

test('a full server closes its oldest idle keep-alive connection to admit a new one', async () => {
  const d = await startMcpd({ config: { limits: { max_connections: 2 } } });
  const conns = [];
  try {
    for (const addr of ['127.0.0.2', '127.0.0.3']) {
      const c = await connectFrom(d.port, addr);
      conns.push(c);
      c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      assert.ok(await waitFor(() => c.text.includes('"status"'), 3000), 'served');
    }
    const r = await fetch(`${d.base}/healthz`, { headers: { Connection: 'close' } });
    assert.equal(r.status, 200, 'the newcomer is admitted');
    await r.text();
    assert.ok(await waitFor(() => conns[0].closed, 3000), 'the oldest idle connection was closed for it');
    assert.equal(conns[1].closed, false, 'the other one stays');
    assert.match(d.log(), /event=http_connection_evicted reason=max_connections client=127\.0\.0\.2/);
    const m = await (await fetch(`${d.base}/metrics`, { headers: { Connection: 'close' } })).text();
    assert.match(m, /^mcpd_connections_evicted_total [1-9]\d*$/m);
  } finally {
    for (const c of conns) c.sock.destroy();
    await d.stop();
  }
});

test('an address whose connections are all busy gets 429 beyond its share, logged once per interval with a count', async () => {
  const d = await startMcpd({ config: { limits: { max_connections_per_client: 4 }, timeouts: { request_ms: 60000 } } });
  const busy = [];
  try {
    // Four connections of 127.0.0.2, each half-way through a request body.
    for (let i = 0; i < 4; i++) {
      const c = await connectFrom(d.port, '127.0.0.2');
      c.write('POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n12345');
      busy.push(c);
    }
    await sleep(100);
    const started = Date.now();
    const N = 100;
    const statuses = {};
    for (let i = 0; i < N; i++) {
      const c = await connectFrom(d.port, '127.0.0.2');
      c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await waitFor(() => c.closed || c.text.includes('\r\n\r\n'), 3000);
      const s = parseResponses(c.text)[0]?.status ?? 'none';
      statuses[s] = (statuses[s] ?? 0) + 1;
      c.sock.destroy();
    }
    const elapsed = Date.now() - started;
    assert.deepEqual(statuses, { 429: N });
    assert.ok(busy.every((c) => !c.closed), 'the busy ones are left alone');
    // The victim is served.
    const h = await fetch(`${d.base}/healthz`);
    assert.equal(h.status, 200);
    await h.text();
    // One line per 5 s interval for the address, with the count.
    const lines = [...d.log().matchAll(/event=http_connection_rejected reason=max_connections_per_client client=127\.0\.0\.2 limit=4 refused=(\d+)/g)];
    assert.ok(lines.length >= 1 && lines.length <= 1 + Math.ceil(elapsed / 5000), `${lines.length} lines in ${elapsed} ms`);
    assert.ok(lines.reduce((n, m) => n + Number(m[1]), 0) <= N);
    const m = await (await fetch(`${d.base}/metrics`)).text();
    assert.match(m, new RegExp(`mcpd_connections_rejected_total ${N}\\b`));
  } finally {
    for (const c of busy) c.sock.destroy();
    await d.stop();
  }
});

// GET /sse from localAddress on a raw socket: resolves once the endpoint
// event (or a refusal) has arrived.
async function legacyStream(port, localAddress) {
  const c = await connectFrom(port, localAddress);
  c.write('GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
  await waitFor(() => /data: \/messages\?sessionId=[A-Za-z0-9_-]{32,102}\n\n/.test(c.text) ||
    (/^HTTP\/1\.1 [45]/.test(c.text) && /\r\n\r\n[^]*\n$/.test(c.text)), 3000);
  c.status = Number(c.text.split(' ')[1]);
  c.endpoint = /data: (\/messages\?sessionId=[A-Za-z0-9_-]{32,102})\n\n/.exec(c.text)?.[1];
  return c;
}

function getStream(port, localAddress, sid) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'GET', localAddress, agent: false,
      headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid } }, (res) => resolve({ req, res }));
    req.on('error', reject);
    req.end();
  });
}

test('SSE streams: an address beyond max_streams_per_client gets 429 (HTTP+SSE and Streamable HTTP); others are unaffected', async () => {
  const d = await startMcpd({ config: { limits: { max_streams_per_client: 3 } } });
  const open = [];
  try {
    const got = [];
    for (let i = 0; i < 5; i++) {
      const c = await legacyStream(d.port, '127.0.0.2');
      open.push(c);
      got.push(c.status);
    }
    assert.deepEqual(got, [200, 200, 200, 429, 429]);
    assert.match(open[3].text, /Retry-After: \d+/);
    // A Streamable HTTP GET stream of the same address is refused too.
    const { sid } = await initSession(d.url);
    const g = await getStream(d.port, '127.0.0.2', sid);
    assert.equal(g.res.statusCode, 429);
    g.res.resume();
    const m = await (await fetch(`${d.base}/metrics`)).text();
    assert.match(m, /^mcpd_sse_streams_refused_total 3$/m, 'two HTTP+SSE streams and one GET stream refused');
    // Another address, and the victim, are served.
    const other = await legacyStream(d.port, '127.0.0.3');
    open.push(other);
    assert.equal(other.status, 200);
    const v = await getStream(d.port, '127.0.0.1', sid);
    assert.equal(v.res.statusCode, 200);
    v.req.destroy();
    // Once one of 127.0.0.2's streams ends, it may open another.
    open[0].sock.destroy();
    const again = await waitFor(async () => {
      const c = await legacyStream(d.port, '127.0.0.2');
      open.push(c);
      return c.status === 200;
    }, 3000);
    assert.ok(again, 'a slot freed by a closed stream is usable again');
    const lines = d.log().match(/event=http_stream_refused reason=max_streams_per_client client=127\.0\.0\.2/g) ?? [];
    assert.equal(lines.length, 1, 'refusals are logged once per interval');
  } finally {
    for (const c of open) c.sock.destroy();
    await d.stop();
  }
});

test('an SSE stream whose client reads nothing is closed after sse_stall_ms; its session goes, the victim stays', async () => {
  // A queue bound far above what is sent, so only the stall limit applies.
  const d = await startMcpd({
    plugins: ['hello', 'testkit'],
    config: { limits: { max_write_queue_bytes: 67108864 }, timeouts: { sse_stall_ms: 1000 } },
  });
  let a;
  try {
    a = await legacyStream(d.port, '127.0.0.3');
    assert.equal(a.status, 200);
    a.sock.pause(); // from here on it reads nothing
    const send = (body) => fetch(`${d.base}${a.endpoint}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await send({ jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'stall', version: '1' } } })).status, 202);
    await send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // 8 MB on the stream: more than the kernel buffers of a loopback
    // connection, so mcpd's own queue stays non-empty.
    assert.equal((await send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'big', arguments: { bytes: 8000000 } } })).status, 202);

    // The stream is closed, and with it the 2024-11-05 session.
    const gone = await waitFor(async () => (await send({ jsonrpc: '2.0', id: 2, method: 'ping' })).status === 404, 15000);
    assert.ok(gone, 'the session of the stream that was never read is still there');
    assert.match(d.log(), /event=sse_stalled session=[A-Za-z0-9_-]{32,102} stream=\d+ unread_ms=\d+/);
    // Its client, reading at last, gets what was buffered, then the end.
    a.sock.resume();
    assert.ok(await waitFor(() => a.closed, 10000), 'the connection was closed');
    assert.ok(a.text.length < 8000000, `the response was cut (${a.text.length} bytes arrived)`);
    // The victim is served.
    const { sid } = await initSession(d.url);
    assert.equal(await echo(d.url, sid, 'after'), 'after');
  } finally {
    a?.sock.destroy();
    await d.stop();
  }
});
