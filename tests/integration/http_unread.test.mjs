// http_unread.test.mjs -- a client that asks and never reads cannot make
// mcpd queue without end (issue 12, item 1). Attackers on other loopback
// addresses (127.0.0.2 ...) pipeline a bounded number of GET /metrics and
// never read; mcpd stops reading each of them once its unread output passes
// limits.max_unread_bytes, and closes it when nothing has drained for
// timeouts.send_ms. Meanwhile a victim on 127.0.0.1 is served, and mcpd's
// resident memory (/proc/<pid>/status) stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startMcpd } from './lib/mcpd.mjs';
import { post, initSession } from './lib/http.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

// Connects from localAddress and writes `count` pipelined GET /metrics
// without ever reading. Resolves to the socket once connected; `closed`
// resolves when the server has closed it.
function pipeliner(port, localAddress, count) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    const a = { sock, isClosed: false };
    a.closed = new Promise((res) => sock.on('close', () => { a.isClosed = true; res(); }));
    sock.on('error', () => {}); // EPIPE / ECONNRESET once the server closes it
    sock.on('connect', () => {
      sock.pause(); // never read: what mcpd writes stays in the socket buffers
      sock.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(count));
      resolve(a);
    });
    sock.once('error', reject);
  });
}

async function echo(url, sid, text) {
  const r = await post(url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text } } },
    { 'Mcp-Session-Id': sid });
  return r.json?.result?.content?.[0]?.text;
}

test('pipelining GET /metrics without reading: mcpd stops reading, stays small, closes them after send_ms; a victim is served', async (t) => {
  // Default limits (max_unread_bytes 1 MiB); a short send_ms so the test ends.
  // Under AddressSanitizer, freed memory waits in a quarantine (256 MB by
  // default) that would count as growth: keep it small here.
  const d = await startMcpd({
    config: { timeouts: { send_ms: 1500 } },
    env: { ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:quarantine_size_mb=1' },
  });
  const attackers = [];
  try {
    const { sid } = await initSession(d.url);
    assert.equal(await echo(d.url, sid, 'warm'), 'warm');
    await (await fetch(`${d.base}/metrics`)).text();
    const base = rssKiB(d.proc.pid);
    const conns0 = (await (await fetch(`${d.base}/healthz`)).json()).connections;

    // Each /metrics answer is about 3.5 kB: 10,000 of them are 35 MB per
    // attacker if mcpd queues them all.
    const PER_ATTACKER = 10000;
    for (const addr of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'])
      attackers.push(await pipeliner(d.port, addr, PER_ATTACKER));

    // Until mcpd holds none of their connections (or 30 s passed): sample
    // its memory, and the victim asks /healthz and calls a tool each round.
    let peak = base;
    let rounds = 0;
    let conns = Infinity;
    const deadline = Date.now() + 30000;
    while (conns > conns0 && Date.now() < deadline) {
      peak = Math.max(peak, rssKiB(d.proc.pid));
      const h = await fetch(`${d.base}/healthz`);
      assert.equal(h.status, 200, 'the victim gets /healthz while attacked');
      conns = (await h.json()).connections;
      assert.equal(await echo(d.url, sid, `round ${rounds}`), `round ${rounds}`);
      rounds++;
      await sleep(100);
    }
    peak = Math.max(peak, rssKiB(d.proc.pid));
    const grew = (peak - base) / 1024;
    t.diagnostic(`RSS ${(base / 1024).toFixed(1)} MB before, peak ${(peak / 1024).toFixed(1)} MB under attack; victim rounds ${rounds}`);
    assert.ok(rounds > 0, 'the victim was served while attacked');
    assert.ok(grew < 40, `mcpd grew by ${grew.toFixed(1)} MB under the attack (from ${(base / 1024).toFixed(1)} MB)`);
    // The attackers read at last: what reached them, then the end.
    for (const a of attackers) a.sock.resume();
    let timer;
    await Promise.race([Promise.all(attackers.map((a) => a.closed)),
      new Promise((r) => { timer = setTimeout(r, 10000); })]);
    clearTimeout(timer);
    for (const [i, a] of attackers.entries())
      assert.equal(a.isClosed, true, `attacker ${i + 2}: mcpd closed the connection it could not write to`);
    assert.match(d.log(), /event=http_slow_client reason=send_ms/);
    const lines = d.log().match(/event=http_slow_client/g).length;
    assert.ok(lines <= 2, `${lines} http_slow_client lines for 4 connections: once per interval, with a count`);
    // Still served after.
    assert.equal(await echo(d.url, sid, 'after'), 'after');
  } finally {
    for (const a of attackers) a.sock.destroy();
    await d.stop();
  }
});

test('a client that pipelines many requests and reads slowly gets every answer, in order', async () => {
  // A small bound, so that the connection is paused and resumed many times.
  const d = await startMcpd({ config: { limits: { max_unread_bytes: 4096 } } });
  try {
    const N = 2000;
    let req = '';
    for (let i = 0; i < N; i++) req += `GET /metrics?i=${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    req += 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
    const text = await new Promise((resolve, reject) => {
      const sock = net.connect(d.port, '127.0.0.1');
      const chunks = [];
      let reads = 0;
      sock.on('data', (b) => {
        chunks.push(b);
        // Slow reader: a pause now and then.
        if (++reads % 20 === 0) { sock.pause(); setTimeout(() => sock.resume(), 5); }
      });
      sock.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      sock.on('error', reject);
      sock.on('connect', () => sock.write(req));
      setTimeout(() => { sock.destroy(); reject(new Error('no end within 60 s')); }, 60000).unref();
    });
    const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
    assert.equal(statuses.length, N + 1);
    assert.ok(statuses.every((s) => s === 200), 'every answer is 200');
    assert.match(text.slice(text.lastIndexOf('HTTP/1.1 ')), /"status": *"ok"/, 'the last answer is the /healthz asked last');
  } finally {
    await d.stop();
  }
});
