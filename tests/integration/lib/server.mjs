// Starts the real `realtime` binary on a free loopback port with a fresh data
// directory, and gives tests small helpers for the HTTP API. The binary is
// $REALTIME_BIN (make test sets it to the sanitizer build).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.REALTIME_BIN || join(here, '../../../build-asan/realtime');

export const ADMIN_KEY = 'test-admin-' + randomBytes(8).toString('hex');

export async function startServer({ args = [], env = {}, dataDir, adminKey = ADMIN_KEY, workers = 2 } = {}) {
  const dir = dataDir || mkdtempSync(join(tmpdir(), 'rt-test-'));
  const argv = ['serve', '--listen', '127.0.0.1:0', '--data', dir, '--workers', String(workers),
    '--log-level', 'info', ...args];
  if (adminKey) argv.push('--admin-key', adminKey);
  const proc = spawn(BIN, argv, {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + stderr)), 20000);
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /event=listening addr=[^ ]*:(\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}:\n${stderr}`)); });
  });
  const srv = {
    proc, port, dataDir: dir, adminKey,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    get stderr() { return stderr; },
    get stdout() { return stdout; },
    exited: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal }))),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return srv.exited;
      proc.kill('SIGTERM');
      return srv.exited;
    },
    kill9() { proc.kill('SIGKILL'); return srv.exited; },
    cleanup() { rmSync(dir, { recursive: true, force: true }); },
    api: (method, path, body, key = adminKey, headers = {}) =>
      api(srv.url, method, path, body, key, headers),
  };
  return srv;
}

export async function api(base, method, path, body, key, headers = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    h['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(base + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, headers: res.headers, json, text };
}

let counter = 0;
export function uniq(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

// Creates app + env + secret key (+ topics) and returns their names and paths.
export async function setupEnv(srv, topics = []) {
  const app = uniq('app');
  const env = 'production';
  let r = await srv.api('POST', '/v1/apps', { id: app, name: 'Test App' });
  if (r.status !== 201) throw new Error('create app: ' + r.text);
  r = await srv.api('POST', `/v1/apps/${app}/envs`, { id: env });
  if (r.status !== 201) throw new Error('create env: ' + r.text);
  const E = `/v1/apps/${app}/envs/${env}`;
  r = await srv.api('POST', `${E}/keys`, { name: 'test' });
  if (r.status !== 201) throw new Error('create key: ' + r.text);
  const key = r.json.key;
  for (const t of topics) {
    r = await srv.api('POST', `${E}/topics`, { name: t });
    if (r.status !== 201) throw new Error('create topic: ' + r.text);
  }
  return { app, env, E, key };
}

// Raw HTTP over a TCP socket: for pipelining, chunking and malformed input.
import net from 'node:net';
export function rawRequest(port, chunks, { waitMs = 2000, closeAfter = true } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    sock.on('data', (d) => { data += d; });
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; resolve({ data, closed }); });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (typeof c === 'number') await new Promise((r) => setTimeout(r, c));
        else sock.write(c);
      }
      setTimeout(() => { if (!closed) { resolve({ data, closed: false }); if (closeAfter) sock.destroy(); } }, waitMs);
    });
    sock.setTimeout(waitMs + 60000, () => reject(new Error('raw timeout')));
  });
}
