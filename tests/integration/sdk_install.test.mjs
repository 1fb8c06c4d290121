// The SDK as a plugin author outside this tree gets it: `cmake --install`
// into a scratch prefix, then the README's tutorial plugin built against the
// *installed* SDK with pkg-config and with find_package(mcpd), both loaded
// by the installed mcpd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, buildDir } from './lib/mcpd.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let work, prefix;

function tutorial(name) {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- tutorial: weather.c -->');
  const code = readme.slice(at).match(/```c\n([\s\S]*?)```/)[1];
  return code.replaceAll('"weather"', `"${name}"`).replaceAll('weather://', `${name}://`)
    .replaceAll('"forecast"', `"${name}_forecast"`).replaceAll('"outlook"', `"${name}_outlook"`);
}

function exported(so) {
  return execFileSync('nm', ['-D', '--defined-only', so]).toString().split('\n')
    .filter((l) => / [TDBR] /.test(l)).map((l) => l.split(' ').pop());
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'mcpd-sdk-'));
  prefix = join(work, 'prefix');
  execFileSync('cmake', ['--install', buildDir, '--prefix', prefix], { stdio: 'pipe' });
});
after(() => rmSync(work, { recursive: true, force: true }));

test('cmake --install puts the daemon, the bundled plugins and the SDK in place, and no test plugin', () => {
  for (const f of ['bin/mcpd', 'lib/mcpd/plugins/hello.so', 'include/mcpd/plugin.h',
    'lib/pkgconfig/mcpd-plugin.pc', 'lib/cmake/mcpd/mcpdConfig.cmake',
    'lib/cmake/mcpd/mcpdConfigVersion.cmake', 'lib/cmake/mcpd/McpdPlugin.cmake', 'share/mcpd/plugin.map'])
    assert.ok(existsSync(join(prefix, f)), `${f} installed`);
  for (const f of ['lib/mcpd/plugins/testkit.so', 'lib/mcpd/plugins/versioned_v1.so'])
    assert.ok(!existsSync(join(prefix, f)), `${f} not installed`);
  const version = execFileSync(join(prefix, 'bin/mcpd'), ['--version']).toString();
  assert.match(version, /^mcpd \d+\.\d+\.\d+ \(plugin ABI 1\.\d+\)/);
});

test('a plugin built against the installed SDK with pkg-config, and one with find_package(mcpd), both load', async () => {
  const plugins = join(work, 'plugins');
  mkdirSync(plugins);
  const env = { ...process.env, PKG_CONFIG_PATH: join(prefix, 'lib/pkgconfig') };

  // pkg-config
  writeFileSync(join(work, 'rain.c'), tutorial('rain'));
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'mcpd-plugin'], { env }).toString().trim().split(/\s+/);
  assert.ok(flags.some((f) => f.startsWith(`-I${prefix}`)) || flags.some((f) => f.includes('pkgconfig/../../include')));
  execFileSync('cc', ['-o', join(plugins, 'rain.so'), join(work, 'rain.c'), ...flags], { stdio: 'pipe' });
  assert.deepEqual(exported(join(plugins, 'rain.so')), ['mcpd_plugin_v1']);

  // find_package(mcpd)
  const proj = join(work, 'snow');
  mkdirSync(proj);
  writeFileSync(join(proj, 'snow.c'), tutorial('snow'));
  writeFileSync(join(proj, 'CMakeLists.txt'), [
    'cmake_minimum_required(VERSION 3.18)',
    'project(snow C)',
    'find_package(mcpd 0.1 REQUIRED)',
    'mcpd_add_plugin(snow snow.c)',
    'file(WRITE ${CMAKE_BINARY_DIR}/plugins_dir.txt "${MCPD_PLUGINS_DIR}")',
    '',
  ].join('\n'));
  execFileSync('cmake', ['-S', proj, '-B', join(proj, 'build'), `-DCMAKE_PREFIX_PATH=${prefix}`], { stdio: 'pipe' });
  execFileSync('cmake', ['--build', join(proj, 'build')], { stdio: 'pipe' });
  assert.equal(readFileSync(join(proj, 'build/plugins_dir.txt'), 'utf8'), join(prefix, 'lib/mcpd/plugins'));
  assert.deepEqual(exported(join(proj, 'build/snow.so')), ['mcpd_plugin_v1']);
  copyFileSync(join(proj, 'build/snow.so'), join(plugins, 'snow.so'));
  copyFileSync(join(prefix, 'lib/mcpd/plugins/hello.so'), join(plugins, 'hello.so'));

  const d = await startMcpd({ pluginsDir: plugins, bin: join(prefix, 'bin/mcpd') });
  try {
    const client = new Client({ name: 'sdk-install-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['count', 'echo', 'rain_forecast', 'rain_outlook', 'snow_forecast', 'snow_outlook']);
    assert.equal((await client.callTool({ name: 'snow_forecast', arguments: { city: 'Lima' } })).content[0].text, 'Sunny in Lima');
    assert.equal((await client.callTool({ name: 'rain_outlook', arguments: { days: 2 } })).content[0].text, '2-day outlook: sunny');
    await client.close();
  } finally {
    await d.stop();
  }
});
