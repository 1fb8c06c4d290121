// The plugin side of mcpd against the real daemon: asynchronous completion,
// cancellation, call deadlines, log notifications, error mapping, plugin
// configuration, refused plugins and the command line.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startMcpd, runMcpd, makePluginsDir, pluginPath } from './lib/mcpd.mjs';
import { post, initSession, sseMessages, ACCEPT } from './lib/http.mjs';

const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|AddressSanitizer:DEADLYSIGNAL/;

async function connect(d) {
  const client = new Client({ name: 'mcpd-plugins-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(d.url));
  await client.connect(transport);
  return { client, transport };
}

async function cancelCount(client) {
  const r = await client.callTool({ name: 'cancel_count', arguments: {} });
  return r.structuredContent.cancels;
}

// Polls fn() until it returns a truthy value or timeoutMs passes.
async function until(fn, what, timeoutMs = 3000, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

function toolCall(id, name, args) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

// The log from a given offset, so a test looks only at what it caused.
function logSince(d, mark) {
  return d.log().slice(mark);
}

describe('testkit plugin', () => {
  let d;
  before(async () => { d = await startMcpd({ plugins: ['hello', 'testkit'] }); });
  after(async () => { await d.stop(); });

  test('a call completed from the plugin\'s own thread answers', async () => {
    const { client } = await connect(d);
    const t0 = Date.now();
    const r = await client.callTool({ name: 'sleep', arguments: { ms: 100 } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'slept' }]);
    assert.notEqual(r.isError, true);
    assert.ok(Date.now() - t0 >= 90, 'the result waited for the plugin thread');
    await client.close();
  });

  test('an aborted SDK call sends notifications/cancelled, which reaches the handler', async () => {
    const { client, transport } = await connect(d);
    const before = await cancelCount(client);
    const mark = d.log().length;
    const seen = [];
    const sent = [];
    const errors = [];
    const onmessage = transport.onmessage;
    transport.onmessage = (m, extra) => { seen.push(m); onmessage?.(m, extra); };
    const send = transport.send.bind(transport);
    transport.send = (m, opts) => { sent.push(m); return send(m, opts); };
    client.onerror = (e) => errors.push(e);

    const ac = new AbortController();
    const t0 = Date.now();
    const pending = client.callTool({ name: 'sleep', arguments: { ms: 5000 } }, undefined, { signal: ac.signal });
    await sleep(200); // let the request reach the handler
    ac.abort('test abort');
    await assert.rejects(pending);
    const call = sent.find((m) => m.method === 'tools/call' && m.params.name === 'sleep');
    assert.ok(call, 'the SDK sent the call');
    assert.ok(sent.some((m) => m.method === 'notifications/cancelled' && m.params.requestId === call.id),
      'the SDK sent notifications/cancelled for it');
    const after = await until(async () => {
      const n = await cancelCount(client);
      return n > before ? n : 0;
    }, 'cancel_count to go up');
    assert.equal(after, before + 1);
    assert.ok(Date.now() - t0 < 3000, 'the cancel callback ran long before the sleep would end');

    // The plugin completes ("cancelled") a few ms after its cancel callback;
    // give a stray response time to arrive, then check that none did.
    await sleep(300);
    assert.deepEqual(seen.filter((m) => m.id === call.id), [], 'no response for the cancelled call');
    assert.deepEqual(errors.map(String), []);
    const log = logSince(d, mark);
    assert.doesNotMatch(log, /event=call_timeout|event=plugin_bad_result|event=plugin_double_completion/);
    assert.doesNotMatch(log, /level=error/);
    assert.doesNotMatch(log, SANITIZER);
    await client.close();
  });

  test('notifications/cancelled by hand ends the pending POST without a response', async () => {
    const { sid } = await initSession(d.url);
    const { client } = await connect(d);
    const before = await cancelCount(client);
    const headers = { 'Content-Type': 'application/json', Accept: ACCEPT, 'Mcp-Session-Id': sid };
    const t0 = Date.now();
    const first = fetch(d.url, { method: 'POST', headers, body: JSON.stringify(toolCall(41, 'sleep', { ms: 5000 })) })
      .then(async (res) => ({ res, text: await res.text(), at: Date.now() }));
    await sleep(200);
    const tCancel = Date.now();
    const c = await post(d.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 41, reason: 'test' } },
      { 'Mcp-Session-Id': sid });
    assert.equal(c.status, 202);
    const { res, text, at } = await first;
    assert.ok(at - tCancel < 1000, `the first response finished ${at - tCancel} ms after the cancel`);
    assert.ok(at - t0 < 2500, 'long before the 5 s sleep would end');
    assert.ok([200, 202].includes(res.status), `status ${res.status}`);
    const ct = res.headers.get('content-type') ?? '';
    const messages = ct.includes('text/event-stream') ? sseMessages(text) : (text.trim() ? [JSON.parse(text)] : []);
    assert.deepEqual(messages.filter((m) => m.id === 41), [], `no JSON-RPC response for id 41 (body: ${JSON.stringify(text)})`);
    const after = await until(async () => {
      const n = await cancelCount(client);
      return n > before ? n : 0;
    }, 'cancel_count to go up');
    assert.equal(after, before + 1);
    // The session still works after the cancelled call.
    const ping = await post(d.url, { jsonrpc: '2.0', id: 42, method: 'ping' }, { 'Mcp-Session-Id': sid });
    assert.deepEqual(ping.json, { jsonrpc: '2.0', id: 42, result: {} });
    await client.close();
  });

  test('a client that disconnects mid-call cancels the call', async () => {
    const { sid } = await initSession(d.url);
    const { client } = await connect(d);
    const before = await cancelCount(client);
    const ac = new AbortController();
    const pending = fetch(d.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: ACCEPT, 'Mcp-Session-Id': sid },
      body: JSON.stringify(toolCall(51, 'sleep', { ms: 5000 })),
      signal: ac.signal,
    }).then((res) => res.text());
    await sleep(200);
    const t0 = Date.now();
    ac.abort();
    await assert.rejects(pending, (e) => e.name === 'AbortError');
    const after = await until(async () => {
      const n = await cancelCount(client);
      return n > before ? n : 0;
    }, 'cancel_count to go up after the disconnect');
    assert.equal(after, before + 1);
    assert.ok(Date.now() - t0 < 3000);
    assert.doesNotMatch(d.log(), SANITIZER);
    await client.close();
  });

  test('log notifications arrive before the result and follow logging/setLevel', async () => {
    const { client, transport } = await connect(d);
    const events = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { events.push(n.params); });

    const r = await client.callTool({ name: 'log', arguments: { n: 3 } });
    events.push('result');
    assert.deepEqual(r.content, [{ type: 'text', text: 'logged' }]);
    assert.deepEqual(events, [
      { level: 'info', logger: 'testkit', data: 'message 0' },
      { level: 'info', logger: 'testkit', data: 'message 1' },
      { level: 'info', logger: 'testkit', data: 'message 2' },
      'result',
    ]);

    events.length = 0;
    assert.deepEqual(await client.setLoggingLevel('error'), {});
    const quiet = await client.callTool({ name: 'log', arguments: { n: 2, level: 1 } });
    assert.equal(quiet.content[0].text, 'logged');
    assert.deepEqual(events, [], 'info messages are below the session level "error"');
    const loud = await client.callTool({ name: 'log', arguments: { n: 1, level: 4 } });
    assert.equal(loud.content[0].text, 'logged');
    assert.deepEqual(events, [{ level: 'error', logger: 'testkit', data: 'message 0' }]);

    const bogus = await post(d.url, { jsonrpc: '2.0', id: 7, method: 'logging/setLevel', params: { level: 'bogus' } },
      { 'Mcp-Session-Id': transport.sessionId });
    assert.equal(bogus.status, 200);
    assert.equal(bogus.json.id, 7);
    assert.equal(bogus.json.error.code, -32602);
    assert.match(bogus.json.error.message, /logging\/setLevel needs params\.level/);
    await client.close();
  });

  test('plugin errors map to JSON-RPC errors', async () => {
    const { client } = await connect(d);
    await assert.rejects(client.callTool({ name: 'fail', arguments: { code: -22 } }), (e) => {
      assert.equal(e.code, -32602);
      return true;
    });
    await assert.rejects(client.callTool({ name: 'fail', arguments: { code: -5 } }), (e) => {
      assert.equal(e.code, -32603);
      assert.match(e.message, /input\/output error/);
      return true;
    });
    const mark = d.log().length;
    await assert.rejects(client.callTool({ name: 'bad_result', arguments: {} }), (e) => {
      assert.equal(e.code, -32603);
      assert.match(e.message, /malformed result/);
      return true;
    });
    assert.match(logSince(d, mark), /event=plugin_bad_result plugin=testkit tool=bad_result/);
    await assert.rejects(client.readResource({ uri: 'testkit://missing/abc' }), (e) => {
      assert.equal(e.code, -32002);
      assert.match(e.message, /Resource not found/);
      assert.deepEqual(e.data, { uri: 'testkit://missing/abc' });
      return true;
    });
    // The session and the plugin still work afterwards.
    const r = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
    assert.equal(r.content[0].text, 'still here');
    await client.close();
  });

  test('a 1 MB text result arrives intact', async () => {
    const { client } = await connect(d);
    const r = await client.callTool({ name: 'big', arguments: { bytes: 1000000 } });
    assert.equal(r.content.length, 1);
    const text = r.content[0].text;
    assert.equal(text.length, 1000000);
    assert.match(text, /^x+$/);
    await client.close();
  });
});

