// soak.mjs -- mixed load against one real mcpd for SOAK_SECONDS (default 60),
// then four verdicts:
//   1. mcpd's RSS is flat after the warm-up (growth under 5 %);
//   2. every call that was answered was answered right;
//   3. mcpd logged no warning or error the soak did not cause on purpose, and
//      no client saw an error it did not cause on purpose;
//   4. mcpd still answers /healthz, reaps every session once the load stops,
//      keeps no retired plugin version, and stops on SIGTERM with exit 0 and
//      no sanitizer report.
//
//   cd tests && SOAK_SECONDS=1800 node soak/soak.mjs
//
// The load, all at once: echo callers (raw HTTP with keep-alive, one of them
// from 127.0.0.2, and official SDK clients); count callers whose answers
// stream as SSE, some dropping the stream mid-call and resuming it with
// Last-Event-ID; standalone GET streams that must hear list_changed after
// reloads that change the tool list and only then; SIGHUP every 3-5 s that
// adds or removes testkit.so or re-copies hello.so byte for byte; an
// http_backend tool in front of a backend process that is SIGKILLed every
// 10-15 s; and clients that vanish mid-call or abandon their sessions.
// MCPD_BUILD_DIR picks the build (as for the integration tests).
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { copyFileSync, renameSync, unlinkSync, readFileSync, writeFileSync, rmSync, mkdtempSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { makePluginsDir, pluginPath, buildDir, mcpdBin } from '../integration/lib/mcpd.mjs';
import { itemFor } from './backend.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const WARMUP_MS = Math.min((SECONDS * 1000) / 3, 5 * 60 * 1000);
const RSS_LIMIT = 0.05;
// Sanitizer runtimes keep quarantines and shadow memory that grow on their own.
const SANITIZED = /asan|tsan/i.test(basename(buildDir));
const SESSION_IDLE_MS = 3000;
const SSE_RESUME_MS = 4000;
const BACKEND_GRACE_MS = 1500; // a call this close to the backend's death or rebirth may fail
const ACCEPT = 'application/json, text/event-stream';
const PROTOCOLS = ['2025-11-25', '2025-06-18', '2025-03-26'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const randInt = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const started = Date.now();
const clock = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

// ---------------------------------------------------------------- bookkeeping

// Problems by kind (digits ignored): the first occurrence and how often.
const failures = new Map();
let failureCount = 0;
const stats = {
  answered: {}, resumptions: 0, reloads: { testkit_added: 0, testkit_removed: 0, hello_recopied: 0 },
  listChangedHeard: 0, backendRestarts: 0, backendErrorsExcused: 0, vanished: {}, sessions: { opened: 0, deleted: 0, abandoned: 0 },
};
function fail(kind, detail) {
  failureCount++;
  const key = kind.replace(/\d+/g, 'N');
  const seen = failures.get(key);
  if (seen) seen.n++;
  else if (failures.size < 1000) failures.set(key, { n: 1, first: `${clock()} ${kind}${detail === undefined ? '' : `: ${detail}`}` });
}
const answered = (kind) => { stats.answered[kind] = (stats.answered[kind] ?? 0) + 1; };
const vanished = (how) => { stats.vanished[how] = (stats.vanished[how] ?? 0) + 1; };
let running = true;

// Sleeps ms, or less if the soak is ending.
async function nap(ms) {
  const until = Date.now() + ms;
  while (running && Date.now() < until) await sleep(Math.min(200, until - Date.now()));
}

// Texts that make JSON (and URLs) work: quotes, backslashes, controls, every
// UTF-8 length; one in twenty is long, unless told otherwise.
const PIECES = ['a', 'Z', '7', ' ', '"', '\\', '/', '\n', '\t', '\u0001', '\u001f', 'é', 'ж', '中', '🙂', '<', '&', '+', '%', '=', "'", '?', '#'];
function randomText(max = 64, long = true) {
  const n = long && Math.random() < 0.05 ? randInt(1000, 4000) : randInt(0, max);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(PIECES);
  return s;
}

// --------------------------------------------------------------- HTTP client

// Splits an SSE byte stream into events {id, event, retry, data}.
class SseParser {
  constructor(onEvent) { this.rest = ''; this.onEvent = onEvent; }
  feed(text) {
    this.rest += text;
    for (let i; (i = this.rest.indexOf('\n\n')) >= 0;) {
      const block = this.rest.slice(0, i);
      this.rest = this.rest.slice(i + 2);
      const ev = {};
      let any = false;
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue; // keep-alive comments
        any = true;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'data') ev.data = ev.data === undefined ? value : `${ev.data}\n${value}`;
        else if (field === 'id' || field === 'event') ev[field] = value;
        else if (field === 'retry') ev.retry = Number(value);
      }
      if (any) this.onEvent(ev);
    }
  }
}

let mcpdPort;
const children = new Set(); // mcpd and the backend, killed if the soak dies

