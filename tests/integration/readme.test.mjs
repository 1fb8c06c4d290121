// readme.test.mjs -- the README's examples tell the truth: the
// configuration sample is valid JSON that mcpd accepts as it stands (only
// the paths that must exist on this machine are pointed at the build), and
// every key it shows is one mcpd knows (an unknown key is an error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMcpd, makePluginsDir } from './lib/mcpd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, '../../README.md'), 'utf8');

// The first ```json block after a heading.
function jsonBlockAfter(heading) {
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has no "${heading}" section`);
  const m = /```json\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `no json block after "${heading}"`);
  return m[1];
}

test('README: the configuration sample parses and mcpd --check accepts it', async () => {
  const text = jsonBlockAfter('## Configuration');
  const cfg = JSON.parse(text); // throws on the smallest slip
  assert.equal(cfg.listen, '127.0.0.1:8000');
  const work = mkdtempSync(join(tmpdir(), 'mcpd-readme-'));
  cfg.plugins_dir = makePluginsDir(['hello']);
  cfg.runtime_dir = join(work, 'run');
  const file = join(work, 'mcpd.json');
  writeFileSync(file, JSON.stringify(cfg));
  const r = await runMcpd(['--check', '--config', file]);
  assert.equal(r.code, 0, `mcpd --check: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^ok: 1 plugin\(s\) loaded, 0 failed$/m);
});

// The worked example of "## Authentication": as written, except what must
// exist on this machine (certificates, the key server, the plugins).
test('README: the Authentication example passes mcpd --check against a real key server', async () => {
  const { makeCerts } = await import('./lib/certs.mjs');
  const { startAuthServer } = await import('./lib/authserver.mjs');
  const text = jsonBlockAfter('### A worked example');
  const cfg = JSON.parse(text);
  assert.ok(cfg.auth?.jwt?.jwks_url, 'the example fetches the key set');
  assert.equal(cfg.public_url, 'https://mcp.example.com');
  const certs = makeCerts();
  const as = await startAuthServer({ certs });
  try {
    const work = mkdtempSync(join(tmpdir(), 'mcpd-readme-'));
    cfg.listen = '127.0.0.1:0';
    cfg.tls = { cert_file: certs.server.cert, key_file: certs.server.key };
    cfg.auth.jwt.issuer = as.issuer;
    cfg.auth.jwt.jwks_url = `${as.issuer}/jwks`;
    cfg.auth.jwt.ca_file = certs.ca.cert;
    cfg.plugins_dir = makePluginsDir(['hello']);
    cfg.runtime_dir = join(work, 'run');
    const file = join(work, 'mcpd.json');
    writeFileSync(file, JSON.stringify(cfg));
    process.env.MCPD_CI_TOKEN = 'ci-token-0123456789abcdef';
    const r = await runMcpd(['--check', '--config', file]);
    assert.equal(r.code, 0, `mcpd --check: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^auth: tokens=1 jwt=on issuer=\S+ jwks=url introspection=off scopes_required="mcp" rules=1$/m);
    assert.match(r.stdout, /^auth: jwt keys=\d+ \(rs1 RS256/m);
    assert.ok(!r.stdout.includes(process.env.MCPD_CI_TOKEN), 'no secret in the output');
    // Without the variable the check fails, naming it.
    delete process.env.MCPD_CI_TOKEN;
    const bad = await runMcpd(['--check', '--config', file]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout + bad.stderr, /auth\.tokens\[0\]\.token: environment variable MCPD_CI_TOKEN is not set/);
  } finally {
    await as.stop();
    certs.remove();
  }
});
