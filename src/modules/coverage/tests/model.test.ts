/** Pure coverage rules on hand-made geographies with known answers. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../../platform/config.ts';
import {
  affectedCommunes,
  buildIndexes,
  changedCommunes,
  haversineKm,
  measureCommunes,
  parseCriterion,
  planGreedy,
  PointIndex,
  SERVICE_LABELS,
  SERVICES,
  summarise,
  whiteZones,
  type CommuneMeasure,
  type CoverageCommune,
  type CoveragePlace,
} from '../model.ts';
import { toCsv } from '../tables.ts';

const near = (actual: number, expected: number, tolerance: number, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} should be ${expected} ± ${tolerance}`);

/** 0.1° of longitude on the equator, in km (2πR/3600). */
const TENTH = (2 * Math.PI * 6371.0088) / 3600;

function commune(code: string, lon: number, population: number, extra: Partial<CoverageCommune> = {}): CoverageCommune {
  return { code, name: `Commune ${code}`, departement: '27', region: '28', epci: null, population, lat: 0, lon, ...extra };
}
function place(uid: string, lon: number, services: string[], openSaturday = false, communeCode: string | null = null, lat = 0): CoveragePlace {
  return { uid, lat, lon, services, openSaturday, communeCode };
}

describe('great-circle distance', () => {
  // Published great-circle distances between city halls (within 1 %).
  const cities = {
    paris: [48.8566, 2.3522],
    lyon: [45.764, 4.8357],
    marseille: [43.2965, 5.3698],
    lille: [50.6292, 3.0573],
    nice: [43.7102, 7.262],
  } as const;
  const d = (a: keyof typeof cities, b: keyof typeof cities) => haversineKm(cities[a][0], cities[a][1], cities[b][0], cities[b][1]);
  it('matches published distances between French cities', () => {
    near(d('paris', 'lyon'), 392, 3.92, 'Paris–Lyon');
    near(d('paris', 'marseille'), 661, 6.61, 'Paris–Marseille');
    near(d('lille', 'nice'), 833, 8.33, 'Lille–Nice');
  });
  it('reproduces the published haversine test vector (Nashville BNA – Los Angeles LAX)', () => {
    // Rosetta Code, "Haversine formula": 2887.2599506071106 km with a sphere of radius 6372.8 km.
    // The formula is linear in the radius, so with ours the distance scales by R / 6372.8.
    near(haversineKm(36.12, -86.67, 33.94, -118.4), (2887.2599506071106 * 6371.0088) / 6372.8, 1e-6, 'BNA–LAX');
  });
  it('is symmetric, zero on a point, and a tenth of a degree on the equator is 11.12 km', () => {
    assert.equal(d('paris', 'lyon'), d('lyon', 'paris'));
    assert.equal(haversineKm(45, 1, 45, 1), 0);
    near(haversineKm(0, 0, 0, 0.1), 11.1195, 0.001);
  });
});

