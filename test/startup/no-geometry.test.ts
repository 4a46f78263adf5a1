/**
 * The README's promise on a machine with no reference geography at all: no `../shared/` beside the
 * project and no official source reachable. The real `maillage serve --demo` (what `npm start`
 * runs) starts on a fresh data directory, and the pages answer: home, search (places listed
 * without distance), a place, territories, coverage (saying what is missing and how to load it),
 * the map, the API. Nothing answers 500.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('npm start with no reference geography at all', () => {
  let child: ChildProcess;
  let base: string;
  let output = '';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-start-'));

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TZ: 'Europe/Paris',
      NODE_ENV: 'development',
      PORT: String(port),
      DATA_DIR: path.join(tmp, 'data'),
      SHARED_DATA_DIR: path.join(tmp, 'no-shared'),
      // Every official address points at a port where nothing listens.
      TERRITORIES_SOURCE_MIRROR: 'http://127.0.0.1:1',
      TERRITORIES_SOURCE_TIMEOUT: '5',
      DEMO_PLACES: '300',
      LOG_LEVEL: 'warn',
    };
    child = spawn(process.execPath, ['bin/maillage.mjs', 'serve', '--demo'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 280_000;
    while (!output.includes('Maillage est prêt')) {
      if (child.exitCode !== null) throw new Error(`serve --demo exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`serve --demo did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function get(url: string): Promise<{ status: number; text: string }> {
    const r = await fetch(base + url);
    return { status: r.status, text: await r.text() };
  }

  test('start-up says what is missing and how to load it', () => {
    assert.match(output, /No reference geography/);
    assert.match(output, /territories load/);
    assert.doesNotMatch(output, /TypeError|Cannot read properties/);
  });

  test('the pages answer, and say plainly what is missing', async () => {
    const home = await get('/');
    assert.equal(home.status, 200);
    // Pages answered while the demo data loaded (saying so); once it is in, they no longer say it.
    assert.ok(output.indexOf('Maillage répond') >= 0 && output.indexOf('Maillage répond') < output.indexOf('Maillage est prêt'), output);
    assert.doesNotMatch(home.text, /Chargement des données de démonstration/);
    const search = await get('/recherche?q=mediatheque');
    assert.equal(search.status, 200, search.text.slice(0, 500));
    assert.match(search.text, /Médiathèque/);
    const near = await get('/recherche?q=Evreux');
    assert.ok(near.status < 500, near.text.slice(0, 500));
    const uid = /href="\/lieux\/([0-9a-f-]{36})/.exec(search.text)?.[1];
    assert.ok(uid, 'a place is linked from the results');
    assert.equal((await get(`/lieux/${uid}`)).status, 200);
    for (const url of ['/territoires', '/territoires/departement/27', '/territoires/commune/27229', '/carte/style.json', '/plan-du-site']) {
      const r = await get(url);
      assert.equal(r.status, 200, `${url}: ${r.status} ${r.text.slice(0, 300)}`);
    }
    for (const url of ['/couverture', '/couverture/departement/27', '/couverture/region/28']) {
      const r = await get(url);
      assert.ok(r.status < 500, `${url}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.match(r.text, /territories load/, `${url} says how to load the geography`);
    }
    const basemap = await get('/carte/fond/regions.geojson');
    assert.equal(basemap.status, 404);
    assert.match(basemap.text, /territories load/);
    const api = await get('/api/v1/places?q=mediatheque');
    assert.equal(api.status, 200);
    const near2 = await get('/api/v1/places?near=49.02,1.15&radius=10');
    assert.ok(near2.status < 500, near2.text);
    const status = await get('/api/v1/territories/status');
    assert.equal(status.status, 200);
    assert.equal(JSON.parse(status.text).centres, false);
  });
});