// One HTTP exchange with mcpd. Resolves to {status, headers, text, events,
// dropped}. onEvent(ev) sees SSE events as they come; ctl.drop() ends the
// exchange on purpose by destroying its socket (a client that vanishes), so
// the errors that follow are not failures. timeoutMs 0: no deadline.
function exchange({ method = 'POST', path = '/mcp', headers = {}, body, agent, localAddress, onEvent, onResponse, keepEvents = true, timeoutMs = 20000, ctl = {} }) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const out = { status: 0, headers: {}, text: '', events: [], dropped: false, sse: false };
    let settled = false;
    const settle = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err); else resolve(out);
    };
    const req = http.request({
      host: '127.0.0.1', port: mcpdPort, path, method, agent, localAddress,
      headers: {
        Accept: ACCEPT,
        ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
        ...headers,
      },
    });
    ctl.drop = () => { out.dropped = true; req.destroy(); settle(); };
    const timer = timeoutMs ? setTimeout(() => { req.destroy(); settle(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)); }, timeoutMs) : undefined;
    req.on('error', (e) => { if (!out.dropped) settle(new Error(`${method} ${path}: ${e.code ?? ''} ${e.message}`)); });
    req.on('response', (res) => {
      out.status = res.statusCode;
      out.headers = res.headers;
      out.sse = /^text\/event-stream/.test(res.headers['content-type'] ?? '');
      onResponse?.(out);
      const parser = out.sse ? new SseParser((ev) => {
        if (out.dropped) return;
        if (keepEvents) out.events.push(ev);
        onEvent?.(ev, ctl.drop);
      }) : undefined;
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (out.dropped) return;
        if (parser) parser.feed(chunk); else out.text += chunk;
      });
      res.on('end', () => settle());
      res.on('close', () => { if (!res.complete && !out.dropped) settle(new Error(`${method} ${path}: connection closed mid-response`)); });
      res.on('error', () => {}); // reported by 'close'
    });
    req.end(payload);
  });
}

// The JSON-RPC messages of a response, whether JSON or SSE.
function messagesOf(r) {
  if (!r.sse) return r.text ? [JSON.parse(r.text)] : [];
  return r.events.filter((e) => e.data).map((e) => JSON.parse(e.data));
}

// A session driven by hand: its own keep-alive connections, optionally from
// another loopback address.
class Session {
  constructor({ protocol = '2025-11-25', localAddress } = {}) {
    this.protocol = protocol;
    this.localAddress = localAddress;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.nextId = 1;
  }

  headers(extra = {}) {
    return { 'Mcp-Session-Id': this.sid, 'MCP-Protocol-Version': this.protocol, ...extra };
  }

  send(opts) { return exchange({ agent: this.agent, localAddress: this.localAddress, ...opts }); }

  async open() {
    const r = await this.send({ body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: {
      protocolVersion: this.protocol, capabilities: {}, clientInfo: { name: 'soak', version: '1' } } } });
    this.sid = r.headers['mcp-session-id'];
    if (r.status !== 200 || !this.sid) throw new Error(`initialize: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    const init = messagesOf(r)[0];
    if (init?.result?.protocolVersion !== this.protocol) throw new Error(`initialize answered ${r.text.slice(0, 200)}`);
    const n = await this.send({ headers: this.headers(), body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    if (n.status !== 202) throw new Error(`notifications/initialized: HTTP ${n.status} ${n.text.slice(0, 200)}`);
    stats.sessions.opened++;
    return this;
  }

  // Sends a request; returns {r, id, result}, result undefined (and a failure
  // recorded) when the answer is not a 200 with a JSON-RPC result.
  async request(what, method, params, { headers, ...opts } = {}) {
    const id = this.nextId++;
    const r = await this.send({ ...opts, headers: this.headers(headers), body: { jsonrpc: '2.0', id, method, params } });
    if (r.dropped) return { r, id };
    if (r.status !== 200) { fail(`${what}: HTTP ${r.status}`, r.text.slice(0, 300)); return { r, id }; }
    const msg = messagesOf(r).find((m) => m.id === id);
    if (!msg) fail(`${what}: no response with the request's id`, JSON.stringify(messagesOf(r)).slice(0, 300));
    else if (msg.error) fail(`${what}: JSON-RPC error ${msg.error.code}`, JSON.stringify(msg.error).slice(0, 300));
    return { r, id, result: msg?.result };
  }

  async close() {
    const r = await this.send({ method: 'DELETE', headers: this.headers() });
    if (r.status !== 200) fail(`DELETE session: HTTP ${r.status}`, r.text.slice(0, 200));
    this.agent.destroy();
    stats.sessions.deleted++;
  }

  abandon() { this.agent.destroy(); stats.sessions.abandoned++; }
}

// ------------------------------------------------------------------ checks

