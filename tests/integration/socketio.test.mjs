// The Socket.IO v4 gateway with the stock socket.io-client@4: every transport
// (polling, websocket, polling→websocket upgrade), subscribe/publish with
// acks, errors as connect_error, rights, automatic reconnection with
// connection state recovery, fan-out to many clients, one envelope for HTTP,
// plain WebSocket and Socket.IO subscribers, and Engine.IO-level refusals
// checked with raw HTTP requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, setupEnv } from './lib/server.mjs';
import { connect as wsConnect, wsUrl } from './lib/ws.mjs';
import { sleep } from './lib/wait.mjs';

let srv;
before(async () => { srv = await startServer({ args: ['--socketio-ping-interval-ms', '2000', '--socketio-ping-timeout-ms', '1500'] }); });
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

async function token(ctx, body) {
  const r = await srv.api('POST', `${ctx.E}/tokens`, body, ctx.key);
  assert.equal(r.status, 201, r.text);
  return r.json.token;
}

function client(ctx, auth, opts = {}) {
  return io(`${srv.url}/${ctx.app}/${ctx.env}`, { auth, forceNew: true, ...opts });
}

function connected(s) {
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => reject(e));
  });
}

// Collects the `event:{topic}` emits of s: [envelope, offset] pairs.
function inbox(s, topic) {
  const events = [];
  let waiters = [];
  s.on(`event:${topic}`, (env, offset) => {
    events.push({ env, offset });
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  });
  return {
    events,
    async wait(n, ms = 10000) {
      const deadline = Date.now() + ms;
      while (events.length < n) {
        if (Date.now() > deadline) throw new Error(`timeout: ${events.length}/${n} events`);
        await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
      }
      return events.slice(0, n);
    },
  };
}

async function httpPublish(ctx, topic, payload) {
  const r = await srv.api('POST', `${ctx.E}/topics/${topic}/events`, { payload }, ctx.key);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
  test(`transport ${transports.join('→')}: subscribe, publish with ack, events in order`, async () => {
    const ctx = await setupEnv(srv, ['chat.room']);
    const tok = await token(ctx, { sub: 'u1', subscribe: ['chat.>'], publish: ['chat.>'] });
    const s = await connected(client(ctx, { token: tok }, { transports, reconnection: false }));
    try {
      const box = inbox(s, 'chat.room');
      assert.deepEqual(await s.emitWithAck('subscribe', { topic: 'chat.room' }), { ok: true, seq: 0 });
      const acks = [];
      for (let i = 1; i <= 5; i++) acks.push(await s.emitWithAck('publish', { topic: 'chat.room', payload: { i } }));
      acks.forEach((a, k) => { assert.equal(a.ok, true); assert.equal(a.event.seq, k + 1); assert.match(a.event.id, /^evt_/); });
      const evs = await box.wait(5);
      assert.deepEqual(evs.map((e) => e.env.seq), [1, 2, 3, 4, 5]);
      assert.deepEqual(evs.map((e) => e.env.payload.i), [1, 2, 3, 4, 5]);
      assert.equal(evs[0].env.topic, 'chat.room');
      assert.equal(evs[0].env.source, 'socket');
      assert.equal(typeof evs[4].offset, 'string');
      if (transports.length === 2) {
        const deadline = Date.now() + 5000;
        while (s.io.engine.transport.name !== 'websocket' && Date.now() < deadline) await sleep(50);
      }
      assert.equal(s.io.engine.transport.name, transports[transports.length - 1]);
      // Still delivering after the upgrade (the subscriptions moved with it).
      await httpPublish(ctx, 'chat.room', { i: 6 });
      assert.equal((await box.wait(6))[5].env.seq, 6);
      assert.deepEqual(await s.emitWithAck('unsubscribe', { topic: 'chat.room' }), { ok: true });
      await httpPublish(ctx, 'chat.room', { i: 7 });
      await sleep(300);
      assert.equal(box.events.length, 6);
    } finally {
      s.disconnect();
    }
  });
}

