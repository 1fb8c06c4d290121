// http_strict.test.mjs -- request shapes that frame differently behind a
// proxy that parses them otherwise (request smuggling) are refused with 400
// (issue 12, item 6): obs-fold continuation lines (RFC 9112 5.2; llhttp
// honours them, also in Content-Length and Transfer-Encoding), and any
// Transfer-Encoding other than a single "chunked". Chunk extensions are
// bounded (all of a request's together by limits.max_header_bytes: 413).
// After each, the connection is closed and the daemon still serves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMcpd } from './lib/mcpd.mjs';
import { rawExchange, parseResponses } from './lib/http.mjs';

let d;
before(async () => {
  d = await startMcpd({ config: { limits: { max_header_bytes: 4096 } } });
});
after(async () => { await d.stop(); });

const H = 'Host: 127.0.0.1\r\n';
// What a second request smuggled in the body of the first would ask.
const SMUGGLED = `GET /healthz HTTP/1.1\r\n${H}\r\n`;

async function exchange(chunks, pauseMs = 0) {
  const r = await rawExchange(d.port, chunks, { pauseMs, idleMs: 1000 });
  return { ...r, responses: parseResponses(r.text) };
}

async function assertRefused(name, chunks, status = 400, why = null, pauseMs = 0) {
  const r = await exchange(chunks, pauseMs);
  assert.equal(r.responses.length, 1, `${name}: one answer, got ${JSON.stringify(r.text.slice(0, 300))}`);
  assert.equal(r.responses[0].status, status, `${name}: ${r.responses[0].body}`);
  if (why) assert.match(r.responses[0].body, why, name);
  assert.equal(r.responses[0].headers.connection, 'close', name);
  assert.equal(r.closed, true, `${name}: the connection closes`);
}

const FOLD = /obs-fold/;
const TE = /Transfer-Encoding/;

test('obs-fold in Content-Length: 400, and nothing smuggled is answered', async () => {
  // A proxy that does not unfold sees an empty Content-Length (no body) and
  // forwards the whole thing as one request.
  await assertRefused('empty first line', `POST /nowhere HTTP/1.1\r\n${H}Content-Length:\r\n ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, 400, FOLD);
  await assertRefused('tab continuation', `POST /nowhere HTTP/1.1\r\n${H}Content-Length:\r\n\t${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, 400, FOLD);
});

test('obs-fold in Transfer-Encoding: 400', async () => {
  await assertRefused('empty first line', `POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 400, FOLD);
  await assertRefused('continued list', `POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n , identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 400);
  // The fold split over two TCP segments: the line feed in one, the space
  // in the next.
  await assertRefused('split over reads', [`POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding:\r\n`, ` chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`], 400, FOLD, 100);
  await assertRefused('split after the spaces', [`POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding:\r\n  `, `chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`], 400, FOLD, 100);
});

test('obs-fold in any other header: 400', async () => {
  await assertRefused('X-Note', `GET /healthz HTTP/1.1\r\n${H}X-Note: a\r\n b\r\n\r\n`, 400, FOLD);
  // Not a fold: empty values, and whitespace inside one.
  const r = await exchange(`GET /healthz HTTP/1.1\r\n${H}X-Empty:\r\nX-Blank: \r\nX-Spaces:  a \t b \r\nConnection: close\r\n\r\n`);
  assert.equal(r.responses[0]?.status, 200, r.text);
});

test('Transfer-Encoding other than a single chunked: 400', async () => {
  const body = '5\r\nhello\r\n0\r\n\r\n';
  await assertRefused('identity, chunked', `POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: identity, chunked\r\n\r\n${body}`, 400, TE);
  await assertRefused('gzip, chunked', `POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n${body}`, 400, TE);
  await assertRefused('two fields', `POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n${body}`, 400, TE);
  // Still fine: chunked alone, in any case, and a space around it.
  for (const te of ['chunked', 'Chunked', 'chunked ']) {
    const r = await exchange(`POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: ${te}\r\nConnection: close\r\n\r\n${body}`);
    assert.equal(r.responses[0]?.status, 404, `Transfer-Encoding: ${te}: parsed and routed`);
  }
});

test('chunk extensions: a few bytes are read and ignored; more than max_header_bytes in a request gets 413', async () => {
  const ok = await exchange(`POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;name=value\r\nhello\r\n3;q="a b"\r\nabc\r\n0\r\n\r\n`);
  assert.equal(ok.responses[0]?.status, 404, ok.text);
  await assertRefused('one long extension', `POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`, 413, /chunk extensions/);
  // Many small ones add up: 100 one-byte chunks with 60-byte extensions.
  const chunks = Array.from({ length: 100 }, () => `1;${'e'.repeat(60)}\r\nx\r\n`).join('');
  await assertRefused('many small', `POST /nowhere HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`, 413, /chunk extensions/);
});

test('after all of the above the daemon still serves', async () => {
  const r = await exchange(`GET /healthz HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.equal(r.responses[0]?.status, 200);
  assert.equal(JSON.parse(r.responses[0].body).status, 'ok');
});
