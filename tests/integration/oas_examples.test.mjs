// oas_examples.test.mjs -- every document of the @readme/oas-examples
// collection (npm; Swagger 2.0, OpenAPI 3.0 and 3.1, each in JSON and YAML)
// loads into http_backend, read from a file (issue 16, item 8). For each:
// the tools' input and output schemas compile under ajv's JSON Schema
// 2020-12 validator, the names are unique, at most 64 characters of
// [A-Za-z0-9_.-], and a YAML document and its JSON twin give the same tools.
//
// A few mcpd processes serve them all, one backend per document (at most 64
// backends a process; tool_prefix d<i>_, the same for twins, so they can be
// compared tool by tool). The backends' base_url is never called.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv2020 from 'ajv/dist/2020.js';
import { startMcpd, makePluginsDir, buildDir } from './lib/mcpd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '../node_modules/@readme/oas-examples');
const PLUGIN = join(buildDir, 'plugins/http_backend.so');
const VERSIONS = ['2.0', '3.0', '3.1'];
const FORMATS = ['json', 'yaml'];
const NAME_RE = /^[A-Za-z0-9_.-]+$/;

function walk(dir) {
  return readdirSync(dir).sort().flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

// Every document: {version, format, key ("3.0/petstore"), file, prefix}.
// Twins share key and prefix.
const docs = [];
const keys = new Map();
for (const version of VERSIONS) {
  for (const format of FORMATS) {
    for (const file of walk(join(ROOT, version, format))) {
      if (!file.endsWith(`.${format}`)) continue;
      const key = `${version}/${relative(join(ROOT, version, format), file).replace(/\.(json|yaml)$/, '')}`;
      if (!keys.has(key)) keys.set(key, `d${keys.size}_`);
      docs.push({ version, format, key, file, prefix: keys.get(key) });
    }
  }
}

// Each mcpd run: {mcpd, tools, log}; d.run is the one that serves d.
const runs = [];
const PER_RUN = 60;

async function serve(list) {
  const backends = list.map((d) => ({
    name: d.prefix.slice(0, -1),
    base_url: 'http://127.0.0.1:9',
    openapi: pathToFileURL(d.file).href,
    tool_prefix: d.prefix,
    tools_mode: 'all', // star-trek's 120 operations would switch "auto" to search
  }));
  const mcpd = await startMcpd({ pluginsDir: makePluginsDir([PLUGIN]), config: { plugins: { http_backend: { backends } } } });
  const client = new Client({ name: 'oas-examples-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpd.url)));
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  await client.close();
  return { mcpd, tools, log: mcpd.log() };
}

before(async () => {
  for (const format of FORMATS) {
    const list = docs.filter((d) => d.format === format);
    for (let i = 0; i < list.length; i += PER_RUN) {
      const chunk = list.slice(i, i + PER_RUN);
      const r = await serve(chunk);
      runs.push(r);
      for (const d of chunk) d.run = r;
    }
  }
});

after(async () => {
  for (const r of runs) await r.mcpd.stop();
});

// What the log says of d: {loaded, operations, why}.
function outcome(d) {
  const log = d.run.log;
  const name = d.prefix.slice(0, -1);
  const ok = log.match(new RegExp(`backend=${name} document=\\S+ title=[^\\n]*? operations=(\\d+) warnings=`));
  if (ok) return { loaded: true, operations: Number(ok[1]) };
  const bad = log.match(new RegExp(`backend=${name} document=\\S+ not loaded[^\\n]*`));
  return { loaded: false, why: bad ? bad[0] : 'nothing in the log' };
}

function toolsOf(d) {
  return d.run.tools.filter((t) => t.name.startsWith(d.prefix));
}

test('every 2.0, 3.0 and 3.1 document, JSON and YAML, loads', (t) => {
  const failed = [];
  const counts = {};
  for (const d of docs) {
    const o = outcome(d);
    const c = (counts[`${d.version} ${d.format}`] ??= { loaded: 0, of: 0 });
    c.of++;
    if (o.loaded) c.loaded++;
    else failed.push(`${d.key}.${d.format}: ${o.why}`);
    if (o.loaded) assert.equal(toolsOf(d).length, o.operations, `${d.key}.${d.format}: one tool per operation`);
  }
  for (const [k, c] of Object.entries(counts)) t.diagnostic(`${k}: ${c.loaded} of ${c.of} loaded`);
  assert.deepEqual(failed, [], 'documents that did not load');
  // Sanity: the collection is what this test thinks it is.
  assert.ok(docs.length >= 100, `${docs.length} documents`);
  for (const v of VERSIONS) for (const f of FORMATS) assert.ok(counts[`${v} ${f}`]?.of > 0, `${v} ${f}`);
  // The webhooks-only 3.1 document gives no tools, and says so.
  for (const f of FORMATS) {
    const d = docs.find((x) => x.key === '3.1/webhooks' && x.format === f);
    assert.equal(outcome(d).operations, 0);
    assert.match(d.run.log, new RegExp(`backend=${d.prefix.slice(0, -1)} no \\\\?"paths\\\\?" \\(an OpenAPI 3\\.1 document of webhooks`));
  }
});

test('every input and output schema compiles under JSON Schema 2020-12 (ajv)', (t) => {
  // strict off: OpenAPI's annotations (example, x-*) are not ajv's keywords,
  // and formats (int32, binary) are annotations here, not checks.
  // unicodeRegExp off: 3.0/schema-validation has a pattern with a literal
  // "{" that ECMA-262 takes, but not with the u flag (said below).
  const ajv = new Ajv2020({ strict: false, validateFormats: false, unicodeRegExp: false, logger: false });
  const strictU = new Ajv2020({ strict: false, validateFormats: false, logger: false });
  const bad = [];
  const seen = new Set(); // twins' schemas are compiled once
  let n = 0;
  for (const [i, r] of runs.entries()) {
    for (const tool of r.tools) {
      for (const which of ['inputSchema', 'outputSchema']) {
        if (tool[which] === undefined) continue;
        n++;
        const text = JSON.stringify(tool[which]);
        if (seen.has(text)) continue;
        seen.add(text);
        try {
          ajv.compile(tool[which]);
        } catch (e) {
          bad.push(`run ${i} ${tool.name} ${which}: ${e.message}`);
          continue;
        }
        try {
          if (text.includes('"pattern"')) strictU.compile(tool[which]);
        } catch (e) {
          t.diagnostic(`${tool.name} ${which}: only without the u flag: ${e.message}`);
        }
      }
    }
  }
  assert.ok(n > 500, `${n} schemas compiled`);
  assert.deepEqual(bad, []);
});

test('tool names are unique, at most 64 characters of [A-Za-z0-9_.-]', () => {
  for (const [i, r] of runs.entries()) {
    const names = r.tools.map((t) => t.name);
    assert.equal(new Set(names).size, names.length, `run ${i}: unique`);
    for (const name of names) {
      assert.ok(name.length <= 64, `${name}: ${name.length} characters`);
      assert.match(name, NAME_RE);
    }
  }
});

// Twins whose documents say different things (checked by hand: the JSON and
// the YAML file of the collection differ as data), compared by name only.
const UNEQUAL_TWINS = {
  '2.0/petstore-expanded': 'a description is longer in the JSON, Pet\'s "type" sits elsewhere',
  '3.0/petstore-expanded': 'a description differs',
  '3.0/uspto': 'a description starts with a space in the JSON',
  '3.1/train-travel': 'descriptions differ (an escaped \\n in the YAML)',
  '3.1/parameters-style': 'two operations are GET in one and POST in the other',
};

test('a YAML document and its JSON twin give the same tools', (t) => {
  const pick = (t) => ({
    name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema,
    outputSchema: t.outputSchema, annotations: t.annotations,
  });
  let twins = 0;
  for (const d of docs.filter((x) => x.format === 'yaml')) {
    const j = docs.find((x) => x.key === d.key && x.format === 'json');
    if (!j) continue;
    twins++;
    if (UNEQUAL_TWINS[d.key]) {
      t.diagnostic(`${d.key}: not compared, the documents differ: ${UNEQUAL_TWINS[d.key]}`);
      if (d.key !== '3.1/parameters-style')
        assert.deepEqual(toolsOf(d).map((x) => x.name), toolsOf(j).map((x) => x.name), `${d.key}: names`);
      continue;
    }
    assert.deepEqual(toolsOf(d).map(pick), toolsOf(j).map(pick), `${d.key}: YAML and JSON`);
  }
  t.diagnostic(`${twins} twins`);
  assert.ok(twins >= 45, `${twins} twins`);
});
