// A plugin author's path: write a plugin against sdk/include/mcpd/plugin.h
// outside this tree, build it with the README's plain cc line and with the
// SDK's CMake helper, drop the .so into a plugins directory, start mcpd:
// the tool and the resource are there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd } from './lib/mcpd.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const sdkInclude = join(repo, 'sdk/include');

const source = `
#include <mcpd/plugin.h>
#include <stdio.h>

static const mcpd_host *host;

static int forecast(mcpd_call *call, const json_t *args, void *data, json_t **result) {
  char text[128];
  snprintf(text, sizeof text, "Sunny in %s", json_string_value(json_object_get(args, "city")));
  *result = mcpd_result_text(text);
  return MCPD_OK;
}

static int stations(mcpd_call *call, const char *uri, const json_t *vars, void *data, json_t **result) {
  *result = mcpd_contents_text(uri, "text/plain", "Oslo, Lima, Perth");
  return MCPD_OK;
}

static int init(mcpd_ctx *ctx, const mcpd_host *h, const json_t *config, void **state) {
  json_t *schema = json_pack("{s:s, s:{s:{s:s}}, s:[s]}", "type", "object",
                             "properties", "city", "type", "string", "required", "city");
  mcpd_tool tool = {.struct_size = sizeof tool, .name = "PREFIX_forecast",
                    .description = "Weather forecast for a city",
                    .input_schema = schema, .handler = forecast};
  mcpd_resource res = {.struct_size = sizeof res, .uri = "PREFIX://stations",
                       .name = "stations", .mime_type = "text/plain", .handler = stations};
  int r;
  host = h;
  r = host->register_tool(ctx, &tool);
  if (r == 0)
    r = host->register_resource(ctx, &res);
  json_decref(schema);
  return r;
}

static const mcpd_plugin plugin = {MCPD_PLUGIN_HEADER, .name = "PREFIX", .version = "1.0",
                                   .init = init};
MCPD_PLUGIN_DEFINE(plugin)
`;

async function listAndCall(pluginsDir, prefix) {
  const d = await startMcpd({ pluginsDir });
  try {
    const client = new Client({ name: 'author-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === `${prefix}_forecast`), `tool ${prefix}_forecast listed`);
    const r = await client.callTool({ name: `${prefix}_forecast`, arguments: { city: 'Oslo' } });
    assert.equal(r.content[0].text, 'Sunny in Oslo');
    const res = await client.readResource({ uri: `${prefix}://stations` });
    assert.equal(res.contents[0].text, 'Oslo, Lima, Perth');
    await client.close();
    assert.match(d.log(), new RegExp(`event=plugin_loaded plugin=${prefix} `));
  } finally {
    await d.stop();
  }
}

test('a plugin built with the plain cc line loads and serves its tool and resource', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-author-cc-'));
  const plugins = join(work, 'plugins');
  mkdirSync(plugins);
  writeFileSync(join(work, 'weather.c'), source.replaceAll('PREFIX', 'weather'));
  // The README's command line, verbatim apart from the paths.
  execFileSync('cc', ['-shared', '-fPIC', '-fvisibility=hidden', '-I', sdkInclude,
    '-o', join(plugins, 'weather.so'), join(work, 'weather.c'), '-ljansson'], { stdio: 'pipe' });
  await listAndCall(plugins, 'weather');
  rmSync(work, { recursive: true, force: true });
});

test('a plugin built with the SDK CMake helper loads, exporting only the entry symbol', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-author-cmake-'));
  const plugins = join(work, 'plugins');
  mkdirSync(plugins);
  writeFileSync(join(work, 'tides.c'), source.replaceAll('PREFIX', 'tides'));
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
