// bench.mjs -- mcpd's benchmark (issue 7). Not part of the pass/fail test
// suite. Run it through tests/bench/run.sh, which installs the npm peers,
// builds mcpd in Release mode into build-bench/ and raises `ulimit -n`.
//
// In one run, on this machine, one server at a time on ephemeral loopback
// ports, each target after a warm-up:
//   tools/call echo     mcpd | the official TypeScript SDK server
//                       (ts_server.mjs) | nginx `return 200` with a body the
//                       size of mcpd's reply (the limit for a tiny reply);
//                       and the 2026-07-28 era (no session, the envelope on
//                       every call: mcp_echo.lua MCP_MODE=modern): mcpd |
//                       the TypeScript SDK v2 server, createMcpHandler
//                       (ts_server_v2.mjs)
//   http_backend        for an nginx backend and a FastAPI backend each:
//                       mcpd + http_backend.so | @ivotoby/openapi-mcp-server
//                       | wrk on the backend directly (the limit)
//   memory              mcpd idle; per idle session; with open SSE streams;
//                       the TS SDK server idle and per idle session
//   HTTPS listener      tools/call echo over HTTPS next to plain HTTP, both
//                       with keep-alive; a new connection per request (GET
//                       /healthz, Connection: close) over HTTPS (a full TLS
//                       handshake each) next to plain HTTP
//   big API documents   GitHub's REST description and its dereferenced twin
//                       from a file: load time, RSS and tools/list size of
//                       mcpd + http_backend (tools_mode auto and all) and
//                       @ivotoby/openapi-mcp-server (--tools all and dynamic)
// and prints one throughput table, the memory figures and the targets
// (PASS/FAIL, informational), and writes them to tests/bench/RESULTS.md.
// Exits 1 only if a server errored (an error reply, a crash, a failed start).
//
// Environment: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (32),
// BENCH_THREADS (1), BENCH_NGINX_WORKERS (1), BENCH_SESSIONS (10000),
// BENCH_TS_SESSIONS (10000), BENCH_STREAMS (5000), MCPD_BUILD_DIR
// (build-bench), BENCH_PYTHON (/usr/bin/python3: Debian's FastAPI),
// BENCH_RESULTS (tests/bench/RESULTS.md), BENCH_ONLY (tls: only the HTTPS
// listener rows; auth: only the bearer-token rows; echo: only the
// tools/call echo rows; modern: only tools/call echo on mcpd in a session
// and in the 2026-07-28 era, and the TypeScript SDK v2 server; bigapi:
// only GitHub's big OpenAPI documents; printed and not written to
// RESULTS.md unless BENCH_RESULTS names a file), BENCH_BIGAPI_RUNS (3).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from './mcp_load.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const num = (name, def) => (process.env[name] ? Number(process.env[name]) : def);
const cfg = {
  seconds: num('BENCH_SECONDS', 10),
  warmup: num('BENCH_WARMUP', 2),
  connections: num('BENCH_CONNECTIONS', 32),
  threads: num('BENCH_THREADS', 1),
  nginxWorkers: num('BENCH_NGINX_WORKERS', 1),
  sessions: num('BENCH_SESSIONS', 10000),
  tsSessions: num('BENCH_TS_SESSIONS', 10000),
  streams: num('BENCH_STREAMS', 5000),
  buildDir: resolve(root, process.env.MCPD_BUILD_DIR ?? 'build-bench'),
  python: process.env.BENCH_PYTHON ?? '/usr/bin/python3',
  results: resolve(root, process.env.BENCH_RESULTS ?? 'tests/bench/RESULTS.md'),
};
const mcpdBin = join(cfg.buildDir, 'mcpd');
const helloSo = join(cfg.buildDir, 'plugins', 'hello.so');
const backendSo = join(cfg.buildDir, 'plugins', 'http_backend.so');
const luaScript = join(here, 'mcp_echo.lua');
const ivotobyBin = join(here, 'node_modules/@ivotoby/openapi-mcp-server/bin/mcp-server.js');
const echoArgs = { text: 'hello, mcpd' };
const itemArgs = { item_id: 1 };
const itemJson = '{"id":1,"name":"widget","price":9.5}';

const work = mkdtempSync(join(os.tmpdir(), 'mcpd-bench-'));
const rel = (p) => relative(root, p) || '.';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`bench: ${s}\n`);

// ---- processes ----------------------------------------------------------

const live = new Set(); // servers
const clients = new Set(); // wrk
process.on('exit', () => {
  for (const p of [...clients, ...[...live].map((s) => s.proc)]) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  rmSync(work, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));

function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0), rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return null;
  }
}

// The pid and all its descendants.
function processTree(rootPid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* exited meanwhile */ }
  }
  const out = [rootPid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

// A server process: output kept (the tail), peak memory of its process tree
// followed (the sum over its processes of each one's VmHWM; a child that
// exits keeps the peak last seen), an exit before stop() is an error.
class Server {
  constructor(name, cmd, args, opts = {}) {
    this.name = name;
    this.out = '';
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    live.add(this);
    this.stopping = false;
    this.exited = new Promise((res) => this.proc.on('exit', (code, signal) => {
      live.delete(this);
      clearInterval(this.sampler);
      if (!this.stopping) this.died = `${name} exited early (${signal ?? `status ${code}`}):\n${this.out.slice(-2000)}`;
      res({ code, signal });
    }));
    this.proc.on('error', (e) => { this.died = `${name}: ${e.message}`; });
    const keep = (b) => { this.out = (this.out + b).slice(-65536); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.peaks = new Map(); // pid -> VmHWM kB
    this.sampler = setInterval(() => this.sample(), 1000);
  }

  sample() {
    if (!this.proc.pid || this.proc.exitCode !== null) return;
    for (const pid of processTree(this.proc.pid)) {
      const st = procStatus(pid);
      if (st) this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, st.hwm));
    }
  }

  peakKB() {
    this.sample();
    let sum = 0;
    for (const v of this.peaks.values()) sum += v;
    return sum;
  }

  rssKB() {
    let sum = 0;
    for (const pid of processTree(this.proc.pid)) sum += procStatus(pid)?.rss ?? 0;
    return sum;
  }

  async waitFor(re, ms = 15000) {
    const until = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      if (this.died) throw new Error(this.died);
      if (Date.now() > until) throw new Error(`${this.name}: no ${re} within ${ms} ms:\n${this.out.slice(-2000)}`);
      await sleep(20);
    }
  }

  async waitPort(port, ms = 15000) {
    const until = Date.now() + ms;
    for (;;) {
      if (this.died) throw new Error(this.died);
      const ok = await new Promise((res) => {
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
        s.on('error', () => res(false));
      });
      if (ok) return;
      if (Date.now() > until) throw new Error(`${this.name}: port ${port} not open within ${ms} ms:\n${this.out.slice(-2000)}`);
      await sleep(50);
    }
  }

  // Stops it with SIGTERM; throws if it had died on its own, or did not
  // stop cleanly (exit status 0, or the SIGTERM itself) within 5 s.
  async stop() {
    const died = this.died;
    this.stopping = true;
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      const { code, signal } = await this.exited;
      clearTimeout(t);
      if (died) throw new Error(died);
      if (code !== 0 && signal !== 'SIGTERM') {
        throw new Error(`${this.name} did not stop cleanly on SIGTERM (${signal ?? `status ${code}`}):\n${this.out.slice(-2000)}`);
      }
    }
    if (died) throw new Error(died);
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function run(cmd, args, env = {}) {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    clients.add(p);
    p.on('exit', () => clients.delete(p));
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => { stdout += b; });
    p.stderr.on('data', (b) => { stderr += b; });
    p.on('error', (e) => res({ code: -1, stdout, stderr: `${stderr}${e.message}` }));
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

