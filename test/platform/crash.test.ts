/**
 * `kill -9` in the middle of a write loses nothing (the embedded database, the engine of every
 * machine without DATABASE_URL): a large import is killed while it writes; the data directory then
 * opens, the places written before are all there, the interrupted import left no row at all (one
 * transaction), the audit chain verifies, and the same import run again completes.
 *
 * Where the kill lands: the import's duration is measured first on a copy of the same directory,
 * and the kill is sent 40 % into its write phase (after the command's start-up, also
 * measured). The test checks that the process was really killed before it finished.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig, projectRoot } from '../../src/platform/config.ts';
import { openDb } from '../../src/platform/db/index.ts';
import { generatePlaces } from '../../src/modules/places/index.ts';
import { csvHeaderLine, toCsvLine } from '../../src/modules/places/model/index.ts';
import { listCommunes } from '../../src/modules/territories/index.ts';
import { testDb } from '../support/db.ts';

const config = loadConfig({ ...process.env, NODE_ENV: 'test' });
const example = path.join(config.sharedDataDir, 'standards', 'lieux-mediation-numerique', 'exemple-valide.csv');
const ROWS = 8_000;

function env(dataDir: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent', DATA_DIR: dataDir };
  delete e.DATABASE_URL; // the embedded database, whatever the suite's engine
  return e;
}
const bin = path.join(projectRoot, 'bin', 'maillage.mjs');
function maillage(dataDir: string, ...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: env(dataDir), timeout: 300_000 });
}
function timed(dataDir: string, ...args: string[]) {
  const t = Date.now();
  const r = maillage(dataDir, ...args);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return Date.now() - t;
}

async function counts(dataDir: string) {
  const db = await openDb({ databaseUrl: null, pgliteDir: path.join(dataDir, 'pglite') });
  try {
    const { rows } = await db.query<{ source: string; places: number; runs: number }>(
      `SELECT s.source, s.places, (SELECT count(*)::int FROM places.import_run r WHERE r.import_source = s.source) AS runs
         FROM (SELECT import_source AS source, count(*)::int AS places FROM places.place GROUP BY import_source) s ORDER BY 1`,
    );
    return Object.fromEntries(rows.map((r) => [r.source, { places: r.places, runs: r.runs }]));
  } finally {
    await db.close();
  }
}

// The embedded database is what this test crashes, whatever the suite's engine: the PostgreSQL run
// of the suite skips it rather than run it twice.
const skip = process.env.DATABASE_URL ? 'the embedded database is crashed here: run in the embedded suite' : fs.existsSync(example) ? false : `no example file at ${example}`;

describe('kill -9 in the middle of an import', { skip }, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-crash-'));
  const big = path.join(root, 'gros.csv');
  const dir = path.join(root, 'victim');
  const probe = path.join(root, 'probe');

  before(async () => {
    const db = await testDb();
    try {
      const communes = await listCommunes(db);
      fs.writeFileSync(big, csvHeaderLine() + generatePlaces(communes, ROWS, 7).map((p) => toCsvLine({ ...p, id: `crash-${p.id}` })).join(''));
    } finally {
      await db.close();
    }
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('the directory opens, earlier places are kept, the cut import left nothing, and runs again', async () => {
    fs.mkdirSync(dir);
    // Earlier data, committed before the crash.
    timed(dir, 'import', example, '--source', 'avant');
    fs.cpSync(dir, probe, { recursive: true });
    // How long the command takes to start (a one-row import) and to import the large file.
    const startup = timed(probe, 'import', example, '--source', 'avant');
    const whole = timed(probe, 'import', big, '--source', 'gros');
    assert.equal((await counts(probe)).gros?.places, ROWS, 'the large file imports completely when not interrupted');
    const killAt = startup + Math.max(200, (whole - startup) * 0.4);

    const child = spawn(process.execPath, [bin, 'import', big, '--source', 'gros'], { env: env(dir), stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAt);
    const end = await exited;
    clearTimeout(timer);
    assert.equal(end.signal, 'SIGKILL', `the import finished before the kill (${killAt} ms of ${whole} ms): nothing was tested`);

    const afterCrash = await counts(dir);
    assert.deepEqual(afterCrash.avant, { places: 1, runs: 1 }, 'the places written before the crash are all there');
    assert.equal(afterCrash.gros, undefined, 'the interrupted import left no place and no run behind');

    const verify = maillage(dir, 'audit', 'verify');
    assert.equal(verify.status, 0, verify.stderr + verify.stdout);
    assert.match(verify.stdout, /Audit trail intact: 1 entr/);

    timed(dir, 'import', big, '--source', 'gros');
    assert.deepEqual((await counts(dir)).gros, { places: ROWS, runs: 1 }, 'the same import, run again, completes');
  });
});