function checkText(what, result, expected) {
  const ok = result && result.isError !== true && Array.isArray(result.content) && result.content.length === 1
    && result.content[0].type === 'text' && result.content[0].text === expected;
  if (!ok) fail(`${what}: wrong result`, `expected ${JSON.stringify(expected).slice(0, 200)}, got ${JSON.stringify(result).slice(0, 300)}`);
  return ok;
}

// A count call's SSE events, resumed or not: ids in one stream, strictly
// increasing; progress 1..n exactly once each; the result last.
function checkCount(what, events, id, n, token) {
  const data = events.filter((e) => e.data);
  const ids = data.map((e) => /^(\d+)-(\d+)$/.exec(e.id ?? ''));
  if (ids.some((m) => !m) || new Set(ids.map((m) => m[1])).size !== 1
      || ids.some((m, i) => i > 0 && Number(m[2]) <= Number(ids[i - 1][2])))
    return fail(`${what}: event ids not in one stream and increasing`, JSON.stringify(data.map((e) => e.id)));
  const msgs = data.map((e) => JSON.parse(e.data));
  const progress = msgs.filter((m) => m.method === 'notifications/progress');
  const seen = progress.map((m) => m.params.progress);
  const want = Array.from({ length: n }, (_, i) => i + 1);
  if (!isDeepStrictEqual(seen, want) || progress.some((m) => m.params.progressToken !== token || m.params.total !== n))
    return fail(`${what}: progress lost, repeated or wrong`, `${JSON.stringify(progress.map((m) => m.params))}, expected 1..${n} for ${token}`);
  const last = msgs[msgs.length - 1];
  if (last?.id !== id || msgs.length !== n + 1) return fail(`${what}: the result is not the one last message`, JSON.stringify(msgs).slice(0, 400));
  if (last.error) return fail(`${what}: JSON-RPC error ${last.error.code}`, JSON.stringify(last.error));
  if (checkText(what, last.result, `counted to ${n}`)) answered(what);
  return undefined;
}

// -------------------------------------------------------------- the backend

// The backend process, killed and restarted on purpose. Calls of its tool
// may fail only when they overlap a window around a death (from just before
// the kill to a moment after it listens again).
const backend = {
  port: 0, proc: undefined, windows: [],
  async start() {
    const proc = spawn(process.execPath, [join(here, 'backend.mjs'), String(this.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let out = '';
    await new Promise((resolve, reject) => {
      proc.stdout.on('data', (b) => { out += b; if (out.includes('listening')) resolve(); });
      proc.stderr.on('data', (b) => { out += b; });
      proc.on('exit', (code, sig) => reject(new Error(`backend exited (${code ?? sig}): ${out}`)));
    });
    proc.removeAllListeners('exit');
    proc.on('exit', (code, sig) => { if (this.proc === proc) fail(`the backend died by itself (${code ?? sig})`, out); });
    this.proc = proc;
    const w = this.windows[this.windows.length - 1];
    if (w && w.to === Infinity) w.to = Date.now();
  },
  async kill() {
    const proc = this.proc;
    this.proc = undefined;
    this.windows.push({ from: Date.now(), to: Infinity });
    proc.kill('SIGKILL');
    await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.on('exit', r)));
  },
  // Whether something that ran from t0 to t1 overlapped a death.
  excused(t0, t1 = t0) {
    return this.windows.some((w) => t1 >= w.from && t0 <= w.to + BACKEND_GRACE_MS);
  },
};

// The isError texts of http_backend for a backend that is not there.
const BACKEND_DOWN = /^backend shop (refused the connection|closed the connection before answering)/;

async function freePort() {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// ------------------------------------------------------------- mcpd's log

// What mcpd may log at warn or error level because the soak made it happen.
// Anything else at those levels fails.
const ALLOWED = {
  // http_backend's calls and document fetches while its backend is dead.
  plugin_log: (f) => f.plugin === 'http_backend' && backend.excused(Date.now())
    && /^backend=shop (op=get_item error="backend shop (refused the connection|closed the connection before answering)|document=\/openapi\.json not loaded \(attempt \d+\): backend shop refused the connection)/.test(f.msg),
};

const logStats = { lines: 0, events: {}, warned: {}, unexpected: 0 };
const reloadWaiters = [];
let toolsReady = false;

function fieldsOf(line) {
  const f = {};
  for (const m of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g))
    f[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, '$1') : m[2];
  return f;
}

function onLogLine(line) {
  if (line === '') return;
  logStats.lines++;
  const m = /^ts=\S+ level=(\w+) event=(\w+)/.exec(line);
  if (!m) { // a sanitizer report, a crash, stray output
    logStats.unexpected++;
    fail('mcpd wrote a line that is not a log line', line);
    return;
  }
  const [, level, event] = m;
  logStats.events[event] = (logStats.events[event] ?? 0) + 1;
  if (level === 'warn' || level === 'error') {
    logStats.warned[event] = (logStats.warned[event] ?? 0) + 1;
    if (!ALLOWED[event]?.(fieldsOf(line))) {
      logStats.unexpected++;
      fail(`mcpd logged level=${level} event=${event}`, line);
    }
  }
  if (event === 'plugin_updated' && fieldsOf(line).plugin === 'http_backend') toolsReady = true;
  if (event === 'reload_done') {
    const f = fieldsOf(line);
    reloadWaiters.splice(0).forEach((w) => w(f));
  }
}

// Starts mcpd on a free loopback port. Not startMcpd() from the integration
// helpers: that keeps all of stderr in memory, and with the access log on
// (the default, so it is soaked too) that is hundreds of MB in 30 minutes.
// This keeps only what is not a log line (a sanitizer report, a crash) and a
// short tail; onLogLine() judges the log lines as they come.
const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|AddressSanitizer:DEADLYSIGNAL|WARNING: ThreadSanitizer/;
async function launch({ pluginsDir, config, workDir }) {
  const file = join(workDir, 'mcpd.json');
  writeFileSync(file, JSON.stringify(config));
  const proc = spawn(mcpdBin, ['--listen', '127.0.0.1:0', '--plugins', pluginsDir, '--config', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0' },
  });
  children.add(proc);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const kept = [];
  const tail = [];
  let partial = '';
  let listening;
  const ready = new Promise((resolve) => { listening = resolve; });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (text) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      if (!line.startsWith('ts=')) kept.push(line);
      tail.push(line);
      if (tail.length > 200) tail.shift();
      const m = / event=listening address=127\.0\.0\.1:(\d+)/.exec(line);
      if (m) listening(Number(m[1]));
      onLogLine(line);
    }
  });
  const port = await Promise.race([ready, exited.then((st) => { throw new Error(`mcpd exited at start ${JSON.stringify(st)}:\n${tail.join('\n')}`); }),
    sleep(15000).then(() => { throw new Error(`mcpd did not listen:\n${tail.join('\n')}`); })]);
  return {
    proc, port,
    // SIGTERM, as an operator stops it: exit 0 and no sanitizer report.
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const st = await exited;
      clearTimeout(timer);
      if (partial) onLogLine(partial);
      if (kept.some((l) => SANITIZER.test(l))) throw new Error(`sanitizer report:\n${kept.join('\n')}`);
      if (st.code !== 0) throw new Error(`mcpd exited with ${JSON.stringify(st)}; last lines:\n${tail.join('\n')}`);
    },
  };
}