test('a call past timeouts.call_ms answers isError and the daemon still stops cleanly', async () => {
  const d = await startMcpd({ plugins: ['testkit'], config: { timeouts: { call_ms: 300 } } });
  try {
    const { client } = await connect(d);
    const before = await cancelCount(client);
    const t0 = Date.now();
    const r = await client.callTool({ name: 'sleep', arguments: { ms: 3000 } });
    const took = Date.now() - t0;
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /timed out after 300 ms/);
    assert.ok(took >= 280 && took < 2000, `answered after ${took} ms`);
    await d.waitForLog(/event=call_timeout plugin=testkit call=sleep after_ms=300/, 2000);
    // The deadline cancels the call: the plugin hears of it and completes;
    // that late result is dropped.
    assert.equal(await until(async () => {
      const n = await cancelCount(client);
      return n > before ? n : 0;
    }, 'the deadline to cancel the call'), before + 1);
    // Quick calls are not affected by the deadline.
    const ok = await client.callTool({ name: 'sleep', arguments: { ms: 50 } });
    assert.equal(ok.content[0].text, 'slept');
    await client.close();
  } finally {
    await d.stop();
  }
  assert.match(d.log(), /event=stopped/);
  assert.doesNotMatch(d.log(), /event=exit_with_calls_running|event=plugin_left_loaded|event=shutdown_deadline/);
});

