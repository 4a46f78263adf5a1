/** The database path: real communes of the test fixture, places written through the places module. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testDb } from '../../../../test/support/db.ts';
import type { Db } from '../../../platform/db/index.ts';
import { dataVersion, importPlaces, listPlacePoints, upsertPlaces, type PlaceRecord } from '../../places/index.ts';
import { createLogger } from '../../../platform/log.ts';
import { haversineKm, SERVICE_LABELS } from '../model.ts';
import { ensureFresh, followPlaceChanges, plan, recomputeAll, refresh, scope, scopeSummary, summaries, whatIf, whiteZonesFor, type PlaceChangeEvent } from '../service.ts';
import { readMeasures, readState } from '../store.ts';
import { geometryStatus, getCommuneForTest, placeRecord, recordsCsv } from './support.ts';

let db: Db;
before(async () => {
  db = await testDb();
});
after(async () => {
  await db.close();
});

// Évreux (27229) and Vernon (27681) in the Eure; Ajaccio (2A004) far away.
const EVREUX = placeRecord({ id: 'evreux', nom: 'Médiathèque d’Évreux', code_insee: '27229', code_postal: '27000', commune: 'Évreux', latitude: 49.0241, longitude: 1.1508, services: [SERVICE_LABELS[0]!] });
const VERNON = placeRecord({ id: 'vernon', nom: 'France services Vernon', code_insee: '27681', code_postal: '27200', commune: 'Vernon', latitude: 49.0928, longitude: 1.4853, services: [SERVICE_LABELS[1]!], horaires: 'Mo-Sa 09:00-12:00' });

describe('coverage on the database', () => {
  it('computes every current commune, counting communes without a centre apart', async () => {
    await upsertPlaces(db, [EVREUX, VERNON], { source: 'test' });
    const r = await recomputeAll(db);
    assert.equal(r.kind, 'full');
    assert.equal(r.places, 2);
    const g = await geometryStatus(db);
    assert.equal(r.communesWithoutCentre, g.communesWithoutCentre.length);
    const all = await readMeasures(db);
    assert.equal(all.length, r.communes);
    const missing = all.filter((m) => m.lat === null).map((m) => m.code).sort();
    assert.deepEqual(missing, [...g.communesWithoutCentre].sort());
    for (const m of all.filter((x) => x.lat === null)) assert.equal(m.nearest, null);
  });

  it('stores the great-circle distance from each commune centre to the nearest place', async () => {
    const [evreux] = await readMeasures(db, { level: 'codes', codes: ['27229'] });
    const c = (await getCommuneForTest(db, '27229'))!;
    // Stored to the millimetre.
    assert.ok(Math.abs(evreux!.nearest!.km - haversineKm(c.lat!, c.lon!, 49.0241, 1.1508)) <= 5e-7 + 1e-12);
    assert.equal(evreux!.placesInCommune, 1);
    assert.ok(evreux!.byService[0]!.km < 5); // démarches at Évreux
    assert.ok(evreux!.byService[1]!.km > 20); // outils only at Vernon, ~25 km away
    const [ajaccio] = await readMeasures(db, { level: 'codes', codes: ['2A004'] });
    assert.ok(ajaccio!.nearest!.km > 700);
    assert.deepEqual(ajaccio!.within, [0, 0, 0]);
  });

  it('aggregates by département and région with the populations of the reference', async () => {
    const s = await scope(db, '27');
    const sum = scopeSummary(s);
    assert.equal(sum.code, '27');
    assert.equal(sum.places, 2);
    assert.equal(sum.communes, s.measures.length);
    assert.ok(sum.overall.within20! > 0 && sum.overall.within20! < 1);
    const deps = await summaries(db, 'departement', 'region:28');
    assert.deepEqual(deps.areas.map((a) => a.code), ['14', '27', '50', '61', '76']);
    assert.equal(deps.areas.find((a) => a.code === '27')!.name, 'Eure');
    const regions = await summaries(db, 'region');
    const total = regions.areas.reduce((x, a) => x + a.population, 0);
    const france = (await summaries(db, 'france')).areas[0]!;
    assert.equal(total, france.population);
    assert.equal(france.places, 2);
  });

  it('updates only the affected communes when a place is added, moved or closed, and matches a full recompute', async () => {
    // Same service as Évreux, so only the communes nearer to Ajaccio than to the Eure can change.
    const ajaccioPlace = placeRecord({ id: 'ajaccio', nom: 'Lieu d’Ajaccio', code_insee: '2A004', code_postal: '20000', commune: 'Ajaccio', latitude: 41.9192, longitude: 8.7386, services: [SERVICE_LABELS[0]!] });
    const beforeAdd = new Map((await readMeasures(db)).map((m) => [m.code, JSON.stringify(m)]));
    await upsertPlaces(db, [ajaccioPlace], { source: 'test' });
    const added = await refresh(db);
    assert.equal(added.kind, 'incremental');
    assert.equal(added.added, 1);
    const afterAdd = await readMeasures(db);
    const reallyChanged = afterAdd.filter((m) => beforeAdd.get(m.code) !== JSON.stringify(m)).length;
    assert.ok(reallyChanged > 0 && added.updatedCommunes >= reallyChanged, `${added.updatedCommunes} updated, ${reallyChanged} changed`);
    assert.ok(added.updatedCommunes < afterAdd.length / 2, `${added.updatedCommunes} of ${afterAdd.length} communes updated`);
    const [ajaccio] = await readMeasures(db, { level: 'codes', codes: ['2A004'] });
    assert.ok(ajaccio!.nearest!.km < 5);

    // Moved: Vernon's place goes to Les Andelys.
    await upsertPlaces(db, [{ ...VERNON, latitude: 49.2461, longitude: 1.4117 }], { source: 'test' });
    const moved = await refresh(db);
    assert.equal(moved.kind, 'incremental');
    assert.equal(moved.changed, 1);

    // Closed: the import of source "lot" without one of its places removes it.
    await importPlaces(db, recordsCsv([placeRecord({ id: 'l1', nom: 'Lieu un', latitude: 49.3, longitude: 1.0 }), placeRecord({ id: 'l2', nom: 'Lieu deux', latitude: 49.35, longitude: 1.05 })]), { importSource: 'lot', actor: 'test' });
    await importPlaces(db, recordsCsv([placeRecord({ id: 'l1', nom: 'Lieu un', latitude: 49.3, longitude: 1.0 })]), { importSource: 'lot', actor: 'test', replaceSource: true });
    const state = await ensureFresh(db);
    assert.equal(state.lastKind, 'incremental');
    assert.equal(state.places, 4);

    const incremental = await readMeasures(db);
    await recomputeAll(db);
    const full = await readMeasures(db);
    assert.deepEqual(incremental, full);
  });

  it('reads only the places named as changed, and ends with the measures of a full recompute', async () => {
    await recomputeAll(db);
    const rouen = placeRecord({ id: 'rouen', nom: 'Lieu de Rouen', code_insee: '76540', code_postal: '76000', commune: 'Rouen', latitude: 49.4431, longitude: 1.0993, services: [SERVICE_LABELS[2]!] });
    const added = await upsertPlaces(db, [rouen], { source: 'test' });
    const moved = await upsertPlaces(db, [{ ...EVREUX, latitude: 49.03, longitude: 1.16 }], { source: 'test' });
    // The import of « lot » with l3 instead of l1 removes l1.
    const l1 = (await listPlacePoints(db)).find((p) => p.lat === 49.3 && p.lon === 1.0)!;
    await importPlaces(db, recordsCsv([placeRecord({ id: 'l3', nom: 'Lieu trois', latitude: 49.2, longitude: 0.9 })]), { importSource: 'lot', actor: 'test', replaceSource: true });
    const l3 = (await listPlacePoints(db)).find((p) => p.lat === 49.2 && p.lon === 0.9)!;

    // Only Rouen is named: the move and the removal are not read, so not seen yet.
    const first = await refresh(db, { changedUids: added.uids });
    assert.deepEqual([first.kind, first.added, first.changed, first.removed, first.places], ['incremental', 1, 0, 0, 5]);
    const second = await refresh(db, { changedUids: [...moved.uids, l1.uid, l3.uid, 'not-a-uid'] });
    assert.deepEqual([second.kind, second.added, second.changed, second.removed, second.places], ['incremental', 1, 1, 1, 5]);
    const incremental = await readMeasures(db);
    const full = await recomputeAll(db);
    assert.equal(full.writtenCommunes, 0, 'a full recompute finds nothing to rewrite');
    assert.deepEqual(await readMeasures(db), incremental);
  });

  it('trusts announced changes only when their data versions chain to the current one', async () => {
    const v0 = (await readState(db))!.placesVersion!;
    const caen = await upsertPlaces(db, [placeRecord({ id: 'caen', nom: 'Lieu de Caen', code_insee: '14118', code_postal: '14000', commune: 'Caen', latitude: 49.1829, longitude: -0.3707 })], { source: 'test' });
    const v1 = await dataVersion(db);
    await upsertPlaces(db, [placeRecord({ id: 'lisieux', nom: 'Lieu de Lisieux', code_insee: '14366', code_postal: '14100', commune: 'Lisieux', latitude: 49.1466, longitude: 0.2263 })], { source: 'test' });
    // Lisieux's write was not announced: the versions stop at v1, so every place is compared.
    const r = await refresh(db, { changedUids: caen.uids, versions: [{ before: v0, after: v1 }] });
    assert.deepEqual([r.kind, r.added], ['incremental', 2]);
    // Announced through the change events: the listener refreshes from the named place alone.
    let emit: ((e: PlaceChangeEvent) => void) | null = null;
    const stop = followPlaceChanges(db, createLogger('silent'), (listener) => {
      emit = listener;
      return () => undefined;
    });
    const before = await dataVersion(db);
    const bayeux = await upsertPlaces(db, [placeRecord({ id: 'bayeux', nom: 'Lieu de Bayeux', code_insee: '14047', code_postal: '14400', commune: 'Bayeux', latitude: 49.2764, longitude: -0.7024 })], { source: 'test' });
    emit!({ uids: bayeux.uids, removed: 0, versions: { before, after: await dataVersion(db) } });
    await new Promise((resolve) => setTimeout(resolve, 400));
    stop();
    await refresh(db, { changedUids: [], versions: [] }); // queued after the listener's refresh
    const state = (await readState(db))!;
    assert.equal(state.lastKind, 'incremental');
    assert.equal(state.placesVersion, await dataVersion(db));
    assert.equal(state.places, 8);
    const incremental = await readMeasures(db);
    assert.equal((await recomputeAll(db)).writtenCommunes, 0);
    assert.deepEqual(await readMeasures(db), incremental);
  });

  it('finds white zones and plans where to open next in a département', async () => {
    const z = await whiteZonesFor(db, { territory: '27', thresholdKm: 10, linkKm: 8, criterion: { kind: 'overall' } });
    assert.ok(z.zones.communes.length > 0);
    for (let i = 1; i < z.zones.groups.length; i++) assert.ok(z.zones.groups[i - 1]!.population >= z.zones.groups[i]!.population);
    assert.ok(z.zones.communes.every((c) => c.departement === '27' && c.km! > 10));

    const r = await plan(db, { territory: '27', radiusKm: 10, k: 5, criterion: { kind: 'overall' } });
    assert.equal(r.picks.length, 5);
    for (let i = 1; i < r.picks.length; i++) assert.ok(r.picks[i - 1]!.newlyCoveredPopulation >= r.picks[i]!.newlyCoveredPopulation);
    assert.equal(r.coveredAfter, r.coveredBefore + r.picks.reduce((x, p) => x + p.newlyCoveredPopulation, 0));
    assert.ok(r.guaranteedRatio! >= 1 - 1 / Math.E);
    const first = r.picks[0]!;
    assert.ok(first.nearestExisting && r.places[first.nearestExisting.uid]?.name, 'the nearest existing place is named');
    await assert.rejects(plan(db, { territory: '99999', radiusKm: 10, k: 5, criterion: { kind: 'overall' } }), /Territoire inconnu/);
  });

  it('answers "what if" for closures and openings', async () => {
    const s = await scope(db, '27');
    const evreuxUid = s.measures.find((m) => m.code === '27229')!.nearest!.uid;
    const closed = await whatIf(db, { territory: '27', close: [evreuxUid, 'not-a-place'], open: [], criterion: { kind: 'overall' } });
    assert.equal(closed.closed, 1);
    assert.deepEqual(closed.unknownUids, ['not-a-place']);
    assert.ok(closed.after.overall.meanKm! > closed.before.overall.meanKm!);
    assert.ok(closed.changed.some((c) => c.code === '27229'));
    const opened = await whatIf(db, { territory: '27', close: [], open: [{ lat: 48.75, lon: 0.85 }], criterion: { kind: 'overall' } });
    assert.ok(opened.after.overall.within10! >= opened.before.overall.within10!);
    assert.ok(opened.changed.length > 0);
    // Nothing was written.
    assert.equal((await readState(db))!.places, 8);
  });
});