// --------------------------------------------------------------- the load

const loads = [];
function spawnLoop(name, body) {
  loads.push((async () => {
    while (running) {
      try {
        await body();
      } catch (e) {
        fail(`${name}: ${e.message.slice(0, 60)}`, e.message);
        await nap(500);
      }
    }
  })());
}

// echo in a session of its own, rotated every few hundred calls.
async function rawEcho(localAddress) {
  const kind = localAddress ? 'echo (raw, 127.0.0.2)' : 'echo (raw)';
  const s = await new Session({ protocol: pick(PROTOCOLS), localAddress }).open();
  for (let i = randInt(100, 400); running && i > 0; i--) {
    const text = randomText();
    const { result, r } = await s.request(kind, 'tools/call', { name: 'echo', arguments: { text } });
    if (r.status === 200 && result && checkText(kind, result, text)) answered(kind);
    await sleep(randInt(0, 10));
  }
  await s.close();
}

// count with a progressToken; one call in three drops its stream after a
// few progress events and takes it up again with GET + Last-Event-ID.
async function countCaller() {
  const s = await new Session().open();
  for (let i = randInt(20, 60); running && i > 0; i--) {
    const n = randInt(3, 8);
    const delay = randInt(20, 50);
    const token = `p${s.nextId}`;
    const dropAfter = Math.random() < 1 / 3 ? randInt(1, n - 1) : 0;
    const kind = dropAfter ? 'count (resumed)' : 'count';
    let progress = 0;
    const { r, id } = await s.request(kind, 'tools/call', { name: 'count', arguments: { n, delay_ms: delay }, _meta: { progressToken: token } }, {
      onEvent: (ev, drop) => {
        if (dropAfter && ev.data && JSON.parse(ev.data).method === 'notifications/progress' && ++progress === dropAfter) drop();
      },
    });
    if (r.status === 200 && !r.sse) fail(`${kind}: a call with progress answered in JSON`, r.text.slice(0, 200));
    let events = r.events;
    if (r.dropped) {
      const last = events[events.length - 1].id;
      const again = await s.send({ method: 'GET', headers: s.headers({ Accept: 'text/event-stream', 'Last-Event-ID': last }) });
      if (again.status !== 200 || !again.sse) { fail(`${kind}: resuming: HTTP ${again.status}`, `after ${last}: ${again.text.slice(0, 200)}`); continue; }
      stats.resumptions++;
      events = events.concat(again.events);
    }
    if (r.status === 200 && r.sse) checkCount(kind, events, id, n, token);
    await sleep(randInt(0, 50));
  }
  await s.close();
}

