// The browser build of socket.io-client in headless Chromium: a page
// connects to an environment's namespace, subscribes, and renders the events
// it receives; the test publishes over HTTP and reads the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, setupEnv } from './lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const require = createRequire(import.meta.url);
const CLIENT = join(dirname(require.resolve('socket.io-client/package.json')), 'dist/socket.io.min.js');
let srv;
before(async () => { srv = await startServer(); });
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

test('a page with the browser socket.io-client subscribes and renders events', async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium is required at ${CHROMIUM} (scripts/deps.sh installs it)`);
  const ctx = await setupEnv(srv, ['session.status']);
  const tok = await srv.api('POST', `${ctx.E}/tokens`, { sub: 'browser', subscribe: ['session.*'], publish: [] }, ctx.key);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html><body><ul id="events"></ul><p id="state">connecting</p></body></html>');
    await page.addScriptTag({ path: CLIENT });
    await page.evaluate(({ url, token }) => {
      const socket = window.io(url, { auth: { token } });
      socket.on('connect', async () => {
        const ack = await socket.emitWithAck('subscribe', { topic: 'session.status' });
        document.getElementById('state').textContent = ack.ok ? 'subscribed' : 'refused';
      });
      socket.on('event:session.status', (ev) => {
        const li = document.createElement('li');
        li.textContent = `${ev.seq}:${ev.payload.sessionId}:${ev.payload.status}`;
        document.getElementById('events').appendChild(li);
      });
    }, { url: `${srv.url}/${ctx.app}/${ctx.env}`, token: tok.json.token });
    await page.waitForFunction(() => document.getElementById('state').textContent === 'subscribed', null, { timeout: 10000 });
    for (const [id, status] of [['s_1', 'active'], ['s_2', 'active'], ['s_1', 'ended']]) {
      const r = await srv.api('POST', `${ctx.E}/topics/session.status/events`, { payload: { sessionId: id, status } }, ctx.key);
      assert.equal(r.status, 201);
    }
    await page.waitForFunction(() => document.querySelectorAll('#events li').length === 3, null, { timeout: 10000 });
    const items = await page.$$eval('#events li', (lis) => lis.map((li) => li.textContent));
    assert.deepEqual(items, ['1:s_1:active', '2:s_2:active', '3:s_1:ended']);
  } finally {
    await browser.close();
  }
});
