// crash.test.mjs -- when plugin code kills mcpd (a NULL write, abort(), a
// raised SIGFPE or SIGILL, on the loop thread or on a worker), the last log
// line names the signal, the plugin, its version, the tool and the thread,
// and mcpd still dies of the signal (so systemd's Restart=on-failure and
// core dumps see what they would have seen).
//
// Under the sanitizers the runtimes own these signals (and report the crash
// their own way), so the line is checked on the plain build only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMcpd, buildDir } from './lib/mcpd.mjs';
import { post, initSession } from './lib/http.mjs';

const sanitized = /asan|tsan|sanit/i.test(buildDir);
const cases = [
  { how: 'segv', where: 'loop', signal: 'SIGSEGV', thread: 'loop', what: 'tool=crash' },
  { how: 'abort', where: 'loop', signal: 'SIGABRT', thread: 'loop', what: 'tool=crash' },
  { how: 'fpe', where: 'loop', signal: 'SIGFPE', thread: 'loop', what: 'tool=crash' },
  { how: 'ill', where: 'loop', signal: 'SIGILL', thread: 'loop', what: 'tool=crash' },
  { how: 'segv', where: 'worker', signal: 'SIGSEGV', thread: 'worker', what: 'tool=crash' },
  { how: 'abort', where: 'worker', signal: 'SIGABRT', thread: 'worker', what: 'tool=crash' },
];

for (const c of cases) {
  test(`a plugin ${c.how} on the ${c.where} thread: one crash line naming it, then the signal`,
    { skip: sanitized && 'the sanitizer runtimes handle fatal signals in this build' }, async () => {
      const d = await startMcpd({ plugins: ['crashkit'] });
      try {
        const { sid } = await initSession(d.url);
        // The reply never comes: mcpd dies while handling it.
        await post(d.url, { jsonrpc: '2.0', id: 2, method: 'tools/call',
          params: { name: 'crash', arguments: { how: c.how, where: c.where } } }, { 'mcp-session-id': sid })
          .catch(() => {});
        const st = await d.exited;
        assert.equal(st.signal, c.signal, `mcpd died of ${c.signal}: ${JSON.stringify(st)}`);
        const lines = d.log().trim().split('\n');
        const last = lines[lines.length - 1];
        assert.match(last, new RegExp(`^ts=\\S+ level=fatal event=crash signal=${c.signal} ` +
          `plugin=crashkit version=6\\.6\\.6 ${c.what} thread=${c.thread}( addr=0x[0-9a-f]+)?$`), last);
      } finally {
        await d.stop({ expectCode: null });
      }
    });
}