// The http_backend tool; a failure is fine only around a backend death.
async function backendCaller() {
  const protocol = pick(['2025-11-25', '2025-06-18']); // both have structuredContent
  const s = await new Session({ protocol }).open();
  for (let i = randInt(100, 300); running && i > 0; i--) {
    const id = randInt(0, 1e6);
    const q = Math.random() < 0.5 ? undefined : randomText(16, false);
    const t0 = Date.now();
    const { result } = await s.request('backend', 'tools/call', { name: 'get_item', arguments: q === undefined ? { item_id: id } : { item_id: id, q } });
    const t1 = Date.now();
    if (result?.isError) {
      const text = result.content?.[0]?.text ?? '';
      if (BACKEND_DOWN.test(text) && backend.excused(t0, t1)) stats.backendErrorsExcused++;
      else fail('backend: isError outside a backend restart', `get_item(${id}): ${JSON.stringify(result).slice(0, 300)}`);
    } else if (result) {
      const want = itemFor(id, q);
      let text;
      try { text = JSON.parse(result.content?.[0]?.text); } catch { text = undefined; }
      if (isDeepStrictEqual(result.structuredContent, want) && isDeepStrictEqual(text, want)) answered('backend');
      else fail('backend: wrong result', `get_item(${id}, q=${JSON.stringify(q)}) gave ${JSON.stringify(result).slice(0, 300)}`);
    }
    await sleep(randInt(0, 20));
  }
  await s.close();
}

// testkit's sleep, only while testkit is in service (the reloader waits for
// these calls before it removes the file).
const testkit = { available: false, inFlight: 0 };
async function sleepCaller() {
  if (!testkit.available) { await nap(200); return; }
  const s = await new Session().open();
  while (running && testkit.available) {
    testkit.inFlight++;
    try {
      const { result, r } = await s.request('sleep (testkit)', 'tools/call', { name: 'sleep', arguments: { ms: randInt(20, 100) } });
      if (r.status === 200 && result && checkText('sleep (testkit)', result, 'slept')) answered('sleep (testkit)');
    } finally {
      testkit.inFlight--;
    }
    await sleep(randInt(0, 30));
  }
  await s.close();
}

// The official SDK client: echo, now and then tools/list and a resource.
async function sdkCaller(i) {
  const client = new Client({ name: `soak-sdk-${i}`, version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${mcpdPort}/mcp`));
  let closing = false;
  client.onerror = (e) => { if (!closing) fail(`sdk client: onerror ${e.message.slice(0, 40)}`, e.message); };
  await client.connect(transport);
  stats.sessions.opened++;
  try {
    // A new client every 15-30 s or 1000 calls: undici leaves an abort
    // listener per request on the transport's signal until GC collects it.
    for (let until = Date.now() + randInt(15000, 30000), k = 0; running && Date.now() < until && k < 1000; k++) {
      const text = randomText();
      const r = await client.callTool({ name: 'echo', arguments: { text } }, undefined, { timeout: 20000 });
      if (checkText('echo (sdk)', r, text)) answered('echo (sdk)');
      if (k % 50 === 49) {
        // hello's tools never leave the list, even while it is being replaced.
        const names = (await client.listTools()).tools.map((t) => t.name);
        if (['echo', 'count', 'get_item'].every((n) => names.includes(n))) answered('tools/list (sdk)');
        else fail('tools/list (sdk): a tool of hello or http_backend is missing', names.join(' '));
        const who = `w${randInt(0, 1e9)}`;
        const res = await client.readResource({ uri: `hello://greet/${who}` });
        if (res.contents?.[0]?.text === `Hello, ${who}!`) answered('resources/read (sdk)');
        else fail('resources/read (sdk): wrong result', `${who}: ${JSON.stringify(res).slice(0, 200)}`);
      }
      await sleep(randInt(0, 10));
    }
  } finally {
    closing = true;
    await transport.terminateSession();
    await client.close();
    stats.sessions.deleted++;
  }
}

