// reload.mjs -- the reload benchmark (not part of the pass/fail suite):
//   node tests/bench/reload.mjs [--plugins 50] [--reloads 1000]
// Loads N small plugins, then reloads with one of them changed each time,
// and reports the loop time each reload took (mcpd's own reload_done
// duration_ms) and the daemon's RSS before and after all the reloads.
// Targets (issue 3): under 20 ms per reload with 50 plugins; RSS growth
// under 1 MB over 1,000 reloads.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMcpd } from '../integration/lib/mcpd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('plugins', 50);
const RELOADS = arg('reloads', 1000);

const work = mkdtempSync(join(tmpdir(), 'mcpd-reload-bench-'));
const dir = join(work, 'plugins');
execFileSync('mkdir', ['-p', dir, join(work, 'runtime')]);
const sdk = resolve(here, '../../sdk/include');
for (let i = 0; i < N; i++) {
  const name = `p${String(i).padStart(2, '0')}`;
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-fvisibility=hidden', `-DNAME="${name}"`, '-I', sdk,
    '-o', join(dir, `${name}.so`), join(here, 'many.c'), '-ljansson']);
}

const rss = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const e = await startMcpd({ pluginsDir: dir, config: { runtime_dir: join(work, 'runtime') } });
const durations = [];
let rssBefore = 0;
let pos = 0; // how much of the log has been read
const warmup = 20;
for (let i = 0; i < RELOADS + warmup; i++) {
  if (i === warmup) rssBefore = rss(e.proc.pid);
  const changed = join(dir, `p${String(i % N).padStart(2, '0')}.so`);
  const t = new Date(Date.now() + i * 1000);
  utimesSync(changed, t, t); // a new mtime: a new version of that plugin
  e.proc.kill('SIGHUP');
  let m;
  for (;;) {
    const log = e.log();
    m = /event=reload_done duration_ms=([\d.]+) loaded=(\d+) replaced=(\d+)/.exec(log.slice(pos));
    if (m) {
      pos += m.index + m[0].length;
      break;
    }
    await sleep(1);
  }
  if (m[3] !== '1') throw new Error(`expected one replaced plugin, got ${m[0]}`);
  if (i >= warmup) durations.push(Number(m[1]));
}
await sleep(300);
const rssAfter = rss(e.proc.pid);
await e.stop();
rmSync(work, { recursive: true, force: true });

durations.sort((a, b) => a - b);
const q = (p) => durations[Math.min(durations.length - 1, Math.floor(p * durations.length))];
console.log(`plugins loaded:        ${N} (${2 * N} tools, ${N} resources)`);
console.log(`reloads measured:      ${durations.length} (one plugin changed each time)`);
console.log(`reload loop time, ms:  p50 ${q(0.5).toFixed(3)}  p99 ${q(0.99).toFixed(3)}  max ${durations[durations.length - 1].toFixed(3)}  (target < 20)`);
console.log(`RSS, KiB:              before ${rssBefore}  after ${rssAfter}  growth ${rssAfter - rssBefore}  (target < 1024)`);
