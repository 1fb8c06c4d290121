// backend.mjs -- the REST backend the soak puts behind mcpd's http_backend
// plugin. It runs as its own process so the soak can SIGKILL it (a backend
// that crashes, not one that shuts down politely) and start it again on the
// same port.
//
//   node soak/backend.mjs PORT
//
// GET /openapi.json       the document: one operation, get_item
// GET /items/{id}?q=TEXT  {"id": id, "name": "item-<id>", "q": TEXT or null}
//                         after 0-20 ms, so calls are in flight when it dies
import http from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// What the soak expects for an id; soak.mjs imports it so the two never drift.
export function itemFor(id, q) {
  return { id, name: `item-${id}`, q: q ?? null };
}

const document = {
  openapi: '3.0.3',
  info: { title: 'soak backend', version: '1' },
  paths: {
    '/items/{item_id}': {
      get: {
        operationId: 'get_item',
        summary: 'Read one item',
        parameters: [
          { name: 'item_id', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } },
          { name: 'q', in: 'query', required: false, schema: { type: 'string' } },
        ],
        responses: {
          200: {
            description: 'the item',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { id: { type: 'integer' }, name: { type: 'string' }, q: { type: 'string', nullable: true } },
                  required: ['id', 'name'],
                },
              },
            },
          },
        },
      },
    },
  },
};

function send(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// Only when run as a program: soak.mjs imports this file for itemFor().
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2]);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://backend');
    const m = /^\/items\/(\d+)$/.exec(url.pathname);
    if (req.method === 'GET' && url.pathname === '/openapi.json') return send(res, 200, document);
    if (req.method === 'GET' && m) {
      const id = Number(m[1]);
      const q = url.searchParams.get('q');
      setTimeout(() => send(res, 200, itemFor(id, q)), Math.floor(Math.random() * 21));
      return undefined;
    }
    return send(res, 404, { detail: 'not found' });
  });
  server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
}
