// Starts a throwaway PostgreSQL (the installed major version, 15 by default)
// for tests: initdb into a temp dir, wal_level=logical, listening on
// 127.0.0.1 at a free port with its unix socket in the temp dir. PostgreSQL
// refuses to run as root, so under root it runs as the `postgres` user
// (runuser) in a directory chowned to it. Reusable by any test:
//   const pg = await startPostgres();  ...  await pg.stop();
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, chmodSync, appendFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import pg from 'pg';

function pgBinDir() {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin/initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql)');
  return join(base, versions.includes('15') ? '15' : versions[0], 'bin');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function pgUser() {
  if (process.getuid && process.getuid() === 0) {
    const r = spawnSync('id', ['-u', 'postgres']);
    if (r.status !== 0) throw new Error('running as root and no postgres user to run PostgreSQL as');
    const uid = Number(String(r.stdout).trim());
    const gid = Number(String(spawnSync('id', ['-g', 'postgres']).stdout).trim());
    return { uid, gid, wrap: (cmd) => ['runuser', ['-u', 'postgres', '--', ...cmd]] };
  }
  return { uid: null, gid: null, wrap: (cmd) => [cmd[0], cmd.slice(1)] };
}

function run(user, cmd, opts = {}) {
  const [bin, args] = user.wrap(cmd);
  const r = spawnSync(bin, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

// Options: walLevel ('logical'), port (free), extraConf (lines).
export async function startPostgres({ walLevel = 'logical', port, extraConf = [] } = {}) {
  const bin = pgBinDir();
  const user = pgUser();
  const dir = mkdtempSync(join(tmpdir(), 'rt-pg-'));
  if (user.uid !== null) {
    chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
  }
  const data = join(dir, 'data');
  run(user, [join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8',
    '--no-sync']);
  port = port || await freePort();
  const conf = [
    "listen_addresses='127.0.0.1'",
    `port=${port}`,
    `unix_socket_directories='${dir}'`,
    `wal_level=${walLevel}`,
    'max_replication_slots=20',
    'max_wal_senders=20',
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    "log_min_messages=warning",
    ...extraConf,
  ];
  appendFileSync(join(data, 'postgresql.conf'), '\n' + conf.join('\n') + '\n');
  const db = {
    dir, data, port, bin, user,
    host: '127.0.0.1',
    dsn: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    url: (dbname = 'postgres', role = 'postgres') => `postgresql://${role}@127.0.0.1:${port}/${dbname}`,
    async start() {
      run(user, [join(bin, 'pg_ctl'), '-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    },
    async stop(mode = 'fast') {
      spawnSync(...user.wrap([join(bin, 'pg_ctl'), '-D', data, '-m', mode, '-w', 'stop']), { encoding: 'utf8' });
    },
    async restart() {
      await db.stop('fast');
      await db.start();
    },
    async client(dbname = 'postgres') {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: dbname });
      await c.connect();
      return c;
    },
    async query(sql, params) {
      const c = await db.client();
      try { return await c.query(sql, params); } finally { await c.end(); }
    },
    async cleanup() {
      await db.stop('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await db.start();
  return db;
}
