// bench/webhooks/receiver.mjs - the webhook receiver of bench/webhooks/run.sh.
//
// A keep-alive HTTP server on 127.0.0.1:PORT (argv[2]; 0 picks a free port,
// printed as "port N" on stdout) that answers every request 204 at once.
//   POST /hook   a webhook: records its arrival time under its webhook-id and
//                the publish time the publisher stamped in the payload ("t",
//                ms since the epoch); a repeated webhook-id counts as a dup.
//   POST /wrk    wrk's target: 204, nothing recorded (the ceiling).
//   GET  /_stats {received, unique, dups, first, last, bodyBytes, lat:[ms…]}
//   POST /_reset forget everything recorded.
// Times are performance.timeOrigin + performance.now() (ms, sub-ms precision),
// the clock measure.mjs stamps with, so the two processes compare directly.
import http from 'node:http';

const nowMs = () => performance.timeOrigin + performance.now();
let st;
function reset() {
  st = { seen: new Set(), received: 0, dups: 0, first: 0, last: 0, bodyBytes: 0, lat: [] };
}
reset();

function hook(req, res) {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const at = nowMs();
    res.writeHead(204);
    res.end();
    const body = Buffer.concat(chunks);
    const id = req.headers['webhook-id'];
    st.received++;
    if (st.seen.has(id)) {
      st.dups++;
      return;
    }
    st.seen.add(id);
    if (!st.first) st.first = at;
    st.last = at;
    st.bodyBytes = body.length;
    const t = JSON.parse(body).payload?.t;
    if (typeof t === 'number') st.lat.push(at - t);
  });
}

function stats(res) {
  const { seen, ...rest } = st;
  const body = JSON.stringify({ ...rest, unique: seen.size });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.url === '/hook') return hook(req, res);
  if (req.url === '/_stats') return stats(res);
  req.resume();
  req.on('end', () => {
    if (req.url === '/_reset') reset();
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`port ${server.address().port}`);
});
