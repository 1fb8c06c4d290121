// The official MCP conformance suite (@modelcontextprotocol/conformance,
// pinned in package-lock.json), --suite all, against the real daemon with the
// conformance fixture plugin. The suite's own TypeScript fixture server scores
// 44; mcpd scores 46 (JSON for plain answers, resumable SSE with polling for
// long calls): a drop below that, or any failure, fails this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMcpd, buildDir } from './lib/mcpd.mjs';

const here = dirname(fileURLToPath(import.meta.url));

test('conformance --suite all: at least 46 passed, 0 failed', { timeout: 240000 }, async () => {
  const d = await startMcpd({
    pluginsDir: join(buildDir, 'tests/fixtures/conformance'),
    // The polling model for long calls: the stream closes after 300 ms and
    // the client comes back with Last-Event-ID after 200 ms.
    config: { timeouts: { sse_poll_ms: 300, sse_retry_ms: 200 } },
  });
  const out = mkdtempSync(join(tmpdir(), 'mcpd-conformance-'));
  let stdout = '';
  try {
    // By path: two versions of the suite are installed (0.1.x here, and
    // 0.2.0-alpha as conformance-next), and both name their binary the same.
    const cli = join(here, '../node_modules/@modelcontextprotocol/conformance/dist/index.js');
    stdout = await new Promise((resolve) => {
      execFile(cli, ['server', '--url', d.url, '--suite', 'all', '-o', out],
        { timeout: 200000, maxBuffer: 16 << 20 }, (err, so, se) => resolve(`${so}\n${se}`));
    });
  } finally {
    await d.stop();
    rmSync(out, { recursive: true, force: true });
  }
  const m = stdout.match(/Total: (\d+) passed, (\d+) failed/);
  assert.ok(m, `no summary in the suite's output:\n${stdout}`);
  const summary = stdout.slice(stdout.indexOf('=== SUMMARY ==='));
  assert.equal(Number(m[2]), 0, `failures:\n${summary}`);
  assert.ok(Number(m[1]) >= 46, `only ${m[1]} passed:\n${summary}`);
  assert.match(summary, /server-sse-polling: 3 passed, 0 failed/);
});