test('errors: bad token, unknown namespace, missing token, request errors in acks', async () => {
  const ctx = await setupEnv(srv, ['err.topic']);
  const bad = client(ctx, { token: 'nope' }, { reconnection: false });
  await assert.rejects(connected(bad), (e) => e.message.length > 0 && e.data.code === 'invalid_token');
  bad.close();
  const none = client(ctx, {}, { reconnection: false });
  await assert.rejects(connected(none), (e) => e.data.code === 'unauthorized');
  none.close();
  const other = await setupEnv(srv);
  const foreign = client(ctx, { token: other.key }, { reconnection: false });
  await assert.rejects(connected(foreign), (e) => e.data.code === 'forbidden');
  foreign.close();
  const unknown = io(`${srv.url}/nope/none`, { auth: { token: ctx.key }, forceNew: true, reconnection: false });
  await assert.rejects(connected(unknown), (e) => e.message === 'Invalid namespace' && e.data.code === 'namespace_not_found');
  unknown.close();

  // The environment's secret key may do everything.
  const s = await connected(client(ctx, { token: ctx.key }, { reconnection: false }));
  try {
    assert.equal((await s.emitWithAck('subscribe', { topic: 'no.such' })).error.code, 'topic_not_found');
    assert.equal((await s.emitWithAck('subscribe', { topic: 'BAD topic' })).error.code, 'invalid_topic');
    assert.equal((await s.emitWithAck('subscribe', { topic: 'err.*', since: 3 })).error.code, 'since_not_supported');
    assert.equal((await s.emitWithAck('unsubscribe', { topic: 'err.topic' })).error.code, 'not_subscribed');
    assert.equal((await s.emitWithAck('publish', { topic: 'err.topic' })).error.code, 'payload_required');
    assert.equal((await s.emitWithAck('publish', { topic: 'no.such', payload: 1 })).error.code, 'topic_not_found');
    assert.equal((await s.emitWithAck('dance', {})).error.code, 'unknown_event');
    // A binary argument is refused with an error ack, not a crash.
    assert.equal((await s.emitWithAck('publish', { topic: 'err.topic', payload: Buffer.from([1, 2, 3]) })).error.code, 'binary_not_supported');
    // Without an ack callback, an error comes as an "error" event.
    const err = new Promise((r) => s.once('error', r));
    s.emit('subscribe', { topic: 'no.such' });
    assert.equal((await err).code, 'topic_not_found');
    assert.deepEqual(await s.emitWithAck('subscribe', { topic: 'err.topic' }), { ok: true, seq: 0 });
  } finally {
    s.disconnect();
  }
});

test('rights from the token bound subscribe and publish', async () => {
  const ctx = await setupEnv(srv, ['pub.a', 'priv.b']);
  const tok = await token(ctx, { sub: 'u', subscribe: ['pub.*'], publish: ['pub.a'] });
  const s = await connected(client(ctx, { token: tok }, { reconnection: false }));
  try {
    assert.equal((await s.emitWithAck('subscribe', { topic: 'priv.b' })).error.code, 'forbidden');
    assert.equal((await s.emitWithAck('publish', { topic: 'priv.b', payload: {} })).error.code, 'forbidden');
    assert.equal((await s.emitWithAck('subscribe', { topic: 'pub.a' })).ok, true);
    assert.equal((await s.emitWithAck('publish', { topic: 'pub.a', payload: {} })).ok, true);
  } finally {
    s.disconnect();
  }
});

