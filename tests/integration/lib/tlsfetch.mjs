// tlsfetch.mjs -- a fetch() for the MCP SDK (its `fetch` option, and
// eventSourceInit.fetch for the legacy SSE transport) over node:http and
// node:https, so one function reaches a plain-HTTP mcpd and an HTTPS
// server whose certificate comes from a test CA. It trusts only the CA
// given, presents a client certificate when given one, and streams the
// response body (SSE).
//
//   const f = tlsFetch({ ca: certs.ca.cert });          // a path, or PEM text
//   new StreamableHTTPClientTransport(url, { fetch: f, authProvider });
//   f.destroy();                                        // closes kept-alive sockets
//
// Options: ca, cert, key (each a file path or PEM as a string or Buffer),
// agent (an https.Agent to use instead), localAddress (the source address
// of every connection, e.g. '127.0.0.2').
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';

// PEM given as text or a Buffer is used as is; anything else is a path.
function pem(v) {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string' && v.includes('-----BEGIN ')) return v;
  return readFileSync(v);
}

// A request body as node:http takes it.
function bodyOf(body, headers) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  if (body instanceof URLSearchParams) {
    if (!headers['content-type']) headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
    return body.toString();
  }
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError(`tlsFetch: unsupported body type ${Object.prototype.toString.call(body)}`);
}

export function tlsFetch({ ca, cert, key, agent, localAddress } = {}) {
  const httpsAgent = agent ?? new https.Agent({ ca: pem(ca), cert: pem(cert), key: pem(key), keepAlive: true, localAddress });
  const httpAgent = new http.Agent({ keepAlive: true, localAddress });
  const f = (input, init = {}) => new Promise((resolve, reject) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? String(input) : input.url);
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (mod === null) {
      reject(new TypeError(`tlsFetch: unsupported protocol ${url.protocol}`));
      return;
    }
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
    let body;
    try {
      body = bodyOf(init.body, headers);
    } catch (e) {
      reject(e);
      return;
    }
    if (init.signal?.aborted) {
      reject(new DOMException('This operation was aborted', 'AbortError'));
      return;
    }
    const req = mod.request(url, {
      method: init.method ?? 'GET',
      headers,
      agent: mod === https ? httpsAgent : httpAgent,
    }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (Array.isArray(v)) for (const one of v) h.append(k, one);
        else h.set(k, v);
      }
      const empty = [204, 205, 304].includes(res.statusCode) || (init.method ?? 'GET') === 'HEAD';
      if (empty) res.resume();
      const response = new Response(empty ? null : Readable.toWeb(res), {
        status: res.statusCode,
        statusText: res.statusMessage,
        headers: h,
      });
      Object.defineProperty(response, 'url', { value: url.href });
      resolve(response);
    });
    req.on('error', reject);
    if (init.signal) {
      init.signal.addEventListener('abort', () => req.destroy(new DOMException('This operation was aborted', 'AbortError')),
        { once: true });
    }
    req.end(body);
  });
  f.agent = httpsAgent;
  f.httpAgent = httpAgent;
  f.destroy = () => {
    httpsAgent.destroy();
    httpAgent.destroy();
  };
  return f;
}
