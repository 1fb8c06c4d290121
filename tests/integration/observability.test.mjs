// Running mcpd as a service: /metrics moves with traffic and passes
// promtool, /healthz reports reloads and their errors, the access log has a
// line per request (and never a body or a header value), sd_notify speaks
// to systemd, and session ids carry the configured prefix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMcpd, makePluginsDir, pluginPath, runMcpd } from './lib/mcpd.mjs';
import { post, initSession, ACCEPT } from './lib/http.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Parses the Prometheus text format into { 'name{labels}': value }.
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

async function scrape(d) {
  const res = await fetch(`${d.base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, m: parseMetrics(text) };
}

const v = (m, key) => m[key] ?? 0;

function reloads(d) {
  return (d.log().match(/event=reload_done|event=reload_failed/g) ?? []).length;
}

async function reload(d) {
  const before = reloads(d);
  d.proc.kill('SIGHUP');
  const t0 = Date.now();
  while (reloads(d) <= before) {
    if (Date.now() - t0 > 10000) throw new Error(`reload did not finish:\n${d.log()}`);
    await sleep(5);
  }
}

async function callTool(d, sid, name, args = {}, id = 1) {
  return post(d.url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } },
    { 'Mcp-Session-Id': sid });
}

test('/metrics: counters and histograms move with traffic, and promtool accepts the output', async () => {
  const dir = makePluginsDir(['hello', 'testkit']);
  const d = await startMcpd({ pluginsDir: dir });
  try {
    const before = (await scrape(d)).m;
    const { sid } = await initSession(d.url);
    for (let i = 0; i < 3; i++) assert.equal((await callTool(d, sid, 'echo', { text: `x${i}` }, i + 1)).status, 200);
    const failed = await callTool(d, sid, 'fail', { code: -5 }, 10);
    assert.equal(failed.status, 200);
    assert.ok(failed.json.error || failed.json.result.isError, failed.text);
    // Arguments that fail the schema never reach the tool: a JSON-RPC error.
    const invalid = await callTool(d, sid, 'fail', { code: 'x' }, 13);
    assert.ok(invalid.json.error || invalid.json.result.isError, invalid.text);
    const unknown = await post(d.url, { jsonrpc: '2.0', id: 11, method: 'no/such' }, { 'Mcp-Session-Id': sid });
    assert.equal(unknown.json.error.code, -32601);
    const gone = await post(d.url, { jsonrpc: '2.0', id: 12, method: 'ping' }, { 'Mcp-Session-Id': 'f'.repeat(32) });
    assert.equal(gone.status, 404);
    assert.equal((await fetch(`${d.base}/nowhere`)).status, 404);

    const { text, m } = await scrape(d);
    assert.equal(v(m, 'mcpd_tool_call_duration_seconds_count{tool="echo"}'), 3);
    assert.equal(v(m, 'mcpd_tool_call_duration_seconds_bucket{tool="echo",le="+Inf"}'), 3);
    assert.ok(v(m, 'mcpd_tool_call_duration_seconds_sum{tool="echo"}') > 0);
    assert.equal(v(m, 'mcpd_tool_call_errors_total{tool="echo"}'), 0);
    assert.equal(v(m, 'mcpd_tool_call_errors_total{tool="fail"}'), 1);
    // Buckets are cumulative: never decreasing, ending at the count.
    const buckets = Object.entries(m).filter(([k]) => k.startsWith('mcpd_tool_call_duration_seconds_bucket{tool="echo"'));
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], buckets[i][0]);
    assert.equal(v(m, 'mcpd_jsonrpc_requests_total{method="tools/call",outcome="ok"}'), 3);
    assert.equal(v(m, 'mcpd_jsonrpc_requests_total{method="tools/call",outcome="error"}'), 2);
    assert.equal(v(m, 'mcpd_jsonrpc_requests_total{method="initialize",outcome="ok"}'), 1);
    assert.equal(v(m, 'mcpd_jsonrpc_requests_total{method="other",outcome="error"}'), 1);
    // initialize, 3 echo, 2 fail, unknown: 7 answered 200.
    assert.equal(v(m, 'mcpd_http_requests_total{path="/mcp",status="200"}') - v(before, 'mcpd_http_requests_total{path="/mcp",status="200"}'), 7);
    assert.equal(v(m, 'mcpd_http_requests_total{path="/mcp",status="202"}'), 1);
    assert.equal(v(m, 'mcpd_http_requests_total{path="/mcp",status="404"}'), 1);
    assert.equal(v(m, 'mcpd_http_requests_total{path="other",status="404"}'), 1);
    assert.equal(v(m, 'mcpd_http_requests_total{path="/metrics",status="200"}'), 1);
    assert.equal(v(m, 'mcpd_sessions_open'), 1);
    assert.equal(v(m, 'mcpd_plugin_generations{state="active"}'), 2);
    assert.equal(v(m, 'mcpd_build_info{version="0.1.0"}'), 1);

    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.error, undefined, 'promtool is missing: install the Debian prometheus package (tests/run-all.sh does)');
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);

    // Reloads, a failed one included, are counted and /healthz says why.
    copyFileSync(pluginPath('bad_init_fails'), join(dir, 'init_fails.so'));
    await reload(d);
    let h = await (await fetch(`${d.base}/healthz`)).json();
    assert.equal(h.reloads, 1);
    assert.equal(h.reload_failures, 1);
    assert.match(h.last_reload_error, /init_fails\.so: /);
    unlinkSync(join(dir, 'init_fails.so'));
    await reload(d);
    h = await (await fetch(`${d.base}/healthz`)).json();
    assert.equal(h.reloads, 2);
    assert.equal(h.reload_failures, 1);
    assert.equal(h.last_reload_error, null);
    assert.equal(h.status, 'ok');
    assert.deepEqual(h.plugins.map((p) => p.name).sort(), ['hello', 'testkit']);
    assert.ok(h.plugins.every((p) => typeof p.version === 'string' && p.version.length > 0));
    const after = (await scrape(d)).m;
    assert.equal(v(after, 'mcpd_reloads_total'), 2);
    assert.equal(v(after, 'mcpd_reload_failures_total'), 1);
    assert.equal((await fetch(`${d.base}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('access log: one line per request with method, path, status, bytes, duration, session and tool; no secrets', async () => {
  const d = await startMcpd({ plugins: ['hello'] });
  try {
    const { sid } = await initSession(d.url);
    const r = await post(d.url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: { text: 'body-secret-value' } } },
      { 'Mcp-Session-Id': sid, Authorization: 'Bearer header-secret-token' });
    assert.equal(r.status, 200);
    // A GET stream is logged when it ends.
    const ctl = new AbortController();
    const res = await fetch(d.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid }, signal: ctl.signal });
    assert.equal(res.status, 200);
    ctl.abort();
    const line = await d.waitForLog(new RegExp(`event=request id=\\d+ method=POST path=/mcp status=200 bytes=(\\d+) duration_ms=[0-9.]+ session=${sid} tool=echo`));
    assert.ok(Number(line[1]) > 50);
    await d.waitForLog(new RegExp(`event=request id=\\d+ method=GET path=/mcp status=200 bytes=\\d+ duration_ms=[0-9.]+ session=${sid}\\n`));
    const raw = await fetch(`${d.base}/healthz`);
    assert.equal(raw.status, 200);
    await d.waitForLog(/method=GET path=\/healthz status=200/);
    assert.doesNotMatch(d.log(), /body-secret-value|header-secret-token/);
  } finally {
    await d.stop();
  }
  const quiet = await startMcpd({ plugins: ['hello'], config: { access_log: false } });
  try {
    await initSession(quiet.url);
    assert.equal((await fetch(`${quiet.base}/healthz`)).status, 200);
    await sleep(100);
    assert.doesNotMatch(quiet.log(), /event=request /);
    assert.match(quiet.log(), /event=session_created/);
  } finally {
    await quiet.stop();
  }
});

