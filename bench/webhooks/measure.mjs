// bench/webhooks/measure.mjs - the measuring half of bench/webhooks/run.sh
// (which starts the receiver, our server, the topic and the endpoint, runs wrk
// against the receiver and passes everything in the environment). Prints one
// table.
//   throughput: EVENTS events in BATCH-item POST E/events requests, PUB_CONC
//     requests in flight on keep-alive connections; deliveries/s = unique
//     webhook-ids received / (last arrival - first publish sent); latency =
//     arrival - the send time of the event's batch (stamped in payload.t).
//   latency: LAT_RATE single-event POST E/topics/{topic}/events per second
//     for LAT_SECONDS, each stamped with its send time; arrival - send time.
import http from 'node:http';

const EVENTS = Number(process.env.EVENTS || 50000);
const BATCH = Number(process.env.BATCH || 1000);
const PUB_CONC = Number(process.env.PUB_CONC || 2);
const LAT_RATE = Number(process.env.LAT_RATE || 1000);
const LAT_SECONDS = Number(process.env.LAT_SECONDS || 10);
const PAD = 'x'.repeat(Number(process.env.PAD || 100));
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 120000);
const { RT_URL, RT_ADMIN_KEY, RT_E, TOPIC, RECV_URL, WRK_RPS, WRK_CONNS } = process.env;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function request(url, method, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(url, {
      method, agent,
      headers: { authorization: `Bearer ${RT_ADMIN_KEY}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        if (res.statusCode >= 300) reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : null);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}
const api = (method, path, body) => request(RT_URL + path, method, body);
const recv = (method, path) => request(RECV_URL + path, method);

async function waitFor(n) {
  const end = Date.now() + TIMEOUT_MS;
  for (;;) {
    const s = await recv('GET', '/_stats');
    if (s.unique >= n || Date.now() > end) return s;
    await sleep(20);
  }
}

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function publishBatch(n) {
  const t = nowMs();
  const items = Array.from({ length: n }, () => ({ topic: TOPIC, payload: { t, pad: PAD } }));
  const r = await api('POST', `${RT_E}/events`, items);
  const bad = r.results.filter((x) => x.status !== 201);
  if (bad.length) throw new Error(`batch: ${bad.length} items refused: ${JSON.stringify(bad[0])}`);
}

async function throughput() {
  await recv('POST', '/_reset');
  let next = 0;
  async function worker() {
    while (next < EVENTS) {
      const n = Math.min(BATCH, EVENTS - next);
      next += n;
      await publishBatch(n);
    }
  }
  const t0 = nowMs(); // the first publish is sent right after
  await Promise.all(Array.from({ length: PUB_CONC }, worker));
  const pubDone = nowMs();
  const s = await waitFor(EVENTS);
  const lat = s.lat.sort((a, b) => a - b);
  return {
    unique: s.unique, dups: s.dups, bodyBytes: s.bodyBytes,
    publishRate: EVENTS / ((pubDone - t0) / 1000),
    rate: s.unique / ((s.last - t0) / 1000),
    p50: pct(lat, 50), p99: pct(lat, 99),
  };
}

async function steady() {
  await recv('POST', '/_reset');
  const total = LAT_RATE * LAT_SECONDS;
  const start = nowMs();
  let sent = 0;
  let refused = 0;
  const inflight = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((nowMs() - start) / 1000) * LAT_RATE) + 1);
    for (; sent < due; sent++) {
      inflight.push(api('POST', `${RT_E}/topics/${TOPIC}/events`, { payload: { t: nowMs(), pad: PAD } })
        .catch(() => { refused++; }));
    }
    await sleep(1);
  }
  const elapsed = (nowMs() - start) / 1000;
  await Promise.all(inflight);
  const s = await waitFor(total - refused);
  const lat = s.lat.sort((a, b) => a - b);
  return { sent: total, refused, unique: s.unique, rate: total / elapsed, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function main() {
  const tp = await throughput();
  const st = await steady();
  const m = await (await fetch(`${RT_URL}/metrics`)).text();
  const failures = /rt_webhook_attempts_total\{result="failure"\} (\d+)/.exec(m)?.[1] ?? '?';
  const wrk = Number(WRK_RPS);
  const f0 = (x) => x.toFixed(0);
  const f1 = (x) => x.toFixed(1);
  const rows = [
    ['events (phase 1)', `${EVENTS} in ${BATCH}-item batches, ${PUB_CONC} publishers`],
    ['  received unique / dups', `${tp.unique} / ${tp.dups} (webhook body ${tp.bodyBytes} B)`],
    ['  publish rate (acked) ev/s', f0(tp.publishRate)],
    ['  deliveries/s', f0(tp.rate)],
    [`  wrk ceiling req/s (${WRK_CONNS} conns)`, f0(wrk)],
    ['  ratio (target >= 25%)', `${f1((100 * tp.rate) / wrk)}%`],
    ['  latency p50 / p99 ms', `${f1(tp.p50)} / ${f1(tp.p99)}`],
    [`steady ${LAT_RATE}/s for ${LAT_SECONDS} s`, `${st.sent} sent (${f0(st.rate)}/s), ${st.refused} refused, ${st.unique} received`],
    ['  latency p50 ms', f1(st.p50)],
    ['  latency p99 ms (target <= 50)', f1(st.p99)],
    ['failed attempts (metrics)', failures],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`| ${'measure'.padEnd(w)} | value`);
  console.log(`|-${'-'.repeat(w)}-|------`);
  for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