// Clients that go away: mid-call (streamed and JSON answers), with a
// standalone stream open, or just leaving their sessions to expire.
async function vanisher(localAddress) {
  const s = await new Session({ localAddress }).open();
  const how = pick(['sse call', 'json call', 'testkit sleep', 'stream', 'abandoned session', 'deleted session']);
  const ctl = {};
  const later = (ms) => setTimeout(() => ctl.drop?.(), ms);
  switch (how) {
    case 'sse call': // the stream is kept for a resume that never comes
      await s.request(how, 'tools/call', { name: 'count', arguments: { n: 20, delay_ms: 50 }, _meta: { progressToken: 'v' } },
        { onEvent: (ev, drop) => { if (ev.data) drop(); } });
      vanished(how);
      return s.abandon();
    case 'json call': // nothing streamed yet: the call is cancelled
      later(randInt(20, 200));
      await s.request(how, 'tools/call', { name: 'count', arguments: { n: 10, delay_ms: 50 } }, { ctl });
      vanished(how);
      return s.abandon();
    case 'testkit sleep': // its cancel callback runs on the plugin's thread
      if (!testkit.available) return s.close();
      later(randInt(20, 200));
      await s.send({ headers: s.headers(), body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 2000 } } }, ctl });
      vanished(how);
      return s.abandon();
    case 'stream':
      later(randInt(50, 300));
      await s.send({ method: 'GET', headers: s.headers({ Accept: 'text/event-stream' }), ctl, timeoutMs: 0 });
      vanished(how);
      return s.abandon();
    case 'abandoned session': {
      const text = randomText();
      const { result } = await s.request('echo (vanisher)', 'tools/call', { name: 'echo', arguments: { text } });
      if (result && checkText('echo (vanisher)', result, text)) answered('echo (vanisher)');
      return s.abandon();
    }
    default: {
      const text = randomText();
      const { result } = await s.request('echo (vanisher)', 'tools/call', { name: 'echo', arguments: { text } });
      if (result && checkText('echo (vanisher)', result, text)) answered('echo (vanisher)');
      return s.close();
    }
  }
}

// A session with its standalone GET stream open, counting list_changed.
class Listener {
  async open() {
    this.s = await new Session().open();
    this.tools = 0;
    this.resources = 0;
    this.ready = false;
    this.closing = false;
    this.ctl = {};
    this.done = this.s.send({
      method: 'GET', headers: this.s.headers({ Accept: 'text/event-stream' }), keepEvents: false, timeoutMs: 0, ctl: this.ctl,
      onResponse: (r) => { this.ready = r.status === 200 && r.sse; },
      onEvent: (ev) => {
        if (!ev.data) return; // the priming event
        const m = JSON.parse(ev.data);
        if (m.method === 'notifications/tools/list_changed') { this.tools++; stats.listChangedHeard++; }
        else if (m.method === 'notifications/resources/list_changed') this.resources++;
        else fail('listener: unexpected message', ev.data.slice(0, 200));
      },
    }).then((r) => {
      if (!this.closing) fail(`listener: the stream ended (HTTP ${r.status})`, r.text.slice(0, 200));
    }, (e) => { if (!this.closing) fail(`listener: ${e.message.slice(0, 60)}`, e.message); });
    const t0 = Date.now();
    while (!this.ready && Date.now() - t0 < 5000) await sleep(10);
    if (!this.ready) fail('listener: the GET stream did not open');
    return this;
  }

  async close() {
    this.closing = true;
    this.ctl.drop?.();
    await this.done;
    await this.s.close();
  }
}

// ------------------------------------------------------------ the reloader

// SIGHUP every 3-5 s: testkit.so in, hello.so re-copied (same bytes, new
// inode), testkit.so out, ... Before each reload, every open listener must
// have heard exactly the list_changed the previous reload called for.
async function reloader(d, pluginsDir, stage, listeners) {
  let testkitIn = false;
  let previous; // {what, expect, snapshot}
  const install = (src, name) => {
    const tmp = join(pluginsDir, `.${name}.tmp`);
    copyFileSync(src, tmp);
    renameSync(tmp, join(pluginsDir, name));
  };
  const checkPrevious = () => {
    if (!previous) return;
    for (const { l, tools, resources } of previous.snapshot) {
      if (l.closing) continue;
      const got = [l.tools - tools, l.resources - resources];
      if (!isDeepStrictEqual(got, [previous.expect, previous.expect]))
        fail(`listener after ${previous.what}: wrong list_changed`, `heard ${got[0]} tools/list_changed and ${got[1]} resources/list_changed, expected ${previous.expect} of each`);
    }
  };
  while (running) {
    await nap(randInt(3000, 5000));
    if (!running) break;
    checkPrevious();
    // Now and then one listener goes and another comes.
    if (Math.random() < 0.25) {
      const i = randInt(0, listeners.length - 1);
      const old = listeners[i];
      listeners[i] = await new Listener().open();
      await old.close();
    }
    let what;
    if (Math.random() < 1 / 3) {
      what = 'hello_recopied';
      install(join(stage, 'hello.so'), 'hello.so');
    } else if (testkitIn) {
      what = 'testkit_removed';
      testkit.available = false;
      while (testkit.inFlight > 0) await sleep(5);
      unlinkSync(join(pluginsDir, 'testkit.so'));
      testkitIn = false;
    } else {
      what = 'testkit_added';
      install(join(stage, 'testkit.so'), 'testkit.so');
      testkitIn = true;
    }
    const expect = what === 'hello_recopied' ? 0 : 1;
    const snapshot = listeners.filter((l) => l.ready && !l.closing).map((l) => ({ l, tools: l.tools, resources: l.resources }));
    const done = new Promise((resolve) => reloadWaiters.push(resolve));
    d.proc.kill('SIGHUP');
    const f = await Promise.race([done, sleep(10000).then(() => undefined)]);
    if (!f) { fail(`${what}: no reload_done within 10 s`); continue; }
    const ok = Number(f.failed) === 0 && Number(f.tools_changed) === expect && Number(f.resources_changed) === expect;
    if (!ok) fail(`${what}: reload_done says failed=${f.failed} tools_changed=${f.tools_changed} resources_changed=${f.resources_changed}`, JSON.stringify(f));
    stats.reloads[what]++;
    if (what === 'testkit_added' && ok) testkit.available = true;
    previous = { what, expect, snapshot };
  }
  await sleep(1000); // the last reload's notifications
  checkPrevious();
}

