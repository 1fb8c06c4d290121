// Hot reload on SIGHUP against the real daemon: replace a plugin under load
// without losing a call, keep serving through a broken file, drop a removed
// plugin, apply changed settings, tell connected clients the list changed,
// and leave no copies or mappings behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, renameSync, rmSync, readdirSync, mkdtempSync, writeFileSync, unlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startMcpd, makePluginsDir, pluginPath, buildDir } from './lib/mcpd.mjs';
import { post, initSession } from './lib/http.mjs';

const V1 = join(buildDir, 'tests/fixtures/reload/versioned_v1.so');
const V2 = join(buildDir, 'tests/fixtures/reload/versioned_v2.so');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Installs a plugin file the safe way: write under another name, rename.
function install(dir, src, name = 'versioned.so') {
  const tmp = join(dir, `.${name}.tmp`);
  copyFileSync(src, tmp);
  renameSync(tmp, join(dir, name));
}

function reloadCount(d) {
  return (d.log().match(/event=reload_done/g) ?? []).length;
}

// Sends SIGHUP and waits for that reload to finish; rejects when it failed
// (at once: a refused configuration is logged as reload_failed).
async function reload(d) {
  const failures = () => (d.log().match(/event=reload_failed/g) ?? []).length;
  const before = reloadCount(d), failedBefore = failures();
  d.proc.kill('SIGHUP');
  const t0 = Date.now();
  while (reloadCount(d) <= before) {
    if (failures() > failedBefore) throw new Error(`reload failed:\n${d.log()}`);
    if (Date.now() - t0 > 10000) throw new Error(`reload did not finish:\n${d.log()}`);
    await sleep(5);
  }
}

async function call(url, sid, name, args = {}, id = 1) {
  const r = await post(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } },
    { 'Mcp-Session-Id': sid });
  if (r.status !== 200 || !r.json?.result) throw new Error(`${name}: HTTP ${r.status} ${r.text}`);
  return r.json.result.content[0].text;
}

function setup(extraConfig = {}) {
  const dir = makePluginsDir(['hello']);
  install(dir, V1);
  const runtime = mkdtempSync(join(tmpdir(), 'mcpd-runtime-'));
  return { dir, runtime, config: { runtime_dir: runtime, ...extraConfig } };
}

test('50 reloads under load: no failed call, answers switch, a slow call finishes on its version, clients hear list_changed', async () => {
  const { dir, runtime, config } = setup();
  const d = await startMcpd({ pluginsDir: dir, config });
  try {
    const client = new Client({ name: 'reload-test', version: '1' });
    let listChanged = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => { listChanged++; });
    await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
    // The SDK opens its GET stream after initialize; wait until it is up.
    await d.waitForLog(/event=session_created/);
    await sleep(200);

    const { sid } = await initSession(d.url);
    const slow = call(d.url, sid, 'slow_which', { ms: 1500 }, 99);
    await sleep(50); // let it start on v1

    let stop = false;
    const seen = new Set();
    let calls = 0;
    const failures = [];
    const loops = [];
    for (let c = 0; c < 4; c++) {
      loops.push((async () => {
        const s = (await initSession(d.url)).sid;
        while (!stop) {
          try {
            const text = await call(d.url, s, 'which', {}, calls);
            if (text !== 'v1' && text !== 'v2') failures.push(`unexpected answer ${text}`);
            seen.add(text);
            calls++;
          } catch (e) {
            failures.push(String(e));
          }
        }
      })());
    }

    for (let i = 0; i < 50; i++) {
      const v = i % 2 === 0 ? 'v2' : 'v1';
      install(dir, v === 'v2' ? V2 : V1);
      await reload(d);
      assert.equal(await call(d.url, sid, 'which', {}, 1000 + i), v, `after reload ${i + 1}`);
    }
    stop = true;
    await Promise.all(loops);

    assert.deepEqual(failures, []);
    assert.ok(calls > 200, `the load loops made ${calls} calls`);
    assert.deepEqual([...seen].sort(), ['v1', 'v2']);
    assert.equal(await slow, 'v1', 'the slow call started on v1 and finished there');

    // Every reload changed the tool list (only_in_v2 comes and goes).
    const t0 = Date.now();
    while (listChanged < 50 && Date.now() - t0 < 5000) await sleep(20);
    assert.equal(listChanged, 50);
    const { tools } = await client.listTools();
    assert.ok(!tools.some((t) => t.name === 'only_in_v2'), 'v1 is installed last');
    await client.close();

    // Old versions unloaded and their copies removed: one copy per serving plugin.
    const t1 = Date.now();
    while (readdirSync(runtime).length > 2 && Date.now() - t1 < 5000) await sleep(20);
    assert.equal(readdirSync(runtime).length, 2, `copies left: ${readdirSync(runtime)}`);
    assert.equal((d.log().match(/event=plugin_unloaded plugin=versioned/g) ?? []).length, 50);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(readdirSync(runtime), [], 'no copy survives the daemon');
  rmSync(runtime, { recursive: true, force: true });
});