describe('PointIndex (k-d tree on the sphere)', () => {
  it('finds the same nearest point and counts as a brute-force scan', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 41, max: 51, noNaN: true }), fc.double({ min: -5, max: 9, noNaN: true })), { minLength: 1, maxLength: 300 }),
        fc.array(fc.tuple(fc.double({ min: 41, max: 51, noNaN: true }), fc.double({ min: -5, max: 9, noNaN: true })), { minLength: 1, maxLength: 20 }),
        (pts, queries) => {
          const ix = new PointIndex(pts.map((p) => p[0]), pts.map((p) => p[1]));
          for (const [la, lo] of queries) {
            const ds = pts.map(([a, b]) => haversineKm(la, lo, a, b));
            const best = Math.min(...ds);
            const n = ix.nearest(la, lo)!;
            near(n.km, best, 1e-6);
            near(ds[n.index]!, best, 1e-6);
            const radii = [5, 10, 50, 200];
            const counts = ix.countWithin(la, lo, radii);
            radii.forEach((r, k) => {
              // Points at the exact boundary may fall either side by rounding: exclude them from the check.
              const sure = ds.filter((x) => x <= r - 1e-6).length;
              const maybe = ds.filter((x) => x <= r + 1e-6).length;
              assert.ok(counts[k]! >= sure && counts[k]! <= maybe, `count within ${r}: ${counts[k]} not in [${sure}, ${maybe}]`);
            });
            const within = ix.within(la, lo, 50).sort((a, b) => a - b);
            const expected = ds.map((x, i) => [x, i] as const).filter(([x]) => x <= 50 - 1e-6).map(([, i]) => i);
            for (const i of expected) assert.ok(within.includes(i));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
  it('handles empty sets and duplicate points', () => {
    const empty = new PointIndex([], []);
    assert.equal(empty.nearest(45, 2), null);
    assert.deepEqual(empty.countWithin(45, 2, [5, 10]), [0, 0]);
    const dup = new PointIndex(Array(50).fill(45), Array(50).fill(2));
    assert.equal(dup.nearest(45, 2)!.km, 0);
    assert.deepEqual(dup.countWithin(45, 2.01, [5]), [50]);
  });
  it('breaks ties between points at the same distance by key, whatever their order', () => {
    const keyed = new PointIndex([45, 45, 45], [2, 2, 3], ['c', 'a', 'b']);
    assert.equal(keyed.nearest(45, 2)!.index, 1); // 'a' before 'c'
    const unkeyed = new PointIndex([45, 45], [2, 2]);
    assert.equal(unkeyed.nearest(45, 2)!.index, 0);
  });
  it('measures the same whatever the order of the places (ties included)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 511 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
        (raw) => {
          // Coordinates on a coarse grid, so that many places share a position.
          const places = raw.map(([a, b, mask, sat], i) => place(`u${String(i).padStart(3, '0')}`, 2 + b / 100, SERVICE_LABELS.filter((_, k) => mask & (1 << k)), sat, null, 45 + a / 100));
          const communes = [commune('X', 0.05, 10, { lat: 45.05, lon: 2.05 }), commune('Y', 0, 10, { lat: 45.1, lon: 2.2 })];
          const forward = measureCommunes(communes, buildIndexes(places, SERVICE_LABELS));
          const backward = measureCommunes(communes, buildIndexes([...places].reverse(), SERVICE_LABELS));
          assert.deepEqual(backward, forward);
        },
      ),
      { numRuns: 50 },
    );
  });
  it('finds the smallest uid among many places at one position, split over several leaves', () => {
    // 40 places at one spot (uids in scrambled order) among 40 others: the tree splits the spot's
    // places over several leaves, whose boxes touch the spot exactly.
    const spot = { lat: 45.3, lon: 2.3 };
    const uids = Array.from({ length: 40 }, (_, i) => `s${String((i * 17) % 40).padStart(2, '0')}`);
    const places = [
      ...uids.map((uid) => place(uid, spot.lon, [SERVICE_LABELS[0]!], true, null, spot.lat)),
      ...Array.from({ length: 40 }, (_, i) => place(`o${String(i).padStart(2, '0')}`, 2.05 + (i % 8) / 10, [SERVICE_LABELS[1]!], false, null, 45.05 + Math.floor(i / 8) / 10)),
    ];
    const communes = [commune('A', 0, 1, { lat: 45.31, lon: 2.29 }), commune('B', 0, 1, { lat: 45.3, lon: 2.3 }), commune('C', 0, 1, { lat: 45.29, lon: 2.31 })];
    for (const order of [places, [...places].reverse()]) {
      for (const m of measureCommunes(communes, buildIndexes(order, SERVICE_LABELS))) {
        assert.equal(m.nearest!.uid, 's00', m.code);
        assert.equal(m.byService[0]!.uid, 's00', m.code);
        assert.equal(m.saturday!.uid, 's00', m.code);
      }
    }
  });
  it('measures every commune as a brute-force scan would, per service and on Saturday (ties to the smaller uid)', () => {
    // Many places share grid positions (ties), communes follow each other in an arbitrary order (each
    // tree's previous answer seeds the next search) and the nearest place often offers the service.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 511 }), fc.boolean()), { minLength: 1, maxLength: 80 }),
        fc.array(fc.tuple(fc.integer({ min: -2, max: 14 }), fc.integer({ min: -2, max: 14 })), { minLength: 1, maxLength: 20 }),
        (raw, spots) => {
          const places = raw.map(([a, b, mask, sat], i) => place(`u${String(i).padStart(3, '0')}`, 2 + b / 50, SERVICE_LABELS.filter((_, k) => mask & (1 << k)), sat, null, 45 + a / 50));
          const communes = spots.map(([a, b], i) => commune(`C${i}`, 0, 10, { lat: 45.00123 + a / 50, lon: 2.00437 + b / 50 }));
          const measured = measureCommunes(communes, buildIndexes(places, SERVICE_LABELS));
          const brute = (c: CoverageCommune, candidates: CoveragePlace[]) => {
            const d = candidates.map((p) => ({ p, km: haversineKm(c.lat!, c.lon!, p.lat, p.lon) }));
            const min = Math.min(...d.map((x) => x.km));
            return d.filter((x) => x.km <= min + 1e-9).map((x) => x.p);
          };
          const check = (got: { km: number; uid: string } | null, c: CoverageCommune, candidates: CoveragePlace[], what: string) => {
            if (candidates.length === 0) return assert.equal(got, null, what);
            const best = brute(c, candidates);
            assert.ok(got, what);
            near(got.km, haversineKm(c.lat!, c.lon!, best[0]!.lat, best[0]!.lon), 1e-6, what);
            assert.ok(best.some((p) => p.uid === got.uid), `${what}: ${got.uid} is not among the nearest`);
            // Places at the very same position tie exactly: the smaller uid wins.
            const samePosition = best.filter((p) => places.find((q) => q.uid === got.uid)!.lat === p.lat && places.find((q) => q.uid === got.uid)!.lon === p.lon);
            assert.equal(got.uid, samePosition.map((p) => p.uid).sort()[0], what);
          };
          communes.forEach((c, i) => {
            const m = measured[i]!;
            check(m.nearest, c, places, `${c.code} nearest`);
            SERVICE_LABELS.forEach((s, k) => check(m.byService[k]!, c, places.filter((p) => p.services.includes(s)), `${c.code} service ${k}`));
            check(m.saturday, c, places.filter((p) => p.openSaturday), `${c.code} saturday`);
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('commune measures and aggregates', () => {
  const demarches = SERVICE_LABELS[0]!;
  const outils = SERVICE_LABELS[1]!;
  // A ——— B ——————— C on the equator: A at 0°, B at 0.1° (11.12 km), C at 0.3° (33.36 km); D has no centre.
  const communes = [commune('A', 0, 1000), commune('B', 0.1, 500), commune('C', 0.3, 100), commune('D', 0, 50, { lat: null, lon: null })];
  const places = [place('p1', 0, [demarches], false, 'A'), place('p2', 0.3, [outils], true, 'C'), place('p3', 0.3, [outils], false, 'D', 1)];
  const ix = buildIndexes(places.slice(0, 2).concat({ ...places[2]!, lat: 0, lon: 0.3 }), SERVICE_LABELS);
  const m = measureCommunes(communes, ix);
  const [A, B, C, D] = m as [CommuneMeasure, CommuneMeasure, CommuneMeasure, CommuneMeasure];

  it('gives the distance to the nearest place, overall, per service and open on Saturday', () => {
    assert.equal(A.nearest!.uid, 'p1');
    near(A.nearest!.km, 0, 1e-9);
    near(B.nearest!.km, TENTH, 1e-6);
    assert.equal(B.nearest!.uid, 'p1');
    near(C.nearest!.km, 0, 1e-9);
    near(A.byService[0]!.km, 0, 1e-9); // démarches at A
    near(C.byService[0]!.km, 3 * TENTH, 1e-6); // démarches only at A
    near(A.byService[1]!.km, 3 * TENTH, 1e-6); // outils only at C
    assert.equal(A.byService[2], null); // nobody offers « insertion »
    near(A.saturday!.km, 3 * TENTH, 1e-6);
    assert.equal(A.saturday!.uid, 'p2');
  });
  it('counts places within 5, 10 and 20 km and places in the commune', () => {
    assert.deepEqual(A.within, [1, 1, 1]);
    assert.deepEqual(B.within, [0, 0, 1]); // p1 at 11.1 km; p2 and p3 at 22.2 km
    assert.deepEqual(C.within, [2, 2, 2]);
    assert.equal(A.placesInCommune, 1);
    assert.equal(C.placesInCommune, 1);
  });
  it('keeps communes without a centre, unmeasured but with their places', () => {
    assert.equal(D.nearest, null);
    assert.equal(D.within, null);
    assert.equal(D.placesInCommune, 1);
  });
  it('aggregates shares of the population of communes with a centre, weighted mean distance, places per 10,000', () => {
    const s = summarise(m, { level: 'departement', code: '27', name: 'Eure' }, SERVICE_LABELS.length);
    assert.equal(s.communes, 4);
    assert.equal(s.communesWithCentre, 3);
    assert.equal(s.communesWithoutCentre, 1);
    assert.equal(s.population, 1650);
    assert.equal(s.populationWithoutCentre, 50);
    near(s.overall.within5!, 1100 / 1600, 1e-12);
    near(s.overall.within10!, 1100 / 1600, 1e-12);
    near(s.overall.within20!, 1, 1e-12);
    near(s.overall.meanKm!, (500 * TENTH) / 1600, 1e-6); // distances are rounded to the millimetre
    near(s.saturday.within5!, 100 / 1600, 1e-12);
    assert.equal(s.byService[2]!.within20, 0);
    assert.equal(s.byService[2]!.meanKm, null);
    assert.equal(s.places, 3);
    near(s.placesPer10k!, (3 * 10000) / 1650, 1e-9);
    assert.equal(s.communesWithPlace, 3);
  });
});

describe('white zones', () => {
  // Communes along the equator every 0.05° (5.56 km); one place at 0°.
  const communes = Array.from({ length: 12 }, (_, i) => commune(`C${String(i).padStart(2, '0')}`, i * 0.05, 100 + i));
  communes.push(commune('FAR', 2, 5000)); // 222 km away, alone
  const ix = buildIndexes([place('p', 0, [])], SERVICE_LABELS);
  const m = measureCommunes(communes, ix);
  it('lists communes beyond the threshold ranked by population and groups neighbours', () => {
    const z = whiteZones(m, { kind: 'overall' }, 30, 8);
    // Beyond 30 km: 0.3° → 33.4 km, so C06…C11 and FAR.
    assert.deepEqual(z.communes.map((c) => c.code), ['FAR', 'C11', 'C10', 'C09', 'C08', 'C07', 'C06']);
    assert.equal(z.groups.length, 2);
    assert.equal(z.groups[0]!.main.code, 'FAR');
    assert.equal(z.groups[0]!.population, 5000);
    assert.equal(z.groups[1]!.communeCount, 6);
    assert.equal(z.groups[1]!.population, 106 + 107 + 108 + 109 + 110 + 111);
    assert.equal(z.groups[1]!.main.code, 'C11');
    assert.equal(z.communes.find((c) => c.code === 'C07')!.group, 2);
  });
  it('splits a chain when neighbours are farther apart than the link distance', () => {
    const z = whiteZones(m, { kind: 'overall' }, 30, 5);
    assert.equal(z.groups.length, 7);
  });
  it('treats "no place at all" as white', () => {
    const z = whiteZones(m, { kind: 'service', index: 0 }, 1000, 8);
    assert.equal(z.communes.length, 13);
    assert.equal(z.communes[0]!.km, null);
  });
});

describe('greedy planner', () => {
  // Cluster X: three communes of 100 around 1°; Y: one commune of 250 at 3°; Z: 40 at 5°; W: 1000 at 0° already covered.
  const communes = [
    commune('W', 0, 1000),
    commune('X1', 1, 100),
    commune('X2', 1.05, 100),
    commune('X3', 1.1, 100),
    commune('Y', 3, 250),
    commune('Z', 5, 40),
  ];
  const m = measureCommunes(communes, buildIndexes([place('existing', 0, [SERVICE_LABELS[0]!])], SERVICE_LABELS));
  it('picks the cluster first, then the isolated commune, explaining each pick', () => {
    const r = planGreedy(m, { kind: 'overall' }, 10, 2);
    assert.equal(r.coveredBefore, 1000);
    assert.deepEqual(r.picks.map((p) => p.code), ['X2', 'Y']);
    assert.equal(r.picks[0]!.newlyCoveredPopulation, 300);
    assert.deepEqual(r.picks[0]!.newlyCovered.map((c) => c.code).sort(), ['X1', 'X2', 'X3']);
    assert.equal(r.picks[1]!.newlyCoveredPopulation, 250);
    assert.equal(r.coveredAfter, 1550);
    assert.equal(r.population, 1590);
    assert.equal(r.picks[0]!.nearestExisting!.uid, 'existing');
    near(r.picks[0]!.nearestExisting!.km, 10.5 * TENTH, 1e-6);
    assert.equal(r.optimumUpperBound, 1550); // greedy is optimal here, and the bound proves it
    assert.equal(r.guaranteedRatio, 1);
  });
  it('stops when nothing more can be covered', () => {
    const r = planGreedy(m, { kind: 'overall' }, 10, 10);
    assert.deepEqual(r.picks.map((p) => p.code), ['X2', 'Y', 'Z']);
    assert.equal(r.coveredAfter, r.population);
  });
  it('uses the distance to the chosen service', () => {
    const r = planGreedy(m, { kind: 'service', index: 1 }, 10, 1);
    assert.equal(r.coveredBefore, 0); // nobody offers service 1
    assert.equal(r.picks[0]!.code, 'W');
    assert.equal(r.picks[0]!.nearestExisting, null);
  });
  it('adds at least (1 − 1/e) of the best gain, and the bound is above the true optimum (brute force)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1000 })), { minLength: 3, maxLength: 14 }), (pts) => {
        const cs = pts.map(([a, b, pop], i) => ({ ...commune(`K${i}`, b, pop), lat: a }));
        const ms = measureCommunes(cs, buildIndexes([], SERVICE_LABELS));
        const k = 2;
        const r = planGreedy(ms, { kind: 'overall' }, 25, k);
        // Brute force over all pairs.
        let best = 0;
        for (let i = 0; i < cs.length; i++)
          for (let j = i; j < cs.length; j++) {
            const covered = cs.filter((c) => haversineKm(c.lat!, c.lon!, cs[i]!.lat!, cs[i]!.lon!) <= 25 || haversineKm(c.lat!, c.lon!, cs[j]!.lat!, cs[j]!.lon!) <= 25);
            best = Math.max(best, covered.reduce((s, c) => s + c.population, 0));
          }
        assert.ok(r.coveredAfter >= (1 - 1 / Math.E) * best - 1e-9, `greedy ${r.coveredAfter} vs best ${best}`);
        assert.ok(r.optimumUpperBound >= best - 1e-9, `bound ${r.optimumUpperBound} below best ${best}`);
      }),
      { numRuns: 80 },
    );
  });
});

describe('incremental recompute', () => {
  it('recomputing only the affected communes gives the same measures as a full recompute', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const communes = Array.from({ length: 400 }, (_, i) => ({ ...commune(`M${i}`, 1 + rnd() * 2, 100), lat: 48 + rnd() * 2 }));
    let places = Array.from({ length: 60 }, (_, i) =>
      place(`q${i}`, 1 + rnd() * 2, SERVICE_LABELS.filter(() => rnd() < 0.3), rnd() < 0.4, communes[Math.floor(rnd() * 400)]!.code, 48 + rnd() * 2),
    );
    let measures = measureCommunes(communes, buildIndexes(places, SERVICE_LABELS));
    for (let round = 0; round < 15; round++) {
      const i = Math.floor(rnd() * places.length);
      const old = places[i]!;
      const kind = round % 3;
      const changes: CoveragePlace[] = [];
      if (kind === 0) {
        // moved, with other services
        const moved = { ...old, lat: 48 + rnd() * 2, lon: 1 + rnd() * 2, services: SERVICE_LABELS.filter(() => rnd() < 0.5), communeCode: communes[Math.floor(rnd() * 400)]!.code };
        places = places.map((p) => (p.uid === old.uid ? moved : p));
        changes.push(old, moved);
      } else if (kind === 1) {
        places = places.filter((p) => p.uid !== old.uid); // closed
        changes.push(old);
      } else {
        const added = place(`n${round}`, 1 + rnd() * 2, [SERVICE_LABELS[round % 9]!], true, communes[Math.floor(rnd() * 400)]!.code, 48 + rnd() * 2);
        places = [...places, added];
        changes.push(added);
      }
      const affected = affectedCommunes(measures, changes, SERVICE_LABELS, new Set(changes.map((c) => c.communeCode!)));
      const ix = buildIndexes(places, SERVICE_LABELS);
      const incremental = measures.map((m) => (affected.has(m.code) ? measureCommunes([m], ix)[0]! : m));
      const full = measureCommunes(communes, ix);
      assert.deepEqual(incremental, full, `round ${round}`);
      assert.ok(affected.size < communes.length, 'a single change must not touch every commune');
      measures = incremental;
    }
  });
  it('lists the communes whose distance changed in "what if"', () => {
    const communes = [commune('A', 0, 1000), commune('B', 0.1, 500)];
    const before = measureCommunes(communes, buildIndexes([place('p', 0, [])], SERVICE_LABELS));
    const after = measureCommunes(communes, buildIndexes([place('p', 0, []), place('new', 0.1, [])], SERVICE_LABELS));
    const changed = changedCommunes(before, after, { kind: 'overall' });
    assert.equal(changed.length, 1);
    assert.equal(changed[0]!.code, 'B');
    near(changed[0]!.beforeKm!, TENTH, 1e-6);
    assert.equal(changed[0]!.afterKm, 0);
  });
});

