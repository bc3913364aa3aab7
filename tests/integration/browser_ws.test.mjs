// A real browser: headless Chromium (Debian's package, driven by
// playwright-core) opens a page that subscribes over WebSocket and renders
// every event it receives; the test publishes over HTTP and reads the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer, setupEnv } from './lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let srv;
before(async () => { srv = await startServer(); });
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

test('a page subscribes and renders received events', async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium is required at ${CHROMIUM} (scripts/deps.sh installs it)`);
  const ctx = await setupEnv(srv, ['session.status']);
  const tok = await srv.api('POST', `${ctx.E}/tokens`, { sub: 'browser', subscribe: ['session.*'], publish: [] }, ctx.key);
  const url = `${srv.wsUrl}${ctx.E}/ws?token=${encodeURIComponent(tok.json.token)}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.setContent(`<!doctype html><html><body><h1>Sessions</h1><ul id="events"></ul>
      <p id="state">connecting</p>
      <script>
        const ws = new WebSocket(${JSON.stringify(url)}, 'realtime.v1');
        ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', id: 's', topic: 'session.status' }));
        ws.onmessage = (m) => {
          const msg = JSON.parse(m.data);
          if (msg.type === 'ack') document.getElementById('state').textContent = 'subscribed';
          if (msg.type === 'event') {
            const li = document.createElement('li');
            li.textContent = msg.seq + ':' + msg.payload.sessionId + ':' + msg.payload.status;
            document.getElementById('events').appendChild(li);
          }
        };
      </script></body></html>`);
    await page.waitForFunction(() => document.getElementById('state').textContent.startsWith('subscribed'), null, { timeout: 10000 });
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
