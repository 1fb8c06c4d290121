// ts_server.mjs -- the peer mcpd is measured against: the official MCP
// TypeScript SDK's McpServer behind a stateful StreamableHTTPServerTransport
// (one server and transport per session, as the SDK's examples do), with
// an `echo` tool equivalent to the hello plugin's. Replies are SSE (the
// SDK's default); enableJsonResponse is left off on purpose: in SDK 1.32.2
// its JSON mode leaks about 11 MB per 1,000 requests (upstream issue 2559).
// Plain node:http, no framework in front, so the SDK itself is measured.
//
//   node tests/bench/ts_server.mjs [PORT]   prints "listening PORT" on stdout
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/v4';

const transports = new Map(); // Mcp-Session-Id -> transport

function newServer() {
  const server = new McpServer({ name: 'ts-sdk-bench', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes the text back.', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

function fail(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req, res) {
  if (new URL(req.url, 'http://x').pathname !== '/mcp') return fail(res, 404, -32000, 'not found');
  const sid = req.headers['mcp-session-id'];
  let body;
  if (req.method === 'POST') {
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return fail(res, 400, -32700, 'parse error');
    }
  }
  let transport = sid ? transports.get(sid) : undefined;
  if (!transport) {
    if (sid) return fail(res, 404, -32001, 'session not found');
    if (req.method !== 'POST' || !isInitializeRequest(body)) return fail(res, 400, -32000, 'no session');
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => transports.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    await newServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

const http = createServer((req, res) => {
  handle(req, res).catch((e) => {
    process.stderr.write(`ts_server: ${e?.stack ?? e}\n`);
    if (!res.headersSent) fail(res, 500, -32603, 'internal error');
    else res.end();
  });
});
http.keepAliveTimeout = 60000;
http.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${http.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