describe('services and criteria', () => {
  it('lists exactly the services of the published standard, in its order', () => {
    const schema = path.join(loadConfig({ ...process.env, NODE_ENV: 'test' }).sharedDataDir, 'standards', 'lieux-mediation-numerique', 'schema-v1.0.2.json');
    const field = (JSON.parse(fs.readFileSync(schema, 'utf8')) as { fields: { name: string; constraints?: { pattern?: string } }[] }).fields.find((f) => f.name === 'services')!;
    const alternatives = /\(([^()]*(?:\([^()]*\)[^()]*)*)\)\)\+\$$/.exec(field.constraints!.pattern!)![1]!.split('|');
    assert.deepEqual([...SERVICE_LABELS], alternatives);
  });
  it('reads criteria from keys, labels, "samedi" and empty', () => {
    assert.deepEqual(parseCriterion(''), { kind: 'overall' });
    assert.deepEqual(parseCriterion('samedi'), { kind: 'saturday' });
    assert.deepEqual(parseCriterion('demarches'), { kind: 'service', index: 0 });
    assert.deepEqual(parseCriterion(SERVICES[8]!.label), { kind: 'service', index: 8 });
    assert.equal(parseCriterion('nope'), null);
  });
  it('writes RFC 4180 CSV', () => {
    const csv = toCsv({ columns: ['a', 'b'], rows: [['x, "y"', 1.5], [null, true]] });
    assert.equal(csv, 'a,b\r\n"x, ""y""",1.5\r\n,true\r\n');
  });
});
