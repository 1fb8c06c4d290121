// http.mjs -- raw HTTP over a TCP socket, for what fetch() cannot do:
// pipelining, malformed requests, slow clients, exact bytes.
import net from 'node:net';

// Sends bytes (string or Buffer, or an array of chunks sent with a pause
// between them) and collects everything until the server closes the
// connection or idleMs passes without data.
export function rawExchange(port, chunks, { idleMs = 1500, pauseMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let timer;
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: data.toString('latin1'), closed });
    };
    const arm = () => { clearTimeout(timer); timer = setTimeout(finish, idleMs); };
    sock.on('data', (b) => { data = Buffer.concat([data, b]); arm(); });
    sock.on('end', () => { closed = true; finish(); });
    sock.on('close', () => { closed = true; finish(); });
    sock.on('error', (e) => { if (e.code === 'ECONNRESET') { closed = true; finish(); } else reject(e); });
    sock.on('connect', async () => {
      const list = Array.isArray(chunks) ? chunks : [chunks];
      for (const c of list) {
        if (sock.destroyed) break;
        sock.write(c);
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
      arm();
    });
  });
}

// Splits a byte stream of HTTP/1.1 responses into {status, headers, body}
// objects (Content-Length and chunked bodies).
export function parseResponses(text) {
  const out = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end).split('\r\n');
    const status = Number(head[0].split(' ')[1]);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body = '';
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if ((headers['transfer-encoding'] ?? '').includes('chunked')) {
      for (;;) {
        const nl = rest.indexOf('\r\n');
        if (nl < 0) { rest = ''; break; }
        const size = parseInt(rest.slice(0, nl), 16);
        rest = rest.slice(nl + 2);
        if (size === 0) { rest = rest.slice(2); break; }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else if (status >= 200 && status !== 204 && status !== 304) {
      body = rest;
      rest = '';
    }
    out.push({ status, headers, body });
  }
  return out;
}

// A POST /mcp request as raw bytes.
export function mcpPost(body, headers = {}) {
  const b = typeof body === 'string' ? body : JSON.stringify(body);
  const h = {
    Host: '127.0.0.1',
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'Content-Length': Buffer.byteLength(b),
    ...headers,
  };
  return `POST /mcp HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${b}`;
}

// fetch() helpers for JSON-RPC over /mcp.
export const ACCEPT = 'application/json, text/event-stream';

export async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: ACCEPT, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

// Initializes a session by hand; returns its id.
export async function initSession(url, protocolVersion = '2025-11-25') {
  const r = await post(url, {
    jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-test', version: '1' } },
  });
  if (r.status !== 200) throw new Error(`initialize failed: ${r.status} ${r.text}`);
  const sid = r.headers.get('mcp-session-id');
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'Mcp-Session-Id': sid });
  return { sid, result: r.json.result };
}

// Parses an SSE body into the JSON messages of its data: lines.
export function sseMessages(text) {
  return text.split('\n\n').map((ev) => ev.split('\n').filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim()).join('\n')).filter((d) => d.length > 0).map((d) => JSON.parse(d));
}
