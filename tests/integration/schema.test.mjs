// Schema registry and enforcement: versions, compatibility, the dry run,
// activation, and every source held to the active version.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setupEnv, rawRequest } from './lib/server.mjs';
import { connect, wsUrl } from './lib/ws.mjs';
import { io } from 'socket.io-client';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { const r = await srv.stop(); srv.cleanup(); assert.equal(r.code, 0, srv.stderr); });

const v1 = {
  type: 'object',
  properties: { sessionId: { type: 'string' }, status: { enum: ['active', 'ended'] } },
  required: ['sessionId'],
};

test('versions, compatibility refusal with the breaking changes, dry run, activation', async () => {
  const { E, key } = await setupEnv(srv, ['session.status']);
  const S = `${E}/topics/session.status/schemas`;
  let r = await srv.api('POST', S, { schema: v1 }, key);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.version, 1);
  // Adding a required property breaks BACKWARD consumers' old data.
  const breaking = { ...v1, required: ['sessionId', 'status'] };
  r = await srv.api('POST', `${S}/check`, { schema: breaking }, key);
  assert.equal(r.status, 200);
  assert.equal(r.json.compatible, false);
  assert.ok(r.json.breakingChanges.length >= 1);
  r = await srv.api('POST', S, { schema: breaking }, key);
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, 'schema_incompatible');
  assert.ok(Array.isArray(r.json.error.details));
  // A new optional property on an open content model: breaking under the
  // strict policy (old data may hold it), accepted under the lenient one.
  const v2 = { ...v1, properties: { ...v1.properties, note: { type: 'string' } } };
  r = await srv.api('POST', `${S}/check`, { schema: v2 }, key);
  assert.equal(r.json.compatible, false, r.text);
  assert.equal(r.json.breakingChanges[0].kind, 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL');
  r = await srv.api('POST', `${S}/check`, { schema: v2, policy: 'lenient' }, key);
  assert.equal(r.json.compatible, true, r.text);
  assert.equal((await srv.api('POST', `${S}/check`, { schema: v2, policy: 'loose' }, key)).status, 400);
  r = await srv.api('POST', S, { schema: v2, policy: 'lenient' }, key);
  assert.equal(r.json.version, 2);
  r = await srv.api('GET', S, undefined, key);
  assert.deepEqual(r.json.items.map((s) => s.version), [1, 2]);
  r = await srv.api('GET', `${S}/2`, undefined, key);
  assert.deepEqual(r.json.schema, v2);
  assert.equal((await srv.api('GET', `${S}/9`, undefined, key)).status, 404);
  // Invalid schemas are refused with their locations.
  r = await srv.api('POST', S, { schema: { type: 'strnig' } }, key);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_schema');
  assert.ok(r.json.error.details[0].keywordLocation !== undefined);
  // Activation must name a registered version.
  r = await srv.api('PATCH', `${E}/topics/session.status`, { activeSchemaVersion: 3 }, key);
  assert.equal(r.status, 400);
  r = await srv.api('PATCH', `${E}/topics/session.status`, { activeSchemaVersion: 2 }, key);
  assert.equal(r.status, 200);
  assert.equal(r.json.activeSchemaVersion, 2);
});

test('every source is held to the active version; errors point at the place', async () => {
  const { E, key } = await setupEnv(srv, ['order.updated']);
  await srv.api('POST', `${E}/topics/order.updated/schemas`, { schema: { type: 'object', properties: { amount: { type: 'integer', minimum: 0 } }, required: ['amount'] } }, key);
  // Not active yet: anything goes.
  let r = await srv.api('POST', `${E}/topics/order.updated/events`, { payload: 'free' }, key);
  assert.equal(r.status, 201);
  await srv.api('PATCH', `${E}/topics/order.updated`, { activeSchemaVersion: 1 }, key);
  r = await srv.api('POST', `${E}/topics/order.updated/events`, { payload: { amount: -5 } }, key);
  assert.equal(r.status, 422, r.text);
  assert.equal(r.json.error.code, 'schema_validation_failed');
  const d = r.json.error.details[0];
  assert.equal(d.instanceLocation, '/amount');
  assert.match(d.keywordLocation, /minimum/);
  r = await srv.api('POST', `${E}/topics/order.updated/events`, { payload: { amount: 5 } }, key);
  assert.equal(r.status, 201);
  const h = await srv.api('GET', `${E}/topics/order.updated/events`, undefined, key);
  assert.equal(h.json.events.at(-1).schemaVersion, 1);
  assert.equal(h.json.events[0].schemaVersion, null);
  // The refused event took no seq: no gap.
  assert.deepEqual(h.json.events.map((e) => e.seq), [1, 2]);
  // WebSocket publishes too.
  const c = await connect(wsUrl(srv, E, key));
  const bad = await c.publish('order.updated', { amount: 'x' });
  assert.equal(bad.error.code, 'schema_validation_failed');
  assert.equal(bad.error.details[0].instanceLocation, '/amount');
  const good = await c.publish('order.updated', { amount: 1 });
  assert.equal(good.event.seq, 3);
  await c.close();
  // Batch: per item.
  r = await srv.api('POST', `${E}/events`, [{ topic: 'order.updated', payload: {} }, { topic: 'order.updated', payload: { amount: 2 } }], key);
  assert.equal(r.json.results[0].status, 422);
  assert.equal(r.json.results[1].status, 201);
  // Deactivate.
  await srv.api('PATCH', `${E}/topics/order.updated`, { activeSchemaVersion: 0 }, key);
  r = await srv.api('POST', `${E}/topics/order.updated/events`, { payload: 'free again' }, key);
  assert.equal(r.status, 201);
});