// ---------------------------------------------------------- RSS and CPU

function readProc(pid) {
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { t: Date.now() - started, rss, cpuTicks: Number(f[11]) + Number(f[12]) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mb = (kb) => `${(kb / 1024).toFixed(1)} MiB`;

// ------------------------------------------------------------------- main

async function main() {
  console.log(`soak: ${SECONDS} s against ${buildDir}/mcpd (warm-up ${(WARMUP_MS / 1000).toFixed(0)} s)`);
  backend.port = await freePort();
  await backend.start();

  // The files the reloader installs come from a copy taken now, so that a
  // rebuild of the build tree during a long soak changes nothing here (and a
  // re-copied hello.so is the very bytes in service).
  const workDir = mkdtempSync(join(tmpdir(), 'mcpd-soak-'));
  const stage = join(workDir, 'stage');
  mkdirSync(stage);
  for (const name of ['hello', 'testkit']) copyFileSync(pluginPath(name), join(stage, `${name}.so`));
  const pluginsDir = makePluginsDir([join(stage, 'hello.so'), join(buildDir, 'plugins/http_backend.so')]);
  const d = await launch({
    pluginsDir,
    workDir,
    config: {
      runtime_dir: join(workDir, 'runtime'),
      // Abandoned sessions and dropped streams must go during the run, so a
      // leak of them shows in RSS.
      timeouts: { session_idle_ms: SESSION_IDLE_MS, sse_resume_ms: SSE_RESUME_MS, drain_ms: 10000 },
      plugins: { http_backend: { backends: [{ name: 'shop', base_url: `http://127.0.0.1:${backend.port}`, openapi: '/openapi.json', timeout_ms: 5000 }] } },
    },
  });
  mcpdPort = d.port;
  for (const t0 = Date.now(); !toolsReady; await sleep(50))
    if (Date.now() - t0 > 20000) throw new Error('http_backend published no tool within 20 s');

  const samples = [];
  const sampler = setInterval(() => { try { samples.push(readProc(d.proc.pid)); } catch (e) { fail('reading /proc', e.message); } }, 1000);
  samples.push(readProc(d.proc.pid));

  const listeners = [];
  for (let i = 0; i < 3; i++) listeners.push(await new Listener().open());

  for (let i = 0; i < 2; i++) spawnLoop('echo (raw)', () => rawEcho());
  spawnLoop('echo (raw, 127.0.0.2)', () => rawEcho('127.0.0.2'));
  for (let i = 0; i < 2; i++) spawnLoop(`sdk client ${i}`, () => sdkCaller(i));
  for (let i = 0; i < 3; i++) spawnLoop('count', countCaller);
  for (let i = 0; i < 2; i++) spawnLoop('backend', backendCaller);
  spawnLoop('sleep (testkit)', sleepCaller);
  spawnLoop('vanisher', async () => { await vanisher(Math.random() < 0.3 ? '127.0.0.2' : undefined); await nap(randInt(150, 450)); });
  loads.push((async () => { // the backend dies and comes back
    while (running) {
      await nap(randInt(10000, 15000));
      if (!running) break;
      await backend.kill();
      await sleep(randInt(1000, 3000));
      await backend.start();
      stats.backendRestarts++;
    }
  })().catch((e) => fail('backend restarts', e.message)));
  const reloads = reloader(d, pluginsDir, stage, listeners).catch((e) => fail('reloader', e.message));

  const progress = setInterval(() => {
    const calls = Object.values(stats.answered).reduce((a, b) => a + b, 0);
    const last = samples[samples.length - 1];
    console.log(`  ${clock()} calls=${calls} rss=${mb(last.rss)} failures=${failureCount} unexpected_log=${logStats.unexpected}`);
  }, Math.max(10000, Math.min(60000, SECONDS * 100)));

  await sleep(SECONDS * 1000);
  running = false;
  clearInterval(progress);
  clearInterval(sampler);
  const stopped = Promise.all([...loads, reloads]);
  if (await Promise.race([stopped.then(() => true), sleep(30000).then(() => false)]) !== true) fail('the load did not stop within 30 s');

  // Once nobody is left, every session must be reaped.
  for (const l of listeners) await l.close();
  const health = async () => {
    const r = await exchange({ method: 'GET', path: '/healthz' });
    return r.status === 200 ? JSON.parse(r.text) : { status: `HTTP ${r.status}` };
  };
  let h = await health();
  for (let t0 = Date.now(); h.sessions !== 0 && Date.now() - t0 < SESSION_IDLE_MS + SSE_RESUME_MS + 5000; h = await health()) await sleep(250);
  if (h.status !== 'ok') fail('/healthz is not ok', JSON.stringify(h));
  if (h.sessions !== 0) fail(`${h.sessions} sessions still live ${SESSION_IDLE_MS + SSE_RESUME_MS + 5000} ms after the load stopped`);

  // Every retired plugin version unloaded: one private copy per plugin in service.
  const inService = existsSync(join(pluginsDir, 'testkit.so')) ? 3 : 2;
  let copies = readdirSync(join(workDir, 'runtime'));
  for (const t0 = Date.now(); copies.length !== inService && Date.now() - t0 < 5000; copies = readdirSync(join(workDir, 'runtime'))) await sleep(100);
  if (copies.length !== inService) fail(`runtime_dir holds ${copies.length} plugin copies, expected ${inService}: ${copies.join(' ')}`);

  if (backend.proc) await backend.kill();
  try {
    await d.stop();
  } catch (e) {
    fail('stopping mcpd', e.message.slice(0, 2000));
  }
  rmSync(pluginsDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });

  // RSS: the first 10 % after the warm-up against the last 10 %.
  const after = samples.filter((s) => s.t >= WARMUP_MS);
  const k = Math.max(1, Math.round(after.length / 10));
  const early = median(after.slice(0, k).map((s) => s.rss));
  const late = median(after.slice(-k).map((s) => s.rss));
  const growth = (late - early) / early;
  const cpu = (samples[samples.length - 1].cpuTicks - samples[0].cpuTicks) / 100 / ((samples[samples.length - 1].t - samples[0].t) / 1000);

  console.log('\nsummary');
  console.log(`  answered calls: ${Object.entries(stats.answered).map(([k2, v]) => `${k2}=${v}`).join(', ')}`);
  console.log(`  resumptions=${stats.resumptions} list_changed heard=${stats.listChangedHeard} reloads: ${Object.entries(stats.reloads).map(([k2, v]) => `${k2}=${v}`).join(' ')}`);
  console.log(`  backend restarts=${stats.backendRestarts} backend errors while it was down=${stats.backendErrorsExcused}`);
  console.log(`  vanished clients: ${Object.entries(stats.vanished).map(([k2, v]) => `${k2}=${v}`).join(', ')}`);
  console.log(`  sessions: opened=${stats.sessions.opened} deleted=${stats.sessions.deleted} abandoned=${stats.sessions.abandoned}; mcpd expired=${logStats.events.session_expired ?? 0}`);
  console.log(`  mcpd log: ${logStats.lines} lines; warn/error lines by event: ${JSON.stringify(logStats.warned)}`);
  const own = process.cpuUsage();
  console.log(`  CPU, in % of a core on average: mcpd ${(cpu * 100).toFixed(0)}, this soak ${((own.user + own.system) / 10 / (Date.now() - started)).toFixed(0)}`);
  console.log(`  RSS: start ${mb(samples[0].rss)}, after warm-up ${mb(early)} (median of ${k}), end ${mb(late)} (median of ${k}), peak ${mb(Math.max(...samples.map((s) => s.rss)))}`);
  console.log(`  RSS growth after warm-up: ${(growth * 100).toFixed(2)} % (limit ${RSS_LIMIT * 100} %)${SANITIZED ? ' -- not judged for a sanitizer build' : ''}`);

  if (!SANITIZED && growth >= RSS_LIMIT) fail(`RSS grew ${(growth * 100).toFixed(2)} % after the warm-up (${mb(early)} -> ${mb(late)})`);
  if (after.length < 2) fail('too few RSS samples after the warm-up');
  for (const kind of ['echo (raw)', 'echo (raw, 127.0.0.2)', 'echo (sdk)', 'count', 'count (resumed)', 'backend'])
    if (!stats.answered[kind]) fail(`no ${kind} call was answered`);

  if (failureCount) {
    console.log(`\nFAIL: ${failureCount} problem(s) of ${failures.size} kind(s), in order of first appearance:`);
    for (const { n, first } of [...failures.values()].slice(0, 40)) console.log(`  [${n}x] ${first.slice(0, 2500)}`);
    if (failures.size > 40) console.log(`  ... and ${failures.size - 40} more kinds`);
    return 1;
  }
  console.log('\nPASS');
  return 0;
}

// Whatever happens, leave no mcpd or backend behind.
process.on('exit', () => { children.forEach((p) => p.exitCode === null && p.signalCode === null && p.kill('SIGKILL')); });
main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
