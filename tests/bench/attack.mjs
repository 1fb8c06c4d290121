// attack.mjs -- a victim's latency while other clients attack (issue 12).
// Not part of the pass/fail test suite: tests/bench/run.sh runs it after
// bench.mjs and appends its table to RESULTS.md; alone:
//
//   MCPD_BUILD_DIR=build-bench node tests/bench/attack.mjs
//
// One mcpd (Release, default limits, hello.so) on a loopback port. The
// victim, on 127.0.0.1, is this process: VICTIM_CALLERS sessions, each
// calling tools/call echo one call at a time on its own keep-alive
// connection, plus one caller that opens a new connection for every call
// (what a client that was locked out would see first). Attackers run as
// child processes of this script (`attack.mjs --attacker KIND PORT ADDR`),
// each bound to its own loopback source address (127.0.0.2, 127.0.0.3, ...),
// so that they do not share the victim's CPU time inside one Node.js loop.
// Each phase starts its attackers, lets them ramp up, measures the victim
// for ATTACK_SECONDS, stops them and waits until mcpd has closed their
// connections. The first phase has no attacker: the unattacked figure.
//
// Environment: ATTACK_SECONDS (8), ATTACK_RAMP_MS (2000), VICTIM_CALLERS (4),
// ATTACK_ONLY (a comma-separated list of phases), MCPD_BUILD_DIR
// (build-bench), BENCH_RESULTS (tests/bench/RESULTS.md; written only by
// run.sh, which sets ATTACK_APPEND=1).
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const self = fileURLToPath(import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ACCEPT = 'application/json, text/event-stream';

// ---- attackers (child processes) -----------------------------------------

function initBody(protocol) {
  return JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: protocol, capabilities: {}, clientInfo: { name: 'attacker', version: '1' } } });
}

// One POST on its own connection from addr; resolves to {status, headers, text}.
function post(port, addr, body, headers = {}, agent = false) {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', localAddress: addr, agent,
      headers: { Host: `127.0.0.1:${port}`, Accept: ACCEPT, 'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body), ...headers } }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c) => { text += c; });
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, text }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}

