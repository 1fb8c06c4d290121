// Tasks (the io.modelcontextprotocol/tasks extension of 2026-07-28) against
// the real daemon and the conformance fixture plugin, over raw HTTP: a long
// call answered at once with a task id and polled; questions a task asks,
// answered by tasks/update; notifications/tasks on a listen stream; cancel;
// expiry; who may see a task (auth); per-client caps under attack from
// another loopback address while a victim on 127.0.0.1 is served; and the
// legacy era, which sees none of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMcpd, buildDir } from './lib/mcpd.mjs';

const pluginsDir = join(buildDir, 'tests/fixtures/conformance');
const EXT = 'io.modelcontextprotocol/tasks';
const WITH = { elicitation: {}, extensions: { [EXT]: {} } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function nameOf(method, params) {
  if (method === 'tools/call' || method === 'prompts/get') return params?.name;
  if (method === 'resources/read') return params?.uri;
  if (method.startsWith('tasks/')) return params?.taskId;
  return undefined;
}

// One 2026-07-28 request; resolves to {status, msg} (msg: the JSON-RPC
// response, from a JSON or an SSE body). opts: caps, token, localAddress.
function rpc(url, method, params = {}, { caps = WITH, token, localAddress, headers = {} } = {}) {
  const body = JSON.stringify({
    jsonrpc: '2.0', id: Math.floor(Math.random() * 1e9), method,
    params: { ...params, _meta: { ...(params._meta ?? {}), 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': caps } },
  });
  const h = {
    'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
    'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method, 'Content-Length': Buffer.byteLength(body), ...headers,
  };
  const name = nameOf(method, params);
  if (name !== undefined && h['Mcp-Name'] === undefined) h['Mcp-Name'] = name;
  if (token) h.Authorization = `Bearer ${token}`;
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: h, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let msg;
        if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          const datas = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
          msg = datas.find((d) => d.id !== undefined);
        } else {
          try { msg = JSON.parse(text); } catch { msg = undefined; }
        }
        resolve({ status: res.statusCode, msg, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function result(url, method, params, opts) {
  const r = await rpc(url, method, params, opts);
  assert.ok(r.msg?.result, `${method} failed: ${r.status} ${r.text}`);
  return r.msg.result;
}

async function until(url, taskId, pred, opts, ms = 10000) {
  const t0 = Date.now();
  for (;;) {
    const t = await result(url, 'tasks/get', { taskId }, opts);
    if (pred(t)) return t;
    if (Date.now() - t0 > ms) assert.fail(`task ${taskId} stayed ${JSON.stringify(t)}`);
    await sleep(50);
  }
}
const terminal = (t) => ['completed', 'failed', 'cancelled'].includes(t.status);

// A subscriptions/listen stream; resolves once acknowledged, with the
// messages it gets (msgs) and close().
function listen(url, notifications, { caps = WITH, token } = {}) {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 'listen-1', method: 'subscriptions/listen', params: { notifications,
    _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': caps } } });
  const u = new URL(url);
  const msgs = [];
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false, headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2026-07-28',
      'Mcp-Method': 'subscriptions/listen', 'Content-Length': Buffer.byteLength(body), ...(token ? { Authorization: `Bearer ${token}` } : {}),
    } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        res.on('data', (c) => { buf += c; });
        res.on('end', () => resolve({ status: res.statusCode, error: JSON.parse(buf).error, msgs, close() {} }));
        return;
      }
      res.on('data', (c) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('');
          if (!data) continue;
          const m = JSON.parse(data);
          msgs.push(m);
          if (m.method === 'notifications/subscriptions/acknowledged')
            resolve({ status: 200, ack: m.params.notifications, msgs, close: () => req.destroy() });
        }
      });
    });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    req.end(body);
  });
}