// ---- starting the servers ------------------------------------------------

let nMcpd = 0;
async function startMcpd(plugins, config = {}) {
  const dir = join(work, `mcpd-${++nMcpd}`);
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  for (const so of plugins) copyFileSync(so, join(dir, 'plugins', basename(so)));
  const file = join(dir, 'mcpd.json');
  writeFileSync(file, JSON.stringify({ access_log: false, runtime_dir: join(dir, 'runtime'), ...config }));
  const s = new Server('mcpd', mcpdBin, ['--listen', '127.0.0.1:0', '--plugins', join(dir, 'plugins'), '--config', file]);
  const m = await s.waitFor(/event=listening address=(\S+)/);
  const ready = /event=plugins_ready .*failed=(\d+)/.exec(s.out);
  if (!ready || ready[1] !== '0') {
    const why = s.out.split('\n').filter((l) => /level=(error|warn)/.test(l)).join('\n');
    await s.stop();
    throw new Error(`mcpd did not load every plugin:\n${why}`);
  }
  s.base = `http://${m[1]}`;
  s.url = `${s.base}/mcp`;
  return s;
}

// A self-signed P-256 certificate for 127.0.0.1 (wrk does not verify it).
let benchCert = null;
function tlsSettings() {
  if (benchCert === null) {
    const key = join(work, 'tls.key');
    const cert = join(work, 'tls.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    benchCert = { cert_file: cert, key_file: key };
  }
  return { tls: benchCert };
}

// mcpd serving HTTPS: its URLs are https://.
async function startMcpdTls(plugins, config = {}) {
  const s = await startMcpd(plugins, { ...tlsSettings(), ...config });
  s.base = s.base.replace('http://', 'https://');
  s.url = `${s.base}/mcp`;
  return s;
}

async function startTsServer(script = 'ts_server.mjs', name = 'ts-sdk') {
  const s = new Server(name, process.execPath, [join(here, script), '0'], { cwd: here });
  const m = await s.waitFor(/listening (\d+)/);
  s.url = `http://127.0.0.1:${m[1]}/mcp`;
  return s;
}

// The TypeScript SDK v2 (@modelcontextprotocol/server, createMcpHandler):
// the 2026-07-28 era, stateless.
const startTsV2Server = () => startTsServer('ts_server_v2.mjs', 'ts-sdk-v2');

// nginx, unprivileged: its own prefix, config, pid file and temp paths in a
// fresh directory; no access log; cfg.nginxWorkers worker processes.
let nNginx = 0;
async function startNginx(locations, { tls = false } = {}) {
  const dir = join(work, `nginx-${++nNginx}`);
  const cert = tls ? tlsSettings().tls : null;
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = `worker_processes ${cfg.nginxWorkers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port}${cert ? ` ssl http2;
    ssl_certificate ${cert.cert_file};
    ssl_certificate_key ${cert.key_file}` : ''};
${locations}
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const s = new Server('nginx', 'nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
  await s.waitPort(port);
  s.base = `${cert ? 'https' : 'http'}://127.0.0.1:${port}`;
  return s;
}

// A string as an nginx single-quoted literal. `return` expands $variables
// and nginx has no escape for `$`, so one is replaced (same length).
const nginxString = (s) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('$', '_')}'`;

async function startNginxBackend(opts) {
  return startNginx(`    location = /items/1 { default_type application/json; return 200 ${nginxString(itemJson)}; }
    location = /openapi.json { default_type application/json; alias ${join(here, 'openapi.json')}; }`, opts);
}

async function startFastApi() {
  const port = await freePort();
  const s = new Server('FastAPI', cfg.python, [join(here, 'backend.py'), String(port)], { cwd: here });
  await s.waitPort(port);
  s.base = `http://127.0.0.1:${port}`;
  return s;
}

async function startIvotoby(backendBase) {
  const port = await freePort();
  const s = new Server('openapi-mcp-server', process.execPath, [ivotobyBin,
    '--api-base-url', backendBase, '--openapi-spec', `${backendBase}/openapi.json`,
    '--transport', 'http', '--host', '127.0.0.1', '--port', String(port), '--verbose', 'false'], { cwd: here });
  await s.waitPort(port);
  s.url = `http://127.0.0.1:${port}/mcp`;
  return s;
}

// ---- talking to servers --------------------------------------------------

// One POST; returns { status, headers, body, message } where message is the
// JSON-RPC message with the request's id, from a JSON or an SSE body.
// extra: more request headers.
function post(url, message, session, agent, extra = {}) {
  return new Promise((res, rej) => {
    const body = JSON.stringify(message);
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...extra };
    if (session) Object.assign(headers, { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' });
    const req = http.request(url, { method: 'POST', headers, agent: agent ?? false }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c) => { text += c; });
      r.on('end', () => {
        let m;
        const datas = (r.headers['content-type'] ?? '').includes('text/event-stream')
          ? text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()) : [text];
        for (const d of datas) {
          try {
            const x = JSON.parse(d);
            if (x && x.id === message.id) { m = x; break; }
          } catch { /* not JSON */ }
        }
        res({ status: r.statusCode, headers: r.headers, body: text, message: m });
      });
    });
    req.on('error', rej);
    req.end(body);
  });
}

const initMessage = (id = 0) => ({
  jsonrpc: '2.0', id, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
});

async function session(url) {
  const r = await post(url, initMessage());
  const sid = r.headers['mcp-session-id'];
  if (r.status !== 200 || !sid) throw new Error(`initialize at ${url}: status ${r.status}, no session: ${r.body.slice(0, 300)}`);
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, sid);
  return sid;
}

