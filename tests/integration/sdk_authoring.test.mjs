// A plugin author's path: take the README's tutorial plugin, build it outside
// this tree with the README's plain cc line and with the SDK's CMake helper,
// drop the .so into a plugins directory, start mcpd: the tools and the
// resource are there, progress and schema checks included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, copyFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd } from './lib/mcpd.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const sdkInclude = join(repo, 'sdk/include');

// The README's tutorial, verbatim: the fenced C block after the marker.
function tutorialSource() {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- tutorial: weather.c -->');
  assert.ok(at >= 0, 'README has the tutorial marker');
  const m = readme.slice(at).match(/```c\n([\s\S]*?)```/);
  assert.ok(m, 'README has the tutorial code block');
  return m[1];
}

// The README's plugin under another name, so two builds can coexist.
function renamed(prefix) {
  return tutorialSource()
    .replaceAll('"weather"', `"${prefix}"`)
    .replaceAll('weather://', `${prefix}://`)
    .replaceAll('"forecast"', `"${prefix}_forecast"`)
    .replaceAll('"outlook"', `"${prefix}_outlook"`);
}

async function listAndCall(pluginsDir, prefix) {
  const d = await startMcpd({ pluginsDir });
  try {
    const client = new Client({ name: 'author-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === `${prefix}_forecast`), `tool ${prefix}_forecast listed`);
    const r = await client.callTool({ name: `${prefix}_forecast`, arguments: { city: 'Oslo' } });
    assert.equal(r.content[0].text, 'Sunny in Oslo');
    const progress = [];
    const slow = await client.callTool({ name: `${prefix}_outlook`, arguments: { days: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    assert.equal(slow.content[0].text, '3-day outlook: sunny');
    assert.deepEqual(progress, [1, 2, 3]);
    await assert.rejects(client.callTool({ name: `${prefix}_outlook`, arguments: { days: 99 } }), /must be <= 14/);
    const res = await client.readResource({ uri: `${prefix}://stations` });
    assert.equal(res.contents[0].text, 'Oslo, Lima, Perth');
    await client.close();
    assert.match(d.log(), new RegExp(`event=plugin_loaded plugin=${prefix} `));
  } finally {
    await d.stop();
  }
}

test('the README tutorial, built with its plain cc line, loads and serves its tools and resource', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-author-cc-'));
  const plugins = join(work, 'plugins');
  mkdirSync(plugins);
  writeFileSync(join(work, 'weather.c'), renamed('weather'));
  // The README's command line, verbatim apart from the paths.
  execFileSync('cc', ['-shared', '-fPIC', '-fvisibility=hidden', '-I', sdkInclude,
    '-o', join(plugins, 'weather.so'), join(work, 'weather.c'), '-ljansson'], { stdio: 'pipe' });
  await listAndCall(plugins, 'weather');
  rmSync(work, { recursive: true, force: true });
});

test('the README tutorial, built with the SDK CMake helper, loads and exports only the entry symbol', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-author-cmake-'));
  const plugins = join(work, 'plugins');
  mkdirSync(plugins);
  writeFileSync(join(work, 'tides.c'), renamed('tides'));
  writeFileSync(join(work, 'CMakeLists.txt'), [
    'cmake_minimum_required(VERSION 3.18)',
    'project(tides C)',
    `include(${join(repo, 'sdk/cmake/McpdPlugin.cmake')})`,
    'mcpd_add_plugin(tides tides.c)',
    '',
  ].join('\n'));
  execFileSync('cmake', ['-S', work, '-B', join(work, 'build')], { stdio: 'pipe' });
  execFileSync('cmake', ['--build', join(work, 'build')], { stdio: 'pipe' });
  const so = join(work, 'build', 'tides.so');
  const exported = execFileSync('nm', ['-D', '--defined-only', so]).toString()
    .split('\n').filter((l) => / [TDBR] /.test(l)).map((l) => l.split(' ').pop());
  assert.deepEqual(exported, ['mcpd_plugin_v1']);
  copyFileSync(so, join(plugins, 'tides.so'));
  await listAndCall(plugins, 'tides');
  rmSync(work, { recursive: true, force: true });
});
