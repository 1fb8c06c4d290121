// ts_server_v2.mjs -- the 2026-07-28 peer: the official MCP TypeScript SDK
// v2 (@modelcontextprotocol/server) serving the stateless 2026-07-28 era
// with createMcpHandler, which builds a fresh McpServer from the factory
// for every request (no session). The same `echo` tool as ts_server.mjs
// (input { text: string }, a text content reply). Mounted on plain
// node:http with toNodeHandler from @modelcontextprotocol/node, the
// adapter the SDK documents for node:http; nothing else in front (no
// Host/Origin guards, no framework), so the SDK itself is measured.
// Replies: responseMode 'auto' (the default), one JSON body per call.
// 2025-era requests get the handler's default stateless fallback; the
// benchmark sends none.
//
//   node tests/bench/ts_server_v2.mjs [PORT]   prints "listening PORT" on stdout
import { createServer } from 'node:http';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import * as z from 'zod/v4';

const input = z.object({ text: z.string() });

function newServer() {
  const server = new McpServer({ name: 'ts-sdk-v2-bench', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes the text back.', inputSchema: input },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

const report = (e) => process.stderr.write(`ts_server_v2: ${e?.stack ?? e}\n`);
const mcp = createMcpHandler(newServer, { onerror: report });
const handle = toNodeHandler(mcp, { onerror: report });

const http = createServer((req, res) => {
  if (new URL(req.url, 'http://x').pathname !== '/mcp') {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'not found' }, id: null }));
    return;
  }
  handle(req, res).catch((e) => {
    report(e);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
http.keepAliveTimeout = 60000;
http.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${http.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    mcp.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