// The tool a server derived from GET /items/{item_id} (its name differs
// between converters: get_item, get-item, bk_get_item, ...). Asks again for
// up to 10 s: a server may fetch the OpenAPI document after it listens.
async function findItemTool(url) {
  const sid = await session(url);
  const until = Date.now() + 10000;
  for (let id = 1; ; id++) {
    const r = await post(url, { jsonrpc: '2.0', id, method: 'tools/list' }, sid);
    const tools = r.message?.result?.tools?.map((t) => t.name) ?? [];
    const name = tools.find((t) => /get[-_.]?item/i.test(t)) ?? (tools.length === 1 ? tools[0] : undefined);
    if (name) return name;
    if (Date.now() > until) throw new Error(`no tool for GET /items/{item_id} at ${url}: tools/list gave ${r.body.slice(0, 500)}`);
    await sleep(200);
  }
}

// One call, checked: returns the reply body.
async function callOnce(url, tool, args, id = 100000) {
  const sid = await session(url);
  const r = await post(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } }, sid);
  if (r.status !== 200 || !r.message?.result || r.message.result.isError) {
    throw new Error(`tools/call ${tool} at ${url}: status ${r.status}: ${r.body.slice(0, 500)}`);
  }
  return r.body;
}

// ---- load generators -----------------------------------------------------

// wrk with mcp_echo.lua: a warm-up run, then the measured one.
async function wrk(url, env) {
  const base = ['-t', String(cfg.threads), '-c', String(cfg.connections), '--latency', '-s', luaScript];
  if (cfg.warmup > 0) await run('wrk', [...base, '-d', `${cfg.warmup}s`, url], env);
  const r = await run('wrk', [...base, '-d', `${cfg.seconds}s`, url], env);
  const field = (name) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(r.stdout)?.[1] ?? NaN);
  const requests = field('requests');
  const result = {
    load: 'wrk',
    rps: requests / (field('duration_us') / 1e6),
    p50_us: field('latency_p50_us'),
    p99_us: field('latency_p99_us'),
    errors: field('mcp_errors'),
    requests,
  };
  if (Number.isNaN(result.errors)) throw new Error(`wrk gave no result (status ${r.code}):\n${r.stdout}${r.stderr}`);
  if (result.errors > 0) {
    result.detail = r.stdout.split('\n').filter((l) => /^(mcp_|socket_errors)/.test(l)).join(', ');
  }
  return result;
}

async function nodeDriver(url, tool, args) {
  const r = await runLoad({ url, tool, args, connections: cfg.connections, seconds: cfg.seconds, warmup: cfg.warmup });
  const res = { load: 'node driver', rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors, requests: r.requests };
  if (r.errors) res.detail = Object.entries(r.kinds).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ');
  return res;
}

const wrkCall = (url, tool, args) => wrk(url, { MCP_TOOL: tool, MCP_ARGS: JSON.stringify(args) });

// The 2026-07-28 era: no initialize, no session; every tools/call carries
// _meta's protocolVersion and clientCapabilities and the MCP-Protocol-Version,
// Mcp-Method and Mcp-Name headers. Its own load label, so that ratios()
// pairs these rows with each other and not with the session rows.
const modernLoad = 'wrk, 2026-07-28 (no session)';
async function wrkModern(url, tool, args) {
  const r = await wrk(url, { MCP_TOOL: tool, MCP_ARGS: JSON.stringify(args), MCP_MODE: 'modern' });
  return { ...r, load: modernLoad, era: '2026-07-28' };
}

// One 2026-07-28 tools/call, checked: the headers and body mcp_echo.lua
// sends in that mode. Returns the reply body.
async function callModern(url, tool, args, id = 100000) {
  const r = await post(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args,
    _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } },
  undefined, undefined, { 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': tool });
  if (r.status !== 200 || !r.message?.result || r.message.result.isError) {
    throw new Error(`2026-07-28 tools/call ${tool} at ${url}: status ${r.status}: ${r.body.slice(0, 500)}`);
  }
  return r.body;
}

// wrk without a script (extra: more arguments, such as a header), read from
// its own report.
async function wrkRaw(url, extra) {
  const base = ['-t', String(cfg.threads), '-c', String(cfg.connections), '--latency', ...extra];
  if (cfg.warmup > 0) await run('wrk', [...base, '-d', `${cfg.warmup}s`, url]);
  const r = await run('wrk', [...base, '-d', `${cfg.seconds}s`, url]);
  const unit = { us: 1, ms: 1000, s: 1e6 };
  const latency = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(r.stdout);
    return m ? Number(m[1]) * unit[m[2]] : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  const result = {
    load: 'wrk',
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN),
    p50_us: latency(50),
    p99_us: latency(99),
    errors: non2xx + (sock ? sock.slice(1).reduce((a, x) => a + Number(x), 0) : 0),
    requests: Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? NaN),
  };
  if (Number.isNaN(result.rps)) throw new Error(`wrk gave no result (status ${r.code}):\n${r.stdout}${r.stderr}`);
  if (result.errors > 0) result.detail = `${non2xx} non-2xx, ${sock?.[0] ?? 'no socket errors'}`;
  return result;
}

// ---- the targets: throughput ---------------------------------------------

const rows = [];
const notes = [];
let serverErrors = 0;

// Runs one target: start, measure, stop; a row in the table either way.
async function target(group, server, role, fn) {
  log(`${group}: ${server}`);
  const row = { group, server, role };
  rows.push(row);
  const limit = (cfg.warmup + cfg.seconds) * 3000 + 60000;
  let timer;
  try {
    const timeout = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`no result within ${limit / 1000} s`)), limit); });
    Object.assign(row, await Promise.race([fn(), timeout]));
    if (row.errors > 0) {
      serverErrors++;
      notes.push(`${group}, ${server}: ${row.errors} errors (${row.detail})`);
    }
  } catch (e) {
    serverErrors++;
    row.failed = e.message.split('\n')[0];
    notes.push(`${group}, ${server}: failed: ${e.message}`);
    log(`FAILED: ${e.message}`);
  } finally {
    clearTimeout(timer);
  }
  return row;
}

function skip(group, server, role, why) {
  log(`${group}: ${server}: ${why}`);
  process.stdout.write(`${why}\n`);
  rows.push({ group, server, role, skipped: why });
}

// Measures with `load` while `s` runs; its peak RSS goes in the row.
async function measure(s, load) {
  try {
    const r = await load();
    r.peakKB = s.peakKB();
    return r;
  } finally {
    await s.stop();
  }
}

let echoReply = null; // mcpd's reply body to tools/call echo, for nginx's

