// check.test.mjs -- `mcpd --check` with the http_backend plugin (issue 12,
// item 10): it waits for the OpenAPI documents, and exits 1 naming each
// backend whose document did not load and why (not found, YAML, Swagger
// 2.0, too large), or 0 listing the tools when every document loads.
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
const SWAGGER = { swagger: '2.0', info: { title: 'old', version: '1' }, paths: {} };
const YAML = 'openapi: 3.1.0\ninfo:\n  title: yaml\n  version: "1"\npaths: {}\n';
const HUGE = 65 << 20; // over the 64 MiB a document may have

let server;
let base;
before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/good.json') return res.end(JSON.stringify(GOOD));
    if (req.url === '/swagger.json') return res.end(JSON.stringify(SWAGGER));
    if (req.url === '/openapi.yaml') return res.end(YAML);
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
after(() => { server.closeAllConnections?.(); server.close(); });

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
    { name: 'yaml', base_url: base, openapi: '/openapi.yaml' },
    { name: 'swagger', base_url: base, openapi: '/swagger.json' },
    { name: 'huge', base_url: base, openapi: '/huge.json' },
    { name: 'good', base_url: base, openapi: '/good.json' },
  ]);
  const out = r.stdout;
  assert.equal(r.code, 1, out + r.stderr);
  assert.match(out, /^error: plugin http_backend: backend=missing document=\/openapi\.json not loaded [^\n]*answered HTTP 404/m);
  assert.match(out, /^error: plugin http_backend: backend=yaml document=\/openapi\.yaml not loaded [^\n]*is YAML; mcpd reads JSON documents only/m);
  assert.match(out, /^error: plugin http_backend: backend=swagger document=\/swagger\.json not loaded [^\n]*Swagger 2\.0 documents are not supported/m);
  assert.match(out, /^error: plugin http_backend: backend=huge document=\/huge\.json not loaded [^\n]*larger than 64 MiB/m);
  assert.doesNotMatch(out, /backend=good [^\n]*not loaded/);
  assert.match(out, /^tool ping \(plugin http_backend\)$/m, 'the good backend\'s tool is listed');
  assert.match(out, /^FAILED: 1 plugin\(s\) loaded, 0 failed, 4 error\(s\) reported by plugins$/m);
});

test('--check exits 0 when every document loads', async () => {
  const r = await check([{ name: 'good', base_url: base, openapi: '/good.json' }]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^tool ping \(plugin http_backend\)$/m);
  assert.match(r.stdout, /^ok: 1 plugin\(s\) loaded, 0 failed$/m);
  assert.doesNotMatch(r.stdout, /^error:/m);
});
