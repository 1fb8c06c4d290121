// session_flood.test.mjs -- one client flooding initialize cannot evict the
// sessions of the others (issue 12, item 3). Attackers on other loopback
// addresses (127.0.0.2 ...) send a bounded number of initializes over
// keep-alive connections while a victim on 127.0.0.1 holds an idle session;
// the victim's session still answers afterwards, each attacker holds at most
// limits.max_sessions_per_client sessions, and a newcomer still gets in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMcpd } from './lib/mcpd.mjs';
import { post, initSession } from './lib/http.mjs';

const INIT = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'flood', version: '1' } },
});

// Sends n initializes from localAddress over `conns` keep-alive connections;
// resolves to a count of the statuses answered.
async function flood(port, localAddress, n, conns = 8) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns, localAddress });
  const statuses = {};
  let sent = 0;
  const one = () => new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/mcp', method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Content-Length': Buffer.byteLength(INIT) },
    }, (res) => {
      res.resume();
      res.on('end', () => { statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1; resolve(); });
    });
    req.on('error', reject);
    req.end(INIT);
  });
  await Promise.all(Array.from({ length: conns }, async () => {
    while (sent < n) {
      sent++;
      await one();
    }
  }));
  agent.destroy();
  return statuses;
}

async function echo(url, sid, text) {
  return await post(url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text } } },
    { 'Mcp-Session-Id': sid });
}

test('an initialize flood from other addresses leaves an idle victim session alone', async () => {
  // A small table, so that the flood fills it many times over: four
  // attackers at their cap (4 x 40) are more than max_sessions (100).
  const d = await startMcpd({ config: { limits: { max_sessions: 100, max_sessions_per_client: 40 } } });
  try {
    const { sid } = await initSession(d.url);
    let r = await echo(d.url, sid, 'before');
    assert.equal(r.json?.result?.content?.[0]?.text, 'before');

    const attackers = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const results = await Promise.all(attackers.map((a) => flood(d.port, a, 500)));
    for (const [i, st] of results.entries())
      assert.deepEqual(st, { 200: 500 }, `attacker ${attackers[i]}: each initialize evicts its own oldest session`);

    r = await echo(d.url, sid, 'after');
    assert.equal(r.status, 200, `the victim's session was evicted: ${r.text}`);
    assert.equal(r.json?.result?.content?.[0]?.text, 'after');

    const h = await (await fetch(`${d.base}/healthz`)).json();
    assert.ok(h.sessions <= 100, `${h.sessions} sessions`);
    // A newcomer gets in too, and the victim is still there after it.
    const late = await initSession(d.url);
    assert.equal((await echo(d.url, late.sid, 'late')).json?.result?.content?.[0]?.text, 'late');
    assert.equal((await echo(d.url, sid, 'still')).json?.result?.content?.[0]?.text, 'still');
    assert.match(d.log(), /event=session_evicted/);
  } finally {
    await d.stop();
  }
});

test('an address at its cap whose sessions are all busy gets 429, and one line says so', async () => {
  const d = await startMcpd({ plugins: ['testkit'], config: { limits: { max_sessions: 100, max_sessions_per_client: 2 } } });
  const agent = new http.Agent({ keepAlive: false, localAddress: '127.0.0.2' });
  const streams = [];
  try {
    // Two sessions of 127.0.0.2, each held by an open GET stream.
    for (let i = 0; i < 2; i++) {
      const { sid } = await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: d.port, path: '/mcp', method: 'POST', agent,
          headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ sid: res.headers['mcp-session-id'] }));
        });
        req.on('error', reject);
        req.end(INIT);
      });
      assert.ok(sid);
      await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: d.port, path: '/mcp', method: 'GET', agent,
          headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid } }, (res) => {
          assert.equal(res.statusCode, 200);
          streams.push(req);
          resolve();
        });
        req.on('error', (e) => { if (streams.includes(req)) return; reject(e); });
        req.end();
      });
    }
    const statuses = await flood(d.port, '127.0.0.2', 20, 2);
    assert.deepEqual(statuses, { 429: 20 });
    assert.equal((d.log().match(/event=session_refused reason=max_sessions_per_client client=127\.0\.0\.2/g) ?? []).length, 1,
      'refusals are logged at most once a second');
    // Everybody else is still served.
    const { sid } = await initSession(d.url);
    assert.ok(sid);
  } finally {
    for (const s of streams) s.destroy();
    await d.stop();
  }
});