async function echoMcpd() {
  const s = await startMcpd([helloSo]);
  return measure(s, async () => {
    echoReply = await callOnce(s.url, 'echo', echoArgs);
    return wrkCall(s.url, 'echo', echoArgs);
  });
}

async function echoTsSdk() {
  const s = await startTsServer();
  return measure(s, async () => {
    await callOnce(s.url, 'echo', echoArgs);
    return wrkCall(s.url, 'echo', echoArgs);
  });
}

// The 2026-07-28 era on mcpd and on the TypeScript SDK v2 server, the same
// wrk load for both.
async function echoMcpdModern() {
  const s = await startMcpd([helloSo]);
  return measure(s, async () => {
    await callModern(s.url, 'echo', echoArgs);
    return wrkModern(s.url, 'echo', echoArgs);
  });
}

async function echoTsV2() {
  const s = await startTsV2Server();
  return measure(s, async () => {
    await callModern(s.url, 'echo', echoArgs);
    return wrkModern(s.url, 'echo', echoArgs);
  });
}

async function echoNginxLimit() {
  const body = echoReply ?? '{"jsonrpc":"2.0","id":100000,"result":{"content":[{"type":"text","text":"hello, mcpd"}]}}';
  const s = await startNginx(`    location / { default_type application/json; return 200 ${nginxString(body)}; }`);
  return measure(s, async () => {
    const r = await wrk(`${s.base}/mcp`, { MCP_MODE: 'nosession' });
    r.note = `${Buffer.byteLength(body)}-byte body`;
    return r;
  });
}

// The tools/call echo group: mcpd in a session and in the 2026-07-28 era,
// each with its TypeScript SDK peer (1.x with sessions, v2 stateless), and
// nginx. modernOnly (BENCH_ONLY=modern): the session row, the 2026-07-28
// row and the v2 server only.
async function echoRows({ modernOnly = false } = {}) {
  const group = 'tools/call echo';
  await target(group, 'mcpd', 'mcpd', echoMcpd);
  await target(group, 'mcpd, 2026-07-28', 'mcpd', echoMcpdModern);
  if (!modernOnly) await target(group, 'TS SDK server', 'peer', echoTsSdk);
  await target(group, 'TS SDK v2 server (createMcpHandler)', 'peer', echoTsV2);
  if (!modernOnly) await target(group, 'nginx return 200', 'limit', echoNginxLimit);
}

// The HTTPS listener: tools/call echo with keep-alive, and a new connection
// per request (GET /healthz, Connection: close: a TCP connection, and over
// HTTPS a full TLS handshake, per request), each over plain HTTP (the
// limit) and over HTTPS.
async function tlsGroup() {
  const echo = (start) => async () => {
    const s = await start([helloSo]);
    return measure(s, async () => {
      if (s.url.startsWith('http:')) await callOnce(s.url, 'echo', echoArgs);
      return wrkCall(s.url, 'echo', echoArgs);
    });
  };
  await target('tools/call echo, keep-alive', 'mcpd, plain HTTP', 'limit', echo(startMcpd));
  await target('tools/call echo, keep-alive', 'mcpd over HTTPS', 'mcpd', echo(startMcpdTls));
  const fresh = (start) => async () => {
    const s = await start([helloSo]);
    return measure(s, async () => wrkRaw(`${s.base}/healthz`, ['-H', 'Connection: close']));
  };
  await target('a new connection per request (GET /healthz)', 'mcpd, plain HTTP', 'limit', fresh(startMcpd));
  await target('a new connection per request (GET /healthz)', 'mcpd over HTTPS (full handshakes)', 'mcpd', fresh(startMcpdTls));
  // http_backend to the same nginx over plain HTTP and over HTTPS (TLS,
  // HTTP/2 offered): what TLS to the backend costs.
  if (!existsSync(backendSo)) return;
  const viaBackend = (tls) => async () => {
    const backend = await startNginxBackend({ tls });
    try {
      const s = await startMcpd([backendSo], { plugins: { http_backend: { backends: [{ name: 'bk', base_url: backend.base,
        openapi: '/openapi.json', ...(tls ? { ca_file: tlsSettings().tls.cert_file } : {}) }] } } });
      return await measure(s, async () => {
        const tool = await findItemTool(s.url);
        await callOnce(s.url, tool, itemArgs);
        return wrkCall(s.url, tool, itemArgs);
      });
    } finally {
      await backend.stop();
    }
  };
  await target('http_backend to nginx', 'mcpd + http_backend, plain HTTP backend', 'limit', viaBackend(false));
  await target('http_backend to nginx', 'mcpd + http_backend, HTTPS backend (HTTP/2)', 'mcpd', viaBackend(true));
}