test('a broken file keeps the previous version serving; a removed plugin goes, and its tools with it', async () => {
  const { dir, runtime, config } = setup();
  const d = await startMcpd({ pluginsDir: dir, config });
  try {
    const { sid } = await initSession(d.url);
    assert.equal(await call(d.url, sid, 'which'), 'v1');

    install(dir, pluginPath('not_elf.so'));
    await reload(d);
    assert.match(d.log(), /event=plugin_skipped file=\S*\/versioned\.so reason="not an ELF file[^\n]*kept=previous_version/);
    assert.equal(await call(d.url, sid, 'which'), 'v1', 'the old version still answers');

    install(dir, pluginPath('bad_init_fails'));
    await reload(d);
    assert.equal(await call(d.url, sid, 'which'), 'v1');

    // A new version that registers a name another plugin owns is refused too.
    install(dir, pluginPath('bad_dup_tool'));
    await reload(d);
    assert.match(d.log(), /event=plugin_skipped file=\S*\/versioned\.so reason="init\(\) failed[^\n]*tool \\"echo\\" is already registered by plugin \\"hello\\"[^\n]*kept=previous_version/);
    assert.equal(await call(d.url, sid, 'which'), 'v1');
    assert.equal(await call(d.url, sid, 'echo', { text: 'the real one' }), 'the real one');

    unlinkSync(join(dir, 'versioned.so'));
    await reload(d);
    assert.match(d.log(), /event=plugin_retired plugin=versioned version=v1 gen=\d+ reason=removed/);
    const list = await post(d.url, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, { 'Mcp-Session-Id': sid });
    assert.deepEqual(list.json.result.tools.map((t) => t.name).sort(), ['count', 'echo']);
    const gone = await post(d.url, { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'which' } }, { 'Mcp-Session-Id': sid });
    assert.equal(gone.json.error.code, -32602);

    // Back again: a new file loads on the next reload.
    install(dir, V2);
    await reload(d);
    assert.equal(await call(d.url, sid, 'which'), 'v2');
    assert.equal(await call(d.url, sid, 'echo', { text: 'still here' }), 'still here');
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
});

test('changed settings in the config file load a new version with them; an unchanged plugin keeps its state', async () => {
  const { dir, runtime } = setup();
  const work = mkdtempSync(join(tmpdir(), 'mcpd-cfg-'));
  const file = join(work, 'mcpd.json');
  const write = (greeting) => writeFileSync(file, JSON.stringify({ runtime_dir: runtime, plugins: { versioned: { greeting } } }));
  write('hello');
  const d = await startMcpd({ pluginsDir: dir, args: ['--config', file] });
  try {
    const { sid } = await initSession(d.url);
    assert.equal(await call(d.url, sid, 'which'), 'v1 hello');
    write('bonjour');
    await reload(d);
    assert.equal(await call(d.url, sid, 'which'), 'v1 bonjour');
    assert.match(d.log(), /event=reload_done [^\n]*replaced=1 removed=0 unchanged=1/);
    // A broken config file changes nothing.
    writeFileSync(file, '{"plugins": ');
    await assert.rejects(reload(d)); // no reload_done for a refused configuration
    assert.match(d.log(), /event=reload_failed reason=[^\n]*kept=previous_configuration/);
    assert.equal(await call(d.url, sid, 'which'), 'v1 bonjour');
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
});

test('the drain deadline cancels calls still running on a retired version, which then unloads', async () => {
  const { dir, runtime, config } = setup({ timeouts: { drain_ms: 300 } });
  const d = await startMcpd({ pluginsDir: dir, config });
  try {
    const { sid } = await initSession(d.url);
    const slow = call(d.url, sid, 'slow_which', { ms: 20000 }, 7);
    await sleep(100);
    install(dir, V2);
    await reload(d);
    // The cancelled worker stops early and the call answers from v1.
    assert.equal(await slow, 'v1');
    await d.waitForLog(/event=plugin_drain_deadline plugin=versioned gen=\d+ after_ms=300 calls_cancelled=1/);
    await d.waitForLog(/event=plugin_unloaded plugin=versioned version=v1/);
    assert.equal(await call(d.url, sid, 'which'), 'v2');
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
});

test('ten SIGHUPs in a row are safe; copies left by a dead process are removed at start', async () => {
  const { dir, runtime, config } = setup();
  // A copy "left over" by a process that no longer exists, and one by a live one.
  writeFileSync(join(runtime, 'ghost.999999999.3.so'), 'x');
  writeFileSync(join(runtime, `alive.${process.pid}.3.so`), 'x');
  const d = await startMcpd({ pluginsDir: dir, config });
  try {
    const names = readdirSync(runtime);
    assert.ok(!names.includes('ghost.999999999.3.so'), 'the dead process copy is gone');
    assert.ok(names.includes(`alive.${process.pid}.3.so`), 'a live process keeps its copies');
    const before = reloadCount(d);
    for (let i = 0; i < 10; i++) d.proc.kill('SIGHUP');
    const t0 = Date.now();
    while (reloadCount(d) === before && Date.now() - t0 < 5000) await sleep(10);
    await sleep(200);
    assert.ok(reloadCount(d) >= before + 1);
    const { sid } = await initSession(d.url);
    assert.equal(await call(d.url, sid, 'which'), 'v1');
    assert.match(d.log(), /tools_changed=0/);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
});

test('a plugin that exports nothing is refused with a reason', async () => {
  const { dir, runtime, config } = setup();
  install(dir, pluginPath('bad_exports_nothing'), 'empty.so');
  const d = await startMcpd({ pluginsDir: dir, config });
  try {
    await d.waitForLog(/event=plugin_skipped file=\S*\/empty\.so reason="no entry symbol mcpd_plugin_v1/);
    const { sid } = await initSession(d.url);
    assert.equal(await call(d.url, sid, 'which'), 'v1');
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
});

test('a call completed later from the plugin\'s own thread finishes on the version it started on', async () => {
  const { dir, runtime, config } = setup();
  install(dir, pluginPath('testkit'), 'testkit.so');
  const d = await startMcpd({ pluginsDir: dir, config });
  try {
    const { sid } = await initSession(d.url);
    const pending = call(d.url, sid, 'sleep', { ms: 600 }, 3);
    await sleep(100);
    const t = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'testkit.so'), t, t); // same bytes, new mtime: a new version
    await reload(d);
    assert.match(d.log(), /event=plugin_retired plugin=testkit version=0\.0\.1 gen=\d+ reason=replaced in_flight=1/);
    assert.equal(await pending, 'slept');
    await d.waitForLog(/event=plugin_unloaded plugin=testkit/);
    assert.equal(await call(d.url, sid, 'sleep', { ms: 1 }, 4), 'slept', 'the new version serves');
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  }
});
