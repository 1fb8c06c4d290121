// mcpd.mjs -- start the real mcpd on an ephemeral loopback port for a test,
// and stop it the way an operator would (SIGTERM), checking that it exits 0
// with no sanitizer report.
//
//   const d = await startMcpd({ plugins: ['hello'], config: { timeouts: {...} } });
//   d.url      http://127.0.0.1:PORT/mcp
//   d.port     PORT
//   d.log()    everything it wrote to stderr so far
//   await d.waitForLog(/event=session_expired/)
//   await d.stop()
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const buildDir = resolve(process.env.MCPD_BUILD_DIR ?? join(here, '../../../build'));
export const mcpdBin = join(buildDir, 'mcpd');

// Where each plugin name is built.
export function pluginPath(name) {
  if (name === 'hello') return join(buildDir, 'plugins', 'hello.so');
  if (name === 'testkit' || name === 'old_minor') return join(buildDir, `tests/fixtures/good/${name}.so`);
  if (name === 'conformance') return join(buildDir, 'tests/fixtures/conformance/conformance.so');
  if (name === 'crashkit') return join(buildDir, 'tests/fixtures/crash/crashkit.so');
  if (name.endsWith('.so')) return join(buildDir, 'tests/fixtures/bad', name);
  return join(buildDir, 'tests/fixtures/bad', `${name}.so`);
}

// A fresh plugins directory holding copies of the named plugins.
export function makePluginsDir(names) {
  const dir = mkdtempSync(join(tmpdir(), 'mcpd-plugins-'));
  for (const n of names) {
    const src = n.includes('/') ? n : pluginPath(n);
    copyFileSync(src, join(dir, basename(src)));
  }
  return dir;
}

const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|AddressSanitizer:DEADLYSIGNAL|WARNING: ThreadSanitizer/;

export async function startMcpd({ plugins = ['hello'], pluginsDir, config, args = [], env = {}, bin = mcpdBin } = {}) {
  const work = mkdtempSync(join(tmpdir(), 'mcpd-run-'));
  const dir = pluginsDir ?? makePluginsDir(plugins);
  const argv = ['--listen', '127.0.0.1:0', '--plugins', dir];
  if (config !== undefined) {
    const file = join(work, 'mcpd.json');
    writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    argv.push('--config', file);
  }
  argv.push(...args);
  const proc = spawn(bin, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', ...env },
  });
  let stderr = '';
  let stdout = '';
  const waiters = new Set();
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  proc.stdout.on('data', (b) => { stdout += b; });
  proc.stderr.on('data', (b) => {
    stderr += b;
    for (const w of waiters) w();
  });
  const d = {
    proc,
    log: () => stderr,
    stdout: () => stdout,
    exited,
    async waitForLog(re, timeoutMs = 10000) {
      if (re.test(stderr)) return stderr.match(re);
      return await new Promise((res, rej) => {
        const t = setTimeout(() => { waiters.delete(check); rej(new Error(`timed out waiting for ${re} in mcpd log:\n${stderr}`)); }, timeoutMs);
        const check = () => {
          if (re.test(stderr)) { clearTimeout(t); waiters.delete(check); res(stderr.match(re)); }
        };
        waiters.add(check);
        exited.then(() => check());
      });
    },
    // Stops with SIGTERM; resolves to the exit status. Fails the test on a
    // non-zero exit or a sanitizer report unless told otherwise.
    async stop({ expectCode = 0 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const st = await exited;
      clearTimeout(timer);
      rmSync(work, { recursive: true, force: true });
      if (!pluginsDir) rmSync(dir, { recursive: true, force: true });
      if (SANITIZER.test(stderr)) throw new Error(`sanitizer report in mcpd log:\n${stderr}`);
      if (expectCode !== null && st.code !== expectCode)
        throw new Error(`mcpd exited with ${JSON.stringify(st)}, expected ${expectCode}; log:\n${stderr}`);
      return st;
    },
  };
  const m = await Promise.race([
    d.waitForLog(/event=listening address=127\.0\.0\.1:(\d+)/, 15000),
    exited.then((st) => { throw new Error(`mcpd exited early ${JSON.stringify(st)}:\n${stderr}`); }),
  ]);
  d.port = Number(m[1]);
  d.base = `http://127.0.0.1:${d.port}`;
  d.url = `${d.base}/mcp`;
  return d;
}

// Runs mcpd to completion (for --check, --help, bad configs).
export function runMcpd(args, { timeoutMs = 15000 } = {}) {
  return new Promise((res, rej) => {
    const proc = spawn(mcpdBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (b) => { out += b; });
    proc.stderr.on('data', (b) => { err += b; });
    const t = setTimeout(() => { proc.kill('SIGKILL'); rej(new Error('mcpd did not exit')); }, timeoutMs);
    proc.on('exit', (code) => { clearTimeout(t); res({ code, stdout: out, stderr: err }); });
  });
}