test('the example plugin reads its settings from the config file', async () => {
  const d = await startMcpd({ plugins: ['hello'], config: { plugins: { hello: { greeting: 'Hi' } } } });
  try {
    const { client } = await connect(d);
    const r = await client.readResource({ uri: 'hello://greet/Bob' });
    assert.equal(r.contents[0].text, 'Hi, Bob!');
    await client.close();
  } finally {
    await d.stop();
  }
});

const BAD = {
  bad_dup_tool: /init\(\) failed: already exists \(-17\)/,
  bad_init_fails: /init\(\) failed: input\/output error \(-5\)/,
  bad_major: /built for plugin ABI 2 \(exports mcpd_plugin_v2\)/,
  bad_newer_minor: /ABI 1\.99, newer than this mcpd's 1\.\d+/,
  bad_signature: /build signature \\"mcpd1:ptr4:jansson2:jint0\\" differs/,
  bad_no_entry: /no entry symbol mcpd_plugin_v1/,
  bad_size: /descriptor struct_size 8 is smaller than the ABI 1\.0 size/,
  'not_elf.so': /not an ELF file: 41 bytes is shorter than an ELF header/,
};

test('refused plugins are skipped with a reason each, and the good one still serves', async () => {
  // Plugins load in file-name order and the first to register a tool keeps
  // it. hello must own "echo" before bad_dup_tool tries to take it, so its
  // copy is named to sort first (hello.so would sort after bad_*.so).
  const dir = makePluginsDir(Object.keys(BAD));
  copyFileSync(pluginPath('hello'), join(dir, 'a_hello.so'));
  const d = await startMcpd({ pluginsDir: dir });
  try {
    const log = d.log();
    const skipped = log.split('\n').filter((l) => l.includes('event=plugin_skipped'));
    assert.equal(skipped.length, Object.keys(BAD).length, `one plugin_skipped line per bad file:\n${log}`);
    for (const [name, reason] of Object.entries(BAD)) {
      const file = name.endsWith('.so') ? name : `${name}.so`;
      const lines = skipped.filter((l) => l.includes(`file=${join(dir, file)} `));
      assert.equal(lines.length, 1, `a plugin_skipped line for ${file}`);
      assert.match(lines[0], reason, `the reason for ${file}`);
    }
    assert.match(log, /event=plugin_register_refused plugin=bad_dup_tool what=tool reason="tool \\"echo\\" is already registered by plugin \\"hello\\""/);
    assert.match(log, /event=plugin_log plugin=bad_init_fails msg="refusing to start on purpose"/);
    assert.match(log, /event=plugin_loaded plugin=hello /);
    assert.match(log, /event=plugins_ready dir=\S+ loaded=1 failed=8 tools=2 /);

    const { client } = await connect(d);
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['count', 'echo']);
    const r = await client.callTool({ name: 'echo', arguments: { text: 'the real echo' } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'the real echo' }]);
    await client.close();
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a plugins directory that does not exist: the daemon serves no tools', async () => {
  const missing = join(tmpdir(), `mcpd-no-such-dir-${process.pid}-${Date.now()}`);
  const d = await startMcpd({ pluginsDir: missing });
  try {
    assert.match(d.log(), new RegExp(`level=warn event=plugins_dir_unreadable dir=${missing} `));
    assert.match(d.log(), /event=plugins_ready dir=\S+ loaded=0 failed=0 tools=0 /);
    const { client } = await connect(d);
    const { tools } = await client.listTools();
    assert.deepEqual(tools, []);
    await client.close();
  } finally {
    await d.stop();
  }
});

