// A small promise wrapper around Node's `ws` client for the realtime.v1
// protocol: request/ack by id, and an event inbox.
import WebSocket from 'ws';

export function wsUrl(srv, E, token) {
  return `${srv.wsUrl}${E}/ws?token=${encodeURIComponent(token)}`;
}

export function connect(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols || 'realtime.v1', opts);
    const client = wrap(ws);
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const err = new Error(`HTTP ${res.statusCode}`);
        err.status = res.statusCode;
        err.headers = res.headers;
        try { err.body = JSON.parse(body); } catch { err.body = body; }
        reject(err);
      });
    });
    ws.once('error', reject);
  });
}

function wrap(ws) {
  let next = 1;
  const waiting = new Map();
  const events = [];
  const errors = [];
  let eventWaiters = [];
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.type === 'event') {
      events.push(msg);
      const w = eventWaiters;
      eventWaiters = [];
      w.forEach((f) => f());
      return;
    }
    const key = JSON.stringify(msg.id);
    if (waiting.has(key)) {
      const { resolve } = waiting.get(key);
      waiting.delete(key);
      resolve(msg);
    } else if (msg.type === 'error') {
      errors.push(msg);
    }
  });
  const request = (msg) => {
    const id = msg.id ?? String(next++);
    const full = { ...msg, id };
    return new Promise((resolve, reject) => {
      waiting.set(JSON.stringify(id), { resolve, reject });
      ws.send(JSON.stringify(full));
    });
  };
  return {
    ws, events, errors, closed,
    request,
    subscribe: (topic, since) => request(since === undefined ? { type: 'subscribe', topic } : { type: 'subscribe', topic, since }),
    unsubscribe: (topic) => request({ type: 'unsubscribe', topic }),
    publish: (topic, payload) => request({ type: 'publish', topic, payload }),
    async waitEvents(n, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < n) {
        if (Date.now() > deadline) throw new Error(`timed out with ${events.length}/${n} events`);
        await new Promise((r) => { eventWaiters.push(r); setTimeout(r, 50); });
      }
      return events.slice(0, n);
    },
    close() { ws.close(); return closed; },
  };
}
