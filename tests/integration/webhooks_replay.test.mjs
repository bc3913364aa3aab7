// Webhooks: a replay racing an attempt in flight (issue 6, docs/webhooks.md
// "Replay"). A slow receiver holds the first attempt of an event; the replay
// arrives while it is held. The receiver must never see two overlapping
// requests for one webhook-id, and the replayed delivery must arrive after
// the first one has been answered (it used to be overwritten by the first
// attempt's outcome and lost).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, setupEnv } from './lib/server.mjs';
import { sleep, until } from './lib/wait.mjs';

const HOLD_MS = 2500; // the first attempt of each webhook-id is answered this late

// Records, per webhook-id, every request as [start, end] and the largest
// number of requests for that id open at once.
async function slowReceiver() {
  const r = { per: new Map(), open: new Map(), overlap: 0, sockets: new Set() };
  r.server = http.createServer((req, res) => {
    const id = req.headers['webhook-id'];
    const open = (r.open.get(id) || 0) + 1;
    r.open.set(id, open);
    if (open > 1) r.overlap += 1;
    const rec = { start: Date.now(), end: 0 };
    const list = r.per.get(id) || [];
    list.push(rec);
    r.per.set(id, list);
    req.resume();
    req.on('end', async () => {
      if (list.length === 1) await sleep(HOLD_MS);
      rec.end = Date.now();
      r.open.set(id, r.open.get(id) - 1);
      res.writeHead(204);
      res.end();
    });
  });
  r.server.on('connection', (s) => { r.sockets.add(s); s.on('close', () => r.sockets.delete(s)); });
  await new Promise((ok) => r.server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${r.server.address().port}/hook`;
  r.close = () => { for (const s of r.sockets) s.destroy(); r.server.close(); };
  return r;
}

async function stopClean(srv) {
  const st = await srv.stop();
  assert.doesNotMatch(srv.stderr, /Sanitizer|runtime error/, srv.stderr.slice(-6000));
  assert.equal(st.code, 0, 'clean exit');
}

// Publishes one event, waits until its first attempt is being held, replays
// it with `body(event)`, and checks the outcome.
async function raceReplay(body) {
  const rc = await slowReceiver();
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['rr.t']);
    const t0 = new Date(Date.now() - 1000).toISOString();
    let r = await srv.api('POST', `${E}/webhooks/endpoints`, { url: rc.url, topics: ['rr.t'] });
    assert.equal(r.status, 201, r.text);
    const ep = r.json;
    r = await srv.api('POST', `${E}/topics/rr.t/events`, { payload: { n: 1 } });
    assert.equal(r.status, 201, r.text);
    const ev = r.json;
    await until(() => rc.per.get(ev.id)?.length === 1, 5000, 'the first attempt');
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, body(ev, t0));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.count, 1);
    assert.equal(rc.per.get(ev.id)[0].end, 0,
      `the replay was made while the first attempt was held: ${JSON.stringify(rc.per.get(ev.id))}`);
    await until(() => rc.per.get(ev.id).length >= 2, HOLD_MS + 5000, 'the replayed delivery');
    await sleep(300); // room for a third request, which must not come
    const reqs = rc.per.get(ev.id);
    assert.equal(rc.overlap, 0, 'two requests for one webhook-id were open at once');
    assert.equal(reqs.length, 2, `the first attempt and one replay: ${JSON.stringify(reqs)}`);
    assert.ok(reqs[1].start >= reqs[0].end, 'the replay starts after the first attempt is answered');
    // Both outcomes are recorded: the raced attempt's and the replay's.
    await until(async () => {
      const log = (await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}/attempts`)).json;
      return log.items.filter((a) => a.eventId === ev.id && a.success).length === 2;
    }, 5000, 'two successful attempts in the log');
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
}

test('replay by eventId while its attempt is in flight: no overlap, the replay is not lost', async () => {
  await raceReplay((ev) => ({ eventId: ev.id }));
});

test('replay since a time while an attempt is in flight: no overlap, the replay is not lost', async () => {
  await raceReplay((ev, t0) => ({ since: t0 }));
});

test('onlyFailed goes with since, not with eventId', async () => {
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['rr.t']);
    let r = await srv.api('POST', `${E}/webhooks/endpoints`, { url: 'http://127.0.0.1:9/x', topics: ['rr.t'] });
    assert.equal(r.status, 201, r.text);
    const ep = r.json;
    r = await srv.api('POST', `${E}/topics/rr.t/events`, { payload: { n: 1 } });
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, { eventId: r.json.id, onlyFailed: true });
    assert.equal(r.status, 400, r.text);
  } finally {
    await stopClean(srv);
    srv.cleanup();
  }
});