async function session(port, addr, protocol = '2025-11-25', agent = false) {
  const r = await post(port, addr, initBody(protocol), {}, agent);
  const sid = r.headers['mcp-session-id'];
  if (sid) await post(port, addr, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': protocol }, agent).catch(() => {});
  return sid;
}

// Keeps `count` raw sockets from addr open, each made by open(sock) and
// replaced when mcpd closes it: what a determined attacker does.
function holdSockets(port, addr, count, open) {
  let live = 0;
  const one = () => {
    live++;
    const s = net.connect({ host: '127.0.0.1', port, localAddress: addr });
    s.on('error', () => {});
    s.on('connect', () => open(s));
    s.on('close', () => { live--; setTimeout(one, 50); });
  };
  for (let i = 0; i < count; i++) one();
}

const attacks = {
  // Pipelined requests whose responses are never read (item 1).
  async pipeline(port, addr) {
    const req = `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`.repeat(64);
    holdSockets(port, addr, 4, (s) => {
      s.pause();
      const pump = () => { while (s.writable && s.write(req)); };
      s.on('drain', pump);
      pump();
    });
  },
  // Connections that send a header block one byte every few seconds, and
  // connections that send nothing (item 2): 300 of each kind per address.
  async slowloris(port, addr) {
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `;
    holdSockets(port, addr, 150, (s) => {
      s.write(head);
      const t = setInterval(() => s.writable && s.write('a'), 3000);
      s.on('close', () => clearInterval(t));
    });
    holdSockets(port, addr, 150, () => {});
  },
  // SSE streams opened and never read (item 2).
  async sse(port, addr) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    for (;;) {
      const sid = await session(port, addr, '2025-11-25', agent).catch(() => null);
      if (!sid) { await sleep(100); continue; }
      holdSockets(port, addr, 4, (s) => {
        s.pause();
        s.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n` +
          `Mcp-Session-Id: ${sid}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n`);
      });
      await sleep(200);
    }
  },
  // initialize as fast as it is answered, 16 at a time (item 3).
  async sessions(port, addr) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const loop = async () => { for (;;) await post(port, addr, initBody('2025-11-25'), {}, agent).catch(() => sleep(10)); };
    await Promise.all(Array.from({ length: 16 }, loop));
  },
  // Slow calls on the worker pool from many sessions (item 4): hello's
  // count does its waiting on a worker thread.
  async workers(port, addr) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const loop = async () => {
      for (;;) {
        const sid = await session(port, addr, '2025-11-25', agent).catch(() => null);
        if (!sid) { await sleep(100); continue; }
        const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call',
          params: { name: 'count', arguments: { n: 20, delay_ms: 250 } } });
        await post(port, addr, body, { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' }, agent).catch(() => {});
      }
    };
    await Promise.all(Array.from({ length: 16 }, loop));
  },
  // Full batches (2025-03-26 sessions) back to back, and oversized ones (item 4).
  async batch(port, addr) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const sid = await session(port, addr, '2025-03-26', agent);
    const calls = (n) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i + 1,
      method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(64) } } })));
    const full = calls(100);
    const huge = calls(20000);
    const h = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-03-26' };
    const loop = async (body) => { for (;;) await post(port, addr, body, h, agent).catch(() => sleep(10)); };
    await Promise.all([loop(full), loop(full), loop(full), loop(huge)]);
  },
  // Bodies as costly as the limits let them be: 4 MB of tiny values
  // (refused after limits.max_json_values), just under that many values,
  // and one 4 MB string.
  async bodies(port, addr) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const sid = await session(port, addr, '2025-11-25', agent);
    const call = (x) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b","x":${x}}}}`;
    const shapes = [
      call(`[${Array(2000000).fill('1').join(',')}]`),
      call(`[${Array(99990).fill('1').join(',')}]`),
      call(`"${'a'.repeat(4000000)}"`),
    ];
    const h = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
    const loop = async (i) => { for (let n = i; ; n++) await post(port, addr, shapes[n % 3], h, agent).catch(() => sleep(10)); };
    await Promise.all([0, 1, 2, 3].map(loop));
  },
  // A legitimate heavy user: echo calls as fast as they are answered.
  async flood(port, addr) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const sid = await session(port, addr, '2025-11-25', agent);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'flood' } } });
    const h = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
    const loop = async () => { for (;;) await post(port, addr, body, h, agent).catch(() => sleep(10)); };
    await Promise.all(Array.from({ length: 32 }, loop));
  },
};

if (process.argv[2] === '--attacker') {
  const [, , , kind, port, addr] = process.argv;
  process.on('SIGTERM', () => process.exit(0));
  await attacks[kind](Number(port), addr);
  await new Promise(() => {}); // holdSockets keeps going
}

// ---- the victim and the phases (the parent) --------------------------------

