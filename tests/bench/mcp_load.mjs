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
//
// It speaks HTTP/1.1 over node:net itself (requests written as one string,
// responses read by the small reader below: Content-Length, chunked, or
// up to the close), because node:http's client costs more CPU per request
// than the fastest server measured here, and the driver shares the
// machine's cores with the server: with node:http the driver, not the
// server, set the ceiling of this row.
import net from 'node:net';

const CALL_TIMEOUT_MS = 10000;
let nextId = 1000;

const CRLF2 = Buffer.from('\r\n\r\n');

// Reads HTTP/1.1 responses from a byte stream. onResponse(status, headers,
// body) for a complete response; with `streaming`, onHead(status, headers)
// when the head arrives and onData(text) for each piece of body (an SSE
// stream never ends).
class ResponseReader {
  constructor({ onResponse, onHead, onData, streaming = false }) {
    this.buf = Buffer.alloc(0);
    this.state = 'head';
    this.onResponse = onResponse;
    this.onHead = onHead;
    this.onData = onData;
    this.streaming = streaming;
  }

  feed(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.state === 'head') {
        const end = this.buf.indexOf(CRLF2);
        if (end < 0) return;
        const lines = this.buf.toString('latin1', 0, end).split('\r\n');
        this.buf = this.buf.subarray(end + 4);
        this.status = Number(lines[0].split(' ')[1]);
        this.headers = {};
        for (let i = 1; i < lines.length; i++) {
          const c = lines[i].indexOf(':');
          if (c > 0) this.headers[lines[i].slice(0, c).trim().toLowerCase()] = lines[i].slice(c + 1).trim();
        }
        this.body = [];
        const te = this.headers['transfer-encoding'];
        const cl = this.headers['content-length'];
        if (te && te.toLowerCase().includes('chunked')) this.state = 'chunk-size';
        else if (cl !== undefined) {
          this.left = Number(cl);
          this.state = 'length';
        } else if (this.status === 204 || this.status === 304) {
          this.left = 0;
          this.state = 'length';
        } else this.state = 'close';
        if (this.streaming) this.onHead?.(this.status, this.headers);
      } else if (this.state === 'length') {
        const n = Math.min(this.left, this.buf.length);
        if (n > 0) this.take(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left > 0) return;
        this.finish();
      } else if (this.state === 'chunk-size') {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return;
        this.left = parseInt(this.buf.toString('latin1', 0, eol), 16);
        this.buf = this.buf.subarray(eol + 2);
        this.state = this.left === 0 ? 'trailer' : 'chunk';
      } else if (this.state === 'chunk') {
        const n = Math.min(this.left, this.buf.length);
        if (n > 0) this.take(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left > 0) return;
        this.state = 'chunk-end';
      } else if (this.state === 'chunk-end') {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.state = 'chunk-size';
      } else if (this.state === 'trailer') {
        // No trailers expected: the empty line ends the message.
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return;
        this.buf = this.buf.subarray(eol + 2);
        if (eol === 0) this.finish();
      } else {
        // 'close': everything until the connection ends is body.
        if (this.buf.length) this.take(this.buf);
        this.buf = Buffer.alloc(0);
        return;
      }
    }
  }

  take(bytes) {
    if (this.streaming) this.onData?.(bytes.toString('utf8'));
    else this.body.push(bytes);
  }

  finish() {
    this.state = 'head';
    if (!this.streaming) this.onResponse(this.status, this.headers, Buffer.concat(this.body).toString('utf8'));
  }

  // The connection ended: a close-delimited body is complete.
  end() {
    if (this.state === 'close') this.finish();
  }
}

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

// A keep-alive connection for POSTs, one request at a time.
class PostConnection {
  constructor(url) {
    this.url = url;
    this.waiting = null; // { resolve, reject } of the request in flight
    this.socket = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.url.hostname, port: Number(this.url.port) });
      s.setNoDelay(true);
      const reader = new ResponseReader({
        onResponse: (status, headers, body) => {
          const w = this.waiting;
          this.waiting = null;
          if (headers.connection?.toLowerCase() === 'close') this.drop();
          w?.resolve({ status, headers, messages: messagesOf(headers['content-type'], body) });
        },
      });
      s.on('data', (c) => reader.feed(c));
      s.on('end', () => reader.end());
      s.on('close', () => {
        if (this.socket === s) this.socket = null;
        const w = this.waiting;
        this.waiting = null;
        w?.reject(new Error('connection closed'));
      });
      s.on('error', (e) => reject(e));
      s.once('connect', () => resolve());
      this.socket = s;
    });
  }

  drop() {
    this.socket?.destroy();
    this.socket = null;
  }

  async request(head, body) {
    if (!this.socket) await this.connect();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(head + body);
    });
  }
}

class Connection {
  constructor(url, protocol) {
    this.url = new URL(url);
    this.protocol = protocol;
    this.path = this.url.pathname + this.url.search;
    this.hostHeader = this.url.host;
    this.post_ = new PostConnection(this.url);
    this.pending = new Map(); // id -> resolve(message)
    this.session = undefined;
    this.stream = undefined;
  }

  post(message) {
    const body = JSON.stringify(message);
    let head =
      `POST ${this.path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    if (this.session) head += `Mcp-Session-Id: ${this.session}\r\nMCP-Protocol-Version: ${this.protocol}\r\n`;
    return this.post_.request(head + '\r\n', body);
  }

  async open() {
    const init = await this.post({
      jsonrpc: '2.0', id: nextId++, method: 'initialize',
      params: { protocolVersion: this.protocol, capabilities: {}, clientInfo: { name: 'mcp_load', version: '1' } },
    });
    this.session = init.headers['mcp-session-id'];
    if (init.status !== 200 || !this.session) throw new Error(`initialize: status ${init.status}, session ${this.session}`);
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // The stream counts as open at its response head, or 300 ms after the
    // request went out: that server sends no head before its first event
    // (writeHead without a flush), so it never comes on its own.
    await new Promise((resolve) => {
      const s = net.connect({ host: this.url.hostname, port: Number(this.url.port) });
      let sse = '';
      const reader = new ResponseReader({
        streaming: true,
        onHead: (status) => {
          if (status !== 200) s.destroy(); // no GET stream: answers come on POSTs
          resolve();
        },
        onData: (text) => {
          let events;
          [events, sse] = sseEvents(sse + text);
          for (const e of events) for (const m of messagesOf('application/json', e)) this.deliver(m);
        },
      });
      s.on('data', (c) => reader.feed(c));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.write(
        `GET ${this.path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nAccept: text/event-stream\r\n` +
          `Mcp-Session-Id: ${this.session}\r\nMCP-Protocol-Version: ${this.protocol}\r\n\r\n`,
        () => setTimeout(resolve, 300),
      );
      this.stream = s;
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
    this.post_.drop();
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