// Bearer tokens on tools/call echo: the same mcpd without auth (the limit),
// with a JWT (RS256, verified once and then found in the cache by its
// hash), with a static token, and with a JWT and the cache off (an RS256
// verification per request: what the cache buys).
function jwtSetup() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };
  const jwksFile = join(work, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'bench' })}.${b64({ iss: 'https://as.bench', sub: 'bench',
    aud: 'mcpd-bench', scope: 'mcp', iat: now, exp: now + 3600 })}`;
  const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  const staticToken = randomBytes(32).toString('hex');
  return { jwksFile, token, staticToken, staticHash: createHash('sha256').update(staticToken).digest('hex') };
}

async function authGroup() {
  const k = jwtSetup();
  const jwt = { issuer: 'https://as.bench', audience: 'mcpd-bench', jwks_file: k.jwksFile };
  const echo = (config, token) => async () => {
    const s = await startMcpd([helloSo], config);
    return measure(s, () => wrk(s.url, { MCP_TOOL: 'echo', MCP_ARGS: JSON.stringify(echoArgs), ...(token ? { MCP_AUTH: token } : {}) }));
  };
  const group = 'tools/call echo, bearer tokens';
  // (The 2026-07-28 era's rows are in the tools/call echo group: echoRows.)
  await target(group, 'mcpd, no auth', 'limit', echo({}, null));
  await target(group, 'mcpd, JWT (RS256)', 'mcpd', echo({ auth: { jwt } }, k.token));
  await target(group, 'mcpd, static token', 'mcpd', echo({ auth: { tokens: [{ name: 'bench', sha256: k.staticHash }] } }, k.staticToken));
  await target(group, 'mcpd, JWT, token cache off', 'mcpd', echo({ auth: { jwt, cache: { max_entries: 0 } } }, k.token));
}

// The three (four) rows of one backend: the backend measured directly,
// mcpd + http_backend, @ivotoby/openapi-mcp-server.
async function backendGroup(group, startBackend) {
  let backend;
  try {
    backend = await startBackend();
  } catch (e) {
    serverErrors++;
    rows.push({ group, server: 'backend', role: 'limit', failed: e.message.split('\n')[0] });
    notes.push(`${group}: the backend did not start: ${e.message}`);
    return;
  }
  try {
    await target(group, `${backend.name} directly (GET /items/1)`, 'limit', async () => {
      const r = await wrk(`${backend.base}/items/1`, { MCP_MODE: 'get' });
      r.peakKB = backend.peakKB();
      return r;
    });
    const pluginConfig = { plugins: { http_backend: { backends: [{ name: 'bk', base_url: backend.base, openapi: '/openapi.json' }] } } };
    if (!existsSync(backendSo)) {
      skip(group, 'mcpd + http_backend', 'mcpd', `skipped: ${rel(backendSo)} not built`);
    } else {
      await target(group, 'mcpd + http_backend', 'mcpd', async () => {
        const s = await startMcpd([backendSo], pluginConfig);
        return measure(s, async () => {
          const tool = await findItemTool(s.url);
          await callOnce(s.url, tool, itemArgs);
          return wrkCall(s.url, tool, itemArgs);
        });
      });
      // The same load generator as the peer's row below, for a like-for-like ratio.
      await target(group, 'mcpd + http_backend', 'mcpd', async () => {
        const s = await startMcpd([backendSo], pluginConfig);
        return measure(s, async () => nodeDriver(s.url, await findItemTool(s.url), itemArgs));
      });
    }
    await target(group, '@ivotoby/openapi-mcp-server', 'peer', async () => {
      const s = await startIvotoby(backend.base);
      return measure(s, async () => {
        const tool = await findItemTool(s.url);
        const r = await nodeDriver(s.url, tool, itemArgs);
        r.note = 'answers on the GET stream';
        return r;
      });
    });
  } finally {
    try {
      await backend.stop();
    } catch (e) {
      serverErrors++;
      notes.push(`${group}: ${e.message}`);
    }
  }
}

// ---- the targets: memory -------------------------------------------------

const memory = {};

// n initialize POSTs over `concurrency` keep-alive connections, then every
// connection closed. Returns the session ids.
async function initSessions(url, n, concurrency = 16) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const ids = [];
  let next = 0;
  let failures = 0;
  let lastFailure = '';
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      try {
        const r = await post(url, initMessage(i), undefined, agent);
        const sid = r.headers['mcp-session-id'];
        if (r.status === 200 && sid && r.message?.result) ids.push(sid);
        else { failures++; lastFailure = `status ${r.status}: ${r.body.slice(0, 200)}`; }
      } catch (e) {
        failures++;
        lastFailure = e.message;
      }
    }
  }));
  agent.destroy();
  if (failures) throw new Error(`${failures} of ${n} initialize requests failed (last: ${lastFailure})`);
  return ids;
}

async function metric(s, re) {
  const text = await new Promise((res, rej) => {
    http.get(`${s.base}/metrics`, { agent: false }, (r) => {
      let t = '';
      r.on('data', (c) => { t += c; });
      r.on('end', () => res(t));
    }).on('error', rej);
  });
  return Number(re.exec(text)?.[1] ?? NaN);
}

async function settledRss(s) {
  await sleep(500);
  return s.rssKB();
}

async function memMcpdIdle() {
  const s = await startMcpd([helloSo]);
  try {
    memory.mcpdIdleKB = await settledRss(s);
  } finally {
    await s.stop();
  }
}

// Per idle session: (RSS after n initializes - RSS before) / n, nothing open.
async function memSessions(start, n, key) {
  const s = await start();
  try {
    const before = await settledRss(s);
    const t = Date.now();
    await initSessions(s.url, n);
    const secs = (Date.now() - t) / 1000;
    const after = await settledRss(s);
    if (s.base && s.name === 'mcpd') {
      const open = await metric(s, /^mcpd_sessions_open (\d+)/m);
      if (open !== n) throw new Error(`mcpd reports ${open} open sessions, expected ${n}`);
    }
    memory[key] = { n, beforeKB: before, afterKB: after, perSessionB: ((after - before) * 1024) / n, secs };
  } finally {
    await s.stop();
  }
}

function openFiles() {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

// RSS with n open GET /mcp SSE streams, one per session, held open.
async function memStreams(n) {
  const need = n + 1000;
  if (openFiles() < need) {
    memory.streams = { skipped: `skipped: ulimit -n is ${openFiles()}, ${need} needed (run.sh raises it)` };
    process.stdout.write(`${memory.streams.skipped}\n`);
    return;
  }
  // All from one address: the per-client caps (issue 12) must allow them.
  const s = await startMcpd([helloSo], { limits: { max_connections: n + 1024, max_sessions: n + 1024,
    max_connections_per_client: n + 1024, max_streams_per_client: n + 1024, max_sessions_per_client: n + 1024 } });
  const streams = [];
  try {
    const idle = await settledRss(s);
    const ids = await initSessions(s.url, n);
    for (let i = 0; i < ids.length; i += 250) {
      await Promise.all(ids.slice(i, i + 250).map((sid) => new Promise((res, rej) => {
        const req = http.request(s.url, {
          method: 'GET', agent: false,
          headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' },
        }, (r) => {
          if (r.statusCode !== 200) rej(new Error(`GET stream: status ${r.statusCode}`));
          r.on('data', () => {});
          r.on('error', () => {});
          res();
        });
        req.on('error', rej);
        req.end();
        streams.push(req);
      })));
    }
    const rss = await settledRss(s);
    const attached = await metric(s, /^mcpd_sse_streams\{state="attached"\} (\d+)/m);
    if (attached !== n) throw new Error(`mcpd reports ${attached} attached SSE streams, expected ${n}`);
    memory.streams = { n, idleKB: idle, rssKB: rss };
  } finally {
    for (const r of streams) r.destroy();
    await s.stop();
  }
}

async function memTsIdle() {
  const s = await startTsServer();
  try {
    memory.tsIdleKB = await settledRss(s);
  } finally {
    await s.stop();
  }
}

async function memoryTarget(what, fn) {
  log(`memory: ${what}`);
  try {
    await fn();
  } catch (e) {
    serverErrors++;
    notes.push(`memory, ${what}: failed: ${e.message}`);
    log(`FAILED: ${e.message}`);
  }
}

// ---- big API documents (issue 16) ---------------------------------------------
// GitHub's REST description (npm @octokit/openapi, 1,223 operations) and its
// dereferenced twin, from a local file: the time from spawn until the server
// serves (mcpd logs "listening" once its plugins have read a local document;
// @ivotoby/openapi-mcp-server opens its port once it has loaded its), VmRSS
// 0.5 s later, the peak (VmHWM), and every page of tools/list. Each server
// BENCH_BIGAPI_RUNS times in turn; medians.

const bigapiRows = [];
const bigapiRuns = num('BENCH_BIGAPI_RUNS', 3);
const ghDocs = join(root, 'tests/node_modules/@octokit/openapi/generated');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

// Every page of tools/list: the tools and the bytes of the JSON-RPC results.
async function toolsListSize(url) {
  const sid = await session(url);
  let bytes = 0;
  let tools = 0;
  let cursor;
  for (let id = 1; ; id++) {
    const r = await post(url, { jsonrpc: '2.0', id, method: 'tools/list', ...(cursor ? { params: { cursor } } : {}) }, sid);
    const result = r.message?.result;
    if (!result) throw new Error(`tools/list at ${url}: status ${r.status}: ${r.body.slice(0, 300)}`);
    bytes += JSON.stringify(result).length;
    tools += result.tools.length;
    cursor = result.nextCursor;
    if (!cursor) return { bytes, tools };
  }
}

async function bigapiIvotoby(file, mode) {
  const port = await freePort();
  const s = new Server('openapi-mcp-server', process.execPath, [ivotobyBin,
    '--api-base-url', 'http://127.0.0.1:9', '--openapi-spec', file, '--tools', mode,
    '--transport', 'http', '--host', '127.0.0.1', '--port', String(port), '--verbose', 'false'], { cwd: here });
  await s.waitPort(port, 180000);
  s.url = `http://127.0.0.1:${port}/mcp`;
  return s;
}