const num = (name, def) => (process.env[name] ? Number(process.env[name]) : def);
const cfg = {
  seconds: num('ATTACK_SECONDS', 8),
  ramp: num('ATTACK_RAMP_MS', 2000),
  callers: num('VICTIM_CALLERS', 4),
  buildDir: resolve(root, process.env.MCPD_BUILD_DIR ?? 'build-bench'),
  results: resolve(root, process.env.BENCH_RESULTS ?? 'tests/bench/RESULTS.md'),
};
const phases = [
  { name: 'none', what: 'no attacker (the unattacked figure)', attackers: [] },
  { name: 'pipeline', what: '3 addresses x 4 connections pipelining GET /metrics, never reading', attackers: ['pipeline', 'pipeline', 'pipeline'] },
  { name: 'slowloris', what: '4 addresses x 300 connections: half trickle a header byte every 3 s, half send nothing (1,200 > max_connections)', attackers: ['slowloris', 'slowloris', 'slowloris', 'slowloris'] },
  { name: 'sse', what: '2 addresses opening GET /mcp streams they never read, 4 per session, 5 sessions/s each', attackers: ['sse', 'sse'] },
  { name: 'sessions', what: '2 addresses x 16 connections sending initialize as fast as answered', attackers: ['sessions', 'sessions'] },
  { name: 'workers', what: '2 addresses x 16 sessions, each calling count (5 s on a worker) back to back', attackers: ['workers', 'workers'] },
  { name: 'batch', what: '1 address: 3 connections posting 100-call batches back to back, 1 posting 20,000-call batches (refused)', attackers: ['batch'] },
  { name: 'bodies', what: '1 address x 4 connections posting 4 MB bodies back to back: 2 million numbers, 99,990 numbers, one 4 MB string', attackers: ['bodies'] },
  { name: 'flood', what: '1 address x 32 connections calling echo as fast as answered', attackers: ['flood'] },
].filter((p) => !process.env.ATTACK_ONLY || p.name === 'none' || process.env.ATTACK_ONLY.split(',').includes(p.name));

const work = mkdtempSync(join(os.tmpdir(), 'mcpd-attack-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  rmSync(work, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));

async function startMcpd() {
  copyFileSync(join(cfg.buildDir, 'plugins', 'hello.so'), join(work, 'hello.so'));
  const proc = spawn(join(cfg.buildDir, 'mcpd'), ['--listen', '127.0.0.1:0', '--plugins', work],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  let log = '';
  proc.stderr.on('data', (b) => { log = (log + b).slice(-200000); });
  for (let i = 0; i < 200; i++) {
    const m = /event=listening address=127\.0\.0\.1:(\d+)/.exec(log);
    if (m) return { proc, port: Number(m[1]), log: () => log };
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`mcpd did not start:\n${log}`);
}

async function metrics(port) {
  return await new Promise((res, rej) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (r) => {
      let t = '';
      r.on('data', (c) => { t += c; });
      r.on('end', () => res(t));
    }).on('error', rej);
  });
}
const metric = (text, name) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// The victim: sequential echo calls, each checked; returns the latencies (ms)
// and the errors, by kind.
async function victim(port, seconds) {
  const lat = [];
  const fresh = [];
  const errors = {};
  const fail = (k) => { errors[k] = (errors[k] ?? 0) + 1; };
  const until = Date.now() + seconds * 1000;
  const one = async (sid, agent, into, n) => {
    const text = `victim ${n}`;
    const body = JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'echo', arguments: { text } } });
    const t0 = process.hrtime.bigint();
    try {
      const r = await post(port, '127.0.0.1', body, { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' }, agent);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 200) return fail(`HTTP ${r.status}`);
      const m = JSON.parse(r.text.startsWith('{') ? r.text : /data: (.*)/.exec(r.text)[1]);
      if (m.result?.content?.[0]?.text !== text) return fail('wrong answer');
      into.push(ms);
    } catch (e) {
      fail(e.code ?? e.message);
    }
  };
  const caller = async (i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sid = await session(port, '127.0.0.1', '2025-11-25', agent);
    for (let n = 1; Date.now() < until; n++) {
      await one(sid, agent, lat, n);
      await sleep(1 + (i % 3)); // a client that thinks between calls, not a flood
    }
    agent.destroy();
  };
  const freshCaller = async () => {
    const sid = await session(port, '127.0.0.1');
    for (let n = 1; Date.now() < until; n++) {
      await one(sid, false, fresh, n);
      await sleep(10);
    }
  };
  await Promise.all([...Array.from({ length: cfg.callers }, (_, i) => caller(i)), freshCaller()]);
  const sort = (a) => a.sort((x, y) => x - y);
  return { lat: sort(lat), fresh: sort(fresh), errors };
}