test('one envelope for HTTP publishers, plain WebSocket and Socket.IO subscribers; patterns', async () => {
  const ctx = await setupEnv(srv, ['env.same']);
  const tok = await token(ctx, { sub: 'u', subscribe: ['>'] });
  const s = await connected(client(ctx, { token: tok }, { reconnection: false }));
  const w = await wsConnect(wsUrl(srv, ctx.E, tok));
  try {
    const box = inbox(s, 'env.same');
    assert.deepEqual(await s.emitWithAck('subscribe', { topic: 'env.*' }), { ok: true });
    await w.request({ type: 'subscribe', topic: 'env.same' });
    const { id, seq } = await httpPublish(ctx, 'env.same', { hello: 'world', n: [1, 2.5, null] });
    const [sio] = await box.wait(1);
    const [wsEv] = await w.waitEvents(1);
    const { type, ...wsEnvelope } = wsEv;
    assert.equal(type, 'event');
    assert.deepEqual(sio.env, wsEnvelope);
    assert.equal(sio.env.id, id);
    assert.equal(sio.env.seq, seq);
    const hist = await srv.api('GET', `${ctx.E}/topics/env.same/events?since=0`, undefined, ctx.key);
    assert.deepEqual(hist.json.events[0], sio.env);
  } finally {
    s.disconnect();
    await w.close();
  }
});

test('recovery: a dropped transport reconnects, recovered, missed events once and in order', async () => {
  const ctx = await setupEnv(srv, ['rec.a', 'rec.b']);
  const tok = await token(ctx, { sub: 'u', subscribe: ['rec.>'] });
  const s = await connected(client(ctx, { token: tok }, { reconnectionDelay: 100, reconnectionDelayMax: 200 }));
  try {
    const a = inbox(s, 'rec.a');
    const b = inbox(s, 'rec.b');
    const firstSid = s.id;
    await s.emitWithAck('subscribe', { topic: 'rec.a' });
    await s.emitWithAck('subscribe', { topic: 'rec.b' });
    await httpPublish(ctx, 'rec.a', { n: 1 });
    await a.wait(1);
    // Drop the transport under the socket; publish while it is away.
    const back = new Promise((r) => s.once('connect', r));
    s.io.engine.close();
    for (let n = 2; n <= 6; n++) await httpPublish(ctx, 'rec.a', { n });
    for (let n = 1; n <= 3; n++) await httpPublish(ctx, 'rec.b', { n });
    await back;
    assert.equal(s.recovered, true);
    assert.equal(s.id, firstSid);
    await httpPublish(ctx, 'rec.a', { n: 7 });
    const evs = await a.wait(7);
    await b.wait(3);
    await sleep(300);
    assert.deepEqual(a.events.map((e) => e.env.seq), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(b.events.map((e) => e.env.seq), [1, 2, 3]);
    assert.equal(evs[6].env.payload.n, 7);
  } finally {
    s.disconnect();
  }
});

test('recovery survives a server restart (offset from the event log)', async () => {
  const own = await startServer({});
  let s;
  try {
    const ctx = await setupEnv(own, ['boot.a']);
    const r = await own.api('POST', `${ctx.E}/tokens`, { sub: 'u', subscribe: ['>'] }, ctx.key);
    const tok = r.json.token;
    s = io(`${own.url}/${ctx.app}/${ctx.env}`, { auth: { token: tok }, forceNew: true, transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 400 });
    await connected(s);
    const box = inbox(s, 'boot.a');
    await s.emitWithAck('subscribe', { topic: 'boot.a' });
    const pub = (n) => own.api('POST', `${ctx.E}/topics/boot.a/events`, { payload: { n } }, ctx.key);
    await pub(1);
    await box.wait(1);
    const port = own.port;
    await own.stop();
    const again = await startServer({ dataDir: own.dataDir, args: ['--listen', `127.0.0.1:${port}`] });
    try {
      for (let n = 2; n <= 4; n++) {
        const p = await again.api('POST', `${ctx.E}/topics/boot.a/events`, { payload: { n } }, ctx.key);
        assert.equal(p.status, 201, p.text);
      }
      await new Promise((res) => { if (s.connected) res(); else s.once('connect', res); });
      const deadline = Date.now() + 10000;
      while (box.events.length < 4 && Date.now() < deadline) await sleep(50);
      assert.equal(s.recovered, true);
      assert.deepEqual(box.events.map((e) => e.env.seq), [1, 2, 3, 4]);
    } finally {
      s.disconnect();
      const rr = await again.stop();
      assert.equal(rr.code, 0, again.stderr);
    }
  } finally {
    if (s) s.disconnect();
    await own.stop();
    own.cleanup();
  }
});

test('automatic reconnection without recovery state still works (fresh session)', async () => {
  const ctx = await setupEnv(srv, ['re.a']);
  const tok = await token(ctx, { sub: 'u', subscribe: ['>'] });
  const s = await connected(client(ctx, { token: tok }, { reconnectionDelay: 100, reconnectionDelayMax: 200 }));
  try {
    // No event was received yet, so the client holds no offset; the server
    // still knows the pid and restores the subscription.
    await s.emitWithAck('subscribe', { topic: 're.a' });
    const box = inbox(s, 're.a');
    const back = new Promise((r) => s.once('connect', r));
    s.io.engine.close();
    await httpPublish(ctx, 're.a', { n: 1 });
    await back;
    assert.equal(s.recovered, true);
    await box.wait(1);
    assert.deepEqual(box.events.map((e) => e.env.seq), [1]);
  } finally {
    s.disconnect();
  }
});

test('200 clients each get every event in order', async () => {
  const ctx = await setupEnv(srv, ['fan.out']);
  const tok = await token(ctx, { sub: 'u', subscribe: ['>'] });
  const clients = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    connected(client(ctx, { token: tok }, { reconnection: false, transports: i % 4 === 0 ? ['polling'] : ['websocket'] }))));
  try {
    const boxes = clients.map((c) => inbox(c, 'fan.out'));
    await Promise.all(clients.map((c) => c.emitWithAck('subscribe', { topic: 'fan.out' })));
    for (let n = 1; n <= 20; n++) await httpPublish(ctx, 'fan.out', { n });
    for (const b of boxes) assert.deepEqual((await b.wait(20, 30000)).map((e) => e.env.seq), Array.from({ length: 20 }, (_, i) => i + 1));
  } finally {
    clients.forEach((c) => c.disconnect());
  }
});

