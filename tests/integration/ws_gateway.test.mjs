// The WebSocket gateway with Node's `ws` client: handshake and auth, the
// subscribe/publish protocol, patterns, rights, recovery with `since`,
// fan-out to many clients, protocol violations and slow consumers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { startServer, setupEnv } from './lib/server.mjs';
import { connect, wsUrl } from './lib/ws.mjs';

let srv;
before(async () => { srv = await startServer({ args: ['--ws-max-message-bytes', '4096', '--ws-send-queue-bytes', '262144'] }); });
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

async function token(ctx, body) {
  const r = await srv.api('POST', `${ctx.E}/tokens`, body, ctx.key);
  assert.equal(r.status, 201, r.text);
  return r.json.token;
}

function b64url(obj) { return Buffer.from(JSON.stringify(obj)).toString('base64url'); }

test('handshake: good token, subprotocol, bad key/version/token, expired, alg none', async () => {
  const ctx = await setupEnv(srv, ['hs.test']);
  const tok = await token(ctx, { sub: 'u1' });
  const c = await connect(wsUrl(srv, ctx.E, tok));
  assert.equal(c.ws.protocol, 'realtime.v1');
  await c.close();
  // Secret key as credential, via Authorization.
  const c2 = await connect(`${srv.wsUrl}${ctx.E}/ws`, { headers: { authorization: `Bearer ${ctx.key}` } });
  await c2.close();

  await assert.rejects(connect(wsUrl(srv, ctx.E, 'nope')), (e) => e.status === 401 && e.body.error.code === 'invalid_token');
  await assert.rejects(connect(`${srv.wsUrl}${ctx.E}/ws`), (e) => e.status === 401);
  await assert.rejects(connect(wsUrl(srv, '/v1/apps/none/envs/none', tok)), (e) => e.status === 404);
  const other = await setupEnv(srv);
  await assert.rejects(connect(wsUrl(srv, ctx.E, other.key)), (e) => e.status === 403);
  await assert.rejects(connect(wsUrl(srv, other.E, tok)), (e) => e.status === 401);

  // Expired: sign a token ourselves? We cannot know the secret; mint with ttl 1 and wait.
  const short = await token(ctx, { sub: 'u1', ttl: 1 });
  await new Promise((r) => setTimeout(r, 2100));
  await assert.rejects(connect(wsUrl(srv, ctx.E, short)), (e) => e.status === 401 && e.body.error.code === 'token_expired');
  // alg none with the same claims.
  const [, body] = tok.split('.');
  const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${body}.`;
  await assert.rejects(connect(wsUrl(srv, ctx.E, none)), (e) => e.status === 401);
  // HS256 signed with a wrong secret.
  const forged = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${body}`;
  const sig = crypto.createHmac('sha256', 'wrong').update(forged).digest('base64url');
  await assert.rejects(connect(wsUrl(srv, ctx.E, `${forged}.${sig}`)), (e) => e.status === 401);

  // Raw handshakes: bad key, bad version: HTTP errors with JSON, never 101.
  const raw = (headers) => new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('close', () => resolve(data));
    s.write(`GET ${ctx.E}/ws?token=${ctx.key} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`);
    setTimeout(() => s.destroy(), 1000);
  });
  let d = await raw('Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n');
  assert.match(d, /^HTTP\/1\.1 400/);
  assert.match(d, /"code":"bad_handshake"/);
  d = await raw('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n');
  assert.match(d, /^HTTP\/1\.1 426/);
  assert.match(d, /Sec-WebSocket-Version: 13/i);
});

