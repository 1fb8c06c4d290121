// http_backend's tools_mode "search" (issue 16): a big API served as three
// meta-tools (search, describe, call) instead of one tool per operation.
//   - GitHub's REST description (@octokit/openapi, 1,223 operations): the
//     natural-language queries of tests/fixtures/github_queries.json must find
//     their operation in the top 3 at least 80% of the time, and the search
//     mode's tools/list must stay under 8 KB; the hit rates (also of the
//     held-out queries) and the tools/list size in both modes are reported.
//     Its dereferenced 73 MB twin loads too.
//   - Against the FastAPI test app: a call through the meta-tool reaches the
//     backend; bad arguments, unknown names and a missing "query" are clean
//     errors; "auto" follows search_threshold; two backends' meta-tools do not
//     clash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd, makePluginsDir, buildDir } from './lib/mcpd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const APP = join(here, '../fixtures/backend/app.py');
const PLUGIN = join(buildDir, 'plugins/http_backend.so');
const GH_DIR = join(here, '../node_modules/@octokit/openapi/generated');
const GH = join(GH_DIR, 'api.github.com.json');
const GH_DEREF = join(GH_DIR, 'api.github.com.deref.json');
// "queries" tuned the ranking; "holdout" was written afterwards and never did.
const { queries: QUERIES, holdout: HOLDOUT } = JSON.parse(readFileSync(join(here, '../fixtures/github_queries.json'), 'utf8'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

async function startApp() {
  const port = await freePort();
  const proc = spawn('/usr/bin/python3', [APP, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (b) => { log += b; });
  proc.stderr.on('data', (b) => { log += b; });
  const url = `http://127.0.0.1:${port}`;
  for (let t = Date.now(); ; await sleep(50)) {
    if (proc.exitCode !== null) throw new Error(`the FastAPI app exited: ${log}`);
    try { if ((await fetch(`${url}/openapi.json`)).ok) break; } catch { /* not yet */ }
    if (Date.now() - t > 20000) throw new Error(`the FastAPI app did not start: ${log}`);
  }
  return { url, stop: () => { proc.kill(); return new Promise((r) => proc.on('exit', r)); } };
}

async function start(backends) {
  const d = await startMcpd({ pluginsDir: makePluginsDir([PLUGIN]), config: { plugins: { http_backend: { backends } } } });
  await d.waitForLog(/event=plugin_(?:loaded|updated) plugin=http_backend .*tools=[1-9]/, 60000);
  const client = new Client({ name: 'search-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
  return { d, client };
}

// Every page of tools/list: the tools and the bytes of the JSON results.
async function listAll(client) {
  const tools = [];
  let bytes = 0;
  let cursor;
  do {
    const r = await client.listTools(cursor ? { cursor } : {});
    bytes += JSON.stringify(r).length;
    tools.push(...r.tools);
    cursor = r.nextCursor;
  } while (cursor);
  return { tools, bytes };
}

const textOf = (r) => r.content?.[0]?.text ?? '';
const jsonOf = (r) => JSON.parse(textOf(r));

// A file document: base_url is where calls would go (nothing listens there).
const github = (extra = {}) => ({ name: 'github', base_url: 'http://127.0.0.1:9', openapi: `file:${GH}`, tool_prefix: 'gh_', ...extra });

let app;
before(async () => { app = await startApp(); });
after(async () => { await app?.stop(); });

test('GitHub in search mode: three meta-tools, tools/list under 8 KB, top-3 hit rate at least 80%', { timeout: 120000 }, async (t) => {
  const { d, client } = await start([github()]); // tools_mode defaults to auto: 1,223 > 100
  try {
    assert.match(d.log(), /operations=1223 .*tools_mode=search/);
    const { tools, bytes } = await listAll(client);
    assert.deepEqual(tools.map((x) => x.name).sort(), ['gh_call_operation', 'gh_describe_operation', 'gh_search_operations']);
    assert.ok(bytes < 8192, `search-mode tools/list is ${bytes} bytes`);
    assert.match(tools.find((x) => x.name === 'gh_search_operations').description, /1223 operations/);

    const top3 = async (set, label) => {
      let hits = 0;
      for (const q of set) {
        const r = await client.callTool({ name: 'gh_search_operations', arguments: { query: q.query, limit: 3 } });
        assert.ok(!r.isError, textOf(r));
        const found = jsonOf(r).results.map((x) => `${x.method} ${x.path}`);
        if (found.some((f) => q.expect.includes(f))) hits++;
        else t.diagnostic(`${label} miss: ${q.query} -> ${found.join(' | ')}`);
      }
      t.diagnostic(`${label}: top-3 hit rate ${hits}/${set.length} = ${((100 * hits) / set.length).toFixed(1)}%`);
      return hits / set.length;
    };
    t.diagnostic(`search-mode tools/list ${bytes} bytes`);
    assert.ok(QUERIES.length >= 40);
    const rate = await top3(QUERIES, 'queries');
    assert.ok(rate >= 0.8, `top-3 hit rate ${(100 * rate).toFixed(1)}% < 80%`);
    // Reported; bounded only to notice a ranking that broke.
    assert.ok((await top3(HOLDOUT, 'holdout')) >= 0.5);

    // Describe: the full input schema of one operation, found by a search.
    const s = jsonOf(await client.callTool({ name: 'gh_search_operations', arguments: { query: 'get a repository', limit: 10 } }));
    const repoGet = s.results.find((x) => x.method === 'GET' && x.path === '/repos/{owner}/{repo}');
    assert.ok(repoGet, JSON.stringify(s));
    const desc = jsonOf(await client.callTool({ name: 'gh_describe_operation', arguments: { name: repoGet.name } }));
    assert.equal(desc.path, '/repos/{owner}/{repo}');
    assert.deepEqual([...desc.inputSchema.required].sort(), ['owner', 'repo']);
    // A schema with $defs comes with them.
    const issue = jsonOf(await client.callTool({ name: 'gh_search_operations', arguments: { query: 'create an issue', tags: ['issues'], limit: 5 } }))
      .results.find((x) => x.method === 'POST' && x.path === '/repos/{owner}/{repo}/issues');
    assert.ok(issue);
    const issueDesc = jsonOf(await client.callTool({ name: 'gh_describe_operation', arguments: { name: issue.name } }));
    assert.ok(issueDesc.inputSchema.properties.title);
    // Tags filter: everything returned has the tag.
    const byTag = jsonOf(await client.callTool({ name: 'gh_search_operations', arguments: { query: '', tags: ['gists'], limit: 50 } }));
    assert.ok(byTag.results.length > 5 && byTag.results.every((x) => x.path.includes('/gists')), JSON.stringify(byTag.results.slice(0, 3)));
    // Errors a model can act on.
    const unknown = await client.callTool({ name: 'gh_describe_operation', arguments: { name: 'gh_no_such_thing' } });
    assert.ok(unknown.isError);
    assert.match(textOf(unknown), /gh_search_operations/);
    const missing = await client.callTool({ name: 'gh_call_operation', arguments: { name: repoGet.name, arguments: { owner: 'x' } } });
    assert.ok(missing.isError);
    assert.match(textOf(missing), /"repo" is required/);
    const typed = await client.callTool({ name: 'gh_call_operation', arguments: { name: repoGet.name, arguments: { owner: 'x', repo: 7 } } });
    assert.ok(typed.isError);
    assert.match(textOf(typed), /"repo" must be of type "string"/);
    const extra = await client.callTool({ name: 'gh_call_operation', arguments: { name: repoGet.name, arguments: { owner: 'x', repo: 'y', colour: 'red' } } });
    assert.ok(extra.isError);
    assert.match(textOf(extra), /no argument "colour"/);
  } finally {
    await client.close();
    await d.stop();
  }
});

// The two heaviest loads (all 1,223 tools listed; a 73 MB document) run in
// the plain build only: under a sanitizer they take 10-20 s each, and the
// same parsing and conversion paths run there in the tests above.
const sanitized = (() => {
  try {
    return /^MCPD_(SANITIZE|TSAN):BOOL=ON$/m.test(readFileSync(join(buildDir, 'CMakeCache.txt'), 'utf8'));
  } catch {
    return false;
  }
})();
const heavy = sanitized && 'the largest loads run in the plain build';

test('GitHub with tools_mode "all": one tool per operation (the size search mode saves)', { timeout: 120000, skip: heavy }, async (t) => {
  const { d, client } = await start([github({ tools_mode: 'all' })]);
  try {
    assert.doesNotMatch(d.log(), /tools_mode=search/);
    const { tools, bytes } = await listAll(client);
    assert.equal(tools.length, 1223);
    t.diagnostic(`all-mode tools/list: ${tools.length} tools, ${bytes} bytes`);
    assert.ok(bytes > 1000000);
  } finally {
    await client.close();
    await d.stop();
  }
});

test('the dereferenced GitHub description (73 MB) loads in search mode', { timeout: 120000, skip: heavy }, async () => {
  const { d, client } = await start([github({ openapi: `file:${GH_DEREF}` })]);
  try {
    assert.match(d.log(), /operations=1223 .*tools_mode=search/);
    const r = jsonOf(await client.callTool({ name: 'gh_search_operations', arguments: { query: 'merge a pull request', limit: 3 } }));
    assert.ok(r.results.some((x) => x.path === '/repos/{owner}/{repo}/pulls/{pull_number}/merge'), JSON.stringify(r));
  } finally {
    await client.close();
    await d.stop();
  }
});

test('search mode on a small API: calls reach the backend; auto follows search_threshold; meta-tool names per backend', { timeout: 60000 }, async () => {
  const shop = { name: 'shop', base_url: app.url, openapi: '/openapi.json' };
  const { d, client } = await start([
    { ...shop, tools_mode: 'search' },
    { ...shop, name: 'shop2', tools_mode: 'auto', search_threshold: 1 },
    { ...shop, name: 'shop3' }, // auto, default threshold: few operations, one tool each
  ]);
  try {
    // The three documents arrive one by one.
    let names = [];
    for (let t = Date.now(); Date.now() - t < 15000; await sleep(100)) {
      names = (await listAll(client)).tools.map((x) => x.name);
      if (names.includes('shop_search_operations') && names.includes('shop2_search_operations') && names.length > 10) break;
    }
    for (const n of ['shop_search_operations', 'shop_describe_operation', 'shop_call_operation', 'shop2_search_operations'])
      assert.ok(names.includes(n), `${n} missing from ${names.join(' ')}`);
    assert.ok(names.length > 10, 'shop3 should serve one tool per operation');
    assert.ok(!names.includes('shop3_search_operations'));

    const found = jsonOf(await client.callTool({ name: 'shop_search_operations', arguments: { query: 'read one item' } }));
    const read = found.results.find((x) => x.method === 'GET' && x.path === '/items/{item_id}');
    assert.ok(read, JSON.stringify(found));
    const r = await client.callTool({ name: 'shop_call_operation', arguments: { name: read.name, arguments: { item_id: 1 } } });
    assert.ok(!r.isError, textOf(r));
    assert.equal(jsonOf(r).id ?? jsonOf(r).item_id, 1);
    // The backend's own answers come through as they are (a 404 is an error result).
    const gone = await client.callTool({ name: 'shop_call_operation', arguments: { name: read.name, arguments: { item_id: 999999 } } });
    assert.ok(gone.isError);
    assert.match(textOf(gone), /404/);
    // Without "arguments" at all: the required item_id is missing.
    const none = await client.callTool({ name: 'shop_call_operation', arguments: { name: read.name } });
    assert.ok(none.isError);
    assert.match(textOf(none), /"item_id" is required/);
    // mcpd checks a meta-tool's own arguments against its schema.
    await assert.rejects(client.callTool({ name: 'shop_search_operations', arguments: {} }), /query/);
    const unknown = await client.callTool({ name: 'shop_call_operation', arguments: { name: 'nope', arguments: {} } });
    assert.ok(unknown.isError);
    assert.match(textOf(unknown), /shop_search_operations/);
  } finally {
    await client.close();
    await d.stop();
  }
});

test('tools_mode and search_threshold are checked', { timeout: 30000 }, async () => {
  for (const bad of [{ tools_mode: 'some' }, { tools_mode: 1 }, { search_threshold: -1 }, { search_threshold: 'x' }]) {
    const d = await startMcpd({ pluginsDir: makePluginsDir([PLUGIN]), config: { plugins: { http_backend: { backends: [{ name: 'shop', base_url: app.url, ...bad }] } } } });
    try {
      await d.waitForLog(/tools_mode|search_threshold/, 10000);
    } finally {
      await d.stop({ expectCode: null });
    }
  }
});