test('a long call runs as a task: created at once, polled, and its result is the call\'s; discover advertises the extension', async () => {
  const d = await startMcpd({ pluginsDir, config: { timeouts: { task_poll_ms: 250, task_ttl_ms: 120000 } } });
  try {
    const disc = await result(d.url, 'server/discover', {});
    assert.deepEqual(disc.capabilities.extensions, { [EXT]: {} });
    assert.equal(disc.capabilities.tasks, undefined);

    const t0 = Date.now();
    const created = await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 1, label: 'L1' } });
    assert.ok(Date.now() - t0 < 900, 'the task id came before the work was done');
    assert.equal(created.resultType, 'task');
    assert.match(created.taskId, /^[0-9a-f]{32}$/);
    assert.equal(created.status, 'working');
    assert.equal(created.ttlMs, 120000);
    assert.equal(created.pollIntervalMs, 250);
    for (const k of ['result', 'error', 'inputRequests', 'requestState', 'task', 'ttl', 'pollInterval'])
      assert.ok(!(k in created), `CreateTaskResult carries ${k}`);

    const working = await result(d.url, 'tasks/get', { taskId: created.taskId });
    assert.equal(working.status, 'working');
    assert.equal(working.resultType, 'complete');
    const done = await until(d.url, created.taskId, terminal);
    assert.equal(done.status, 'completed');
    // The same call without the extension is a plain call: the task kept
    // exactly what it would have answered.
    const plain = await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 1, label: 'L1' } }, { caps: {} });
    assert.equal(plain.resultType, 'complete');
    assert.deepEqual(done.result.content, plain.content);
    assert.ok(!('resultType' in done.result), 'the inlined result is the bare CallToolResult');
    assert.ok(Date.parse(done.lastUpdatedAt) >= Date.parse(done.createdAt));

    // A sync-only tool never becomes a task, even with the legacy hint.
    const greet = await result(d.url, 'tools/call', { name: 'greet', arguments: { name: 'W' }, task: { ttl: 1000 } });
    assert.equal(greet.resultType, 'complete');
    assert.equal(greet.content[0].text, 'Hello, W!');
    assert.match(d.log(), new RegExp(`event=task_created task=${created.taskId} tool=slow_compute`));
  } finally {
    await d.stop();
  }
});

test('questions a task asks wait for tasks/update; unknown keys are ignored, bad answers refused; a protocol error fails the task', async () => {
  const d = await startMcpd({ pluginsDir });
  try {
    const created = await result(d.url, 'tools/call', { name: 'confirm_delete', arguments: { filename: 'a.txt' } });
    assert.equal(created.resultType, 'task');
    const asking = await until(d.url, created.taskId, (t) => t.status === 'input_required');
    const keys = Object.keys(asking.inputRequests);
    assert.equal(keys.length, 1);
    assert.equal(asking.inputRequests[keys[0]].method, 'elicitation/create');

    const bad = await rpc(d.url, 'tasks/update', { taskId: created.taskId, inputResponses: { [keys[0]]: 'yes' } });
    assert.equal(bad.msg.error.code, -32602);
    const ack = await result(d.url, 'tasks/update', { taskId: created.taskId, inputResponses: { 'never-asked': { action: 'accept' } } });
    assert.deepEqual(Object.keys(ack).filter((k) => k !== '_meta'), ['resultType']);
    assert.equal((await result(d.url, 'tasks/get', { taskId: created.taskId })).status, 'input_required');

    await result(d.url, 'tasks/update', { taskId: created.taskId, inputResponses: { [keys[0]]: { action: 'accept', content: { confirm: true } } } });
    const done = await until(d.url, created.taskId, terminal);
    assert.equal(done.status, 'completed');
    assert.match(done.result.content[0].text, /a\.txt/);
    assert.ok(!('inputRequests' in done));

    const perr = await result(d.url, 'tools/call', { name: 'protocol_error_job', arguments: {} });
    const failed = await until(d.url, perr.taskId, terminal);
    assert.equal(failed.status, 'failed');
    assert.equal(typeof failed.error.code, 'number');
    assert.ok(!('result' in failed));
  } finally {
    await d.stop();
  }
});

test('notifications/tasks on a listen stream: only the tasks asked for and visible, only with the extension', async () => {
  const d = await startMcpd({ pluginsDir });
  try {
    const created = await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 1 } });
    const other = await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 1 } });
    const refused = await listen(d.url, { taskIds: [created.taskId] }, { caps: {} });
    assert.equal(refused.status, 400);
    assert.equal(refused.error.code, -32021);
    assert.deepEqual(refused.error.data.requiredCapabilities.extensions, { [EXT]: {} });

    const l = await listen(d.url, { taskIds: [created.taskId, 'no-such-task'] });
    assert.deepEqual(l.ack.taskIds, [created.taskId]);
    const t0 = Date.now();
    while (!l.msgs.some((m) => m.method === 'notifications/tasks' && m.params.status === 'completed')) {
      if (Date.now() - t0 > 10000) assert.fail(`no completion notification: ${JSON.stringify(l.msgs)}`);
      await sleep(50);
    }
    l.close();
    const notes = l.msgs.filter((m) => m.method === 'notifications/tasks');
    assert.ok(notes.every((m) => m.params.taskId === created.taskId), 'only the task asked for');
    const last = notes.at(-1);
    assert.equal(last.params._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
    assert.ok(Array.isArray(last.params.result.content));
    await until(d.url, other.taskId, terminal);
  } finally {
    await d.stop();
  }
});

