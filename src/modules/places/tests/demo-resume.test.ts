/**
 * The places demo of a first start: written in 1,000-place transactions, resumed where a stopped
 * first start left it (the committed batches are a prefix of the same generated places), skipped
 * once complete, and never added to a database holding places of its own.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { placesModule } from '../index.ts';

let t: Awaited<ReturnType<typeof testApp>>;
const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-demo-resume-'));
before(async () => {
  t = await testApp();
});
after(async () => {
  await t.close();
  fs.rmSync(empty, { recursive: true, force: true });
});

const seed = (demoPlaces: number) =>
  placesModule.seedDemo!({ ...t.ctx, config: { ...t.ctx.config, demoPlaces, sharedDataDir: empty }, progress: silentProgress });
const demoRows = async () =>
  (await t.db.query<{ id: string; uid: string }>(`SELECT id, uid::text AS uid FROM places.place WHERE import_source = 'demo' ORDER BY id`)).rows;

test('a first start stopped between two batches is completed by the next one, keeping the places written', async () => {
  await seed(2500);
  const full = await demoRows();
  assert.equal(full.length, 2500);
  assert.equal(full[0]!.id, 'demo-000001');
  // As if killed after the first batch: only the first 1,000 generated places were committed.
  await t.db.query(`DELETE FROM places.place WHERE import_source = 'demo' AND id > 'demo-001000'`);
  assert.equal((await demoRows()).length, 1000);
  await seed(2500);
  const resumed = await demoRows();
  assert.deepEqual(resumed.map((r) => r.id), full.map((r) => r.id));
  // The places already written are kept as they were (same uid: links to them survive).
  assert.deepEqual(resumed.slice(0, 1000), full.slice(0, 1000));
  // Complete: a further start changes nothing.
  await seed(2500);
  assert.deepEqual(await demoRows(), resumed);
});

test('a database with places of its own gets no demo places', async () => {
  await t.db.query(`DELETE FROM places.place WHERE import_source = 'demo'`);
  await seed(1200);
  assert.equal((await demoRows()).length, 1200);
  await t.db.query(`UPDATE places.place SET import_source = 'own-import' WHERE id = 'demo-000001'`);
  await t.db.query(`DELETE FROM places.place WHERE import_source = 'demo'`);
  await seed(1200);
  assert.equal((await demoRows()).length, 0);
});