test('subscribe, ack with seq, events in order, unsubscribe', async () => {
  const ctx = await setupEnv(srv, ['session.status']);
  await srv.api('POST', `${ctx.E}/topics/session.status/events`, { payload: 0 }, ctx.key);
  const c = await connect(wsUrl(srv, ctx.E, ctx.key));
  const ack = await c.subscribe('session.status');
  assert.equal(ack.type, 'ack');
  assert.equal(ack.seq, 1);
  for (let i = 1; i <= 5; i++) await srv.api('POST', `${ctx.E}/topics/session.status/events`, { payload: { i } }, ctx.key);
  const evs = await c.waitEvents(5);
  assert.deepEqual(evs.map((e) => e.seq), [2, 3, 4, 5, 6]);
  assert.deepEqual(evs[0].payload, { i: 1 });
  assert.equal(evs[0].topic, 'session.status');
  assert.equal(evs[0].source, 'api');
  assert.match(evs[0].id, /^evt_/);
  const un = await c.unsubscribe('session.status');
  assert.equal(un.type, 'ack');
  await srv.api('POST', `${ctx.E}/topics/session.status/events`, { payload: 'late' }, ctx.key);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(c.events.length, 5);
  const again = await c.unsubscribe('session.status');
  assert.equal(again.error.code, 'not_subscribed');
  const pong = await c.request({ type: 'ping', id: 'p1' });
  assert.deepEqual(pong, { type: 'pong', id: 'p1' });
  await c.close();
});

test('patterns: * and >, including topics created later', async () => {
  const ctx = await setupEnv(srv, ['chat.a', 'chat.a.b']);
  const c = await connect(wsUrl(srv, ctx.E, ctx.key));
  assert.equal((await c.subscribe('chat.*')).type, 'ack');
  const c2 = await connect(wsUrl(srv, ctx.E, ctx.key));
  assert.equal((await c2.subscribe('chat.>')).type, 'ack');
  await srv.api('POST', `${ctx.E}/topics`, { name: 'chat.later' }, ctx.key);
  for (const t of ['chat.a', 'chat.a.b', 'chat.later']) {
    await srv.api('POST', `${ctx.E}/topics/${t}/events`, { payload: t }, ctx.key);
  }
  const a = await c.waitEvents(2);
  assert.deepEqual(a.map((e) => e.topic), ['chat.a', 'chat.later']);
  const b = await c2.waitEvents(3);
  assert.deepEqual(b.map((e) => e.topic), ['chat.a', 'chat.a.b', 'chat.later']);
  const bad = await c.subscribe('chat.>.x');
  assert.equal(bad.error.code, 'invalid_topic');
  const unknown = await c.subscribe('no.such');
  assert.equal(unknown.error.code, 'topic_not_found');
  await c.close();
  await c2.close();
});

test('publish over WebSocket: ack with id and seq, errors with the request id', async () => {
  const ctx = await setupEnv(srv, ['chat.room.message']);
  const c = await connect(wsUrl(srv, ctx.E, ctx.key));
  await c.subscribe('chat.room.message');
  const ack = await c.publish('chat.room.message', { text: 'hi' });
  assert.equal(ack.type, 'ack');
  assert.match(ack.event.id, /^evt_/);
  assert.equal(ack.event.seq, 1);
  const [ev] = await c.waitEvents(1);
  assert.equal(ev.source, 'socket');
  assert.deepEqual(ev.payload, { text: 'hi' });
  let r = await c.publish('no.topic', 1);
  assert.equal(r.type, 'error');
  assert.equal(r.error.code, 'topic_not_found');
  r = await c.request({ type: 'publish', id: 'x9', topic: 'chat.room.message' });
  assert.equal(r.id, 'x9');
  assert.equal(r.error.code, 'payload_required');
  r = await c.request({ type: 'nope', id: 7 });
  assert.equal(r.id, 7);
  assert.equal(r.error.code, 'unknown_type');
  r = await c.request({ type: 'publish', topic: 'Bad Topic', payload: 1, id: 'b' });
  assert.equal(r.error.code, 'invalid_topic');
  c.ws.send('not json');
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(c.errors.at(-1).error.code, 'invalid_message');
  await c.close();
});

