// mcp_load.mjs -- a closed-loop MCP load driver in Node, for servers that
// wrk cannot measure: @ivotoby/openapi-mcp-server answers a tools/call POST
// with "202 Accepted" and an empty body, and sends the result later on the
// session's GET stream, so wrk would only count how fast it says 202.
//
// Each connection is a session: initialize, notifications/initialized, a
// GET stream (Accept: text/event-stream) held open, then tools/call in a
// loop, one at a time. A call is complete when its JSON-RPC response
// arrives, whichever way it comes: the POST's JSON body, an SSE event in the
// POST's body, or an SSE event on the GET stream. Ids are unique across
// connections (that server routes responses by id alone). Errors counted
// as in mcp_echo.lua: non-2xx, a JSON-RPC error, isError: true, no response
// within 10 s, a socket error.
import http from 'node:http';

const CALL_TIMEOUT_MS = 10000;
let nextId = 1000;

function sseEvents(text) {
  // Returns [complete events' data strings, the unfinished rest].
  const out = [];
  const parts = text.split(/\r?\n\r?\n/);
  const rest = parts.pop();
  for (const ev of parts) {
    const data = ev.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''));
    if (data.length) out.push(data.join('\n'));
  }
  return [out, rest];
}

function messagesOf(contentType, body) {
  const msgs = [];
  const push = (s) => {
    try {
      const m = JSON.parse(s);
      for (const x of Array.isArray(m) ? m : [m]) msgs.push(x);
    } catch { /* not JSON: ignored */ }
  };
  if ((contentType ?? '').includes('text/event-stream')) sseEvents(body + '\n\n')[0].forEach(push);
  else if (body.length) push(body);
  return msgs;
}

class Connection {
  constructor(url, protocol) {
    this.url = new URL(url);
    this.protocol = protocol;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.pending = new Map(); // id -> resolve(message)
    this.session = undefined;
    this.stream = undefined;
  }

  post(message) {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify(message);
      const headers = {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Content-Length': Buffer.byteLength(body),
      };
      if (this.session) {
        headers['Mcp-Session-Id'] = this.session;
        headers['MCP-Protocol-Version'] = this.protocol;
      }
      const req = http.request(this.url, { method: 'POST', agent: this.agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, messages: messagesOf(res.headers['content-type'], text) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async open() {
    const init = await this.post({
      jsonrpc: '2.0', id: nextId++, method: 'initialize',
      params: { protocolVersion: this.protocol, capabilities: {}, clientInfo: { name: 'mcp_load', version: '1' } },
    });
    this.session = init.headers['mcp-session-id'];
    if (init.status !== 200 || !this.session) throw new Error(`initialize: status ${init.status}, session ${this.session}`);
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // The stream counts as open at its response headers, or 300 ms after
    // the request went out: that server sends no headers before its first
    // event (writeHead without a flush), so they never come on their own.
    await new Promise((resolve) => {
      const req = http.request(this.url, {
        method: 'GET', agent: false,
        headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': this.session, 'MCP-Protocol-Version': this.protocol },
      }, (res) => {
        if (res.statusCode !== 200) { res.resume(); resolve(); return; } // no GET stream: answers come on POSTs
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          let events;
          [events, buf] = sseEvents(buf + c);
          for (const e of events) for (const m of messagesOf('application/json', e)) this.deliver(m);
        });
        res.on('error', () => {});
        resolve();
      });
      req.on('error', () => resolve());
      req.on('finish', () => setTimeout(resolve, 300));
      this.stream = req;
      req.end();
    });
  }

  deliver(m) {
    const done = m && m.id !== undefined ? this.pending.get(m.id) : undefined;
    if (done) done(m);
  }

  // One tools/call; returns null on success or the kind of error.
  async call(tool, args) {
    const id = nextId++;
    let timer;
    const fromStream = new Promise((resolve) => {
      this.pending.set(id, resolve);
      timer = setTimeout(() => resolve(null), CALL_TIMEOUT_MS);
    });
    try {
      const r = await this.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } });
      if (r.status < 200 || r.status > 299) return 'non2xx';
      const m = r.messages.find((x) => x.id === id) ?? await fromStream;
      if (m === null) return 'timeout';
      if (m.error) return 'rpc';
      if (m.result?.isError) return 'tool';
      return null;
    } catch {
      return 'socket';
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  close() {
    this.stream?.destroy();
    this.agent.destroy();
  }
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0);

// Runs `connections` sessions for warmup then `seconds` seconds; returns
// { rps, p50_us, p99_us, requests, errors, kinds }.
export async function runLoad({ url, tool, args, connections = 32, seconds = 10, warmup = 2, protocol = '2025-11-25' }) {
  const conns = [];
  for (let i = 0; i < connections; i++) conns.push(new Connection(url, protocol));
  await Promise.all(conns.map((c) => c.open()));
  const kinds = { non2xx: 0, rpc: 0, tool: 0, timeout: 0, socket: 0 };
  const lat = [];
  let measuring = false;
  const end = Date.now() + (warmup + seconds) * 1000;
  let t0 = 0n;
  setTimeout(() => { measuring = true; t0 = process.hrtime.bigint(); }, warmup * 1000);
  await Promise.all(conns.map(async (c) => {
    while (Date.now() < end) {
      const s = process.hrtime.bigint();
      const err = await c.call(tool, args);
      const e = process.hrtime.bigint();
      if (measuring) {
        lat.push(Number(e - s) / 1000);
        if (err) kinds[err]++;
      }
    }
  }));
  const t1 = process.hrtime.bigint();
  for (const c of conns) c.close();
  lat.sort((a, b) => a - b);
  const elapsed = Number(t1 - t0) / 1e9;
  const errors = Object.values(kinds).reduce((a, b) => a + b, 0);
  return { rps: lat.length / elapsed, p50_us: percentile(lat, 50), p99_us: percentile(lat, 99), requests: lat.length, errors, kinds };
}