async function settle(port, base) {
  for (let i = 0; i < 300; i++) {
    const m = await metrics(port).catch(() => '');
    if (metric(m, 'mcpd_connections_open') <= base + 1) return;
    await sleep(100);
  }
}

const d = await startMcpd();
const base = metric(await metrics(d.port), 'mcpd_connections_open');
const rows = [];
for (const phase of phases) {
  process.stderr.write(`attack: ${phase.name}: ${phase.what}\n`);
  const kids = phase.attackers.map((kind, i) => {
    const c = spawn(process.execPath, [self, '--attacker', kind, String(d.port), `127.0.0.${i + 2}`],
      { stdio: ['ignore', 'ignore', 'inherit'] });
    children.add(c);
    return c;
  });
  if (kids.length) await sleep(cfg.ramp);
  const before = await metrics(d.port);
  const v = await victim(d.port, cfg.seconds);
  const during = await metrics(d.port);
  for (const c of kids) { c.kill('SIGKILL'); children.delete(c); }
  await settle(d.port, base);
  const f = (x) => (Number.isNaN(x) ? '—' : x < 10 ? x.toFixed(2) : x.toFixed(1));
  const errs = Object.entries(v.errors).map(([k, n]) => `${n} ${k}`).join(', ') || '0';
  const row = {
    phase: phase.name, what: phase.what, calls: v.lat.length + v.fresh.length,
    p50: f(percentile(v.lat, 50)), p99: f(percentile(v.lat, 99)), max: f(v.lat.at(-1) ?? NaN),
    fp99: f(percentile(v.fresh, 99)), errs,
    open: metric(during, 'mcpd_connections_open'),
    evicted: metric(during, 'mcpd_connections_evicted_total') - metric(before, 'mcpd_connections_evicted_total'),
    rss: (() => { try { return (Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))[1]) / 1024).toFixed(1); } catch { return '—'; } })(),
    p99n: percentile(v.lat, 99),
  };
  rows.push(row);
  process.stderr.write(`attack: ${phase.name}: victim p50 ${row.p50} ms, p99 ${row.p99} ms, max ${row.max} ms, ` +
    `new-connection p99 ${row.fp99} ms, errors ${row.errs}\n`);
}
d.proc.kill('SIGTERM');

const lines = [
  '',
  '## The victim under attack',
  '',
  `Written by \`tests/bench/attack.mjs\` (${new Date().toISOString().replace(/\.\d+Z/, 'Z')}). One mcpd (Release, default limits, hello.so). ` +
  `The victim on 127.0.0.1: ${cfg.callers} sessions calling \`tools/call echo\` one call at a time on keep-alive connections ` +
  `(1-3 ms between calls), and one caller opening a new connection per call (every 10 ms); every answer is checked. ` +
  `Attackers are separate processes on 127.0.0.2, 127.0.0.3, ...; each phase ramps up for ${cfg.ramp} ms, ` +
  `then the victim is measured for ${cfg.seconds} s. Everything shares the machine's ${os.cpus().length} cores.`,
  '',
  '| attack | victim calls | p50 ms | p99 ms | max ms | new-connection p99 ms | victim errors | connections open | evicted | mcpd RSS MB |',
  '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ...rows.map((r) => `| ${r.phase}: ${r.what} | ${r.calls.toLocaleString('en-US')} | ${r.p50} | ${r.p99} | ${r.max} | ${r.fp99} | ${r.errs} | ${r.open} | ${r.evicted} | ${r.rss} |`),
  '',
  ...rows.filter((r) => r.phase !== 'none').map((r) =>
    `- ${r.p99n < 50 && r.errs === '0' ? 'PASS' : 'FAIL'} victim echo p99 < 50 ms and no victim error under ${r.phase}: ${r.p99} ms, errors ${r.errs}`),
  '',
];
process.stdout.write(lines.join('\n'));
if (process.env.ATTACK_APPEND === '1') appendFileSync(cfg.results, lines.join('\n'));
process.exit(rows.some((r) => r.errs !== '0') ? 1 : 0);
