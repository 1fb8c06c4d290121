// fair_share.test.mjs -- one client cannot take the shared work away from the
// others: a session's blocking work (queue_work) holds at most a share of the
// worker pool, a JSON-RPC batch has a bounded number of messages, and a large
// batch runs a slice per loop turn, so a victim on 127.0.0.1 is served while
// an attacker on 127.0.0.2 floods (issue 12, item 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startMcpd, buildDir, makePluginsDir, mcpdBin } from './lib/mcpd.mjs';

const HOSTKIT = join(buildDir, 'tests/fixtures/host/hostkit.so');
const ACCEPT = 'application/json, text/event-stream';

// One request on a connection of its own from localAddress; resolves to
// {status, headers, text, json}. onResponse(res) sees a streaming response
// as it arrives (the promise then resolves when it ends).
function request(port, { method = 'POST', path = '/mcp', headers = {}, body, localAddress = '127.0.0.1', onResponse } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const h = { Host: `127.0.0.1:${port}`, Accept: ACCEPT, ...headers };
    if (data !== undefined) {
      h['Content-Type'] = 'application/json';
      h['Content-Length'] = Buffer.byteLength(data);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      if (onResponse) onResponse(res);
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

async function initialize(port, localAddress, protocolVersion = '2025-06-18') {
  const r = await request(port, {
    localAddress,
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'fair', version: '1' } } },
  });
  assert.equal(r.status, 200, r.text);
  const sid = r.headers['mcp-session-id'];
  await request(port, { localAddress, headers: { 'Mcp-Session-Id': sid }, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
  return sid;
}

const call = (id, name, args) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

async function metric(port, name) {
  const r = await request(port, { method: 'GET', path: '/metrics', headers: { Accept: 'text/plain' } });
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(r.text);
  return m ? Number(m[1]) : NaN;
}

test('queue_work: a session that fills the worker pool leaves a worker for another session', async () => {
  const d = await startMcpd({ plugins: ['hello', HOSTKIT], config: { worker_threads: 4 } });
  try {
    // The attacker queues 8 slow works: twice the pool.
    const attacker = await initialize(d.port, '127.0.0.2');
    const doneAt = [];
    const slow = [];
    for (let i = 0; i < 8; i++) {
      slow.push(request(d.port, {
        localAddress: '127.0.0.2', headers: { 'Mcp-Session-Id': attacker }, body: call(i + 1, 'work', { ms: 1500 }),
      }).then((r) => { doneAt.push(performance.now()); return r; }));
    }
    // Every one of them is a call in flight before the victim comes.
    for (let i = 0; i < 200 && (await metric(d.port, 'mcpd_calls_in_flight')) < 8; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(await metric(d.port, 'mcpd_calls_in_flight'), 8);

    const victim = await initialize(d.port, '127.0.0.1');
    const r = await request(d.port, { headers: { 'Mcp-Session-Id': victim }, body: call(1, 'work', { ms: 0 }) });
    const victimAt = performance.now();
    assert.equal(r.json?.result?.content?.[0]?.text, 'worked', r.text);
    assert.equal(doneAt.length, 0, "the victim's work waited for the attacker's");

    // The attacker's work all runs, a share at a time.
    const results = await Promise.all(slow);
    for (const x of results) assert.equal(x.json?.result?.content?.[0]?.text, 'worked', x.text);
    assert.ok(doneAt.every((t) => t > victimAt));
  } finally {
    await d.stop();
  }
});

test('queue_work: mcpd stops cleanly with a session\'s work still waiting for its share', async () => {
  const d = await startMcpd({
    plugins: [HOSTKIT],
    config: { worker_threads: 2, limits: { max_workers_per_session: 1 }, timeouts: { shutdown_ms: 100 } },
  });
  const sid = await initialize(d.port, '127.0.0.2');
  const calls = [];
  for (let i = 0; i < 4; i++)
    calls.push(request(d.port, { localAddress: '127.0.0.2', headers: { 'Mcp-Session-Id': sid }, body: call(i + 1, 'work', { ms: 60000 }) }).catch((e) => e));
  for (let i = 0; i < 200 && (await metric(d.port, 'mcpd_calls_in_flight')) < 4; i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(await metric(d.port, 'mcpd_calls_in_flight'), 4);
  const st = await d.stop(); // exit 0, no sanitizer report, no waiting for the minutes of work
  assert.equal(st.code, 0);
  await Promise.all(calls);
});

test('batches: more messages than limits.max_batch_messages is -32600; the limit itself is served', async () => {
  const d = await startMcpd({ plugins: ['hello'] });
  try {
    const sid = await initialize(d.port, '127.0.0.1', '2025-03-26');
    const pings = (n) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
    const over = await request(d.port, { headers: { 'Mcp-Session-Id': sid }, body: pings(101) });
    assert.equal(over.status, 400, over.text);
    assert.equal(over.json.error.code, -32600);
    assert.match(over.json.error.message, /more than 100 messages, the limit \(limits\.max_batch_messages\)/);
    const ok = await request(d.port, { headers: { 'Mcp-Session-Id': sid }, body: pings(100) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.length, 100);
    assert.deepEqual(ok.json.map((m) => m.id).sort((a, b) => a - b), pings(100).map((m) => m.id));
  } finally {
    await d.stop();
  }
});

// A body is parsed, built and freed in one turn of the loop: millions of
// tiny values would hold it for hundreds of milliseconds. Counting stops at
// the first value over limits.max_json_values, and so does the work.
test('a message of more than limits.max_json_values values is refused at once (413), on every transport', async () => {
  const d = await startMcpd({ plugins: ['hello'], config: { limits: { max_json_values: 1000 } } });
  try {
    const sid = await initialize(d.port, '127.0.0.1', '2025-11-25');
    const call = (n) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'v', x: Array(n).fill(1) } } });
    // 9 values besides the array's elements: 991 elements is exactly 1000.
    const ok = await request(d.port, { headers: { 'Mcp-Session-Id': sid }, body: call(991) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.result.content[0].text, 'v');
    const over = await request(d.port, { headers: { 'Mcp-Session-Id': sid }, body: call(992) });
    assert.equal(over.status, 413, over.text);
    assert.equal(over.json.error.code, -32600);
    assert.match(over.json.error.message, /more than 1000 JSON values, the limit \(limits\.max_json_values\)/);

    // The default bound: two million numbers are refused after 100,000,
    // and /healthz is not held up while that happens.
    const d2 = await startMcpd({ plugins: ['hello'] });
    try {
      const sid2 = await initialize(d2.port, '127.0.0.1', '2025-11-25');
      const big = JSON.stringify(call(2000000));
      const t0 = Date.now();
      const r = await request(d2.port, { headers: { 'Mcp-Session-Id': sid2 }, body: big });
      assert.equal(r.status, 413, r.text.slice(0, 300));
      assert.match(r.json.error.message, /more than 100000 JSON values/);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      await d2.stop();
    }

    // The 2024-11-05 transport: POST /messages answers 413 in plain text.
    const sse = await new Promise((res, rej) => {
      http.get({ host: '127.0.0.1', port: d.port, path: '/sse', headers: { Accept: 'text/event-stream' } }, (r) => {
        r.setEncoding('utf8');
        let t = '';
        r.on('data', (c) => {
          t += c;
          const m = /data: (\/messages\?[^\n]*)/.exec(t);
          if (m) res({ path: m[1].trim(), res: r });
        });
      }).on('error', rej);
    });
    const legacy = await request(d.port, { path: sse.path, body: call(992) });
    assert.equal(legacy.status, 413, legacy.text);
    assert.match(legacy.text, /more than 1000 JSON values/);
    sse.res.destroy();
  } finally {
    await d.stop();
  }
});

test('batches: a large batch runs across loop turns, and a victim is answered while it runs', async () => {
  const N = 20000;
  const d = await startMcpd({ plugins: ['hello', 'testkit'], config: { limits: { max_batch_messages: N, max_json_values: 1000000 } } });
  try {
    // The victim listens for the resource update the batch's first message makes.
    const victim = await initialize(d.port, '127.0.0.1');
    await request(d.port, { headers: { 'Mcp-Session-Id': victim }, body: { jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'testkit://counter' } } });
    let stream;
    const touched = new Promise((resolve) => {
      request(d.port, {
        method: 'GET', headers: { 'Mcp-Session-Id': victim, Accept: 'text/event-stream' },
        onResponse: (res) => {
          stream = res;
          let seen = '';
          res.on('data', (c) => { seen += c; if (seen.includes('notifications/resources/updated')) resolve(); });
        },
      }).catch(() => {});
    });
    await new Promise((r) => setTimeout(r, 100)); // the stream is open

    const attacker = await initialize(d.port, '127.0.0.2', '2025-03-26');
    const batch = [call(0, 'touch', { uri: 'testkit://counter' })];
    for (let i = 1; i < N; i++) batch.push(call(i, 'echo', { text: 'x' }));
    let batchAt;
    const flood = request(d.port, { localAddress: '127.0.0.2', headers: { 'Mcp-Session-Id': attacker }, body: batch })
      .then((r) => { batchAt = performance.now(); return r; });

    // The batch has begun: the victim asks for something now.
    await touched;
    const pong = await request(d.port, { headers: { 'Mcp-Session-Id': victim }, body: { jsonrpc: '2.0', id: 2, method: 'ping' } });
    const pongAt = performance.now();
    assert.deepEqual(pong.json?.result, {}, pong.text);
    const r = await flood;
    assert.equal(r.status, 200);
    assert.equal(r.json.length, N);
    assert.ok(r.json.every((m) => m.result !== undefined), 'every message of the batch was answered');
    assert.ok(batchAt > pongAt, 'the victim waited for the whole batch');
    stream?.destroy();
  } finally {
    await d.stop();
  }
});

