// check.test.mjs -- `mcpd --check` with the http_backend plugin (issue 12,
// item 10): it waits for the OpenAPI documents, and exits 1 naming each
// backend whose document did not load and why (not found, bad YAML, an
// unsupported Swagger version, over max_document_bytes), or 0 listing the
// tools when every document loads (JSON, YAML and Swagger 2.0 alike).
// The backends are one small node HTTP server on a loopback port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePluginsDir, buildDir, runMcpd } from './lib/mcpd.mjs';

const PLUGIN = join(buildDir, 'plugins/http_backend.so');

const GOOD = {
  openapi: '3.1.0', info: { title: 'good', version: '1' },
  paths: { '/ping': { get: { operationId: 'ping', responses: { 200: { description: 'ok' } } } } },
};
const SWAGGER = {
  swagger: '2.0', info: { title: 'old', version: '1' },
  paths: { '/ping': { get: { operationId: 'sping', responses: { 200: { description: 'ok' } } } } },
};
const SWAGGER12 = { swaggerVersion: '1.2', swagger: '1.2', apis: [] };
const YAML = 'openapi: 3.1.0\ninfo:\n  title: yaml\n  version: "1"\n' +
  'paths:\n  /ping:\n    get:\n      operationId: yping\n      responses:\n        200: {description: ok}\n';
const BAD_YAML = 'openapi: 3.1.0\ninfo: {title: t, version: "1"}\npaths: {}\npaths: {}\n';
const HUGE = 2 << 20; // over the max_document_bytes (1 MiB) of the backend "huge"

let server;
let base;
let files; // local documents
before(async () => {
  files = mkdtempSync(join(tmpdir(), 'mcpd-check-docs-'));
  writeFileSync(join(files, 'big.yaml'), `${YAML}# ${'x'.repeat(2000)}\n`);
  server = http.createServer((req, res) => {
    if (req.url === '/good.json') return res.end(JSON.stringify(GOOD));
    if (req.url === '/swagger.json') return res.end(JSON.stringify(SWAGGER));
    if (req.url === '/swagger12.json') return res.end(JSON.stringify(SWAGGER12));
    if (req.url === '/openapi.yaml') return res.end(YAML);
    if (req.url === '/bad.yaml') return res.end(BAD_YAML);
    if (req.url === '/huge.json') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': HUGE });
      const chunk = Buffer.alloc(1 << 20, ' ');
      let sent = 0;
      const pump = () => {
        while (sent < HUGE && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => {});
      return pump();
    }
    res.writeHead(404).end('not here');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => {
  server.closeAllConnections?.();
  server.close();
  rmSync(files, { recursive: true, force: true });
});

async function check(backends) {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-check-'));
  const dir = makePluginsDir([PLUGIN]);
  const file = join(work, 'mcpd.json');
  writeFileSync(file, JSON.stringify({ runtime_dir: join(work, 'run'), plugins: { http_backend: { backends } } }));
  try {
    return await runMcpd(['--check', '--plugins', dir, '--config', file], { timeoutMs: 30000 });
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--check exits 1 naming each backend whose document does not load, and why', async () => {
  const r = await check([
    { name: 'missing', base_url: base, openapi: '/openapi.json' },
    { name: 'yaml', base_url: base, openapi: '/bad.yaml' },
    { name: 'swagger', base_url: base, openapi: '/swagger12.json' },
    { name: 'huge', base_url: base, openapi: '/huge.json', max_document_bytes: 1 << 20 },
    { name: 'bigfile', base_url: base, openapi: `file://${join(files, 'big.yaml')}`, max_document_bytes: 1024 },
    { name: 'good', base_url: base, openapi: '/good.json' },
    { name: 'goodyaml', base_url: base, openapi: '/openapi.yaml' },
    { name: 'goodswagger', base_url: base, openapi: '/swagger.json' },
  ]);
  const out = r.stdout;
  assert.equal(r.code, 1, out + r.stderr);
  assert.match(out, /^error: plugin http_backend: backend=missing document=\/openapi\.json not loaded [^\n]*answered HTTP 404/m);
  assert.match(out, /^error: plugin http_backend: backend=yaml document=\/bad\.yaml not loaded [^\n]*not valid YAML [^\n]*line 4: duplicate key "paths"/m);
  assert.match(out, /^error: plugin http_backend: backend=swagger document=\/swagger12\.json not loaded [^\n]*Swagger version 1\.2 is not supported/m);
  assert.match(out, /^error: plugin http_backend: backend=huge document=\/huge\.json not loaded [^\n]*larger than max_document_bytes \(1048576 bytes\)/m);
  assert.match(out, /^error: plugin http_backend: backend=bigfile document=\S+big\.yaml not loaded [^\n]*big\.yaml is larger than max_document_bytes \(1024 bytes\)/m);
  assert.doesNotMatch(out, /backend=good[a-z]* [^\n]*not loaded/);
  assert.match(out, /^tool ping \(plugin http_backend\)$/m, 'the good backend\'s tool is listed');
  assert.match(out, /^tool yping \(plugin http_backend\)$/m, 'a YAML document loads');
  assert.match(out, /^tool sping \(plugin http_backend\)$/m, 'a Swagger 2.0 document loads');
  assert.match(out, /^FAILED: 1 plugin\(s\) loaded, 0 failed, 5 error\(s\) reported by plugins$/m);
});

test('--check exits 0 when every document loads', async () => {
  const r = await check([{ name: 'good', base_url: base, openapi: '/good.json' }]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^tool ping \(plugin http_backend\)$/m);
  assert.match(r.stdout, /^ok: 1 plugin\(s\) loaded, 0 failed$/m);
  assert.doesNotMatch(r.stdout, /^error:/m);
});
