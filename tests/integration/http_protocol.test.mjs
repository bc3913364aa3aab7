// The HTTP/1.1 server on the wire: pipelining, chunked bodies, limits, bad
// requests, slow clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, setupEnv, rawRequest } from './lib/server.mjs';

let srv;
let ctx;
before(async () => {
  srv = await startServer({ args: ['--max-body-bytes', '4096'] });
  ctx = await setupEnv(srv, ['raw.test']);
});
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

const statusLines = (data) => [...data.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

test('keep-alive and pipelining answer in order', async () => {
  const req = (p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const { data } = await rawRequest(srv.port, [req('/healthz') + req('/nope') + req('/readyz')], { waitMs: 800 });
  assert.deepEqual(statusLines(data), [200, 404, 200]);
});

test('pipelined publishes get consecutive seqs', async () => {
  const body = JSON.stringify({ payload: { a: 1 } });
  const one = `POST ${ctx.E}/topics/raw.test/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.key}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const { data } = await rawRequest(srv.port, [one + one + one], { waitMs: 1000 });
  assert.deepEqual(statusLines(data), [201, 201, 201]);
  const seqs = [...data.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
  assert.equal(seqs.length, 3);
  assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2]);
});

test('chunked request body, split across writes', async () => {
  const body = JSON.stringify({ payload: { chunked: true } });
  const head = `POST ${ctx.E}/topics/raw.test/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.key}\r\n` +
    'Transfer-Encoding: chunked\r\n\r\n';
  const a = body.slice(0, 7), b = body.slice(7);
  const chunks = [head, `${a.length.toString(16)}\r\n${a}\r\n`, 50, `${b.length.toString(16)};ext=1\r\n${b}\r\n`, 50, '0\r\n\r\n'];
  const { data } = await rawRequest(srv.port, chunks, { waitMs: 800 });
  assert.deepEqual(statusLines(data), [201], data);
});

test('bad requests get the right status and the connection is closed', async () => {
  const cases = [
    ['GARBAGE\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\n\r\n', 400], // no Host
    ['GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', 400],
    [`GET /healthz HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(20000)}\r\n\r\n`, 431],
    [`GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 100 }, (_, i) => `X-${i}: y\r\n`).join('')}\r\n`, 431],
  ];
  for (const [raw, status] of cases) {
    const { data, closed } = await rawRequest(srv.port, [raw], { waitMs: 1500 });
    assert.deepEqual(statusLines(data), [status], `${JSON.stringify(raw.slice(0, 60))} -> ${data}`);
    assert.match(data, /"error":\{"code":"/);
    assert.ok(closed, 'connection closed after a framing error');
  }
});

test('a body over the limit is refused with 413 without reading it', async () => {
  const head = `POST ${ctx.E}/topics/raw.test/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.key}\r\n` +
    'Content-Length: 100000000\r\n\r\n';
  const { data } = await rawRequest(srv.port, [head], { waitMs: 800 });
  assert.deepEqual(statusLines(data), [413]);
  const chunked = `POST ${ctx.E}/topics/raw.test/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n` +
    `Authorization: Bearer ${ctx.key}\r\n\r\n2000\r\n${'x'.repeat(0x2000)}\r\n0\r\n\r\n`;
  const r2 = await rawRequest(srv.port, [chunked], { waitMs: 800 });
  assert.deepEqual(statusLines(r2.data), [413]);
});

test('a slowloris client is closed, others are unaffected', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  let closedAt = 0;
  sock.on('close', () => { closedAt = Date.now(); });
  sock.on('error', () => {});
  await new Promise((r) => sock.on('connect', r));
  const start = Date.now();
  sock.write('GET /healthz HTTP/1.1\r\n');
  const drip = setInterval(() => { if (!sock.destroyed) sock.write('X-Slow: 1\r\n'); }, 1000);
  // Meanwhile, normal requests are served promptly.
  for (let i = 0; i < 5; i++) {
    const r = await srv.api('GET', '/healthz', undefined, null);
    assert.equal(r.status, 200);
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((resolve) => { const t = setInterval(() => { if (closedAt) { clearInterval(t); resolve(); } }, 100); });
  clearInterval(drip);
  const took = closedAt - start;
  assert.ok(took >= 9000 && took < 14000, `closed after the 10 s header timeout (${took} ms)`);
});