// ---------------------------------------------------------------- Engine.IO

const EIO = () => `${srv.url}/socket.io/`;

async function openPolling() {
  const r = await fetch(`${EIO()}?EIO=4&transport=polling`);
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.equal(text[0], '0');
  return JSON.parse(text.slice(1));
}

test('engine.io: handshake carries exactly the five keys, with CORS', async () => {
  const r = await fetch(`${EIO()}?EIO=4&transport=polling&t=abc`, { headers: { origin: 'http://example.com' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  const open = JSON.parse((await r.text()).slice(1));
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, 2000);
  assert.equal(open.pingTimeout, 1500);
  assert.equal(open.maxPayload, 1000000);
  const pre = await fetch(`${EIO()}?EIO=4&transport=polling`, { method: 'OPTIONS', headers: { origin: 'http://x', 'access-control-request-headers': 'content-type' } });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
});

test('engine.io: refusals with the reference error bodies', async () => {
  const expect = async (url, init, status, code) => {
    const r = await fetch(url, init);
    assert.equal(r.status, status, url);
    if (code !== undefined) assert.deepEqual(await r.json(), { code, message: ['Transport unknown', 'Session ID unknown', 'Bad handshake method', 'Bad request', 'Forbidden', 'Unsupported protocol version'][code] });
  };
  await expect(`${EIO()}?transport=polling`, {}, 400, 5);
  await expect(`${EIO()}?EIO=3&transport=polling`, {}, 400, 5);
  await expect(`${EIO()}?EIO=4&transport=carrier-pigeon`, {}, 400, 0);
  await expect(`${EIO()}?EIO=4`, {}, 400, 0);
  await expect(`${EIO()}?EIO=4&transport=polling&sid=unknownSid`, {}, 400, 1);
  await expect(`${EIO()}?EIO=4&transport=polling&sid=bad%20sid`, {}, 400, 1);
  await expect(`${EIO()}?EIO=4&transport=polling`, { method: 'POST', body: '40' }, 400, 2);
  await expect(`${EIO()}?EIO=4&transport=polling`, { method: 'PUT', body: '40' }, 400, 2);
  const { sid } = await openPolling();
  await expect(`${EIO()}?EIO=4&transport=polling&sid=${sid}`, { method: 'DELETE' }, 400, 3);
});

test('engine.io: POST answers ok, GET drains \\x1e-joined packets, ping/pong, oversize 413', async () => {
  const { sid } = await openPolling();
  const url = `${EIO()}?EIO=4&transport=polling&sid=${sid}`;
  let r = await fetch(url, { method: 'POST', body: '2\x1e2\x1e6' });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'ok');
  r = await fetch(url);
  assert.equal(await r.text(), '3\x1e3');
  assert.match(r.headers.get('content-type'), /text\/plain/);
  // Over maxPayload (and under the HTTP body limit).
  r = await fetch(url, { method: 'POST', body: '4' + 'x'.repeat(1000001) });
  assert.equal(r.status, 413);
  // The server pings within pingInterval; answering keeps the session.
  r = await fetch(url);
  assert.equal(await r.text(), '2');
  r = await fetch(url, { method: 'POST', body: '3' });
  assert.equal(r.status, 200);
  // A held GET is released by the close packet with a noop.
  const held = fetch(url);
  await sleep(100);
  r = await fetch(url, { method: 'POST', body: '1' });
  assert.equal(r.status, 200);
  assert.equal(await (await held).text(), '6');
  assert.equal((await fetch(url)).status, 400);
});

test('engine.io: concurrent GET → 400 and close; malformed POST closes; ping timeout closes', async () => {
  let { sid } = await openPolling();
  let url = `${EIO()}?EIO=4&transport=polling&sid=${sid}`;
  const first = fetch(url);
  await sleep(50);
  const second = await fetch(url + '&t=burst');
  assert.equal(second.status, 400);
  assert.equal(await (await first).text(), '1');
  assert.equal((await fetch(url)).status, 400);

  ({ sid } = await openPolling());
  url = `${EIO()}?EIO=4&transport=polling&sid=${sid}`;
  assert.equal((await fetch(url, { method: 'POST', body: 'abc' })).status, 400);
  assert.equal((await fetch(url)).status, 400);

  ({ sid } = await openPolling());
  url = `${EIO()}?EIO=4&transport=polling&sid=${sid}`;
  // Invalid Socket.IO packet inside a valid Engine.IO message: closed.
  assert.equal((await fetch(url, { method: 'POST', body: '4abc' })).status, 200);
  await sleep(100);
  assert.equal((await fetch(url)).status, 400);

  ({ sid } = await openPolling());
  await sleep(2000 + 1500 + 300);
  assert.equal((await fetch(`${EIO()}?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '3' })).status, 400);
});

test('engine.io: upgrade dance over raw requests, then polling with that sid is refused', async () => {
  const { default: WebSocket } = await import('ws');
  const { sid } = await openPolling();
  const url = `${EIO()}?EIO=4&transport=polling&sid=${sid}`;
  const ws = new WebSocket(`${srv.wsUrl}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  const msgs = [];
  let waiters = [];
  ws.on('message', (d) => { msgs.push(d.toString()); waiters.forEach((f) => f()); waiters = []; });
  const next = async () => { while (!msgs.length) await new Promise((r) => waiters.push(r)); return msgs.shift(); };
  await new Promise((r) => ws.once('open', r));
  const held = fetch(url);
  await sleep(50);
  ws.send('2probe');
  assert.equal(await next(), '3probe');
  assert.equal(await (await held).text(), '6');
  ws.send('5');
  await sleep(100);
  assert.equal((await fetch(url)).status, 400);
  const second = new WebSocket(`${srv.wsUrl}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  await new Promise((r) => { second.on('error', r); second.on('close', r); });
  ws.close();
});

test('the server stays healthy after all of it', async () => {
  assert.equal((await srv.api('GET', '/healthz', undefined, null)).status, 200);
});
