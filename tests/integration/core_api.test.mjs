// The core HTTP API against the real server: tenants, keys, topics, publish
// and history, auth boundaries, error shapes, and durability across restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setupEnv, uniq } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
}

test('health, readiness and metrics answer without auth', async () => {
  let r = await srv.api('GET', '/healthz', undefined, null);
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ok');
  r = await srv.api('GET', '/readyz', undefined, null);
  assert.equal(r.status, 200);
  r = await srv.api('GET', '/metrics', undefined, null);
  assert.equal(r.status, 200);
  assert.match(r.text, /# TYPE rt_http_requests_total counter/);
  assert.match(r.text, /rt_connections_open\{worker="0"\}/);
});

test('applications and environments: create, get, list, conflict, delete', async () => {
  const app = uniq('acme');
  let r = await srv.api('POST', '/v1/apps', { id: app, name: 'Acme' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.id, app);
  assert.equal(r.json.name, 'Acme');
  assertError(await srv.api('POST', '/v1/apps', { id: app }), 409, 'already_exists');
  assertError(await srv.api('POST', '/v1/apps', { id: 'Bad_Id' }), 400, 'invalid_field');
  assertError(await srv.api('POST', '/v1/apps', { name: 'no id' }), 400, 'invalid_field');
  r = await srv.api('GET', `/v1/apps/${app}`);
  assert.equal(r.status, 200);
  r = await srv.api('GET', '/v1/apps?limit=1000');
  assert.ok(r.json.items.some((a) => a.id === app));
  r = await srv.api('POST', `/v1/apps/${app}/envs`, { id: 'staging' });
  assert.equal(r.status, 201, r.text);
  assertError(await srv.api('POST', `/v1/apps/${app}/envs`, { id: 'staging' }), 409, 'already_exists');
  assertError(await srv.api('POST', `/v1/apps/nope-${app}/envs`, { id: 'x' }), 404, 'not_found');
  r = await srv.api('GET', `/v1/apps/${app}/envs`);
  assert.deepEqual(r.json.items.map((e) => e.id), ['staging']);
  r = await srv.api('DELETE', `/v1/apps/${app}/envs/staging`);
  assert.equal(r.status, 204);
  assertError(await srv.api('GET', `/v1/apps/${app}/envs/staging`), 404, 'not_found');
  r = await srv.api('DELETE', `/v1/apps/${app}`);
  assert.equal(r.status, 204);
  assertError(await srv.api('GET', `/v1/apps/${app}`), 404, 'not_found');
});

test('paging with limit and after', async () => {
  const { E } = await setupEnv(srv);
  for (const n of ['a.one', 'b.two', 'c.three']) {
    assert.equal((await srv.api('POST', `${E}/topics`, { name: n })).status, 201);
  }
  let r = await srv.api('GET', `${E}/topics?limit=2`);
  assert.deepEqual(r.json.items.map((t) => t.name), ['a.one', 'b.two']);
  assert.equal(r.json.next, 'b.two');
  r = await srv.api('GET', `${E}/topics?limit=2&after=b.two`);
  assert.deepEqual(r.json.items.map((t) => t.name), ['c.three']);
  assert.equal(r.json.next, null);
  assertError(await srv.api('GET', `${E}/topics?limit=0`), 400, 'invalid_parameter');
});

test('keys: secret shown once, authenticates its own env only, revocable', async () => {
  const a = await setupEnv(srv, ['session.status']);
  const b = await setupEnv(srv, ['session.status']);
  let r = await srv.api('GET', `${a.E}/keys`);
  assert.equal(r.status, 200);
  assert.ok(r.json.items.length >= 1);
  for (const k of r.json.items) assert.equal(k.key, undefined, 'listings never show the secret');
  r = await srv.api('GET', `${a.E}/topics`, undefined, a.key);
  assert.equal(r.status, 200);
  assertError(await srv.api('GET', `${b.E}/topics`, undefined, a.key), 403, 'forbidden');
  // Another env of the same app.
  await srv.api('POST', `/v1/apps/${a.app}/envs`, { id: 'staging' });
  assertError(await srv.api('GET', `/v1/apps/${a.app}/envs/staging/topics`, undefined, a.key), 403, 'forbidden');
  assertError(await srv.api('GET', '/v1/apps', undefined, a.key), 403, 'forbidden');
  assertError(await srv.api('GET', `${a.E}/topics`, undefined, 'rt_sk_wrong'), 401, 'unauthorized');
  assertError(await srv.api('GET', `${a.E}/topics`, undefined, null), 401, 'unauthorized');
  // Revoke.
  r = await srv.api('POST', `${a.E}/keys`, { name: 'temp' });
  const id = r.json.id;
  const secret = r.json.key;
  assert.match(secret, /^rt_sk_/);
  assert.equal((await srv.api('GET', `${a.E}/topics`, undefined, secret)).status, 200);
  assert.equal((await srv.api('DELETE', `${a.E}/keys/${id}`)).status, 204);
  assertError(await srv.api('GET', `${a.E}/topics`, undefined, secret), 401, 'unauthorized');
});

test('topics: name rules, get, patch, delete', async () => {
  const { E, key } = await setupEnv(srv);
  let r = await srv.api('POST', `${E}/topics`, { name: 'session.status', description: 'd' }, key);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.name, 'session.status');
  assert.equal(r.json.activeSchemaVersion, 0);
  assert.equal(typeof r.json.compatibility, 'string');
  for (const bad of ['Session.status', 'a..b', '.a', 'a.', 'a b', '', 'x'.repeat(256), 'a.*']) {
    assertError(await srv.api('POST', `${E}/topics`, { name: bad }, key), 400, 'invalid_field');
  }
  assertError(await srv.api('POST', `${E}/topics`, { name: 'session.status' }, key), 409, 'already_exists');
  r = await srv.api('PATCH', `${E}/topics/session.status`, { description: 'new', retention: { maxEvents: 10 } }, key);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.description, 'new');
  assert.equal(r.json.retention.maxEvents, 10);
  assertError(await srv.api('PATCH', `${E}/topics/session.status`, { compatibility: 'SIDEWAYS' }, key), 400, 'invalid_field');
  assertError(await srv.api('GET', `${E}/topics/nope`, undefined, key), 404, 'topic_not_found');
  assert.equal((await srv.api('DELETE', `${E}/topics/session.status`, undefined, key)).status, 204);
  assertError(await srv.api('GET', `${E}/topics/session.status`, undefined, key), 404, 'topic_not_found');
});

