// host_origin.test.mjs -- the DNS-rebinding defence (Host and Origin checks)
// covers every endpoint and every form of request, and what a client puts in
// those headers cannot forge fields in mcpd's log (issue 12, item 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMcpd } from './lib/mcpd.mjs';
import { rawExchange, parseResponses } from './lib/http.mjs';

// One request on its own connection; the first response.
async function exchange(port, text) {
  const r = await rawExchange(port, text, { idleMs: 3000 });
  const [res] = parseResponses(r.text);
  assert.ok(res, `no response to ${JSON.stringify(text)}: ${JSON.stringify(r.text)}`);
  return res;
}

const get = (target, headers, version = '1.1') =>
  `GET ${target} HTTP/${version}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;

test('/healthz and /metrics check Host and Origin like /mcp', async () => {
  const d = await startMcpd();
  try {
    for (const path of ['/healthz', '/metrics']) {
      const ok = await exchange(d.port, get(path, [`Host: 127.0.0.1:${d.port}`]));
      assert.equal(ok.status, 200, `${path} with a loopback Host`);
      const local = await exchange(d.port, get(path, [`Host: localhost:${d.port}`, `Origin: http://localhost:${d.port}`]));
      assert.equal(local.status, 200, `${path} with a loopback Origin`);
      const rebound = await exchange(d.port, get(path, [`Host: evil.example:${d.port}`]));
      assert.equal(rebound.status, 421, `${path} with a foreign Host: ${rebound.body}`);
      assert.doesNotMatch(rebound.body, /"status"|mcpd_/, 'nothing of the page leaks');
      const origin = await exchange(d.port, get(path, [`Host: 127.0.0.1:${d.port}`, 'Origin: http://evil.example']));
      assert.equal(origin.status, 403, `${path} with a foreign Origin: ${origin.body}`);
      assert.doesNotMatch(origin.body, /"status"|mcpd_/, 'nothing of the page leaks');
    }
  } finally {
    await d.stop();
  }
});

test('HTTP/1.0 without Host is refused while Host is checked', async () => {
  const d = await startMcpd();
  try {
    for (const path of ['/healthz', '/mcp']) {
      const r = await exchange(d.port, get(path, ['Accept: text/event-stream'], '1.0'));
      assert.equal(r.status, 400, `${path}: ${r.body}`);
      assert.match(r.body, /Host header is required/);
    }
    const ok = await exchange(d.port, get('/healthz', [`Host: 127.0.0.1:${d.port}`], '1.0'));
    assert.equal(ok.status, 200);
  } finally {
    await d.stop();
  }
});

test("an absolute-form target's host is checked, not only the Host header", async () => {
  const d = await startMcpd();
  try {
    const host = `Host: 127.0.0.1:${d.port}`;
    for (const target of ['http://evil.example/healthz', `http://evil.example:${d.port}/metrics`, 'https://evil.example/healthz',
      'http://user@127.0.0.1/healthz']) {
      const r = await exchange(d.port, get(target, [host]));
      assert.equal(r.status, 421, `${target}: ${r.body}`);
    }
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'abs', version: '1' } } });
    const post = (target) => `POST ${target} HTTP/1.1\r\n${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const evil = await exchange(d.port, post('http://evil.example/mcp'));
    assert.equal(evil.status, 421, evil.body);
    // A loopback authority in the target is as good as a loopback Host.
    const good = await exchange(d.port, post(`http://127.0.0.1:${d.port}/mcp`));
    assert.equal(good.status, 200, good.body);
    assert.equal(JSON.parse(good.body).result.serverInfo.name, 'mcpd');
    const health = await exchange(d.port, get(`http://localhost:${d.port}/healthz`, [host]));
    assert.equal(health.status, 200);
  } finally {
    await d.stop();
  }
});

test('Host and Origin values are escaped in the log: no forged fields', async () => {
  const d = await startMcpd();
  try {
    const fake = 'evil.example event=forged level=error';
    let r = await exchange(d.port, get('/mcp', [`Host: ${fake}`, 'Accept: text/event-stream']));
    assert.equal(r.status, 421);
    r = await exchange(d.port, get('/mcp', [`Host: 127.0.0.1:${d.port}`, `Origin: http://${fake}`, 'Accept: text/event-stream']));
    assert.equal(r.status, 403);
    r = await exchange(d.port, get('/mcp', [`Host: a"b\\c`, 'Accept: text/event-stream']));
    assert.equal(r.status, 421);
    await d.waitForLog(/(event=mcp_(host|origin)_refused[^\n]*\n[^]*){3}/);
    const lines = d.log().split('\n').filter((l) => /event=mcp_(host|origin)_refused/.test(l));
    assert.equal(lines.length, 3, d.log());
    assert.ok(lines.find((l) => l.endsWith(`host="${fake}"`)), lines.join('\n'));
    assert.ok(lines.find((l) => l.endsWith('host="a\\"b\\\\c"')), lines.join('\n'));
    assert.ok(lines.find((l) => l.endsWith(`origin="http://${fake}"`)), lines.join('\n'));
    // Outside quoted values, each line has its one event= field.
    for (const l of lines) assert.equal(l.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/ event=/g).length, 1, l);
  } finally {
    await d.stop();
  }
});