test('schemas survive a restart and stay enforced', async () => {
  const s = await startServer();
  const { E, key } = await setupEnv(s, ['keep.schema']);
  await s.api('POST', `${E}/topics/keep.schema/schemas`, { schema: { type: 'integer' } }, key);
  await s.api('PATCH', `${E}/topics/keep.schema`, { activeSchemaVersion: 1, formatAssertion: true }, key);
  await s.stop();
  const s2 = await startServer({ dataDir: s.dataDir });
  let r = await s2.api('POST', `${E}/topics/keep.schema/events`, { payload: 'no' }, key);
  assert.equal(r.status, 422);
  r = await s2.api('GET', `${E}/topics/keep.schema`, undefined, key);
  assert.equal(r.json.activeSchemaVersion, 1);
  assert.equal(r.json.formatAssertion, true);
  await s2.stop();
  s2.cleanup();
});

test('bad schemas get clear errors and the server stays healthy', async () => {
  const { E, key } = await setupEnv(srv, ['bad.schemas']);
  const S = `${E}/topics/bad.schemas/schemas`;
  let r = await srv.api('POST', S, '{"schema": {"type": "object",', key);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_json');
  r = await srv.api('POST', S, { schema: 'not a schema' }, key);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_field');
  r = await srv.api('POST', S, { schema: { minLength: -1 } }, key);
  assert.equal(r.json.error.code, 'invalid_schema');
  r = await srv.api('POST', S, { schema: { $ref: 'https://example.com/nowhere.json' } }, key);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'invalid_schema');
  r = await srv.api('POST', S, { schema: { $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' } }, key);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'invalid_schema');
  // 10 MB: over the body limit, refused before it is read.
  const big = JSON.stringify({ schema: { enum: Array.from({ length: 700000 }, (_, i) => `value-${i}`) } });
  assert.ok(big.length > 10e6);
  const head = `POST ${S} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`;
  const { data } = await rawRequest(srv.port, [head, big.slice(0, 65536)], { waitMs: 800 });
  assert.match(data, /^HTTP\/1\.1 413 /);
  assert.match(data, /"code":"payload_too_large"/);
  assert.equal((await srv.api('GET', '/healthz', undefined, null)).status, 200);
  // Nothing was registered.
  r = await srv.api('GET', S, undefined, key);
  assert.deepEqual(r.json.items, []);
});

test('a schema may $ref another schema of the same environment by $id', async () => {
  const { E, key } = await setupEnv(srv, ['shared.types', 'uses.ref']);
  let r = await srv.api('POST', `${E}/topics/shared.types/schemas`, { schema: { $id: 'https://acme.test/money.json', type: 'object', properties: { cents: { type: 'integer' } }, required: ['cents'] } }, key);
  assert.equal(r.status, 201, r.text);
  r = await srv.api('POST', `${E}/topics/uses.ref/schemas`, { schema: { type: 'object', properties: { price: { $ref: 'https://acme.test/money.json' } } } }, key);
  assert.equal(r.status, 201, r.text);
  await srv.api('PATCH', `${E}/topics/uses.ref`, { activeSchemaVersion: 1 }, key);
  r = await srv.api('POST', `${E}/topics/uses.ref/events`, { payload: { price: { cents: 'x' } } }, key);
  assert.equal(r.status, 422);
  assert.equal(r.json.error.details[0].instanceLocation, '/price/cents');
  r = await srv.api('POST', `${E}/topics/uses.ref/events`, { payload: { price: { cents: 5 } } }, key);
  assert.equal(r.status, 201);
});

test('Socket.IO publishes are held to the active schema too', async () => {
  const { app, env, E, key } = await setupEnv(srv, ['sio.schema']);
  await srv.api('POST', `${E}/topics/sio.schema/schemas`, { schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }, key);
  await srv.api('PATCH', `${E}/topics/sio.schema`, { activeSchemaVersion: 1 }, key);
  const s = io(`${srv.url}/${app}/${env}`, { auth: { token: key }, forceNew: true, reconnection: false });
  try {
    await new Promise((ok, fail) => { s.on('connect', ok); s.on('connect_error', fail); });
    const bad = await s.emitWithAck('publish', { topic: 'sio.schema', payload: { n: 'x' } });
    assert.equal(bad.error.code, 'schema_validation_failed');
    assert.equal(bad.error.details[0].instanceLocation, '/n');
    const good = await s.emitWithAck('publish', { topic: 'sio.schema', payload: { n: 1 } });
    assert.equal(good.ok, true);
    assert.equal(good.event.seq, 1);
    const h = await srv.api('GET', `${E}/topics/sio.schema/events`, undefined, key);
    assert.equal(h.json.events[0].schemaVersion, 1);
  } finally {
    s.close();
  }
});