test('rights from the token bound subscribe and publish', async () => {
  const ctx = await setupEnv(srv, ['session.status', 'order.updated', 'chat.room.x']);
  const tok = await token(ctx, { sub: 'u', subscribe: ['session.*', 'chat.>'], publish: ['chat.room.*'] });
  const c = await connect(wsUrl(srv, ctx.E, tok));
  assert.equal((await c.subscribe('session.status')).type, 'ack');
  assert.equal((await c.subscribe('order.updated')).error.code, 'forbidden');
  assert.equal((await c.subscribe('chat.*')).type, 'ack');
  assert.equal((await c.subscribe('>')).error.code, 'forbidden');
  assert.equal((await c.publish('chat.room.x', 1)).type, 'ack');
  assert.equal((await c.publish('session.status', 1)).error.code, 'forbidden');
  await c.close();
});

test('recovery with since: missed events exactly once, in order, then live, while publishing', async () => {
  const ctx = await setupEnv(srv, ['recover.test']);
  const pub = async (n) => { for (let i = 0; i < n; i++) await srv.api('POST', `${ctx.E}/topics/recover.test/events`, { payload: i }, ctx.key); };
  const c = await connect(wsUrl(srv, ctx.E, ctx.key));
  await c.subscribe('recover.test');
  await pub(10);
  await c.waitEvents(10);
  const lastSeen = c.events.at(-1).seq;
  c.ws.terminate();
  await pub(1500); // more than one replay batch
  // A publisher keeps going while the client recovers.
  let stop = false;
  const bg = (async () => { while (!stop) await pub(1); })();
  const c2 = await connect(wsUrl(srv, ctx.E, ctx.key));
  const ack = await c2.subscribe('recover.test', lastSeen);
  assert.equal(ack.type, 'ack');
  await new Promise((r) => setTimeout(r, 1500));
  stop = true;
  await bg;
  const total = (await srv.api('GET', `${ctx.E}/topics/recover.test`, undefined, ctx.key)).json.seq;
  const evs = await c2.waitEvents(total - lastSeen, 20000);
  await new Promise((r) => setTimeout(r, 300));
  const seqs = c2.events.map((e) => e.seq);
  assert.deepEqual(seqs, Array.from({ length: total - lastSeen }, (_, i) => lastSeen + 1 + i));
  assert.equal(evs.length, seqs.length);
  await c2.close();
});

test('500 clients each get every event in order', async () => {
  const ctx = await setupEnv(srv, ['fan.out']);
  const clients = [];
  for (let i = 0; i < 500; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => connect(wsUrl(srv, ctx.E, ctx.key))));
    await Promise.all(batch.map((c) => c.subscribe('fan.out')));
    clients.push(...batch);
  }
  for (let i = 0; i < 20; i++) await srv.api('POST', `${ctx.E}/topics/fan.out/events`, { payload: i }, ctx.key);
  for (const c of clients) {
    const evs = await c.waitEvents(20, 20000);
    assert.deepEqual(evs.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
  }
  await Promise.all(clients.map((c) => c.close()));
});

