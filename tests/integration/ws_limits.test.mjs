// WebSocket limits and heartbeats, with small settings so that they trip:
// subscriptions per connection, publishes per second, connections per
// environment, and the server's ping closing dead peers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { startServer, setupEnv } from './lib/server.mjs';
import { connect, wsUrl } from './lib/ws.mjs';

let srv;
before(async () => {
  srv = await startServer({
    args: ['--ws-max-subscriptions', '2', '--ws-publish-rate', '5', '--ws-max-connections', '3',
      '--ws-ping-interval-ms', '400'],
  });
});
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

test('subscriptions per connection', async () => {
  const ctx = await setupEnv(srv, ['a.one', 'a.two', 'a.three']);
  const c = await connect(wsUrl(srv, ctx.E, ctx.key));
  assert.equal((await c.subscribe('a.one')).type, 'ack');
  assert.equal((await c.subscribe('a.two')).type, 'ack');
  assert.equal((await c.subscribe('a.one')).type, 'ack', 'the same topic again is idempotent');
  const r = await c.subscribe('a.three');
  assert.equal(r.error.code, 'too_many_subscriptions');
  await c.unsubscribe('a.one');
  assert.equal((await c.subscribe('a.three')).type, 'ack');
  await c.close();
});

test('publishes per second per connection', async () => {
  const ctx = await setupEnv(srv, ['rate.test']);
  const c = await connect(wsUrl(srv, ctx.E, ctx.key));
  const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => c.publish('rate.test', i)));
  const ok = rs.filter((r) => r.type === 'ack').length;
  const limited = rs.filter((r) => r.error?.code === 'rate_limited').length;
  assert.ok(ok >= 5 && ok <= 6, `burst of 5 allowed (${ok})`);
  assert.equal(ok + limited, 12);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await c.publish('rate.test', 'later')).type, 'ack', 'the bucket refills');
  await c.close();
});

test('connections per environment', async () => {
  const ctx = await setupEnv(srv);
  const cs = [];
  for (let i = 0; i < 3; i++) cs.push(await connect(wsUrl(srv, ctx.E, ctx.key)));
  await assert.rejects(connect(wsUrl(srv, ctx.E, ctx.key)), (e) => e.status === 429 && e.body.error.code === 'too_many_connections');
  const other = await setupEnv(srv);
  const o = await connect(wsUrl(srv, other.E, other.key));
  await o.close();
  await cs[0].close();
  await new Promise((r) => setTimeout(r, 100));
  const again = await connect(wsUrl(srv, ctx.E, ctx.key));
  await Promise.all([again, ...cs.slice(1)].map((c) => c.close()));
});

test('the server pings idle clients and closes the ones that never answer', async () => {
  const ctx = await setupEnv(srv);
  // A real client answers pings on its own and stays.
  const alive = await connect(wsUrl(srv, ctx.E, ctx.key));
  let pings = 0;
  alive.ws.on('ping', () => { pings += 1; });
  // A raw client that reads but never answers.
  const s = net.connect(srv.port, '127.0.0.1');
  s.on('error', () => {});
  const closed = new Promise((r) => s.on('close', r));
  let sawPing = false;
  s.on('data', (d) => { if (d.includes(Buffer.from([0x89, 0x00]))) sawPing = true; });
  s.write(`GET ${ctx.E}/ws?token=${ctx.key} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const start = Date.now();
  await closed;
  const took = Date.now() - start;
  assert.ok(sawPing, 'a ping was sent');
  assert.ok(took < 4000, `the silent peer was closed (${took} ms)`);
  assert.ok(pings >= 1, 'the live client was pinged');
  assert.equal(alive.ws.readyState, 1, 'the live client is still open');
  await alive.close();
});
