// bench/cdc/measure.mjs - the measuring half of bench/cdc/run.sh (which
// starts PostgreSQL, our server, the source, the mapping and pg_recvlogical
// and passes them in the environment). Prints one table.
//   throughput: ROWS single-row INSERTs in TX_ROWS-row transactions; ours =
//     time from the first commit until the topic's seq reaches ROWS; ceiling =
//     until pg_recvlogical's walsender sent_lsn reaches the LSN after the last
//     commit. Both are polled every 2 ms while the workload runs.
//   latency: one INSERT per transaction at LAT_RATE rows/s for LAT_SECONDS,
//     commit time in a column (clock_timestamp()), events over WebSocket.
import { createRequire } from 'node:module';
import http from 'node:http';
import { join } from 'node:path';

const require = createRequire(join(process.env.NODE_MODULES, 'x.js'));
const pg = require('pg');
const WebSocket = require('ws');

const ROWS = Number(process.env.ROWS || 100000);
const TX_ROWS = Number(process.env.TX_ROWS || 1000);
const LAT_RATE = Number(process.env.LAT_RATE || 1000);
const LAT_SECONDS = Number(process.env.LAT_SECONDS || 10);
const { PG_DSN, RT_URL, RT_ADMIN_KEY, RT_ENV_KEY, RT_E, RECV_SLOT } = process.env;
const POLL_MS = 2;
const TIMEOUT_MS = 300000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(RT_URL + path, {
      method, agent,
      headers: { authorization: `Bearer ${RT_ADMIN_KEY}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : null);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

// Milliseconds since the epoch, with the microseconds of an ISO-8601 or
// PostgreSQL timestamptz text ("2026-11-28 06:45:15.123456+00").
function tsMs(s) {
  const m = /^(.*[T ]\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(s);
  if (!m) return NaN;
  let zone = m[3] || 'Z';
  if (/^[+-]\d\d$/.test(zone)) zone += ':00';
  const base = Date.parse(`${m[1].replace(' ', 'T')}${zone}`);
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return base + frac;
}

async function pollUntil(fn) {
  const end = Date.now() + TIMEOUT_MS;
  for (;;) {
    if (await fn()) return nowMs();
    if (Date.now() > end) throw new Error('timed out');
    await sleep(POLL_MS);
  }
}

async function throughput() {
  const db = new pg.Client({ connectionString: PG_DSN });
  const mon = new pg.Client({ connectionString: PG_DSN });
  await db.connect();
  await mon.connect();
  let firstCommit = null;
  let endLsn = null;
  const ours = pollUntil(async () => {
    const t = await api('GET', `${RT_E}/topics/bench.rows`);
    return t.seq >= ROWS;
  });
  const recv = pollUntil(async () => {
    if (endLsn === null) return false;
    const r = await mon.query(`SELECT s.sent_lsn >= $2::pg_lsn AS done FROM pg_replication_slots sl
        JOIN pg_stat_replication s ON s.pid = sl.active_pid WHERE sl.slot_name = $1`, [RECV_SLOT, endLsn]);
    return r.rows.length === 1 && r.rows[0].done;
  });
  for (let base = 0; base < ROWS; base += TX_ROWS) {
    // One transaction of TX_ROWS single-row INSERT statements.
    await db.query(`DO $$ BEGIN FOR i IN ${base + 1}..${base + TX_ROWS} LOOP
        INSERT INTO bench_rows(id, v, note) VALUES (i, i % 1000, 'row ' || i); END LOOP; END $$`);
    if (firstCommit === null) firstCommit = nowMs();
  }
  const lastCommit = nowMs();
  endLsn = (await db.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l;
  const [oursDone, recvDone] = await Promise.all([ours, recv]);
  await db.end();
  await mon.end();
  const rate = (done) => ROWS / ((done - firstCommit) / 1000);
  return { write: ROWS / ((lastCommit - firstCommit) / 1000), ours: rate(oursDone), recv: rate(recvDone) };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function latency() {
  await api('POST', `${RT_E}/mappings`, {
    name: 'lat', source: 'pg', table: 'public.bench_lat', operations: ['insert'],
    payload: { id: 'id', committedAt: 'committed_at' }, topic: 'bench.lat',
  });
  const wsUrl = `${RT_URL.replace('http', 'ws')}${RT_E}/ws?token=${encodeURIComponent(RT_ENV_KEY)}`;
  const ws = new WebSocket(wsUrl, 'realtime.v1');
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  const lat = [];
  let acked;
  const ack = new Promise((r) => { acked = r; });
  ws.on('message', (data) => {
    const at = nowMs();
    const msg = JSON.parse(data.toString());
    if (msg.type === 'event') lat.push(at - tsMs(msg.payload.committedAt));
    else if (msg.id === 's1') acked(msg);
  });
  ws.send(JSON.stringify({ type: 'subscribe', topic: 'bench.lat', id: 's1' }));
  const a = await ack;
  if (a.type !== 'ack') throw new Error(`subscribe: ${JSON.stringify(a)}`);
  const db = new pg.Client({ connectionString: PG_DSN });
  await db.connect();
  const total = LAT_RATE * LAT_SECONDS;
  const start = nowMs();
  let sent = 0;
  // Row k is due at start + k / LAT_RATE s; each commits on its own
  // (autocommit), stamped by clock_timestamp() just before its commit.
  while (sent < total) {
    const due = Math.min(total, Math.floor(((nowMs() - start) / 1000) * LAT_RATE) + 1);
    if (sent < due) {
      await db.query('INSERT INTO bench_lat(id, committed_at) VALUES ($1, clock_timestamp())', [sent + 1]);
      sent++;
    } else {
      await sleep(1);
    }
  }
  const achieved = total / ((nowMs() - start) / 1000);
  const end = Date.now() + 30000;
  while (lat.length < total && Date.now() < end) await sleep(20);
  await db.end();
  ws.close();
  lat.sort((x, y) => x - y);
  return { n: lat.length, total, achieved, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] };
}

const tp = await throughput();
if (process.env.RECV_PID) process.kill(Number(process.env.RECV_PID));
const lt = await latency();
const f0 = (x) => x.toFixed(0);
const f1 = (x) => x.toFixed(1);
const ratio = tp.ours / tp.recv;
const row = (k, v, t) => console.log(`| ${k.padEnd(44)} | ${String(v).padStart(12)} | ${t.padEnd(10)} |`);
console.log();
console.log(`| ${'metric'.padEnd(44)} | ${'value'.padStart(12)} | ${'target'.padEnd(10)} |`);
console.log(`|${'-'.repeat(46)}|${'-'.repeat(14)}|${'-'.repeat(12)}|`);
row(`workload commit rate (rows/s, ${TX_ROWS}-row tx)`, f0(tp.write), '');
row('pg_recvlogical pgoutput (rows/s, ceiling)', f0(tp.recv), '');
row('realtime CDC into event log (rows/s)', f0(tp.ours), '');
row('ratio realtime / pg_recvlogical', `${f1(ratio * 100)}%`, '>= 70%');
row(`commit->event p50 (ms, ${LAT_RATE} rows/s)`, f1(lt.p50), '');
row(`commit->event p99 (ms, ${LAT_RATE} rows/s)`, f1(lt.p99), '<= 20 ms');
row('commit->event max (ms)', f1(lt.max), '');
row('latency workload achieved (rows/s)', f0(lt.achieved), '');
row('latency events received', `${lt.n}/${lt.total}`, '');
console.log();
console.log(`RESULT cdc_rows_per_s=${f0(tp.ours)} recvlogical_rows_per_s=${f0(tp.recv)} ratio=${ratio.toFixed(2)} ` +
  `p50_ms=${f1(lt.p50)} p99_ms=${f1(lt.p99)}`);