describe('command line', () => {
  test('--check lists what would be served and exits 0, or 1 with FAILED', async () => {
    const dir = makePluginsDir(['hello', 'testkit']);
    try {
      const ok = await runMcpd(['--check', '--plugins', dir]);
      assert.equal(ok.code, 0, ok.stderr);
      for (const line of [
        `plugins directory: ${dir}`,
        'tool echo (plugin hello)',
        'tool count (plugin hello)',
        'tool sleep (plugin testkit)',
        'tool big (plugin testkit)',
        'resource hello://readme (plugin hello)',
        'resource template hello://greet/{name} (plugin hello)',
        'resource template testkit://missing/{id} (plugin testkit)',
        'ok: 2 plugin(s) loaded, 0 failed',
      ]) assert.ok(ok.stdout.split('\n').includes(line), `--check prints "${line}":\n${ok.stdout}`);
      assert.match(ok.stdout, /^plugin hello 1\.0\.0 \(/m);
      assert.doesNotMatch(ok.stderr, SANITIZER);

      copyFileSync(pluginPath('bad_major'), join(dir, 'bad_major.so'));
      const bad = await runMcpd(['--check', '--plugins', dir]);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /^FAILED: 2 plugin\(s\) loaded, 1 failed$/m);
      assert.match(bad.stderr, /event=plugin_skipped file=\S+bad_major\.so reason=/);
      assert.doesNotMatch(bad.stderr, SANITIZER);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--version and --help', async () => {
    const v = await runMcpd(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^mcpd \d+\.\d+\.\d+ \(plugin ABI 1\.\d+\)\n$/);
    const h = await runMcpd(['--help']);
    assert.equal(h.code, 0);
    for (const opt of ['--listen', '--plugins', '--config', '--log-level', '--check'])
      assert.ok(h.stdout.includes(opt), `--help mentions ${opt}`);
  });

  test('bad command lines and configs exit 2 and say why', async () => {
    const unknown = await runMcpd(['--no-such-option']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Try 'mcpd --help'/);

    const work = mkdtempSync(join(tmpdir(), 'mcpd-cfg-'));
    try {
      const file = join(work, 'bad.json');
      writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:0', frobnicate: true }));
      const cfg = await runMcpd(['--config', file]);
      assert.equal(cfg.code, 2);
      assert.match(cfg.stderr, /unknown setting "frobnicate"/);

      writeFileSync(file, JSON.stringify({ timeouts: { call_ms: 300, nap_ms: 1 } }));
      const nested = await runMcpd(['--config', file]);
      assert.equal(nested.code, 2);
      assert.match(nested.stderr, /unknown setting "timeouts\.nap_ms"/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }

    const listen = await runMcpd(['--listen', 'nonsense']);
    assert.equal(listen.code, 2);
    assert.match(listen.stderr, /--listen: .*nonsense/);
  });

  test('listening on a port in use exits 1 with event=listen_failed', async () => {
    const d = await startMcpd({ plugins: ['hello'] });
    const dir = makePluginsDir(['hello']);
    try {
      const second = await runMcpd(['--listen', `127.0.0.1:${d.port}`, '--plugins', dir]);
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`event=listen_failed address=127\\.0\\.0\\.1:${d.port} error=address already in use`));
      assert.doesNotMatch(second.stderr, SANITIZER);
      // The first daemon is unaffected.
      const r = await post(d.url, {
        jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      });
      assert.equal(r.status, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await d.stop();
    }
  });
});

test('SIGTERM lets an in-flight call finish, then the daemon exits 0', async () => {
  const d = await startMcpd({ plugins: ['hello'] });
  const { client } = await connect(d);
  const t0 = Date.now();
  const pending = client.callTool({ name: 'count', arguments: { n: 5, delay_ms: 100 } });
  await sleep(150);
  d.proc.kill('SIGTERM');
  const r = await pending;
  assert.deepEqual(r.content, [{ type: 'text', text: 'counted to 5' }]);
  assert.ok(Date.now() - t0 >= 450, 'the call ran to its end');
  const st = await Promise.race([d.exited, sleep(5000, null, { ref: false })]);
  assert.notEqual(st, null, 'the daemon exits after the call');
  assert.equal(st.code, 0);
  await d.stop();
  assert.match(d.log(), /event=shutting_down signal=TERM in_flight=1/);
  assert.match(d.log(), /event=stopped/);
  await client.close();
});

test('a plugin built against the ABI 1.0 header loads into this newer host', async () => {
  const d = await startMcpd({ plugins: ['hello', 'old_minor'] });
  try {
    const client = new Client({ name: 'old-minor-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
    const r = await client.callTool({ name: 'old_tool', arguments: {} });
    assert.match(r.content[0].text, /^old plugin on host ABI 1\.[1-9]\d*$/);
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.ok(resourceTemplates.some((t) => t.uriTemplate === 'old://item/{id}'));
    const item = await client.readResource({ uri: 'old://item/42' });
    assert.equal(item.contents[0].text, '42');
    // Its 1.0 template has no completion provider: completing gives no values.
    const c = await client.complete({ ref: { type: 'ref/resource', uri: 'old://item/{id}' }, argument: { name: 'id', value: '4' } });
    assert.deepEqual(c.completion.values, []);
    await client.close();
    assert.match(d.log(), /event=plugin_loaded plugin=old_minor version=1\.0 /);
  } finally {
    await d.stop();
  }
});

// A plugin cut short (a copy interrupted, a full disk) used to kill mcpd
// with SIGBUS inside dlopen(): its segments reached past the end of the
// file. Each cut is refused with a reason, at start, on --check and on
// SIGHUP, and mcpd goes on serving.
test('truncated plugins are refused before dlopen at start, on --check and on SIGHUP', async () => {
  const whole = readFileSync(pluginPath('hello'));
  const cuts = [1000, 2500, 4000, 6000, 9000, 12000, 16000, whole.length - 1];
  const dir = makePluginsDir([]);
  copyFileSync(pluginPath('hello'), join(dir, 'a_hello.so'));
  for (const n of cuts.slice(0, 4)) writeFileSync(join(dir, `cut_${n}.so`), whole.subarray(0, n));
  const d = await startMcpd({ pluginsDir: dir });
  try {
    for (const n of cuts.slice(0, 4)) {
      await d.waitForLog(new RegExp(`event=plugin_skipped file=\\S+/cut_${n}\\.so reason=".*(truncated or corrupt|shorter than)`));
    }
    assert.match(d.log(), /event=plugins_ready dir=\S+ loaded=1 failed=4 /);

    const check = await runMcpd(['--check', '--plugins', dir]);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, /FAILED: 1 plugin\(s\) loaded, 4 failed/);

    for (const n of cuts.slice(4)) writeFileSync(join(dir, `cut_${n}.so`), whole.subarray(0, n));
    d.proc.kill('SIGHUP');
    await d.waitForLog(/event=reload_done .* failed=\d+/);
    for (const n of cuts.slice(4)) {
      assert.match(d.log(), new RegExp(`event=plugin_skipped file=\\S+/cut_${n}\\.so reason="truncated or corrupt`));
    }
    const r = await post(d.url, { jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.ok(r.status === 200 || r.status === 400, `mcpd still answers (status ${r.status})`);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
