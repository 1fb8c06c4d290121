// The conformance suite 0.2.0-alpha.12 (installed as conformance-next; it
// needs Node 22, which the npm package node@22 provides) against the real
// daemon with the conformance fixture plugin, on the 2026-07-28 wire
// (--requirements 2026-07-28). Every scenario the suite scores passes, and
// so do its pending ones (json-schema-2020-12, the header validations) and
// the tasks extension's (tasks-*).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMcpd, buildDir } from './lib/mcpd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const node22 = join(here, '../node_modules/node/bin/node');
const suite = join(here, '../node_modules/conformance-next/dist/index.js');

test('conformance 0.2.0-alpha.12 --requirements 2026-07-28: every scored, pending and tasks scenario passes', { timeout: 300000 }, async () => {
  const d = await startMcpd({ pluginsDir: join(buildDir, 'tests/fixtures/conformance') });
  const out = mkdtempSync(join(tmpdir(), 'mcpd-conformance-2026-'));
  let stdout = '';
  try {
    stdout = await new Promise((resolve) => {
      execFile(node22, [suite, 'server', '--url', d.url, '--requirements', '2026-07-28', '-o', out],
        { timeout: 280000, maxBuffer: 16 << 20 }, (err, so, se) => resolve(`${so}\n${se}`));
    });
  } finally {
    await d.stop();
    rmSync(out, { recursive: true, force: true });
  }
  const m = stdout.match(/Total: (\d+) passed, (\d+) failed/);
  assert.ok(m, `no summary in the suite's output:\n${stdout.slice(-3000)}`);
  const failing = [...stdout.matchAll(/^✗ (\S+): (\d+) passed, (\d+) failed/gm)].map((x) => x[1]);
  assert.deepEqual(failing, [], `scenarios failing:\n${stdout.slice(stdout.indexOf('=== SUMMARY'))}`);
  assert.equal(Number(m[2]), 0, `${m[2]} checks failed`);
  for (const name of ['server-stateless', 'caching', 'sep-2164-resource-not-found', 'input-required-result-tampered-state',
    'input-required-result-multi-round', 'json-schema-2020-12', 'http-header-validation', 'http-custom-header-server-validation',
    'tasks-lifecycle', 'tasks-capability-negotiation', 'tasks-wire-fields', 'tasks-request-state-removal', 'tasks-mrtr-input',
    'tasks-request-headers', 'tasks-dispatch-and-envelope', 'tasks-required-task-error', 'tasks-mrtr-composition'])
    assert.match(stdout, new RegExp(`^✓ ${name}: [1-9]\\d* passed, 0 failed`, 'm'), `${name} did not pass`);
  assert.ok(Number(m[1]) >= 193, `only ${m[1]} checks passed`);
});
