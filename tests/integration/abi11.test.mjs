// Plugin ABI 1.1 against the real daemon: prompts and their argument checks,
// completion, resource subscriptions and updates, requests to the client
// (answered, refused for lack of a capability, never answered), and a client
// response to a request never sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startMcpd, pluginPath } from './lib/mcpd.mjs';
import { post, initSession, sseMessages } from './lib/http.mjs';

let d;
before(async () => {
  d = await startMcpd({ plugins: ['hello', 'testkit', pluginPath('conformance')],
    config: { timeouts: { client_request_ms: 400 } } });
});
after(async () => { await d.stop(); });

async function connect(capabilities = {}) {
  const client = new Client({ name: 'abi11-test', version: '1' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(d.url)));
  return client;
}

const rpc = (sid, id, method, params) => post(d.url, { jsonrpc: '2.0', id, method, params }, { 'Mcp-Session-Id': sid });

test('prompts: listed with their arguments; get fills them in; wrong arguments get -32602 naming them', async () => {
  const client = await connect();
  const { prompts } = await client.listPrompts();
  const p = prompts.find((x) => x.name === 'test_prompt_with_arguments');
  assert.deepEqual(p.arguments.map((a) => [a.name, a.required]), [['arg1', true], ['arg2', true]]);
  const got = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'A', arg2: 'B' } });
  assert.match(got.messages[0].content.text, /A/);
  const { sid } = await initSession(d.url);
  const missing = await rpc(sid, 1, 'prompts/get', { name: 'test_prompt_with_arguments', arguments: { arg1: 'A' } });
  assert.equal(missing.json.error.code, -32602);
  assert.match(missing.json.error.message, /needs the argument "arg2"/);
  const unknown = await rpc(sid, 2, 'prompts/get', { name: 'test_prompt_with_arguments', arguments: { arg1: 'A', arg2: 'B', arg3: 'C' } });
  assert.match(unknown.json.error.message, /has no argument "arg3"/);
  const notString = await rpc(sid, 3, 'prompts/get', { name: 'test_prompt_with_arguments', arguments: { arg1: 1, arg2: 'B' } });
  assert.match(notString.json.error.message, /arguments\.arg1 must be a string/);
  const noName = await rpc(sid, 4, 'prompts/get', {});
  assert.match(noName.json.error.message, /prompts\/get needs params\.name/);
  assert.match((await rpc(sid, 5, 'prompts/get', { name: 'nope' })).json.error.message, /Unknown prompt: nope/);
  await client.close();
});

test('completion: values from the provider; bad params get -32602 naming the field', async () => {
  const client = await connect();
  const c = await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: '' } });
  assert.ok(Array.isArray(c.completion.values));
  const { sid } = await initSession(d.url);
  assert.match((await rpc(sid, 1, 'completion/complete', { argument: { name: 'x', value: '' } })).json.error.message, /params\.ref/);
  assert.match((await rpc(sid, 2, 'completion/complete', { ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' } })).json.error.message, /params\.argument/);
  assert.match((await rpc(sid, 3, 'completion/complete', { ref: { type: 'ref/other' }, argument: { name: 'a', value: '' } })).json.error.message, /ref\/other/);
  await client.close();
});

test('subscriptions: a subscribed session hears notifications/resources/updated, an unsubscribed one does not', async () => {
  const a = await connect();
  const b = await connect();
  const heard = { a: [], b: [] };
  a.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => heard.a.push(n.params.uri));
  b.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => heard.b.push(n.params.uri));
  await new Promise((r) => setTimeout(r, 200)); // both GET streams up
  assert.deepEqual(await a.subscribeResource({ uri: 'testkit://counter' }), {});
  await b.subscribeResource({ uri: 'testkit://counter' });
  assert.deepEqual(await b.unsubscribeResource({ uri: 'testkit://counter' }), {});
  await assert.rejects(a.subscribeResource({ uri: 'testkit://nothing-here' }), (e) => e.code === -32002);
  assert.equal((await a.callTool({ name: 'touch', arguments: { uri: 'testkit://counter' } })).content[0].text, 'touched');
  const t0 = Date.now();
  while (heard.a.length === 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(heard.a, ['testkit://counter']);
  assert.deepEqual(heard.b, []);
  await a.close();
  await b.close();
});

test('requests to the client: answered; refused without the capability; an answer that never comes times out', async () => {
  // Answered: the client declared elicitation and answers it.
  const yes = await connect({ elicitation: {} });
  yes.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: {} }));
  const ok = await yes.callTool({ name: 'ask', arguments: { method: 'elicitation/create' } });
  assert.match(ok.content[0].text, /^status=ok answer=\{"action":"accept"/);
  await yes.close();

  // Refused: no sampling capability, so the plugin hears -ENOTSUP at once.
  const no = await connect();
  const refused = await no.callTool({ name: 'ask', arguments: { method: 'sampling/createMessage' } });
  assert.equal(refused.isError, true);
  assert.match(refused.content[0].text, /request refused: not supported/);
  await no.close();

  // Never answered (by hand: the raw client ignores the request): after
  // timeouts.client_request_ms the tool gets -ETIMEDOUT, not a hang.
  const r = await post(d.url, { jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'mute', version: '1' } } });
  const sid = r.headers.get('mcp-session-id');
  const t0 = Date.now();
  const res = await rpc(sid, 7, 'tools/call', { name: 'ask', arguments: { method: 'sampling/createMessage' } });
  const msgs = sseMessages(res.text);
  const request = msgs.find((m) => m.method === 'sampling/createMessage');
  assert.ok(request && typeof request.id === 'string', 'the request went out on the call\'s stream');
  const result = msgs.find((m) => m.id === 7).result;
  assert.equal(result.isError, true);
  assert.match(result.content[0].text, /status=timed out/);
  assert.ok(Date.now() - t0 >= 350);
  await d.waitForLog(/event=client_request_timeout plugin=testkit/);

  // A late answer to that request, and one to a request never sent: 202, ignored, logged.
  const late = await post(d.url, { jsonrpc: '2.0', id: request.id, result: { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' } }, { 'Mcp-Session-Id': sid });
  assert.equal(late.status, 202);
  const stray = await post(d.url, { jsonrpc: '2.0', id: 'never-sent', result: {} }, { 'Mcp-Session-Id': sid });
  assert.equal(stray.status, 202);
  await d.waitForLog(new RegExp(`event=client_response_ignored session=${sid}`));
});
