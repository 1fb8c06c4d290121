// nginx.mjs -- Debian's nginx, unprivileged, in a directory of its own, with
// the server blocks a test gives it.
//
//   const n = await startNginx((port) => `server { listen 127.0.0.1:${port}; ... }`);
//   n.port, n.dir, n.accessLog(), await n.stop() (resolves to nginx's error log)
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

// servers(port) returns the http{} block's server blocks; nginx listens on
// port, and the promise resolves once it accepts connections there.
export async function startNginx(servers, { logFormat = '$request $status $server_protocol' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mcpd-nginx-'));
  const port = await freePort();
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  log_format test '${logFormat}';
  access_log ${dir}/access.log test;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${servers(port)}
}
`);
  const proc = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (b) => { err += b; });
  proc.on('error', (e) => { err += String(e); });
  const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  const t0 = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${err}`);
    const up = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (up) break;
    if (Date.now() - t0 > 10000) throw new Error(`nginx did not start: ${err}`);
    await sleep(20);
  }
  return {
    port,
    dir,
    accessLog: () => { try { return readFileSync(join(dir, 'access.log'), 'utf8'); } catch { return ''; } },
    async stop() {
      proc.kill('SIGQUIT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      let log = '';
      try { log = readFileSync(join(dir, 'error.log'), 'utf8'); } catch { /* none */ }
      rmSync(dir, { recursive: true, force: true });
      return log;
    },
  };
}