test('tasks/cancel: the task is cancelled at once and stays so; a second cancel is the same empty ack', async () => {
  const d = await startMcpd({ pluginsDir });
  try {
    const created = await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60 } });
    const ack = await result(d.url, 'tasks/cancel', { taskId: created.taskId });
    assert.deepEqual(Object.keys(ack).filter((k) => k !== '_meta'), ['resultType']);
    assert.equal((await result(d.url, 'tasks/get', { taskId: created.taskId })).status, 'cancelled');
    await result(d.url, 'tasks/cancel', { taskId: created.taskId });
    await sleep(300);
    assert.equal((await result(d.url, 'tasks/get', { taskId: created.taskId })).status, 'cancelled');
    const unknown = await rpc(d.url, 'tasks/cancel', { taskId: 'f'.repeat(32) });
    assert.equal(unknown.msg.error.code, -32602);
    // The Mcp-Name header must name the task.
    const mism = await rpc(d.url, 'tasks/get', { taskId: created.taskId }, { headers: { 'Mcp-Name': 'other' } });
    assert.equal(mism.status, 400);
    assert.equal(mism.msg.error.code, -32020);
  } finally {
    await d.stop();
  }
});

test('time: a task\'s call ends half the ttl (at most a minute) before the task, saying so; the task is then forgotten; a watcher hears both', async () => {
  const d = await startMcpd({ pluginsDir, config: { timeouts: { task_ttl_ms: 1000 } } });
  try {
    const created = await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60 } });
    assert.equal(created.ttlMs, 1000);
    const l = await listen(d.url, { taskIds: [created.taskId] });
    const ended = await until(d.url, created.taskId, terminal, {}, 3000);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.result.isError, true);
    assert.match(ended.result.content[0].text, /timed out after 500 ms/);
    await d.waitForLog(new RegExp(`event=task_expired task=${created.taskId} status=completed`), 5000);
    const gone = await rpc(d.url, 'tasks/get', { taskId: created.taskId });
    assert.equal(gone.msg.error.code, -32602);
    l.close();
    assert.ok(l.msgs.some((m) => m.method === 'notifications/tasks' && m.params.status === 'completed'));

    // A task whose call does not end by its expiry (a question nobody
    // answers keeps it open) fails, and its watcher hears it.
    const asking = await result(d.url, 'tools/call', { name: 'confirm_delete', arguments: { filename: 'x' } });
    const l2 = await listen(d.url, { taskIds: [asking.taskId] });
    await d.waitForLog(new RegExp(`event=task_expired task=${asking.taskId}`), 5000);
    await sleep(100);
    l2.close();
    const last = l2.msgs.filter((m) => m.method === 'notifications/tasks').at(-1);
    assert.ok(['failed', 'completed'].includes(last.params.status), JSON.stringify(last));
  } finally {
    await d.stop();
  }
});

test('listen: a late listen hears where its tasks are at once, and every question a task asks is news', async () => {
  const d = await startMcpd({ pluginsDir });
  try {
    const created = await result(d.url, 'tools/call', { name: 'multi_input', arguments: {} });
    const asking = await until(d.url, created.taskId, (t) => Object.keys(t.inputRequests ?? {}).length === 2);
    const l = await listen(d.url, { taskIds: [created.taskId] });
    for (let t = Date.now(); !l.msgs.some((m) => m.method === 'notifications/tasks'); await sleep(20))
      assert.ok(Date.now() - t < 3000, 'no snapshot after the acknowledgement');
    assert.equal(l.msgs[0].method, 'notifications/subscriptions/acknowledged');
    const snap = l.msgs.find((m) => m.method === 'notifications/tasks');
    assert.deepEqual(Object.keys(snap.params.inputRequests).sort(), Object.keys(asking.inputRequests).sort());
    // One answer: the task still waits, and says for what.
    const [k1, k2] = Object.keys(asking.inputRequests);
    await result(d.url, 'tasks/update', { taskId: created.taskId, inputResponses: { [k1]: { action: 'accept', content: { name: 'a', confirm: true } } } });
    await result(d.url, 'tasks/update', { taskId: created.taskId, inputResponses: { [k2]: { action: 'accept', content: { name: 'b', confirm: true } } } });
    for (let t = Date.now(); !l.msgs.some((m) => m.method === 'notifications/tasks' && m.params.status === 'completed'); await sleep(20))
      assert.ok(Date.now() - t < 5000, `no completion: ${JSON.stringify(l.msgs)}`);
    l.close();
  } finally {
    await d.stop();
  }
});