async function bigapiServer(doc, server, start) {
  log(`big API ${doc}: ${server}`);
  const row = { doc, server, loadMs: [], rssKB: [], peakKB: [] };
  bigapiRows.push(row);
  try {
    for (let i = 0; i < bigapiRuns; i++) {
      const t = process.hrtime.bigint();
      const s = await start();
      try {
        row.loadMs.push(Number(process.hrtime.bigint() - t) / 1e6);
        row.rssKB.push(await settledRss(s));
        row.peakKB.push(s.peakKB());
        if (i === 0) Object.assign(row, await toolsListSize(s.url));
      } finally {
        await s.stop();
      }
    }
  } catch (e) {
    serverErrors++;
    row.failed = e.message.split('\n')[0];
    notes.push(`big API ${doc}, ${server}: failed: ${e.message}`);
    log(`FAILED: ${e.message}`);
  }
}

async function bigapiGroup() {
  for (const name of ['api.github.com.json', 'api.github.com.deref.json']) {
    const file = join(ghDocs, name);
    if (!existsSync(file)) {
      notes.push(`big API ${name}: skipped: not found (npm ci in tests/)`);
      continue;
    }
    const mcpdWith = (extra) => () => startMcpd([backendSo], { plugins: { http_backend: { backends: [{
      name: 'gh', base_url: 'http://127.0.0.1:9', openapi: `file:${file}`, tool_prefix: 'gh_', ...extra }] } } });
    await bigapiServer(name, 'mcpd + http_backend, tools_mode auto (search)', mcpdWith({}));
    await bigapiServer(name, 'mcpd + http_backend, tools_mode all', mcpdWith({ tools_mode: 'all' }));
    await bigapiServer(name, '@ivotoby/openapi-mcp-server --tools all', () => bigapiIvotoby(file, 'all'));
    await bigapiServer(name, '@ivotoby/openapi-mcp-server --tools dynamic', () => bigapiIvotoby(file, 'dynamic'));
  }
}

function bigapiTable() {
  const lines = [
    `| document | server | load ms (median of ${bigapiRuns}) | RSS after load MB | peak RSS MB | tools | tools/list bytes |`,
    '|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const r of bigapiRows) {
    if (r.failed) {
      lines.push(`| ${r.doc} | ${r.server} | FAILED: ${r.failed} | | | | |`);
      continue;
    }
    lines.push(`| ${r.doc} | ${r.server} | ${Math.round(median(r.loadMs))} | ${fmt.mb(median(r.rssKB))} | ${fmt.mb(median(r.peakKB))} | ${r.tools ?? '—'} | ${r.bytes?.toLocaleString('en-US') ?? '—'} |`);
  }
  return lines.join('\n');
}

// ---- the report ----------------------------------------------------------

function versions() {
  const pkg = (name) => JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
  const sh = (cmd, args) => { // stdout and stderr (nginx -v writes to stderr)
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || 'unknown';
  };
  const deb = (p) => sh('dpkg-query', ['-W', '-f=${Version}', p]);
  const py = sh(cfg.python, ['-c', 'import sys, fastapi, uvicorn; print(sys.version.split()[0], fastapi.__version__, uvicorn.__version__)']).split(' ');
  return {
    mcpd: sh(mcpdBin, ['--version']),
    node: process.version,
    sdk: pkg('@modelcontextprotocol/sdk'),
    sdkV2: pkg('@modelcontextprotocol/server'),
    sdkV2Node: pkg('@modelcontextprotocol/node'),
    ivotoby: pkg('@ivotoby/openapi-mcp-server'),
    nginx: `${sh('nginx', ['-v']).replace('nginx version: nginx/', '')} (nginx-light ${deb('nginx-light')})`,
    fastapi: `FastAPI ${py[1]} on uvicorn ${py[2]}, Python ${py[0]} (Debian ${deb('python3-fastapi')}, ${deb('python3-uvicorn')})`,
    wrk: `wrk ${deb('wrk')}`,
  };
}