// Runs mcpd --stdio with the plugins in dir and config (an object):
// send(text) writes text in one piece, wait(pred) resolves to the output
// lines (parsed) once pred(lines) holds, close() ends stdin and resolves to
// the exit code.
function stdioSession(dir, config) {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-fair-'));
  const file = join(work, 'mcpd.json');
  writeFileSync(file, JSON.stringify(config));
  const args = ['--stdio', '--plugins', dir, '--config', file];
  const proc = spawn(mcpdBin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set();
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (c) => { out += c; for (const w of waiters) w(); });
  proc.stderr.on('data', (c) => { err += c; });
  const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  const lines = () => out.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
  return {
    send: (text) => proc.stdin.write(text),
    lines,
    stderr: () => err,
    wait(pred, ms = 20000) {
      return new Promise((res, rej) => {
        const t = setTimeout(() => { waiters.delete(check); rej(new Error(`timed out; output:\n${out}\nlog:\n${err}`)); }, ms);
        const check = () => { if (pred(lines())) { clearTimeout(t); waiters.delete(check); res(lines()); } };
        waiters.add(check);
        check();
      });
    },
    async close() {
      proc.stdin.end();
      const code = await exited;
      rmSync(work, { recursive: true, force: true });
      assert.doesNotMatch(err, /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/);
      return code;
    },
  };
}

