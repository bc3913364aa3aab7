// The recovery offset that ends every `event:{topic}` packet
// (docs/internals/socketio.md "Recovery") on both fan-out paths: a socket
// whose only subscription is one exact topic gets the frame shared by every
// such socket (offset "v1~t<tid>:<seq>" of the event), a socket with more
// subscriptions gets its own offset spliced in. Payload sizes cover the three
// WebSocket frame header lengths (RFC 6455 §5.2), and a socket with several
// subscriptions recovers after a server restart from its offset alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, setupEnv } from './lib/server.mjs';
import { sleep, until } from './lib/wait.mjs';

let srv;
before(async () => { srv = await startServer({}); });
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

async function token(server, ctx) {
  const r = await server.api('POST', `${ctx.E}/tokens`, { sub: 'u', subscribe: ['>'] }, ctx.key);
  assert.equal(r.status, 201, r.text);
  return r.json.token;
}

function connected(s) {
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => reject(e));
  });
}

// Every event of s, in arrival order: { topic, env, offset, nargs }.
function collect(s) {
  const events = [];
  s.onAny((name, ...args) => {
    if (name.startsWith('event:')) events.push({ topic: name.slice(6), env: args[0], offset: args[args.length - 1], nargs: args.length });
  });
  return events;
}

// "v1~t1:5~pa.*" -> { t: Map(tid -> seq), p: [patterns] }
function parseOffset(off) {
  assert.match(off, /^v1(~t\d+:\d+|~p[^~]+)*$/);
  const t = new Map();
  const p = [];
  for (const part of off.split('~').slice(1)) {
    if (part[0] === 't') {
      const [tid, seq] = part.slice(1).split(':').map(Number);
      t.set(tid, seq);
    } else {
      p.push(part.slice(1));
    }
  }
  return { t, p };
}

for (const transport of ['websocket', 'polling']) {
  test(`${transport}: shared frame for one exact subscription, own offset for several`, async () => {
    const ctx = await setupEnv(srv, ['o.a', 'o.b']);
    const tok = await token(srv, ctx);
    const url = `${srv.url}/${ctx.app}/${ctx.env}`;
    const opts = { auth: { token: tok }, forceNew: true, transports: [transport], reconnection: false };
    // Several sockets of each kind, so that both kinds share workers.
    const single = await Promise.all([1, 2, 3].map(() => connected(io(url, opts))));
    const multi = await Promise.all([1, 2, 3].map(() => connected(io(url, opts))));
    try {
      const singleEvents = single.map(collect);
      const multiEvents = multi.map(collect);
      for (const s of single) await s.emitWithAck('subscribe', { topic: 'o.a' });
      for (const s of multi) {
        await s.emitWithAck('subscribe', { topic: 'o.a' });
        await s.emitWithAck('subscribe', { topic: 'o.b' });
        await s.emitWithAck('subscribe', { topic: 'o.*' });
      }
      // 2-, 4- and 10-byte frame headers (payload < 126, < 65536, larger).
      const pads = [1, 300, 70000];
      for (const n of pads) {
        const r = await srv.api('POST', `${ctx.E}/topics/o.a/events`, { payload: { pad: 'x'.repeat(n) } }, ctx.key);
        assert.equal(r.status, 201, r.text);
      }
      const rb = await srv.api('POST', `${ctx.E}/topics/o.b/events`, { payload: { pad: 'b' } }, ctx.key);
      assert.equal(rb.status, 201, rb.text);
      await until(() => singleEvents.every((e) => e.length === 3) && multiEvents.every((e) => e.length === 4));
      await sleep(200);

      let tidA;
      for (const evs of singleEvents) {
        assert.deepEqual(evs.map((e) => [e.topic, e.env.seq, e.env.payload.pad.length, e.nargs]),
          [['o.a', 1, 1, 2], ['o.a', 2, 300, 2], ['o.a', 3, 70000, 2]]);
        for (const e of evs) {
          const m = /^v1~t(\d+):(\d+)$/.exec(e.offset);
          assert.ok(m, e.offset);
          assert.equal(Number(m[2]), e.env.seq);
          tidA ??= Number(m[1]);
          assert.equal(Number(m[1]), tidA);
        }
      }
      for (const evs of multiEvents) {
        assert.deepEqual(evs.map((e) => [e.topic, e.env.seq, e.env.payload.pad.length, e.nargs]),
          [['o.a', 1, 1, 2], ['o.a', 2, 300, 2], ['o.a', 3, 70000, 2], ['o.b', 1, 1, 2]]);
        for (const e of evs.slice(0, 3)) {
          const o = parseOffset(e.offset);
          assert.equal(o.t.size, 2);
          assert.equal(o.t.get(tidA), e.env.seq);
          assert.deepEqual(o.p, ['o.*']);
          assert.equal([...o.t.values()].filter((v) => v === 0).length, 1); // o.b: nothing yet
        }
        const last = parseOffset(evs[3].offset);
        assert.equal(last.t.get(tidA), 3);
        assert.deepEqual([...last.t.values()].sort(), [1, 3]);
      }
    } finally {
      for (const s of [...single, ...multi]) s.disconnect();
    }
  });
}

test('a socket with several subscriptions recovers after a server restart from its offset', async () => {
  const own = await startServer({});
  let s;
  try {
    const ctx = await setupEnv(own, ['r.a', 'r.b']);
    const tok = await token(own, ctx);
    s = io(`${own.url}/${ctx.app}/${ctx.env}`, { auth: { token: tok }, forceNew: true, transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 400 });
    await connected(s);
    const evs = collect(s);
    await s.emitWithAck('subscribe', { topic: 'r.a' });
    await s.emitWithAck('subscribe', { topic: 'r.b' });
    const pub = (server, topic, n) => server.api('POST', `${ctx.E}/topics/${topic}/events`, { payload: { n } }, ctx.key);
    await pub(own, 'r.a', 1);
    await pub(own, 'r.b', 1);
    await until(() => evs.length === 2);
    const port = own.port;
    await own.stop();
    const again = await startServer({ dataDir: own.dataDir, args: ['--listen', `127.0.0.1:${port}`] });
    try {
      for (let n = 2; n <= 3; n++) {
        assert.equal((await pub(again, 'r.a', n)).status, 201);
        assert.equal((await pub(again, 'r.b', n)).status, 201);
      }
      await until(() => evs.length === 6);
      await sleep(200);
      assert.equal(s.recovered, true);
      const seqs = (topic) => evs.filter((e) => e.topic === topic).map((e) => e.env.seq);
      assert.deepEqual(seqs('r.a'), [1, 2, 3]);
      assert.deepEqual(seqs('r.b'), [1, 2, 3]);
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
