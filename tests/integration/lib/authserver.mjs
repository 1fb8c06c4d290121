// authserver.mjs -- an OAuth 2.1 authorization server for the auth tests,
// on node:https with a certificate of lib/certs.mjs and keys made by the
// `jose` package. It issues client-credentials tokens (RS256 JWTs, or
// opaque strings that only its introspection endpoint knows), publishes a
// JSON Web Key Set, and answers RFC 7662 introspection.
//
//   const as = await startAuthServer({ certs });   // certs from makeCerts()
//   as.issuer                 https://127.0.0.1:PORT (also the base URL)
//   as.jwksHits, as.tokenRequests, as.introspections    counters
//   as.jwksLastHit            Date.now() of the last GET /jwks
//   await as.sign(claims, { alg, kid, key, header })    any JWT, as given
//   await as.jwt({ sub, scope, aud, ... })               iss, iat, exp filled in
//   as.opaque({ sub, scope, aud, ... })                  an opaque token
//   as.revoke(token); as.publish(key); as.unpublish(kid)
//   await as.newKey('ES256', 'es2')                      a key, not yet published
//   as.failJwks(true)         GET /jwks answers 500 until failJwks(false)
//   await as.stopJwks()       the server stops listening: connections to it are
//                             refused (every endpoint); await as.startJwks()
//                             listens again on the same port
//   await as.stop()
//
// Keys: rs1 (RS256), ps1 (PS256), es1 (ES256), published; ghost (RS256),
// never published. Clients (Basic auth at /token), each with the scopes it
// may get: see CLIENTS; introspection callers: see INTROSPECTORS.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { generateKeyPair, exportJWK, exportSPKI, SignJWT, decodeJwt } from 'jose';

export const CLIENTS = {
  agent: { secret: 'agent-secret-0123456789', scopes: ['mcp', 'tools'] },
  root: { secret: 'root-secret-0123456789', scopes: ['mcp', 'admin'] },
  'opaque-agent': { secret: 'opaque-secret-0123456789', scopes: ['mcp', 'admin'], opaque: true },
  nobody: { secret: 'nobody-secret-0123456789', scopes: [] },
};

// Who may call /introspect (the resource server's own credentials).
export const INTROSPECTORS = { mcpd: 'mcpd-introspect-secret-0123456789' };

const now = () => Math.floor(Date.now() / 1000);

function b64urlJson(v) {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

// The client id and secret of an HTTP Basic Authorization header (RFC 6749
// 2.3.1: both form-urlencoded before base64), or null.
function basicAuth(req) {
  const m = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return null;
  const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
  try {
    return { id: dec(text.slice(0, i)), secret: dec(text.slice(i + 1)) };
  } catch {
    return null;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let b = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { b += d; });
    req.on('end', () => resolve(b));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

// A key pair of alg with kid: { kid, alg, privateKey, publicKey, jwk }.
async function makeKey(alg, kid) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk, spki: await exportSPKI(publicKey) };
}

