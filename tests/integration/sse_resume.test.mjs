// Resumable SSE on /mcp: event ids, the priming event, a dropped stream picked
// up with GET + Last-Event-ID with nothing lost, the polling model (the server
// closes a running call's stream, the client polls it back), and the SDK
// client doing all of it by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpd } from './lib/mcpd.mjs';
import { initSession, ACCEPT } from './lib/http.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Parses SSE text into events {id, retry, data}.
function events(text) {
  return text.split('\n\n').filter((b) => b.trim() && !b.startsWith(':')).map((block) => {
    const ev = {};
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) ev.id = line.slice(4);
      else if (line.startsWith('retry: ')) ev.retry = Number(line.slice(7));
      else if (line.startsWith('data:')) ev.data = (ev.data ?? '') + line.slice(5).trim();
    }
    return ev;
  });
}

// Reads a fetch body until pred(text) or the stream ends.
async function readUntil(res, pred, timeoutMs = 5000) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const t0 = Date.now();
  while (!pred(text)) {
    const r = await Promise.race([reader.read(), sleep(timeoutMs - (Date.now() - t0)).then(() => 'timeout')]);
    if (r === 'timeout') throw new Error(`timed out; got ${JSON.stringify(text)}`);
    if (r.done) return { text, done: true, reader };
    text += dec.decode(r.value);
  }
  return { text, done: false, reader };
}

function callBody(id, name, args, token) {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call',
    params: { name, arguments: args, ...(token ? { _meta: { progressToken: token } } : {}) } });
}

test('a stream that drops mid-call is resumed with Last-Event-ID: every event after it, then the result', async () => {
  const d = await startMcpd({ plugins: ['hello'] });
  try {
    const { sid } = await initSession(d.url);
    const ac = new AbortController();
    const res = await fetch(d.url, {
      method: 'POST', signal: ac.signal,
      headers: { 'Content-Type': 'application/json', Accept: ACCEPT, 'Mcp-Session-Id': sid },
      body: callBody(7, 'count', { n: 6, delay_ms: 80 }, 'tok'),
    });
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const first = await readUntil(res, (t) => events(t).filter((e) => e.data).length >= 2);
    const seen = events(first.text);
    // The priming event comes first: an id, a retry hint, empty data.
    assert.equal(seen[0].data, '');
    assert.ok(seen[0].id && seen[0].retry >= 0);
    assert.ok(seen.every((e) => /^\d+-\d+$/.test(e.id)), 'every event has an id');
    ac.abort(); // the connection drops; the call must go on
    const lastId = seen[seen.length - 1].id;
    await sleep(150);

    const again = await fetch(d.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'Last-Event-ID': lastId } });
    assert.equal(again.status, 200);
    const rest = await readUntil(again, () => false, 5000).catch((e) => { throw e; });
    assert.equal(rest.done, true, 'the resumed stream ends after the result');
    const later = events(rest.text);
    const msgs = [...seen, ...later].filter((e) => e.data).map((e) => JSON.parse(e.data));
    const progress = msgs.filter((m) => m.method === 'notifications/progress').map((m) => m.params.progress);
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6], 'no progress event lost or repeated');
    const result = msgs.find((m) => m.id === 7);
    assert.equal(result.result.content[0].text, 'counted to 6', 'the call was not cancelled');
    assert.match(d.log(), /event=session_created/);
  } finally {
    await d.stop();
  }
});

test('polling: with timeouts.sse_poll_ms the server closes a running call\'s stream and the client polls it back', async () => {
  const d = await startMcpd({ plugins: ['hello', 'testkit'], config: { timeouts: { sse_poll_ms: 200, sse_retry_ms: 300 } } });
  try {
    const { sid } = await initSession(d.url);
    const t0 = Date.now();
    const res = await fetch(d.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: ACCEPT, 'Mcp-Session-Id': sid },
      body: callBody(3, 'sleep', { ms: 900 }),
    });
    assert.match(res.headers.get('content-type'), /^text\/event-stream/, 'a running call answers as a stream');
    const part = await readUntil(res, () => false, 3000);
    assert.equal(part.done, true, 'the server closed the stream');
    assert.ok(Date.now() - t0 < 800, 'before the call finished');
    const evs = events(part.text);
    assert.equal(evs.length, 1);
    assert.equal(evs[0].retry, 300);
    assert.equal(evs[0].data, '');

    const back = await fetch(d.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'Last-Event-ID': evs[0].id } });
    assert.equal(back.status, 200);
    const rest = await readUntil(back, () => false, 3000);
    assert.equal(rest.done, true);
    const msg = JSON.parse(events(rest.text).find((e) => e.data).data);
    assert.deepEqual(msg, { jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: 'slept' }] } });
    assert.equal(JSON.parse((await (await fetch(`${d.base}/healthz`)).text())).status, 'ok');
  } finally {
    await d.stop();
  }
});

test('the official SDK client resumes a polled stream by itself', async () => {
  const d = await startMcpd({ plugins: ['hello'], config: { timeouts: { sse_poll_ms: 150, sse_retry_ms: 100 } } });
  try {
    const client = new Client({ name: 'resume-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
    const progress = [];
    const r = await client.callTool({ name: 'count', arguments: { n: 8, delay_ms: 60 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
      timeout: 10000,
    });
    assert.equal(r.content[0].text, 'counted to 8');
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8]);
    await client.close();
  } finally {
    await d.stop();
  }
});

test('a GET with Last-Event-ID is not a second standalone stream; an unknown id opens a fresh one', async () => {
  const d = await startMcpd({ plugins: ['hello'] });
  try {
    const { sid } = await initSession(d.url);
    const ac = new AbortController();
    const standalone = await fetch(d.url, { signal: ac.signal, headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid } });
    assert.equal(standalone.status, 200);
    const head = await readUntil(standalone, (t) => t.includes('\n\n'));
    const primingId = events(head.text)[0].id;
    // Resuming the open standalone stream takes it over; no 409.
    const resumed = await fetch(d.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'Last-Event-ID': primingId } });
    assert.equal(resumed.status, 200);
    await resumed.body.cancel();
    ac.abort();
    await sleep(100);
    const unknown = await fetch(d.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'Last-Event-ID': '999-3' } });
    assert.equal(unknown.status, 200);
    await unknown.body.cancel();
    await d.waitForLog(/event=sse_resume_unknown session=[\w-]+ last_event_id=999-3 action=new_stream/);
  } finally {
    await d.stop();
  }
});
