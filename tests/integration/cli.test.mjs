// The command line: help texts, refusals of bad option values (exit 2 with a
// message naming the option), and an option taking effect on a real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import { BIN, startServer, setupEnv } from './lib/server.mjs';
import { until } from './lib/wait.mjs';

const run = (...args) => spawnSync(BIN, args, { encoding: 'utf8', timeout: 20000 });

test('realtime --help and serve --help exit 0 and describe every option', () => {
  const top = run('--help');
  assert.equal(top.status, 0, top.stderr);
  assert.match(top.stdout, /realtime serve \[options\]/);
  const serve = run('serve', '--help');
  assert.equal(serve.status, 0, serve.stderr);
  const help = serve.stdout + serve.stderr;
  for (const flag of ['--listen', '--data', '--workers', '--flush-pacing-max-ms', '--io-uring', '--ws-send-queue-bytes',
    '--socketio-conformance', '--webhook-retry-schedule']) {
    assert.ok(help.includes(flag), `serve --help mentions ${flag}`);
  }
});

test('bad option values exit 2 and name the option', () => {
  for (const [flag, value] of [['--flush-pacing-max-ms', '-1'], ['--flush-pacing-max-ms', 'soon'],
    ['--workers', '0'], ['--max-body-bytes', '12x'], ['--io-uring', 'yes']]) {
    const r = run('serve', flag, value, '--listen', '127.0.0.1:0', '--data', '/nonexistent/never');
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    assert.ok(r.stderr.includes(flag), `${flag} ${value}: ${r.stderr}`);
  }
  const unknown = run('serve', '--no-such-option');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no-such-option/);
});

// n WebSocket clients subscribed to topic; each records the seqs it receives.
const subscribers = (url, topic, n) => Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
  const ws = new WebSocket(url, { maxPayload: 1 << 20 });
  const got = [];
  ws.on('message', (m) => {
    const f = JSON.parse(m);
    if (f.type === 'ack' && f.id === 's') resolve({ ws, got });
    if (f.type === 'event') got.push(f.seq);
  });
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topic, id: 's' })));
  ws.on('error', reject);
})));

test('--flush-pacing-max-ms 0 (pacing off): events still reach every subscriber in order', async () => {
  const srv = await startServer({ args: ['--flush-pacing-max-ms', '0'] });
  try {
    const { E, key } = await setupEnv(srv, ['cli.t']);
    const url = `${srv.wsUrl}${E}/ws?token=${key}`;
    const clients = await subscribers(url, 'cli.t', 150);
    for (let i = 0; i < 20; i++) {
      const r = await srv.api('POST', `${E}/topics/cli.t/events`, { payload: { i } });
      assert.equal(r.status, 201, r.text);
    }
    const want = Array.from({ length: 20 }, (_, i) => i + 1);
    const end = Date.now() + 10000;
    while (clients.some((c) => c.got.length < 20) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    for (const c of clients) {
      assert.deepEqual(c.got, want);
      c.ws.close();
    }
  } finally {
    const st = await srv.stop();
    srv.cleanup();
    assert.equal(st.code, 0, srv.stderr.slice(-3000));
  }
});

// A fan-out round writes to many connections at once (batched through
// io_uring when on). One reader among them stops reading: its kernel buffer
// fills (a send writes only what fits and the rest waits for POLLOUT) while
// the others keep receiving. Once it reads again it gets every
// event, in order, exactly once. Both write paths must behave the same.
for (const mode of ['on', 'off']) {
  test(`--io-uring ${mode}: a stalled reader in a large fan-out catches up exactly, the others never wait`, async () => {
    const srv = await startServer({ args: ['--io-uring', mode, '--ws-send-queue-bytes', String(64 << 20)] });
    try {
      const { E, key } = await setupEnv(srv, ['stall.t']);
      const url = `${srv.wsUrl}${E}/ws?token=${key}`;
      const clients = await subscribers(url, 'stall.t', 12);
      const stalled = clients[5];
      stalled.ws._socket.pause();
      const total = 256;
      const pad = 'y'.repeat(32 * 1024); // 8 MiB in all: more than the kernel buffers hold
      for (let i = 0; i < total; i += 16) {
        const r = await srv.api('POST', `${E}/events`, Array.from({ length: 16 }, (_, k) => ({ topic: 'stall.t', payload: { i: i + k, pad } })), key);
        assert.equal(r.status, 200, r.text);
      }
      const want = Array.from({ length: total }, (_, i) => i + 1);
      const others = clients.filter((c) => c !== stalled);
      await until(() => others.every((c) => c.got.length >= total), 20000, 'every other reader to get all events');
      for (const c of others) assert.deepEqual(c.got, want);
      assert.ok(stalled.got.length < total, `the stalled reader was really stalled (${stalled.got.length} events read)`);
      stalled.ws._socket.resume();
      await until(() => stalled.got.length >= total, 20000, 'the stalled reader to catch up');
      assert.deepEqual(stalled.got, want);
      for (const c of clients) c.ws.close();
      // Which path ran is said at start-up (on falls back where the kernel refuses io_uring).
      assert.match(srv.stderr, mode === 'on' ? /io_uring state=(on|unavailable)/ : /^(?![\s\S]*io_uring)/);
    } finally {
      const st = await srv.stop();
      srv.cleanup();
      assert.equal(st.code, 0, srv.stderr.slice(-3000));
    }
  });
}