export async function startAuthServer({ certs, clients = CLIENTS, introspectors = INTROSPECTORS, tokenTtl = 300 } = {}) {
  if (!certs) throw new Error('startAuthServer needs { certs } (lib/certs.mjs)');
  const keys = {
    rs1: await makeKey('RS256', 'rs1'),
    ps1: await makeKey('PS256', 'ps1'),
    es1: await makeKey('ES256', 'es1'),
    ghost: await makeKey('RS256', 'ghost'),
  };
  const published = new Map(['rs1', 'ps1', 'es1'].map((k) => [k, keys[k]]));
  const opaqueTokens = new Map(); // token -> its introspection answer
  const revoked = new Set();
  const sockets = new Set();
  let jwksFails = false;
  let port = 0;

  const as = {
    keys,
    clients,
    jwksHits: 0,
    jwksLastHit: 0,      // Date.now() of the last GET /jwks
    tokenRequests: 0,
    introspections: 0,
    issued: [],          // every /token answer: { token, client_id, scope, aud, opaque }
    introspected: [],    // every token sent to /introspect
    log: [],             // "METHOD /path status" of every request
  };

  async function sign(claims, { alg = 'RS256', kid, key, header = {} } = {}) {
    const k = typeof key === 'string' ? keys[key] : key ?? (kid && keys[kid]) ?? Object.values(keys).find((x) => x.alg === alg && published.has(x.kid));
    if (!k) throw new Error(`authserver: no key for alg ${alg} kid ${kid}`);
    const hdr = { alg, ...(kid === null ? {} : { kid: kid ?? k.kid }), ...header };
    return await new SignJWT(claims).setProtectedHeader(hdr).sign(k.privateKey);
  }
  as.sign = sign;

  // A JWT with the usual claims: iss, iat, exp (+tokenTtl) filled in unless given.
  as.jwt = (claims = {}, opts = {}) => {
    const t = now();
    return sign({ iss: as.issuer, iat: t, exp: t + tokenTtl, jti: randomUUID(), ...claims }, opts);
  };

  // An unsigned-looking JWT, built by hand: header and claims as given,
  // signature segment as given (a Buffer or a string, base64url-encoded here).
  as.rawJwt = (header, claims, signature = '') => {
    const sig = Buffer.isBuffer(signature) ? signature.toString('base64url') : signature;
    return `${b64urlJson(header)}.${b64urlJson(claims)}.${sig}`;
  };

  // An opaque token known to /introspect.
  as.opaque = (info = {}) => {
    const token = `opq_${randomBytes(24).toString('base64url')}`;
    const t = now();
    opaqueTokens.set(token, { active: true, iss: as.issuer, iat: t, exp: t + tokenTtl, token_type: 'Bearer', ...info });
    return token;
  };

  as.revoke = (token) => { revoked.add(token); };
  as.publish = (key) => {
    const k = typeof key === 'string' ? keys[key] : key;
    keys[k.kid] = k;
    published.set(k.kid, k);
  };
  as.unpublish = (kid) => { published.delete(kid); };
  as.newKey = async (alg, kid) => {
    const k = await makeKey(alg, kid);
    keys[kid] = k;
    return k;
  };
  as.jwks = () => ({ keys: [...published.values()].map((k) => k.jwk) });
  as.failJwks = (on = true) => { jwksFails = on; };

  function metadata() {
    return {
      issuer: as.issuer,
      authorization_endpoint: `${as.issuer}/authorize`,
      token_endpoint: `${as.issuer}/token`,
      jwks_uri: `${as.issuer}/jwks`,
      introspection_endpoint: `${as.issuer}/introspect`,
      response_types_supported: ['code'],
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
      scopes_supported: [...new Set(Object.values(clients).flatMap((c) => c.scopes))].sort(),
    };
  }

  async function token(req, res) {
    as.tokenRequests++;
    const form = new URLSearchParams(await readBody(req));
    let cred = basicAuth(req);
    if (!cred && form.has('client_id')) cred = { id: form.get('client_id'), secret: form.get('client_secret') ?? '' };
    const client = cred && Object.hasOwn(clients, cred.id) ? clients[cred.id] : null;
    if (!client || client.secret !== cred.secret)
      return send(res, 401, { error: 'invalid_client', error_description: 'unknown client or wrong secret' },
        { 'WWW-Authenticate': 'Basic realm="test-as"' });
    if (form.get('grant_type') !== 'client_credentials')
      return send(res, 400, { error: 'unsupported_grant_type' });
    const requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const granted = requested.length ? requested.filter((s) => client.scopes.includes(s)) : [...client.scopes];
    if (requested.length && granted.length === 0)
      return send(res, 400, { error: 'invalid_scope', error_description: `${cred.id} may not have ${requested.join(' ')}` });
    const scope = granted.join(' ');
    const resources = form.getAll('resource');
    const aud = resources.length === 0 ? undefined : resources.length === 1 ? resources[0] : resources;
    const sub = client.sub ?? cred.id;
    let access;
    if (client.opaque) {
      access = as.opaque({ sub, client_id: cred.id, scope, ...(aud === undefined ? {} : { aud }) });
    } else {
      access = await as.jwt({ sub, client_id: cred.id, scope, ...(aud === undefined ? {} : { aud }), ...(client.claims ?? {}) },
        { alg: client.alg ?? 'RS256', kid: client.kid });
    }
    as.issued.push({ token: access, client_id: cred.id, scope, aud, opaque: !!client.opaque });
    return send(res, 200, { access_token: access, token_type: 'Bearer', expires_in: tokenTtl, scope });
  }

  async function introspect(req, res) {
    as.introspections++;
    const form = new URLSearchParams(await readBody(req));
    let cred = basicAuth(req);
    if (!cred && form.has('client_id')) cred = { id: form.get('client_id'), secret: form.get('client_secret') ?? '' };
    if (!cred || !Object.hasOwn(introspectors, cred.id) || introspectors[cred.id] !== cred.secret)
      return send(res, 401, { error: 'invalid_client' }, { 'WWW-Authenticate': 'Basic realm="test-as"' });
    const tok = form.get('token') ?? '';
    as.introspected.push(tok);
    const info = opaqueTokens.get(tok);
    if (!info || revoked.has(tok) || (info.exp !== undefined && info.exp <= now()))
      return send(res, 200, { active: false });
    return send(res, 200, { ...info, active: info.active });
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'https://127.0.0.1');
    const path = url.pathname;
    res.on('finish', () => as.log.push(`${req.method} ${path} ${res.statusCode}`));
    try {
      if (req.method === 'GET' && path === '/jwks') {
        as.jwksHits++;
        as.jwksLastHit = Date.now();
        if (jwksFails) return send(res, 500, 'the key set is unavailable\n');
        return send(res, 200, as.jwks(), { 'Content-Type': 'application/jwk-set+json', 'Cache-Control': 'max-age=0' });
      }
      if (req.method === 'GET' && (path === '/.well-known/oauth-authorization-server' || path === '/.well-known/openid-configuration'))
        return send(res, 200, metadata());
      if (req.method === 'POST' && path === '/token') return await token(req, res);
      if (req.method === 'POST' && path === '/introspect') return await introspect(req, res);
      if (path === '/authorize') return send(res, 400, { error: 'unsupported_response_type' });
      return send(res, 404, { error: 'not_found' });
    } catch (e) {
      if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(e?.message ?? e) });
      else res.destroy();
    }
  }

  const tlsOpts = { cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key) };
  let server;
  const listen = () => new Promise((resolve, reject) => {
    server = https.createServer(tlsOpts, handle);
    server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    server.on('tlsClientError', () => {});
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      port = server.address().port;
      resolve();
    });
  });
  const close = () => new Promise((resolve) => {
    if (!server) return resolve();
    const s = server;
    server = null;
    s.close(() => resolve());
    for (const sock of sockets) sock.destroy();
    sockets.clear();
  });

  await listen();
  as.port = port;
  as.issuer = `https://127.0.0.1:${port}`;
  as.url = as.issuer;
  as.stopJwks = close;
  as.startJwks = listen;
  as.running = () => server !== null;
  as.stop = close;
  as.decode = decodeJwt;
  return as;
}