test('publish and history: ids, seqs from 1, envelope, paging', async () => {
  const { E, key } = await setupEnv(srv, ['order.updated']);
  const ids = [];
  for (let i = 1; i <= 5; i++) {
    const r = await srv.api('POST', `${E}/topics/order.updated/events`, { payload: { n: i, x: 0.1 } }, key);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.seq, i);
    assert.match(r.json.id, /^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    ids.push(r.json.id);
  }
  let r = await srv.api('GET', `${E}/topics/order.updated/events?since=0&limit=3`, undefined, key);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.events.map((e) => e.seq), [1, 2, 3]);
  assert.equal(r.json.next, 3);
  const ev = r.json.events[0];
  assert.equal(ev.id, ids[0]);
  assert.equal(ev.topic, 'order.updated');
  assert.equal(ev.source, 'api');
  assert.equal(ev.schemaVersion, null);
  assert.deepEqual(ev.payload, { n: 1, x: 0.1 });
  assert.match(ev.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  r = await srv.api('GET', `${E}/topics/order.updated/events?since=3`, undefined, key);
  assert.deepEqual(r.json.events.map((e) => e.seq), [4, 5]);
  assert.equal(r.json.next, null);
  assertError(await srv.api('POST', `${E}/topics/nope/events`, { payload: 1 }, key), 404, 'topic_not_found');
  assertError(await srv.api('POST', `${E}/topics/order.updated/events`, { nopayload: 1 }, key), 400, 'invalid_field');
  assertError(await srv.api('POST', `${E}/topics/order.updated/events`, '{"payload":', key), 400, 'invalid_json');
  assertError(await srv.api('GET', `${E}/topics/order.updated/events?since=-1`, undefined, key), 400, 'invalid_parameter');
});

