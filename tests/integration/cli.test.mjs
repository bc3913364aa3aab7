// The command line: help texts, refusals of bad option values (exit 2 with a
// message naming the option), and an option taking effect on a real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import { BIN, startServer, setupEnv } from './lib/server.mjs';

const run = (...args) => spawnSync(BIN, args, { encoding: 'utf8', timeout: 20000 });

test('realtime --help and serve --help exit 0 and describe every option', () => {
  const top = run('--help');
  assert.equal(top.status, 0, top.stderr);
  assert.match(top.stdout, /realtime serve \[options\]/);
  const serve = run('serve', '--help');
  assert.equal(serve.status, 0, serve.stderr);
  const help = serve.stdout + serve.stderr;
  for (const flag of ['--listen', '--data', '--workers', '--flush-pacing-max-ms', '--ws-send-queue-bytes',
    '--socketio-conformance', '--webhook-retry-schedule']) {
    assert.ok(help.includes(flag), `serve --help mentions ${flag}`);
  }
});

test('bad option values exit 2 and name the option', () => {
  for (const [flag, value] of [['--flush-pacing-max-ms', '-1'], ['--flush-pacing-max-ms', 'soon'],
    ['--workers', '0'], ['--max-body-bytes', '12x']]) {
    const r = run('serve', flag, value, '--listen', '127.0.0.1:0', '--data', '/nonexistent/never');
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    assert.ok(r.stderr.includes(flag), `${flag} ${value}: ${r.stderr}`);
  }
  const unknown = run('serve', '--no-such-option');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no-such-option/);
});

test('--flush-pacing-max-ms 0 (pacing off): events still reach every subscriber in order', async () => {
  const srv = await startServer({ args: ['--flush-pacing-max-ms', '0'] });
  try {
    const { E, key } = await setupEnv(srv, ['cli.t']);
    const url = `${srv.wsUrl}${E}/ws?token=${key}`;
    const clients = await Promise.all(Array.from({ length: 150 }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const got = [];
      ws.on('message', (m) => {
        const f = JSON.parse(m);
        if (f.type === 'ack' && f.id === 's') resolve({ ws, got });
        if (f.type === 'event') got.push(f.seq);
      });
      ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topic: 'cli.t', id: 's' })));
      ws.on('error', reject);
    })));
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
