// reload_rules.test.mjs -- what a reload does about names and broken files
// (issue 12, items 11 and 12), against the real daemon:
//   - a plugin whose init() had a registration refused does not go into
//     service, even when it ignores the refusal and returns 0;
//   - names: the plugin in service keeps its names on SIGHUP; at start the
//     first in file-name order wins;
//   - replacing a plugin with a byte-identical copy changes no list and
//     sends no list_changed;
//   - a broken file left in the directory is not run again, nor counted
//     again, on every SIGHUP, until it changes;
//   - /healthz's last_reload_error names the newest failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, renameSync, rmSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, ResourceListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startMcpd, makePluginsDir, pluginPath, buildDir, runMcpd } from './lib/mcpd.mjs';

const V1 = join(buildDir, 'tests/fixtures/reload/versioned_v1.so');
const V2 = join(buildDir, 'tests/fixtures/reload/versioned_v2.so');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Installs a file the safe way: written under another name, renamed.
function install(dir, src, name) {
  const tmp = join(dir, `.${name}.tmp`);
  copyFileSync(src, tmp);
  renameSync(tmp, join(dir, name));
}

function count(d, re) {
  return (d.log().match(re) ?? []).length;
}

async function reload(d) {
  const before = count(d, /event=reload_done/g);
  d.proc.kill('SIGHUP');
  const t0 = Date.now();
  while (count(d, /event=reload_done/g) <= before) {
    if (Date.now() - t0 > 10000) throw new Error(`reload did not finish:\n${d.log()}`);
    await sleep(5);
  }
}

async function healthz(d) {
  return await (await fetch(`${d.base}/healthz`)).json();
}

async function connect(d) {
  const client = new Client({ name: 'reload-rules', version: '1' });
  const heard = { tools: 0, resources: 0 };
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { heard.tools++; });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => { heard.resources++; });
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
  await sleep(200); // the SDK opens its GET stream after initialize
  return { client, heard };
}

test('a plugin that ignores a refused registration does not go into service', async () => {
  // z_half.so registers "half_own", then "echo", which hello.so (first in
  // file-name order) has; it ignores the -EEXIST and returns 0.
  const dir = makePluginsDir(['hello']);
  install(dir, pluginPath('bad_half'), 'z_half.so');
  const d = await startMcpd({ pluginsDir: dir });
  try {
    await d.waitForLog(/event=plugins_ready /);
    assert.match(d.log(), /event=plugin_skipped file=\S+\/z_half\.so reason="init\(\) returned 0 after 1 refused registration\(s\)[^\n]*tool \\"echo\\" is already registered by plugin \\"hello\\"/);
    const { client } = await connect(d);
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['count', 'echo'], 'nothing of the half-registered plugin serves');
    assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'hi' } })).content[0].text, 'hi');
    await client.close();
    assert.deepEqual((await healthz(d)).plugins.map((p) => p.name), ['hello']);

    const check = await runMcpd(['--check', '--plugins', dir]);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, /FAILED: 1 plugin\(s\) loaded, 1 failed/);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('names: the plugin in service keeps them on SIGHUP; at start the first in file-name order wins', async () => {
  const dir = makePluginsDir(['hello']);
  let d = await startMcpd({ pluginsDir: dir });
  try {
    // a_dup.so sorts before hello.so and registers "echo": on SIGHUP hello,
    // in service, keeps it.
    install(dir, pluginPath('bad_dup_tool'), 'a_dup.so');
    await reload(d);
    assert.match(d.log(), /event=plugin_skipped file=\S+\/a_dup\.so reason="init\(\) failed[^\n]*tool \\"echo\\" is already registered by plugin \\"hello\\"/);
    let { client } = await connect(d);
    assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'x' } })).content[0].text, 'x');
    await client.close();
    await d.stop();

    // At start nobody is in service: the first in file-name order wins.
    d = await startMcpd({ pluginsDir: dir });
    assert.match(d.log(), /event=plugin_skipped file=\S+\/hello\.so reason="init\(\) failed[^\n]*tool \\"echo\\" is already registered by plugin \\"bad_dup_tool\\"/);
    ({ client } = await connect(d));
    assert.equal((await client.callTool({ name: 'echo', arguments: { text: 'x' } })).content[0].text, 'impostor');
    await client.close();
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a byte-identical copy of a plugin changes no list and sends no list_changed', async () => {
  const dir = makePluginsDir(['hello']);
  install(dir, V1, 'versioned.so');
  const d = await startMcpd({ pluginsDir: dir });
  try {
    const { client, heard } = await connect(d);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    const resources = (await client.listResources()).resources.map((r) => r.uri);
    assert.deepEqual(tools.slice(0, 2), ['echo', 'count'], 'hello.so loads first');

    install(dir, pluginPath('hello'), 'hello.so'); // a new inode, the same bytes
    await reload(d);
    assert.match(d.log(), /event=reload_done [^\n]*replaced=1 [^\n]*tools_changed=0 resources_changed=0/);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), tools);
    assert.deepEqual((await client.listResources()).resources.map((r) => r.uri), resources);
    await sleep(300);
    assert.deepEqual(heard, { tools: 0, resources: 0 });

    // A real change is still heard (the stream works).
    install(dir, V2, 'versioned.so');
    await reload(d);
    for (let t0 = Date.now(); heard.tools === 0 && Date.now() - t0 < 5000;) await sleep(20);
    assert.deepEqual(heard, { tools: 1, resources: 0 });
    await client.close();
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a broken file is run and counted once, until it changes; last_reload_error names the newest failure', async () => {
  const dir = makePluginsDir(['hello']);
  const d = await startMcpd({ pluginsDir: dir });
  try {
    install(dir, pluginPath('bad_init_fails'), 'a_broken.so');
    await reload(d);
    let h = await healthz(d);
    assert.equal(h.reload_failures, 1);
    assert.match(h.last_reload_error, /a_broken\.so: init\(\) failed/);

    // Left in place: not run again, not counted again.
    await reload(d);
    await reload(d);
    h = await healthz(d);
    assert.equal(h.reloads, 3);
    assert.equal(h.reload_failures, 1);
    assert.equal(count(d, /refusing to start on purpose/g), 1, 'its init() ran once');
    assert.equal(count(d, /event=plugin_still_skipped file=\S+\/a_broken\.so/g), 2);
    assert.match(h.last_reload_error, /a_broken\.so: /, 'still broken, still named');

    // A newer failure, behind it in file-name order, is the one named.
    install(dir, pluginPath('not_elf.so'), 'z_broken.so');
    await reload(d);
    h = await healthz(d);
    assert.equal(h.reload_failures, 2);
    assert.match(h.last_reload_error, /z_broken\.so: /);

    // Touched: tried (and counted) again.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'a_broken.so'), later, later);
    await reload(d);
    h = await healthz(d);
    assert.equal(h.reload_failures, 3);
    assert.equal(count(d, /refusing to start on purpose/g), 2);
    assert.match(h.last_reload_error, /a_broken\.so: /);

    // Both gone: null again.
    unlinkSync(join(dir, 'a_broken.so'));
    unlinkSync(join(dir, 'z_broken.so'));
    await reload(d);
    h = await healthz(d);
    assert.equal(h.reload_failures, 3);
    assert.equal(h.last_reload_error, null);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