test('stdio: a batch over the limit is -32600, and a large one runs across loop turns', async () => {
  const dir = makePluginsDir(['hello', 'testkit']);
  const s = stdioSession(dir, { limits: { max_batch_messages: 1000, max_json_values: 5000 } });
  try {
    s.send(`${JSON.stringify({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'fair', version: '1' } } })}\n`);
    s.send(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    await s.wait((l) => l.some((m) => m.id === 'init'));

    const pings = (n, from = 0) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: from + i, method: 'ping' }));
    s.send(`${JSON.stringify(pings(1001))}\n`);
    let lines = await s.wait((l) => l.length >= 2);
    const over = lines[1];
    assert.equal(over.error?.code, -32600, JSON.stringify(over));
    assert.match(over.error.message, /more than 1000 messages, the limit \(limits\.max_batch_messages\)/);
    const many = { jsonrpc: '2.0', id: 'many', method: 'tools/call', params: { name: 'echo', arguments: { text: 'v', x: Array(5000).fill(1) } } };
    s.send(`${JSON.stringify(many)}\n`);
    lines = await s.wait((l) => l.length >= 3);
    assert.equal(lines[2].error?.code, -32600, JSON.stringify(lines[2]));
    assert.match(lines[2].error.message, /more than 5000 JSON values, the limit \(limits\.max_json_values\)/);

    // A call that completes through the queue, then a batch of 1000 in the
    // same write: the call's answer does not wait for the whole batch, and
    // the line after the batch is answered after it (order is kept).
    const before = { jsonrpc: '2.0', id: 'before', method: 'tools/call', params: { name: 'log', arguments: { n: 0 } } };
    const after = { jsonrpc: '2.0', id: 'after', method: 'ping' };
    s.send(`${JSON.stringify(before)}\n${JSON.stringify(pings(1000, 1000))}\n${JSON.stringify(after)}\n`);
    lines = await s.wait((l) => l.some((m) => m.id === 'after'));
    const at = (pred) => lines.findIndex(pred);
    const iBefore = at((m) => m.id === 'before');
    const iBatch = at((m) => Array.isArray(m));
    const iAfter = at((m) => m.id === 'after');
    assert.ok(iBefore > 0 && iBatch > 0 && iAfter > 0, JSON.stringify(lines));
    assert.equal(lines[iBatch].length, 1000);
    assert.ok(iBefore < iBatch, 'the queued completion waited for the whole batch');
    assert.ok(iBatch < iAfter, 'the line after the batch was answered before it');
    assert.equal(await s.close(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