// A datagram socket like systemd's, read by a small Python listener (Node has
// no AF_UNIX datagrams).
function notifySocket() {
  const dir = mkdtempSync(join(tmpdir(), 'mcpd-notify-'));
  const path = join(dir, 'notify.sock');
  const py = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", "|"), flush=True)
`, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  py.stdout.on('data', (b) => { out += b; });
  return {
    path,
    messages: () => out.split('\n').filter((l) => l && l !== 'bound'),
    async ready() { while (!out.includes('bound')) await sleep(10); },
    async waitFor(re, n = 1) {
      const t0 = Date.now();
      while (this.messages().filter((l) => re.test(l)).length < n) {
        if (Date.now() - t0 > 10000) throw new Error(`no ${re} in ${JSON.stringify(this.messages())}`);
        await sleep(10);
      }
    },
    close() { py.kill(); rmSync(dir, { recursive: true, force: true }); },
  };
}

test('sd_notify: READY=1 once listening, RELOADING=1 then READY=1 around a reload, STOPPING=1 on SIGTERM', async () => {
  const sock = notifySocket();
  await sock.ready();
  const d = await startMcpd({ plugins: ['hello'], env: { NOTIFY_SOCKET: sock.path } });
  try {
    await sock.waitFor(/^READY=1$/);
    d.proc.kill('SIGHUP');
    await sock.waitFor(/^READY=1$/, 2);
    const msgs = sock.messages();
    assert.match(msgs[1], /^RELOADING=1\|MONOTONIC_USEC=\d+$/);
    assert.equal(msgs[2], 'READY=1');
  } finally {
    await d.stop();
  }
  await sock.waitFor(/^STOPPING=1$/);
  assert.equal(sock.messages().length, 4);
  sock.close();
});

test('session_id_prefix: new session ids carry it and work; a bad prefix is refused', async () => {
  const d = await startMcpd({ plugins: ['hello'], config: { session_id_prefix: 'east-1.' } });
  try {
    const { sid } = await initSession(d.url);
    assert.match(sid, /^east-1\.[A-Za-z0-9_-]{32,102}$/);
    const r = await callTool(d, sid, 'echo', { text: 'hi' });
    assert.equal(r.json.result.content[0].text, 'hi');
    const del = await fetch(d.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid, Accept: ACCEPT } });
    assert.equal(del.status, 200);
    assert.equal((await callTool(d, sid, 'echo', { text: 'hi' })).status, 404);
  } finally {
    await d.stop();
  }
  const work = mkdtempSync(join(tmpdir(), 'mcpd-cfg-'));
  try {
    const file = join(work, 'bad.json');
    for (const bad of ['has space', 'x'.repeat(16), 7]) {
      writeFileSync(file, JSON.stringify({ session_id_prefix: bad }));
      const r = await runMcpd(['--config', file, '--check']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /"session_id_prefix" must be a string of at most 15 characters/);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