test('batch publish reports each item', async () => {
  const { E, key } = await setupEnv(srv, ['a.b', 'c.d']);
  const r = await srv.api('POST', `${E}/events`, [
    { topic: 'a.b', payload: 1 }, { topic: 'missing', payload: 2 }, { topic: 'a.b', payload: 3 }, { payload: 4 },
  ], key);
  assert.equal(r.status, 200, r.text);
  const res = r.json.results;
  assert.equal(res.length, 4);
  assert.equal(res[0].status, 201);
  assert.equal(res[0].seq, 1);
  assert.equal(res[1].status, 404);
  assert.equal(res[1].error.code, 'topic_not_found');
  assert.equal(res[2].seq, 2);
  assert.equal(res[3].status, 400);
});

test('200 concurrent publishes to one topic get seqs 1..200 exactly once', async () => {
  const { E, key } = await setupEnv(srv, ['burst.test']);
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    srv.api('POST', `${E}/topics/burst.test/events`, { payload: { i } }, key)));
  const seqs = rs.map((r) => { assert.equal(r.status, 201, r.text); return r.json.seq; }).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
  const h = await srv.api('GET', `${E}/topics/burst.test/events?limit=1000`, undefined, key);
  assert.equal(h.json.events.length, 200);
  assert.deepEqual(h.json.events.map((e) => e.seq), seqs);
});

test('unknown route 404, wrong method 405 with Allow', async () => {
  let r = await srv.api('GET', '/v1/nothing');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'not_found');
  r = await srv.api('PUT', '/v1/apps');
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST, GET');
  assert.equal(r.json.error.code, 'method_not_allowed');
});

test('tokens are minted with rights and expiry', async () => {
  const { E, key } = await setupEnv(srv);
  const r = await srv.api('POST', `${E}/tokens`, { sub: 'user-1', subscribe: ['chat.>'], publish: ['chat.room.*'], ttl: 60 }, key);
  assert.equal(r.status, 201, r.text);
  const [, body] = r.json.token.split('.');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
  assert.equal(claims.sub, 'user-1');
  assert.deepEqual(claims.subscribe, ['chat.>']);
  assert.deepEqual(claims.publish, ['chat.room.*']);
  assert.ok(claims.exp - claims.iat === 60);
  assert.ok(Date.parse(r.json.expiresAt) > Date.now());
  const bad = await srv.api('POST', `${E}/tokens`, { subscribe: ['Bad Pattern'] }, key);
  assert.equal(bad.status, 400);
});

test('retention by count keeps the newest events and the seq continues', async () => {
  const { E, key } = await setupEnv(srv);
  let r = await srv.api('POST', `${E}/topics`, { name: 'short.lived', retention: { maxEvents: 3, maxAgeSeconds: 3600 } }, key);
  assert.equal(r.status, 201, r.text);
  for (let i = 1; i <= 10; i++) await srv.api('POST', `${E}/topics/short.lived/events`, { payload: i }, key);
  // The sweep runs 5 s after start, then every minute.
  const deadline = Date.now() + 15000;
  let seqs = [];
  while (Date.now() < deadline) {
    r = await srv.api('GET', `${E}/topics/short.lived/events?limit=100`, undefined, key);
    seqs = r.json.events.map((e) => e.seq);
    if (seqs.length === 3) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  assert.deepEqual(seqs, [8, 9, 10]);
  r = await srv.api('POST', `${E}/topics/short.lived/events`, { payload: 11 }, key);
  assert.equal(r.json.seq, 11);
});