// Raw frames for violations: ws would refuse to send them.
function rawWs(E, key) {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const frames = [];
    let closeResolve;
    const closed = new Promise((r) => { closeResolve = r; });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        const head = buf.subarray(0, i).toString();
        buf = buf.subarray(i + 4);
        if (!/^HTTP\/1\.1 101/.test(head)) return reject(new Error(head));
        upgraded = true;
        resolve({ s, frames, closed, send: (b) => s.write(b) });
      }
      while (buf.length >= 2) {
        let len = buf[1] & 127, off = 2;
        if (len === 126) { len = buf.readUInt16BE(2); off = 4; }
        if (buf.length < off + len) break;
        frames.push({ op: buf[0] & 15, payload: buf.subarray(off, off + len) });
        buf = buf.subarray(off + len);
      }
    });
    s.on('close', () => closeResolve(frames));
    s.on('error', () => {});
    s.write(`GET ${E}/ws?token=${key} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

function frame(op, payload, { mask = true, fin = true, rsv = 0 } = {}) {
  const p = Buffer.from(payload);
  const head = [((fin ? 0x80 : 0) | rsv | op)];
  const m = mask ? 0x80 : 0;
  if (p.length < 126) head.push(m | p.length);
  else head.push(m | 126, p.length >> 8, p.length & 255);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(p);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), mask ? key : Buffer.alloc(0), body]);
}

test('protocol violations get the right close code and the server stays healthy', async () => {
  const ctx = await setupEnv(srv, ['viol.test']);
  const cases = [
    ['unmasked', frame(1, '{"type":"ping"}', { mask: false }), 1002],
    ['reserved bits', frame(1, '{}', { rsv: 0x40 }), 1002],
    ['unknown opcode', frame(3, 'x'), 1002],
    ['invalid utf-8', frame(1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007],
    ['oversized', frame(1, 'x'.repeat(5000)), 1009],
    ['fragmented ping', frame(9, 'x', { fin: false }), 1002],
    ['continuation first', frame(0, 'x'), 1002],
    ['binary', frame(2, 'x'), 1003],
  ];
  for (const [name, bytes, code] of cases) {
    const c = await rawWs(ctx.E, ctx.key);
    c.send(bytes);
    const frames = await c.closed;
    const close = frames.find((f) => f.op === 8);
    assert.ok(close, `${name}: a close frame was sent`);
    assert.equal(close.payload.readUInt16BE(0), code, `${name}: close code`);
  }
  // Fragmented text with a ping in between is fine.
  const c = await rawWs(ctx.E, ctx.key);
  c.send(Buffer.concat([frame(1, '{"type":"pi', { fin: false }), frame(9, 'hb'), frame(0, 'ng","id":"f"}')]));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(c.frames.some((f) => f.op === 10 && f.payload.toString() === 'hb'), 'pong echoes the ping');
  assert.ok(c.frames.some((f) => f.op === 1 && f.payload.toString() === '{"type":"pong","id":"f"}'));
  c.send(frame(8, Buffer.from([0x03, 0xe8])));
  const fr = await c.closed;
  assert.equal(fr.filter((f) => f.op === 8)[0].payload.readUInt16BE(0), 1000);
  assert.equal((await srv.api('GET', '/healthz', undefined, null)).status, 200);
});

test('a client that never reads is closed with 1008 when its queue fills; memory stays bounded', async () => {
  const ctx = await setupEnv(srv, ['slow.test']);
  const s = net.connect(srv.port, '127.0.0.1');
  s.on('error', () => {});
  let head = '';
  await new Promise((resolve) => {
    s.on('data', function onData(d) {
      head += d;
      if (head.includes('\r\n\r\n')) { s.removeListener('data', onData); s.pause(); resolve(); }
    });
    s.write(`GET ${ctx.E}/ws?token=${ctx.key} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
  s.write(frame(1, '{"type":"subscribe","id":"1","topic":"slow.test"}'));
  await new Promise((r) => setTimeout(r, 200));
  const closed = new Promise((r) => s.on('close', r));
  const big = 'x'.repeat(3000);
  const before = Number(/rt_ws_slow_consumers_total (\d+)/.exec((await srv.api('GET', '/metrics')).text)?.[1] ?? 0);
  let done = false;
  closed.then(() => { done = true; });
  for (let i = 0; i < 2000 && !done; i++) {
    await srv.api('POST', `${ctx.E}/events`, Array.from({ length: 50 }, () => ({ topic: 'slow.test', payload: big })), ctx.key);
    const m = (await srv.api('GET', '/metrics')).text;
    if (Number(/rt_ws_slow_consumers_total (\d+)/.exec(m)?.[1] ?? 0) > before) break;
  }
  const m = (await srv.api('GET', '/metrics')).text;
  assert.ok(Number(/rt_ws_slow_consumers_total (\d+)/.exec(m)[1]) > before, 'counted as a slow consumer');
  s.destroy();
  assert.equal((await srv.api('GET', '/healthz', undefined, null)).status, 200);
});
