// Durability: everything survives a clean restart, and after kill -9 during a
// publish burst every acknowledged event is there with its seq, no gap, and
// publishing continues at the next seq.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setupEnv } from './lib/server.mjs';

test('registry and events survive a restart; admin key is generated once', async () => {
  let srv = await startServer({ adminKey: null });
  const m = /Admin key \(shown once[^)]*\): (\S+)/.exec(srv.stdout);
  assert.ok(m, 'the generated admin key is printed: ' + srv.stdout);
  const admin = m[1];
  srv.adminKey = admin;
  const s = { ...srv, api: (mth, p, b, k = admin) => srv.api(mth, p, b, k) };
  const { E, key } = await setupEnv(s, ['keep.me']);
  for (let i = 0; i < 3; i++) await s.api('POST', `${E}/topics/keep.me/events`, { payload: i }, key);
  const stopped = await srv.stop();
  assert.equal(stopped.code, 0, 'graceful stop exits 0');

  const srv2 = await startServer({ adminKey: null, dataDir: srv.dataDir });
  assert.doesNotMatch(srv2.stdout, /Admin key/, 'the key is not printed again');
  let r = await srv2.api('GET', `${E}/topics/keep.me`, undefined, admin);
  assert.equal(r.status, 200, 'the stored admin key still works: ' + r.text);
  r = await srv2.api('GET', `${E}/topics/keep.me/events`, undefined, key);
  assert.deepEqual(r.json.events.map((e) => e.payload), [0, 1, 2]);
  r = await srv2.api('POST', `${E}/topics/keep.me/events`, { payload: 3 }, key);
  assert.equal(r.json.seq, 4);
  assert.equal((await srv2.stop()).code, 0);
  srv2.cleanup();
});

test('kill -9 during a publish burst loses no acknowledged event', async () => {
  const srv = await startServer();
  const { E, key } = await setupEnv(srv, ['crash.test']);
  const acked = new Map();
  let stop = false;
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      try {
        const r = await srv.api('POST', `${E}/topics/crash.test/events`, { payload: { w, i } }, key);
        if (r.status === 201) acked.set(r.json.seq, r.json.id);
      } catch { break; }
    }
  });
  await new Promise((r) => setTimeout(r, 1500));
  await srv.kill9();
  stop = true;
  await Promise.all(writers);
  assert.ok(acked.size > 20, `a real burst was acknowledged (${acked.size})`);

  const srv2 = await startServer({ dataDir: srv.dataDir });
  const events = [];
  for (let since = 0; ;) {
    const r = await srv2.api('GET', `${E}/topics/crash.test/events?since=${since}&limit=1000`, undefined, key);
    events.push(...r.json.events);
    if (r.json.next === null) break;
    since = r.json.next;
  }
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'gap-free from 1');
  for (const [seq, id] of acked) {
    assert.equal(events[seq - 1]?.id, id, `acknowledged seq ${seq} is there with its id`);
  }
  const r = await srv2.api('POST', `${E}/topics/crash.test/events`, { payload: 'after' }, key);
  assert.equal(r.json.seq, seqs.length + 1, 'publishing continues at the next seq');
  assert.equal((await srv2.stop()).code, 0);
  srv2.cleanup();
});