test('gating: without the extension tasks/* and a task-only tool answer -32021; the legacy era has no tasks and runs the tool as usual', async () => {
  const d = await startMcpd({ pluginsDir });
  try {
    for (const m of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      const r = await rpc(d.url, m, { taskId: 'x', inputResponses: {} }, { caps: {} });
      assert.equal(r.msg.error.code, -32021, m);
    }
    const req = await rpc(d.url, 'tools/call', { name: 'failing_job', arguments: {} }, { caps: {} });
    assert.equal(req.msg.error.code, -32021);
    assert.deepEqual(req.msg.error.data.requiredCapabilities.extensions, { [EXT]: {} });

    const init = await fetch(d.url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    const sid = init.headers.get('mcp-session-id');
    const legacy = async (method, params) => (await fetch(d.url, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 2, method, params }),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' } })).text();
    assert.ok(!JSON.stringify((await init.json()).result.capabilities).includes('tasks'));
    assert.match(await legacy('tasks/get', { taskId: 'x' }), /-32601/);
    const run = await legacy('tools/call', { name: 'failing_job', arguments: {} });
    assert.match(run, /"isError":true/);
  } finally {
    await d.stop();
  }
});

test('who may see a task: another principal cannot poll, answer, cancel or listen to it', async () => {
  const ALICE = 'alice-token-0123456789abcdef0123', BOB = 'bob-token-0123456789abcdef012345';
  const d = await startMcpd({ pluginsDir, config: { auth: { tokens: [{ name: 'alice', token: ALICE, scopes: ['mcp'] }, { name: 'bob', token: BOB, scopes: ['mcp'] }] } } });
  try {
    const created = await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60 } }, { token: ALICE });
    for (const m of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      const r = await rpc(d.url, m, { taskId: created.taskId, inputResponses: {} }, { token: BOB });
      assert.equal(r.msg.error.code, -32602, `${m} by bob`);
    }
    const l = await listen(d.url, { taskIds: [created.taskId] }, { token: BOB });
    assert.deepEqual(l.ack.taskIds, []);
    l.close();
    assert.equal((await result(d.url, 'tasks/get', { taskId: created.taskId }, { token: ALICE })).status, 'working');
    await result(d.url, 'tasks/cancel', { taskId: created.taskId }, { token: ALICE });
  } finally {
    await d.stop();
  }
});

test('caps: an attacker on 127.0.0.2 holds its share of tasks, its further calls run as plain calls, and the victim on 127.0.0.1 still gets tasks', async () => {
  const d = await startMcpd({ pluginsDir, config: { limits: { max_tasks_per_client: 3, max_tasks: 5 } } });
  const url = d.url;
  const attacker = { localAddress: '127.0.0.2' };
  try {
    const held = [];
    for (let i = 0; i < 3; i++)
      held.push((await result(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60 } }, attacker)).taskId);
    assert.ok(held.every(Boolean));
    // Over its cap: the call is served, but as a plain call.
    const plain = await result(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 0 } }, attacker);
    assert.equal(plain.resultType, 'complete');
    const plain2 = await result(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 1 } }, attacker);
    assert.equal(plain2.resultType, 'complete');
    assert.match(d.log(), /event=task_refused tool=slow_compute reason="this client holds its limit of tasks"/);

    const mine = await result(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 1 } }, { localAddress: '127.0.0.1' });
    assert.equal(mine.resultType, 'task');
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    assert.match(metrics, /^mcpd_tasks 4$/m);
    assert.match(metrics, /^mcpd_tasks_created_total 4$/m);
    assert.match(metrics, /^mcpd_tasks_refused_total 1$/m);
    assert.equal((await until(url, mine.taskId, terminal, { localAddress: '127.0.0.1' })).status, 'completed');
    for (const id of held) await result(url, 'tasks/cancel', { taskId: id }, attacker);
  } finally {
    await d.stop();
  }
});

// RSS says what is kept only without a sanitizer (ASan holds freed memory).
const sanitized = /asan|tsan|sanit/i.test(buildDir);

test('a task keeps only the capabilities its call may use, not what else the request carried',
  { skip: sanitized && 'a sanitizer runtime keeps freed memory: RSS tells nothing' }, async () => {
  const d = await startMcpd({ pluginsDir });
  const rss = () => Number(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
  try {
    const blob = 'x'.repeat(2 << 20);
    const caps = { ...WITH, experimental: { blob } };
    const ids = [(await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60 } }, { caps })).taskId];
    const before = rss();
    for (let i = 0; i < 20; i++)
      ids.push((await result(d.url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60 } }, { caps })).taskId);
    const grown = rss() - before;
    // Twenty tasks holding 2 MB each would be 40 MB.
    assert.ok(grown < 16, `RSS grew ${grown.toFixed(1)} MB for 20 tasks`);
    for (const id of ids) await result(d.url, 'tasks/cancel', { taskId: id });
  } finally {
    await d.stop();
  }
});
