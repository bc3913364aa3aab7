// Webhooks (issue 6, ARCHITECTURE §5.6): a real HTTP receiver on loopback that
// verifies every request with the stock `standardwebhooks` verifier; endpoint
// CRUD and validation; delivery and body; topic patterns; retries; Retry-After;
// 410; auto-disable; ordered delivery; replay; secret rotation; SSRF refusals;
// timeouts; and kill -9 while 1,000 acknowledged events are being delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { startServer, setupEnv } from './lib/server.mjs';
import { sleep, until } from './lib/wait.mjs';

// A receiver: behave(req, body, n) returns {status, headers, delayMs, hang}
// (n counts requests per webhook-id, from 1). Every request is verified with
// standardwebhooks against receiver.secrets (any of them may verify).
async function receiver(behave = () => ({ status: 204 })) {
  const r = { got: [], secrets: [], per: new Map(), behave, sockets: new Set(), active: 0, peak: 0 };
  r.server = http.createServer((req, res) => {
    r.active += 1;
    r.peak = Math.max(r.peak, r.active);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      const id = req.headers['webhook-id'];
      const n = (r.per.get(id) || 0) + 1;
      r.per.set(id, n);
      const verified = r.secrets.map((s) => {
        try { new Webhook(s).verify(body, req.headers); return true; } catch { return false; }
      });
      r.got.push({ at: Date.now(), headers: req.headers, body, n, verified, event: JSON.parse(body) });
      const b = r.behave(req, body, n) || { status: 204 };
      if (b.hang) return;
      if (b.delayMs) await sleep(b.delayMs);
      r.active -= 1; // answered: the sender may now start another
      res.writeHead(b.status, b.headers || {});
      res.end(b.body || '');
    });
  });
  r.server.on('connection', (s) => { r.sockets.add(s); s.on('close', () => r.sockets.delete(s)); });
  await new Promise((ok) => r.server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${r.server.address().port}/hook`;
  r.close = () => { for (const s of r.sockets) s.destroy(); r.server.close(); };
  return r;
}

async function endpoint(srv, E, body) {
  const r = await srv.api('POST', `${E}/webhooks/endpoints`, body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function publish(srv, E, topic, payload) {
  const r = await srv.api('POST', `${E}/topics/${topic}/events`, { payload });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// Stops the server and checks it exited cleanly (no sanitizer report).
async function stopClean(srv) {
  const st = await srv.stop();
  assert.doesNotMatch(srv.stderr, /Sanitizer|runtime error/, srv.stderr.slice(-6000));
  assert.equal(st.code, 0, 'clean exit');
}

const attempts = async (srv, E, id, q = '') =>
  (await srv.api('GET', `${E}/webhooks/endpoints/${id}/attempts${q}`)).json;

test('endpoint CRUD with per-field validation; secret shown on create and via /secret', async () => {
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E, key } = await setupEnv(srv, ['order.created']);
    let r = await srv.api('POST', `${E}/webhooks/endpoints`, {
      url: 'ftp://x', topics: ['Bad Topic'], enabled: 'yes', rateLimit: -1, secret: 'whsec_short',
      headers: { 'webhook-id': 'x' }, bogus: 1,
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_field');
    const fields = r.json.error.details.map((d) => d.field).sort();
    assert.deepEqual(fields, ['bogus', 'enabled', 'headers', 'rateLimit', 'secret', 'topics', 'url']);
    r = await srv.api('POST', `${E}/webhooks/endpoints`, {});
    assert.deepEqual(r.json.error.details.map((d) => d.field).sort(), ['topics', 'url']);

    const given = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const ep = await endpoint(srv, E, {
      url: 'https://example.com/hooks', topics: ['session.status', 'order.*'], description: 'd',
      headers: { 'x-team': 'a' }, rateLimit: 10, ordered: false, secret: given,
    });
    assert.match(ep.id, /^ep_/);
    assert.equal(ep.secret, given);
    const gen = await endpoint(srv, E, { url: 'http://example.com/x', topics: ['a.>'] });
    assert.match(gen.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
    assert.ok(Buffer.from(gen.secret.slice(6), 'base64').length >= 24);

    r = await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}`, undefined, key);
    assert.equal(r.status, 200);
    assert.equal(r.json.secret, undefined, 'GET never shows the secret');
    assert.deepEqual(r.json.topics, ['session.status', 'order.*']);
    r = await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}/secret`, undefined, key);
    assert.equal(r.json.secret, given);
    r = await srv.api('PATCH', `${E}/webhooks/endpoints/${ep.id}`, { description: 'new', enabled: false });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.description, 'new');
    assert.equal(r.json.enabled, false);
    r = await srv.api('PATCH', `${E}/webhooks/endpoints/${ep.id}`, { secret: given });
    assert.equal(r.status, 400);
    r = await srv.api('GET', `${E}/webhooks/endpoints`);
    assert.deepEqual(r.json.items.map((i) => i.id), [ep.id, gen.id]);
    r = await srv.api('GET', `${E}/webhooks/endpoints?limit=1`);
    assert.equal(r.json.items.length, 1);
    r = await srv.api('DELETE', `${E}/webhooks/endpoints/${gen.id}`);
    assert.equal(r.status, 204);
    r = await srv.api('GET', `${E}/webhooks/endpoints/${gen.id}`);
    assert.equal(r.status, 404);

    // Survives a restart.
    await srv.stop();
    const srv2 = await startServer({ dataDir: srv.dataDir, args: ['--webhook-allow-private'] });
    r = await srv2.api('GET', `${E}/webhooks/endpoints/${ep.id}/secret`);
    assert.equal(r.json.secret, given);
    r = await srv2.api('GET', `${E}/webhooks/endpoints`);
    assert.equal(r.json.items.length, 1);
    await srv2.stop();
  } finally {
    await stopClean(srv);
    srv.cleanup();
  }
});

test('delivery: signed per Standard Webhooks, body = the stored envelope, topic patterns', async () => {
  const rc = await receiver();
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['session.status', 'order.created', 'order.item.added', 'other.x']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['session.status', 'order.*'], headers: { 'x-extra': 'yes' } });
    rc.secrets = [ep.secret];
    const a = await publish(srv, E, 'session.status', { s: 1 });
    const b = await publish(srv, E, 'order.created', { o: 2 });
    await publish(srv, E, 'order.item.added', { no: 1 }); // order.* is one segment only
    await publish(srv, E, 'other.x', { no: 2 });
    await until(() => rc.got.length >= 2, 5000, 'two deliveries');
    await sleep(300);
    assert.equal(rc.got.length, 2, 'only the matching topics');
    const ids = rc.got.map((g) => g.headers['webhook-id']).sort();
    assert.deepEqual(ids, [a.id, b.id].sort());
    for (const g of rc.got) {
      assert.deepEqual(g.verified, [true], 'standardwebhooks verifies it');
      assert.match(g.headers['user-agent'], /^realtime\/\S+$/);
      assert.equal(g.headers['content-type'], 'application/json');
      assert.equal(g.headers['x-extra'], 'yes');
      assert.ok(Math.abs(Number(g.headers['webhook-timestamp']) - Date.now() / 1000) < 10);
      assert.equal(g.event.id, g.headers['webhook-id']);
    }
    const hist = await srv.api('GET', `${E}/topics/session.status/events`);
    const env = hist.json.events[0];
    const got = rc.got.find((g) => g.event.id === a.id);
    assert.deepEqual(got.event, env, 'the body is the envelope');
    assert.equal(got.body, JSON.stringify(env), 'byte for byte');
    const log = await attempts(srv, E, ep.id);
    assert.equal(log.items.length, 2);
    assert.ok(log.items.every((i) => i.statusCode === 204 && i.success && i.attempt === 1));
    const m = await (await fetch(srv.url + '/metrics')).text();
    assert.match(m, /rt_webhook_deliveries_total\{result="delivered"\} 2/);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('retries: a receiver failing twice gets the same webhook-id three times', async () => {
  const rc = await receiver((req, body, n) => ({ status: n <= 2 ? 500 : 200, body: n <= 2 ? 'boom' : 'ok' }));
  const srv = await startServer({ args: ['--webhook-allow-private', '--webhook-retry-schedule', '0,1,1,1'] });
  try {
    const { E } = await setupEnv(srv, ['r.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['r.t'] });
    rc.secrets = [ep.secret];
    const ev = await publish(srv, E, 'r.t', { x: 1 });
    await until(() => rc.got.length >= 3, 10000, 'three attempts');
    assert.ok(rc.got.every((g) => g.headers['webhook-id'] === ev.id && g.verified[0]));
    const gap = rc.got[1].at - rc.got[0].at;
    assert.ok(gap >= 700 && gap < 3000, `retry after ~1 s ±20% (got ${gap} ms)`);
    const log = await until(async () => {
      const l = await attempts(srv, E, ep.id);
      return l.items.length === 3 && l;
    }, 3000, 'three attempts logged');
    assert.deepEqual(log.items.map((i) => i.statusCode), [200, 500, 500]);
    assert.deepEqual(log.items.map((i) => i.attempt), [3, 2, 1]);
    assert.equal(log.items[1].response, 'boom');
    const failed = await attempts(srv, E, ep.id, '?status=failure');
    assert.equal(failed.items.length, 2);
    const page = await attempts(srv, E, ep.id, '?limit=2');
    assert.equal(page.items.length, 2);
    const rest = await attempts(srv, E, ep.id, `?limit=2&after=${page.next}`);
    assert.deepEqual(rest.items.map((i) => i.attempt), [1]);
    await sleep(1500);
    assert.equal(rc.got.length, 3, 'no attempt after success');
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('after the last attempt the delivery is failed', async () => {
  const rc = await receiver(() => ({ status: 500 }));
  const srv = await startServer({ args: ['--webhook-allow-private', '--webhook-retry-schedule', '0,0,0'] });
  try {
    const { E } = await setupEnv(srv, ['f.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['f.t'] });
    rc.secrets = [ep.secret];
    await publish(srv, E, 'f.t', 1);
    await until(() => rc.got.length >= 3, 5000, 'three attempts');
    await sleep(800);
    assert.equal(rc.got.length, 3, 'exactly the scheduled attempts');
    const m = await (await fetch(srv.url + '/metrics')).text();
    assert.match(m, /rt_webhook_deliveries_total\{result="failed"\} 1/);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('Retry-After on 429 is honoured', async () => {
  const rc = await receiver((req, body, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 204 }));
  const srv = await startServer({ args: ['--webhook-allow-private', '--webhook-retry-schedule', '0,60'] });
  try {
    const { E } = await setupEnv(srv, ['ra.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['ra.t'] });
    rc.secrets = [ep.secret];
    await publish(srv, E, 'ra.t', 1);
    await until(() => rc.got.length >= 2, 8000, 'the second attempt');
    const gap = rc.got[1].at - rc.got[0].at;
    assert.ok(gap >= 1900 && gap < 4000, `second attempt after Retry-After 2 s, not 60 s (got ${gap})`);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('410 disables the endpoint', async () => {
  const rc = await receiver(() => ({ status: 410 }));
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['g.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['g.t'] });
    await publish(srv, E, 'g.t', 1);
    const disabled = await until(async () => {
      const r = await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}`);
      return r.json.enabled === false && r.json;
    }, 5000, 'disabled');
    assert.match(disabled.disabledReason, /410/);
    await publish(srv, E, 'g.t', 2);
    await sleep(500);
    assert.equal(rc.got.length, 1, 'nothing is sent to a disabled endpoint');
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('the auto-disable window survives a restart (it starts at the first failure, not at start-up)', async () => {
  const rc = await receiver(() => ({ status: 500 }));
  const args = ['--webhook-allow-private', '--webhook-disable-after-s', '8', '--webhook-retry-schedule', '0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1'];
  let srv = await startServer({ args });
  const dataDir = srv.dataDir;
  try {
    const { E } = await setupEnv(srv, ['adr.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['adr.t'] });
    await publish(srv, E, 'adr.t', 1);
    await until(() => rc.got.length >= 1, 5000, 'first failing attempt');
    const first = rc.got[0].at;
    await sleep(6000 - (Date.now() - first));
    const before = await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}`);
    assert.equal(before.json.enabled, true, 'still enabled inside the window');
    await stopClean(srv);
    srv = await startServer({ args, dataDir });
    await until(async () => {
      const r = await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}`);
      return r.json.enabled === false;
    }, 12000, 'auto-disabled after the restart');
    // Counted from the first failure (~8 s), not from the restart (>= 14 s).
    const took = Date.now() - first;
    assert.ok(took < 12500, `disabled ${took} ms after the first failure`);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('an endpoint failing for the whole window is disabled and the environment hears of it', async () => {
  const rc = await receiver(() => ({ status: 500 }));
  const srv = await startServer({
    args: ['--webhook-allow-private', '--webhook-disable-after-s', '1', '--webhook-retry-schedule', '0,1,1,1,1,1'],
  });
  try {
    const { E } = await setupEnv(srv, ['ad.t', 'webhook.endpoint.disabled']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['ad.t'] });
    await publish(srv, E, 'ad.t', 1);
    const disabled = await until(async () => {
      const r = await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}`);
      return r.json.enabled === false && r.json;
    }, 8000, 'auto-disabled');
    assert.match(disabled.disabledReason, /failing/);
    const h = await until(async () => {
      const r = await srv.api('GET', `${E}/topics/webhook.endpoint.disabled/events`);
      return r.json.events.length === 1 && r.json;
    }, 3000, 'the disabled event');
    assert.equal(h.events[0].payload.endpointId, ep.id);
    // Re-enabling lets the pending delivery go again.
    rc.behave = () => ({ status: 204 });
    const before = rc.got.length;
    await srv.api('PATCH', `${E}/webhooks/endpoints/${ep.id}`, { enabled: true });
    await until(() => rc.got.length > before, 5000, 'delivery after re-enable');
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('ordered endpoint keeps seq order through failures', async () => {
  const rc = await receiver((req, body, n) => {
    const ev = JSON.parse(body);
    return { status: ev.seq === 2 && n <= 2 ? 503 : 204 };
  });
  const srv = await startServer({ args: ['--webhook-allow-private', '--webhook-retry-schedule', '0,1,1,1'] });
  try {
    const { E } = await setupEnv(srv, ['o.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['o.t'], ordered: true });
    rc.secrets = [ep.secret];
    for (let i = 1; i <= 6; i++) await publish(srv, E, 'o.t', i);
    await until(() => rc.got.length >= 8, 10000, 'all delivered');
    await sleep(300);
    const seqs = rc.got.map((g) => g.event.seq);
    assert.deepEqual(seqs, [1, 2, 2, 2, 3, 4, 5, 6], 'later events wait behind the failing one');
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('rateLimit paces deliveries; the per-endpoint concurrency cap holds', async () => {
  const rc = await receiver(() => ({ status: 204, delayMs: 200 }));
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['rl.t', 'cc.t']);
    const slow = await endpoint(srv, E, { url: rc.url, topics: ['rl.t'], rateLimit: 5 });
    await endpoint(srv, E, { url: rc.url, topics: ['cc.t'] });
    const items = Array.from({ length: 10 }, (_, i) => ({ topic: 'rl.t', payload: i }));
    await srv.api('POST', `${E}/events`, items);
    await until(() => rc.got.length >= 10, 10000, 'rate-limited deliveries');
    const span = rc.got[9].at - rc.got[0].at;
    assert.ok(span >= 1200, `10 deliveries at 5/s take > 1.2 s (took ${span})`);
    assert.ok(slow.rateLimit === 5);
    await sleep(400); // the last rate-limited answers go out first
    rc.peak = 0;
    const burst = Array.from({ length: 60 }, (_, i) => ({ topic: 'cc.t', payload: i }));
    await srv.api('POST', `${E}/events`, burst);
    await until(() => rc.got.length >= 70, 15000, 'burst deliveries');
    assert.ok(rc.peak <= 16 && rc.peak >= 4, `concurrency cap 16 (peak ${rc.peak})`);
    const m = await (await fetch(srv.url + '/metrics')).text();
    assert.match(m, /rt_webhook_queue_depth \d+/);
    assert.match(m, /rt_webhook_oldest_pending_seconds \d+/);
    assert.match(m, /rt_webhook_attempt_seconds_bucket/);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('replay one event by id, and everything since a time', async () => {
  const rc = await receiver();
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['rp.t']);
    const t0 = new Date(Date.now() - 1000).toISOString();
    const early = await publish(srv, E, 'rp.t', 0); // before the endpoint exists
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['rp.t'] });
    rc.secrets = [ep.secret];
    const evs = [];
    for (let i = 0; i < 3; i++) evs.push(await publish(srv, E, 'rp.t', i));
    await until(() => rc.got.length >= 3, 5000, 'first deliveries');
    let r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, { eventId: evs[1].id });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.count, 1);
    await until(() => rc.got.length >= 4, 5000, 'replayed event');
    assert.equal(rc.got[3].headers['webhook-id'], evs[1].id);
    assert.ok(rc.got[3].verified[0]);
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, { eventId: early.id });
    assert.equal(r.json.count, 1, 'an event from before the endpoint can be replayed too');
    await until(() => rc.got.some((g) => g.headers['webhook-id'] === early.id), 5000, 'early event');
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, { since: t0, onlyFailed: true });
    assert.equal(r.json.count, 0);
    const before = rc.got.length;
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, { since: t0 });
    assert.equal(r.json.count, 4);
    await until(() => rc.got.length >= before + 4, 5000, 'replay since');
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, { since: 'yesterday' });
    assert.equal(r.status, 400);
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/replay`, { eventId: 'evt_nope' });
    assert.equal(r.status, 404);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('secret rotation: both signatures verify during the overlap', async () => {
  const rc = await receiver();
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['s.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['s.t'] });
    const r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/rotate-secret`);
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.secret, ep.secret);
    rc.secrets = [ep.secret, r.json.secret];
    await publish(srv, E, 's.t', 1);
    await until(() => rc.got.length >= 1, 5000, 'delivery');
    const sig = rc.got[0].headers['webhook-signature'].split(' ');
    assert.equal(sig.length, 2);
    assert.ok(sig.every((s) => s.startsWith('v1,')));
    assert.deepEqual(rc.got[0].verified, [true, true], 'old and new secret each verify');
    // Each signature is the one of its own secret.
    const only = (s) => ({ ...rc.got[0].headers, 'webhook-signature': s });
    assert.doesNotThrow(() => new Webhook(r.json.secret).verify(rc.got[0].body, only(sig[0])));
    assert.doesNotThrow(() => new Webhook(ep.secret).verify(rc.got[0].body, only(sig[1])));
    const s2 = await srv.api('GET', `${E}/webhooks/endpoints/${ep.id}/secret`);
    assert.equal(s2.json.secret, r.json.secret);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('test event: sent now, the attempt is returned', async () => {
  const rc = await receiver(() => ({ status: 202, body: 'thanks' }));
  const srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, []);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['x.y'] });
    rc.secrets = [ep.secret];
    const r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/test`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.statusCode, 202);
    assert.equal(r.json.response, 'thanks');
    assert.equal(r.json.success, true);
    assert.equal(rc.got[0].event.topic, 'webhook.test');
    assert.ok(rc.got[0].verified[0]);
    const log = await until(async () => (await attempts(srv, E, ep.id)).items.length === 1, 3000, 'logged');
    assert.ok(log);
    assert.equal((await srv.api('POST', `${E}/webhooks/endpoints/ep_nope/test`)).status, 404);
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('SSRF guard refuses loopback, private, link-local and [::1] unless allowed', async () => {
  const rc = await receiver();
  const srv = await startServer();
  try {
    const { E } = await setupEnv(srv, []);
    const port = new URL(rc.url).port;
    for (const host of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '[::1]', 'localhost']) {
      const ep = await endpoint(srv, E, { url: `http://${host}:${port}/hook`, topics: ['x.y'] });
      const r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/test`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.statusCode, null, host);
      assert.match(r.json.error, /ssrf_blocked/, host);
      assert.ok(r.json.latencyMs < 2000, 'refused before any connection');
    }
    assert.equal(rc.got.length, 0, 'nothing reached the receiver');
  } finally {
    await stopClean(srv);
    srv.cleanup();
  }
  // An allow-list CIDR opens exactly that range.
  const srv2 = await startServer({ args: ['--webhook-allow-cidrs', '127.0.0.0/8'] });
  try {
    const { E } = await setupEnv(srv2, []);
    const ep = await endpoint(srv2, E, { url: rc.url, topics: ['x.y'] });
    const r = await srv2.api('POST', `${E}/webhooks/endpoints/${ep.id}/test`);
    assert.equal(r.json.statusCode, 204, r.text);
  } finally {
    await stopClean(srv2);
    srv2.cleanup();
    rc.close();
  }
});

test('a receiver that hangs is cut at the timeout; redirects are not followed', async () => {
  const rc = await receiver((req) => (req.url === '/redirect' ? { status: 302, headers: { location: '/hook' } } : { hang: true }));
  const srv = await startServer({ args: ['--webhook-allow-private', '--webhook-timeout-ms', '1000'] });
  try {
    const { E } = await setupEnv(srv, []);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['x.y'] });
    const t0 = Date.now();
    let r = await srv.api('POST', `${E}/webhooks/endpoints/${ep.id}/test`);
    const took = Date.now() - t0;
    assert.equal(r.json.error, 'timeout');
    assert.ok(took >= 900 && took < 4000, `cut at ~1 s (took ${took})`);
    const ep2 = await endpoint(srv, E, { url: rc.url.replace('/hook', '/redirect'), topics: ['x.y'] });
    r = await srv.api('POST', `${E}/webhooks/endpoints/${ep2.id}/test`);
    assert.equal(r.json.statusCode, 302);
    assert.equal(r.json.success, false);
    assert.equal(rc.got.filter((g) => g.headers['webhook-id'] === r.json.eventId).length, 1, 'no second request');
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});

test('kill -9 while 1,000 acknowledged events are delivered to a slow receiver: all arrive', async () => {
  const rc = await receiver(() => ({ status: 204, delayMs: 20 }));
  let srv = await startServer({ args: ['--webhook-allow-private'] });
  try {
    const { E } = await setupEnv(srv, ['k.t']);
    const ep = await endpoint(srv, E, { url: rc.url, topics: ['k.t'] });
    rc.secrets = [ep.secret];
    const acked = new Set();
    for (let b = 0; b < 4; b++) {
      const items = Array.from({ length: 250 }, (_, i) => ({ topic: 'k.t', payload: { b, i } }));
      const r = await srv.api('POST', `${E}/events`, items);
      assert.equal(r.status, 200, r.text);
      for (const it of r.json.results) if (it.status === 201) acked.add(it.id);
    }
    assert.equal(acked.size, 1000);
    await until(() => rc.got.length >= 50, 10000, 'some deliveries before the kill');
    const atKill = rc.got.length;
    await srv.kill9();
    srv = await startServer({ dataDir: srv.dataDir, args: ['--webhook-allow-private'] });
    const seen = () => new Set(rc.got.map((g) => g.headers['webhook-id']));
    await until(() => [...acked].every((id) => seen().has(id)), 60000, 'every acknowledged id');
    const dups = rc.got.length - seen().size;
    console.log(`# kill -9 after ${atKill} deliveries: ${rc.got.length} requests for ${seen().size} ids, ${dups} duplicates`);
    assert.ok(rc.got.every((g) => g.verified[0]));
    assert.ok(dups <= 300, 'duplicates are bounded by what was in flight');
  } finally {
    await stopClean(srv);
    srv.cleanup();
    rc.close();
  }
});