const fmt = {
  rps: (v) => (v === undefined || Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US')),
  ms: (us) => (us === undefined || Number.isNaN(us) ? '—' : (us / 1000).toFixed(us < 10000 ? 2 : 1)),
  mb: (kb) => (kb === undefined || Number.isNaN(kb) ? '—' : (kb / 1024).toFixed(1)),
  kb: (b) => (b === undefined || Number.isNaN(b) ? '—' : `${(b / 1024).toFixed(2)} KB`),
  x: (v) => (v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(1)}x`),
  pct: (v) => (v === undefined || !Number.isFinite(v) ? '—' : `${Math.round(v * 100)}%`),
};

// mcpd/peer and mcpd/limit within each group, with the peer and limit rows
// measured (the same load generator as the mcpd row where there is a choice).
function ratios() {
  for (const r of rows) {
    if (r.role !== 'mcpd' || !r.rps) continue;
    // The same load generator first, else any of the same protocol era (a
    // 2026-07-28 row is never compared with a session peer, nor the reverse).
    const peers = rows.filter((x) => x.group === r.group && x.role === 'peer' && x.rps);
    const peer = peers.find((x) => x.load === r.load) ?? peers.find((x) => x.era === r.era);
    const limit = rows.find((x) => x.group === r.group && x.role === 'limit' && x.rps);
    if (peer) r.vsPeer = r.rps / peer.rps;
    if (limit) r.vsLimit = r.rps / limit.rps;
  }
}

function throughputTable() {
  const lines = [
    '| target | server | load | req/s | p50 ms | p99 ms | errors | peak RSS MB | mcpd/peer | mcpd/limit |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    const server = r.note ? `${r.server} (${r.note})` : r.server;
    if (r.skipped || r.failed) {
      lines.push(`| ${r.group} | ${server} | — | ${r.skipped ?? `FAILED: ${r.failed}`} | | | | | | |`);
      continue;
    }
    lines.push(`| ${r.group} | ${server} | ${r.load} | ${fmt.rps(r.rps)} | ${fmt.ms(r.p50_us)} | ${fmt.ms(r.p99_us)} | ${r.errors} | ${fmt.mb(r.peakKB)} | ${fmt.x(r.vsPeer)} | ${fmt.pct(r.vsLimit)} |`);
  }
  return lines.join('\n');
}

function memoryTable() {
  const m = memory;
  const per = (x) => (x ? `${fmt.kb(x.perSessionB)} (${x.n.toLocaleString('en-US')} sessions: ${fmt.mb(x.beforeKB)} → ${fmt.mb(x.afterKB)} MB, created in ${x.secs.toFixed(1)} s)` : '—');
  const streams = m.streams?.skipped ?? (m.streams ? `${fmt.mb(m.streams.rssKB)} MB (${fmt.mb(m.streams.idleKB)} MB idle before)` : '—');
  return [
    '| measurement | mcpd | TS SDK server |',
    '|---|---|---|',
    `| RSS idle | ${fmt.mb(m.mcpdIdleKB)} MB | ${fmt.mb(m.tsIdleKB)} MB |`,
    `| RSS per idle session | ${per(m.mcpdSessions)} | ${per(m.tsSessions)} |`,
    `| RSS with ${cfg.streams.toLocaleString('en-US')} open SSE streams | ${streams} | not measured |`,
  ].join('\n');
}

function targets() {
  const out = [];
  const check = (label, value, shown, pass) => {
    if (value === undefined || Number.isNaN(value)) out.push(`- SKIP ${label}: not measured`);
    else out.push(`- ${pass(value) ? 'PASS' : 'FAIL'} ${label}: ${shown(value)}`);
  };
  const echo = rows.find((r) => r.group === 'tools/call echo' && r.role === 'mcpd' && !r.era);
  const modernEcho = rows.find((r) => r.group === 'tools/call echo' && r.role === 'mcpd' && r.era === '2026-07-28');
  const tlsEcho = rows.find((r) => r.group === 'tools/call echo, keep-alive' && r.role === 'mcpd');
  check('tools/call echo over HTTPS >= 60% of plain HTTP (keep-alive)', tlsEcho?.vsLimit, fmt.pct, (v) => v >= 0.6);
  const jwtEcho = rows.find((r) => r.group === 'tools/call echo, bearer tokens' && r.server === 'mcpd, JWT (RS256)');
  check('tools/call echo with JWT auth >= 80% of the same without auth', jwtEcho?.vsLimit, fmt.pct, (v) => v >= 0.8);
  check('tools/call echo >= 15x the TS SDK server', echo?.vsPeer, fmt.x, (v) => v >= 15);
  check('2026-07-28 tools/call echo >= the session figure in the same run', echo?.rps && modernEcho?.rps ? modernEcho.rps / echo.rps : undefined,
    (v) => `${fmt.rps(modernEcho.rps)} req/s, ${fmt.pct(v)} of ${fmt.rps(echo.rps)}`, (v) => v >= 1);
  check('2026-07-28 tools/call echo >= 40x the TS SDK v2 server (createMcpHandler)', modernEcho?.vsPeer, fmt.x, (v) => v >= 40);
  check('tools/call echo >= 50% of nginx return 200', echo?.vsLimit, fmt.pct, (v) => v >= 0.5);
  check(`tools/call echo p99 < 2 ms at ${cfg.connections} connections`, echo?.p99_us, (v) => `${fmt.ms(v)} ms`, (v) => v < 2000);
  const mcpdRows = rows.filter((r) => r.role === 'mcpd' && !r.skipped);
  const mcpdFailed = mcpdRows.filter((r) => r.failed).length;
  const mcpdErrors = mcpdRows.reduce((a, r) => a + (r.errors ?? 0), 0);
  check('zero errors from mcpd', mcpdRows.length ? mcpdErrors + mcpdFailed : undefined,
    () => `${mcpdErrors} errors${mcpdFailed ? `, ${mcpdFailed} run(s) failed` : ''}`, (v) => v === 0);
  check('idle RSS < 8 MB', memory.mcpdIdleKB, (v) => `${fmt.mb(v)} MB`, (v) => v < 8 * 1024);
  check('< 2 KB per idle session', memory.mcpdSessions?.perSessionB, fmt.kb, (v) => v < 2048);
  check(`${cfg.streams.toLocaleString('en-US')} open SSE streams < 64 MB`, memory.streams?.rssKB, (v) => `${fmt.mb(v)} MB`, (v) => v < 64 * 1024);
  const wrkRow = (group) => rows.find((r) => r.group === group && r.role === 'mcpd' && r.load === 'wrk' && r.rps);
  check('http_backend with FastAPI >= 90% of the backend directly', wrkRow('http_backend, FastAPI backend')?.vsLimit, fmt.pct, (v) => v >= 0.9);
  check('http_backend with the nginx backend >= 5x @ivotoby/openapi-mcp-server', wrkRow('http_backend, nginx backend')?.vsPeer, fmt.x, (v) => v >= 5);
  const driverRow = (group) => rows.find((r) => r.group === group && r.role === 'mcpd' && r.load === 'node driver' && r.rps);
  check('the same, both driven by mcp_load.mjs', driverRow('http_backend, nginx backend')?.vsPeer, fmt.x, (v) => v >= 5);
  return out.join('\n');
}

function report(v, started) {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const cores = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const load = os.loadavg().map((x) => x.toFixed(2)).join(', ');
  return `# mcpd benchmark results

Written by \`tests/bench/run.sh\` (${started.toISOString().replace(/\.\d+Z$/, 'Z')}).

- Machine: ${cores} cores (\`nproc\`), ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}; load average at the start: ${startLoad}, at the end: ${load}.
- Load: \`wrk -t${cfg.threads} -c${cfg.connections} -d${cfg.seconds}s\` with \`tests/bench/mcp_echo.lua\` after a ${cfg.warmup} s warm-up per target; each server started alone on a loopback port, then stopped. nginx runs ${cfg.nginxWorkers} worker process${cfg.nginxWorkers === 1 ? '' : 'es'}.
- Versions: ${v.mcpd} (Release build in \`${rel(cfg.buildDir)}/\`, access log off); \`@modelcontextprotocol/sdk\` ${v.sdk} on Node.js ${v.node} (McpServer, stateful StreamableHTTPServerTransport, SSE replies); \`@modelcontextprotocol/server\` ${v.sdkV2} (createMcpHandler, a McpServer per request, JSON replies) on node:http through \`@modelcontextprotocol/node\` ${v.sdkV2Node}'s toNodeHandler; \`@ivotoby/openapi-mcp-server\` ${v.ivotoby}; nginx ${v.nginx}; ${v.fastapi}, one worker; ${v.wrk}.

## Throughput

${throughputTable()}

One session per wrk thread (its ${cfg.connections} connections share it), a fresh JSON-RPC id per call; the "2026-07-28 (no session)" rows send no initialize: each call carries \`_meta\`'s protocolVersion and clientCapabilities and the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers, and mcpd/peer compares them with the v2 server; errors are non-2xx replies, JSON-RPC errors (in JSON or SSE bodies), \`isError\` results, replies without a result and socket errors. Peak RSS: VmHWM of the server's processes (nginx: master and workers), over the warm-up and the run. mcpd/peer and mcpd/limit compare requests/s with the peer and the limit of the same target. The "node driver" rows use \`tests/bench/mcp_load.mjs\` (${cfg.connections} sessions, one call at a time each, each session with its GET stream open): \`@ivotoby/openapi-mcp-server\` answers a \`tools/call\` POST with 202 and an empty body and sends the result on the session's GET stream, which wrk cannot follow; mcpd is measured the same way next to it for a like-for-like ratio. The driver writes and reads HTTP/1.1 itself over \`node:net\` (node:http's client cost more CPU per call than mcpd), but it is still Node.js on the same ${cores} cores, so it caps what it can show.

## Memory

${memoryTable()}

RSS is VmRSS from \`/proc/PID/status\`, 0.5 s after the step. Per idle session: ${cfg.sessions.toLocaleString('en-US')} initialize POSTs (16 at a time on keep-alive connections, all closed afterwards), (RSS after − RSS before) / ${cfg.sessions.toLocaleString('en-US')}${cfg.tsSessions !== cfg.sessions ? `; the TS SDK server with ${cfg.tsSessions.toLocaleString('en-US')}` : ''}. SSE streams: ${cfg.streams.toLocaleString('en-US')} sessions, then a \`GET /mcp\` (\`Accept: text/event-stream\`) on each, held open (mcpd's \`limits.max_connections\` raised for it); mcpd's /metrics confirms the session and stream counts.

## Big API documents

${bigapiTable()}

Load: from spawn until the server serves (mcpd: its "listening" line, logged after its plugins have read a local document; the peer: its port open, after it has loaded the document), a few ms of polling included. RSS: VmRSS 0.5 s after that; peak: VmHWM.

## Targets (informational)

${targets()}
${notes.length ? `\n## Notes\n\n${notes.map((n) => `- ${n.replaceAll('\n', ' ').slice(0, 600)}`).join('\n')}\n` : ''}`;
}

// ---- main ----------------------------------------------------------------

const startLoad = os.loadavg().map((x) => x.toFixed(2)).join(', ');
const started = new Date();
if (!existsSync(mcpdBin)) {
  process.stderr.write(`bench: ${rel(mcpdBin)} not found: run tests/bench/run.sh (it builds it)\n`);
  process.exit(2);
}

const only = process.env.BENCH_ONLY;
if (only === 'bigapi') {
  await bigapiGroup();
  const checks = [];
  const ghSearch = bigapiRows.find((r) => r.doc === 'api.github.com.json' && /search/.test(r.server) && !r.failed);
  if (ghSearch) {
    checks.push(`- ${median(ghSearch.loadMs) < 300 ? 'PASS' : 'FAIL'} api.github.com.json loads in < 300 ms: ${Math.round(median(ghSearch.loadMs))} ms`);
    checks.push(`- ${median(ghSearch.rssKB) < 40 * 1024 ? 'PASS' : 'FAIL'} api.github.com.json loaded in < 40 MB RSS: ${fmt.mb(median(ghSearch.rssKB))} MB`);
    checks.push(`- ${ghSearch.bytes < 8192 ? 'PASS' : 'FAIL'} search-mode tools/list < 8 KB: ${ghSearch.bytes} bytes`);
  }
  process.stdout.write(`\n${bigapiTable()}\n\n${checks.join('\n')}\n${notes.length ? `\n${notes.join('\n')}\n` : ''}`);
  if (process.env.BENCH_RESULTS) writeFileSync(cfg.results, `${bigapiTable()}\n`);
  process.exit(serverErrors ? 1 : 0);
}
if (['tls', 'auth', 'echo', 'modern'].includes(only)) {
  if (only === 'tls') await tlsGroup();
  else if (only === 'auth') await authGroup();
  else await echoRows({ modernOnly: only === 'modern' });
  ratios();
  process.stdout.write(`\n${throughputTable()}\n\n${targets().split('\n').filter((l) => !l.startsWith('- SKIP')).join('\n')}\n`);
  if (process.env.BENCH_RESULTS) writeFileSync(cfg.results, throughputTable());
  process.exit(serverErrors ? 1 : 0);
}
await echoRows();
await backendGroup('http_backend, nginx backend', startNginxBackend);
await backendGroup('http_backend, FastAPI backend', startFastApi);
await tlsGroup();
await authGroup();
await bigapiGroup();

await memoryTarget('mcpd idle', memMcpdIdle);
await memoryTarget(`mcpd, ${cfg.sessions} idle sessions`, () => memSessions(() => startMcpd([helloSo], { limits: { max_sessions: cfg.sessions + 1024, max_sessions_per_client: cfg.sessions + 1024 } }), cfg.sessions, 'mcpdSessions'));
await memoryTarget(`mcpd, ${cfg.streams} open SSE streams`, () => memStreams(cfg.streams));
await memoryTarget('TS SDK server idle', memTsIdle);
await memoryTarget(`TS SDK server, ${cfg.tsSessions} idle sessions`, () => memSessions(startTsServer, cfg.tsSessions, 'tsSessions'));

ratios();
const md = report(versions(), started);
process.stdout.write(`\n${md}`);
writeFileSync(cfg.results, md);
process.stdout.write(`\nwritten to ${rel(cfg.results)}\n`);
process.exit(serverErrors ? 1 : 0);
