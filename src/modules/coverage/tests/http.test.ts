/**
 * The coverage module through its interfaces: the JSON API and its CSV exports, the pages (figures,
 * map data, tables, planner and "what if" forms with CSRF), the outlines and the CLI command.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { escapeHtml } from '../../../platform/html/html.ts';
import type { CliContext } from '../../../platform/module.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { upsertPlaces } from '../../places/index.ts';
import { listCommunes } from '../../territories/index.ts';
import { coverageCommands } from '../cli.ts';
import { haversineKm, SERVICE_LABELS } from '../model.ts';
import { placeRecord } from './support.ts';

let t: Awaited<ReturnType<typeof testApp>>;
let eure: Awaited<ReturnType<typeof listCommunes>>;

const EVREUX = placeRecord({ id: 'evreux', nom: 'Médiathèque d’Évreux', code_insee: '27229', code_postal: '27000', commune: 'Évreux', latitude: 49.0241, longitude: 1.1508, services: [SERVICE_LABELS[0]!] });
const VERNON = placeRecord({ id: 'vernon', nom: 'France services Vernon', code_insee: '27681', code_postal: '27200', commune: 'Vernon', latitude: 49.0928, longitude: 1.4853, services: [SERVICE_LABELS[1]!], horaires: 'Mo-Sa 09:00-12:00' });

before(async () => {
  t = await testApp();
  await upsertPlaces(t.db, [EVREUX, VERNON], { source: 'test' });
  eure = await listCommunes(t.db, 'departement:27');
});
after(async () => {
  await t.close();
});

const get = (url: string) => t.app.inject({ method: 'GET', url });

/** Parses RFC 4180 CSV (quotes, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\r') continue;
    else if (ch === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else cell += ch;
  }
  if (cell !== '' || row.length) row.push(cell), rows.push(row);
  return rows;
}

function csvRecords(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])));
}

describe('coverage API', () => {
  it('lists every commune of a territory with its measures, in JSON and CSV', async () => {
    const r = await get('/api/v1/coverage/communes?territory=27');
    assert.equal(r.statusCode, 200);
    const body = r.json() as { territory: { code: string }; summary: { communes: number; places: number }; communes: { code: string; nearestKm: number | null; services: Record<string, number | null>; hasPlace: boolean; within20: number | null }[] };
    assert.equal(body.territory.code, '27');
    assert.equal(body.communes.length, eure.length);
    assert.equal(body.summary.communes, eure.length);
    assert.equal(body.summary.places, 2);
    const evreuxCommune = eure.find((c) => c.code === '27229')!;
    const evreux = body.communes.find((c) => c.code === '27229')!;
    assert.equal(evreux.nearestKm, Number(haversineKm(evreuxCommune.lat!, evreuxCommune.lon!, 49.0241, 1.1508).toFixed(3)));
    assert.equal(evreux.hasPlace, true);
    assert.ok(evreux.services.outils! > 20, 'outils are only offered in Vernon');
    assert.equal(evreux.services.insertion, null, 'nobody offers insertion');

    for (const url of ['/api/v1/coverage/communes.csv?territory=27', '/api/v1/coverage/communes?territory=27&format=csv']) {
      const csv = await get(url);
      assert.equal(csv.statusCode, 200);
      assert.match(csv.headers['content-type'] as string, /^text\/csv/);
      assert.match(csv.headers['content-disposition'] as string, /attachment; filename="couverture-communes-27\.csv"/);
      const rows = csvRecords(csv.body);
      assert.equal(rows.length, eure.length);
      const row = rows.find((x) => x.code_insee === '27229')!;
      assert.equal(Number(row.distance_km), evreux.nearestKm);
      assert.equal(row.lieux_dans_la_commune, '1');
      assert.equal(row.distance_km_insertion, '');
      assert.equal(row.nom, 'Évreux');
    }
  });

  it('gives summaries per département of a région, and per territory, in JSON and CSV', async () => {
    const r = await get('/api/v1/coverage/summary?level=departement&territory=region:28');
    assert.equal(r.statusCode, 200);
    const areas = (r.json() as { areas: { code: string; name: string; population: number; places: number; placesPer10k: number; overall: { within20: number } }[] }).areas;
    assert.deepEqual(areas.map((a) => a.code), ['14', '27', '50', '61', '76']);
    const e = areas.find((a) => a.code === '27')!;
    assert.equal(e.name, 'Eure');
    assert.equal(e.population, eure.reduce((s, c) => s + c.population, 0));
    assert.equal(e.places, 2);
    assert.equal(e.placesPer10k, Number(((2 * 10000) / e.population).toFixed(2)));
    assert.ok(e.overall.within20 > 0 && e.overall.within20 < 1);
    assert.equal(areas.find((a) => a.code === '14')!.places, 0);

    const csv = await get('/api/v1/coverage/summary.csv?level=departement&territory=region:28');
    assert.equal(csv.statusCode, 200);
    const rows = csvRecords(csv.body);
    assert.deepEqual(rows.map((x) => x.code), ['14', '27', '50', '61', '76']);
    assert.equal(Number(rows[1]!.part_20km), e.overall.within20);
    assert.equal(rows[1]!.niveau, 'departement');

    const one = (await get('/api/v1/coverage/summary?territory=27')).json() as { areas: { code: string }[] };
    assert.deepEqual(one.areas.map((a) => a.code), ['27']);
  });

  it('lists white zones, groups and communes, in JSON and both CSV tables', async () => {
    const r = await get('/api/v1/coverage/white-zones?territory=27&km=15&link_km=8');
    assert.equal(r.statusCode, 200);
    const z = r.json() as { thresholdKm: number; totals: { communes: number; groups: number; population: number }; groups: { rank: number; population: number; communes: string[] }[]; communes: { code: string; km: number; group: number }[] };
    assert.equal(z.thresholdKm, 15);
    assert.ok(z.totals.communes > 0);
    assert.ok(z.communes.every((c) => c.km > 15));
    assert.equal(z.groups.reduce((s, g) => s + g.communes.length, 0), z.totals.communes);
    for (let i = 1; i < z.groups.length; i++) assert.ok(z.groups[i - 1]!.population >= z.groups[i]!.population);

    const groups = csvRecords((await get('/api/v1/coverage/white-zones.csv?territory=27&km=15&link_km=8')).body);
    assert.equal(groups.length, z.totals.groups);
    assert.equal(Number(groups[0]!.population), z.groups[0]!.population);
    const communes = csvRecords((await get('/api/v1/coverage/white-zones?territory=27&km=15&link_km=8&table=communes&format=csv')).body);
    assert.equal(communes.length, z.totals.communes);
    assert.ok(communes.every((c) => Number(c.distance_km) > 15));
  });

  it('plans where to open next, explaining each pick, in JSON and CSV', async () => {
    const body = { territory: '27', radiusKm: 10, k: 3 };
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/plan', payload: body });
    assert.equal(r.statusCode, 200);
    const p = r.json() as { picks: { code: string; newlyCoveredPopulation: number; newlyCovered: { code: string }[]; nearestExisting: { name: string | null; km: number } | null }[]; coveredBefore: number; coveredAfter: number; guaranteedRatio: number };
    assert.equal(p.picks.length, 3);
    assert.equal(p.coveredAfter, p.coveredBefore + p.picks.reduce((s, x) => s + x.newlyCoveredPopulation, 0));
    assert.ok(p.picks.every((x) => x.nearestExisting && x.nearestExisting.km > 10 && x.nearestExisting.name));
    assert.ok(p.guaranteedRatio >= 1 - 1 / Math.E);
    const csv = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/plan?format=csv', payload: body });
    const rows = csvRecords(csv.body);
    assert.deepEqual(rows.map((x) => x.code_insee), p.picks.map((x) => x.code));
    assert.equal(rows[0]!.nom_lieu_existant, p.picks[0]!.nearestExisting!.name);
  });

  it('answers "what if" in JSON and CSV without changing anything', async () => {
    const measures = (await get('/api/v1/coverage/communes?territory=27')).json() as { communes: { code: string; nearestUid: string | null }[] };
    const uid = measures.communes.find((c) => c.code === '27229')!.nearestUid!;
    const body = { territory: '27', close: [uid] };
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/what-if', payload: body });
    assert.equal(r.statusCode, 200);
    const w = r.json() as { closed: number; before: { overall: { meanKm: number } }; after: { overall: { meanKm: number } }; changed: { code: string }[] };
    assert.equal(w.closed, 1);
    assert.ok(w.after.overall.meanKm > w.before.overall.meanKm);
    const rows = csvRecords((await t.app.inject({ method: 'POST', url: '/api/v1/coverage/what-if?format=csv', payload: body })).body);
    assert.equal(rows.length, w.changed.length);
    assert.ok(rows.some((x) => x.code_insee === '27229'));
    const again = (await get('/api/v1/coverage/communes?territory=27')).json() as { communes: { code: string; nearestUid: string | null }[] };
    assert.equal(again.communes.find((c) => c.code === '27229')!.nearestUid, uid);
  });

  it('names the faulty parameter in French', async () => {
    const unknown = await get('/api/v1/coverage/communes?territory=99999');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().field, 'territory');
    assert.match(unknown.json().message, /Territoire inconnu : « 99999 »/);
    const service = await get('/api/v1/coverage/white-zones?territory=27&service=nope');
    assert.equal(service.statusCode, 400);
    assert.equal(service.json().field, 'service');
    assert.match(service.json().message, /Service inconnu/);
    const k = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/plan', payload: { territory: '27', k: 0 } });
    assert.equal(k.statusCode, 400);
    assert.equal(k.json().field, 'k');
    const commune = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/plan', payload: { territory: 'commune:27229' } });
    assert.equal(commune.statusCode, 400);
    assert.equal(commune.json().field, 'territory');
    const open = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/what-if', payload: { open: [{ lat: 49, lon: 1, services: ['nope'] }] } });
    assert.equal(open.statusCode, 400);
    assert.equal(open.json().field, 'open.0.services');
  });

  it('runs a full recompute as a background job for platform staff, and reports its state', async () => {
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/coverage/recompute' })).statusCode, 403, 'a visitor has neither session nor token');
    const deps = accountsTesting.depsOf(t.app);
    const staff = await accountsTesting.makeUser(deps, 'staff-region@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }]);
    const admin = await accountsTesting.makeUser(deps, 'admin@exemple.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
    // Each attempt from its own address: the route allows 3 requests a minute per address.
    let ip = 10;
    const post = async (user: typeof admin, csrf = true) => {
      const b = await accountsTesting.signedInBrowser(t.app, deps, user);
      await b.get('/couverture/departement/27');
      const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      return t.app.inject({ method: 'POST', url: '/api/v1/coverage/recompute', remoteAddress: `198.51.100.${ip++}`, headers: { cookie, ...(csrf ? { 'x-csrf-token': b.csrf! } : {}) } });
    };
    assert.equal((await post(staff)).statusCode, 403, 'a région’s staff may not recompute all of France');
    assert.equal((await post(admin, false)).statusCode, 403, 'the CSRF token is required');
    const queued = await post(admin);
    assert.equal(queued.statusCode, 202, queued.body);
    const b = await accountsTesting.signedInBrowser(t.app, deps, admin);
    const jobUrl = (id: string) => t.app.inject({ method: 'GET', url: `/api/v1/coverage/jobs/${id}`, headers: { cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    const { jobId } = queued.json() as { jobId: string };
    let state = '';
    let job: { state: string; output: { kind: string; places: number } | null } | null = null;
    for (let i = 0; i < 240 && state !== 'completed' && state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const r = await jobUrl(jobId);
      assert.equal(r.statusCode, 200);
      job = r.json();
      state = job!.state;
    }
    assert.equal(state, 'completed');
    assert.equal(job!.output!.kind, 'full');
    assert.equal(job!.output!.places, 2);
    const status = (await get('/api/v1/coverage/status')).json() as { computed: boolean; lastKind: string; places: number; services: unknown[] };
    assert.equal(status.computed, true);
    assert.equal(status.lastKind, 'full');
    assert.equal(status.places, 2);
    assert.equal(status.services.length, 9);
    assert.equal((await jobUrl('00000000-0000-0000-0000-000000000000')).statusCode, 404);
    assert.equal((await get(`/api/v1/coverage/jobs/${jobId}`)).statusCode, 401);
  });
});

describe('coverage pages', () => {
  const mapData = (body: string) => JSON.parse(/<script type="application\/json" id="coverage-map-data">([\s\S]*?)<\/script>/.exec(body)![1]!) as {
    points: [number, number, number, number | null, string, string][];
    picks: [number, number, string, number][];
    radiusKm: number | null;
    basemap: string[];
    classes: [number | null, string][];
    pointsUrl: string | null;
  };
  async function session(url: string) {
    const page = await get(url);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const cookie = ([] as string[]).concat((page.headers['set-cookie'] as string | string[] | undefined) ?? []).map((c) => c.split(';')[0]).join('; ');
    return { csrf, cookie };
  }
  const postForm = (url: string, cookie: string, form: Record<string, string>) =>
    t.app.inject({ method: 'POST', url, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() });

  it('shows a département: headline figures, map points and their table, white zones, outlines, downloads', async () => {
    const r = await get('/couverture/departement/27');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /<h1>Couverture du territoire — Eure \(département\)<\/h1>/);
    assert.match(r.body, /Population à 10 km ou moins d’un lieu/);
    assert.match(r.body, /Lieux pour 10 000 habitants/);
    const data = mapData(r.body);
    const withCentre = eure.filter((c) => c.lat !== null);
    assert.equal(data.points.length, withCentre.length);
    // Every point of the map is also a row of the communes table.
    for (const [, , , , name, code] of data.points) assert.ok(r.body.includes(`${escapeHtml(name)} <span class="count">(${code})</span>`), code);
    assert.deepEqual(data.basemap, ['/couverture/geo/departements-metropole-simplifie.geojson', '/couverture/geo/regions-metropole-simplifie.geojson']);
    // Colour scale: viridis classes, each named in the legend.
    assert.deepEqual(data.classes.map((c) => c[1]), ['#fde725', '#7ad151', '#22a884', '#2a788e', '#440154']);
    for (const label of ['2 km ou moins', '2 à 5 km', '5 à 10 km', '10 à 20 km', 'plus de 20 km']) assert.ok(r.body.includes(label), label);
    assert.match(r.body, /<caption>Groupes de communes/);
    assert.match(r.body, /Intercommunalités \(EPCI\)/);
    assert.match(r.body, /href="\/api\/v1\/coverage\/communes\.csv\?territory=departement%3A27"/);
    assert.match(r.body, /href="\/api\/v1\/coverage\/white-zones\.csv\?territory=departement%3A27&amp;service=tous&amp;km=10&amp;link_km=8&amp;table=groups"/);
    const csv = await get('/api/v1/coverage/communes.csv?territory=departement%3A27');
    assert.equal(csvRecords(csv.body).length, eure.length);
  });

  it('shows France with régions and départements tables, and 404 for an unknown territory', async () => {
    const r = await get('/couverture');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /<caption>Régions<\/caption>/);
    assert.match(r.body, /<caption>Départements<\/caption>/);
    assert.match(r.body, /href="\/couverture\/region\/28\?service=tous">Normandie<\/a>/);
    assert.deepEqual(mapData(r.body).basemap, ['/couverture/geo/departements-avec-outre-mer.geojson']);
    // The page stays light: the 35,000 map points are fetched by the map script from a cached endpoint.
    const data = mapData(r.body);
    assert.deepEqual(data.points, []);
    assert.equal(data.pointsUrl, '/couverture/points.json?territory=&service=tous');
    assert.ok(r.body.length < 400_000, `${r.body.length} bytes`);
    const pts = await get(data.pointsUrl!);
    assert.equal(pts.statusCode, 200);
    assert.match(pts.headers['content-type'] as string, /^application\/json/);
    const list = pts.json() as [number, number, number, number | null, string, string][];
    const communes = await get('/api/v1/coverage/communes?territory=');
    assert.equal(list.length, (communes.json() as { communes: { lat: number | null }[] }).communes.filter((c) => c.lat !== null).length);
    const eureux = list.find((x) => x[5] === '27229')!;
    assert.equal(eureux[4], 'Évreux');
    const again = await t.app.inject({ method: 'GET', url: data.pointsUrl!, headers: { 'if-none-match': pts.headers.etag as string } });
    assert.equal(again.statusCode, 304);
    assert.equal((await get('/couverture/points.json?territory=99999')).statusCode, 404);
    assert.equal((await get('/couverture/points.json?service=rien')).statusCode, 400);
    // A département's points stay inline (every point is also a row of its table).
    assert.equal(mapData((await get('/couverture/departement/27')).body).pointsUrl, null);
    assert.equal((await get('/couverture/departement/999')).statusCode, 404);
    assert.equal((await get('/couverture/pays/27')).statusCode, 404);
  });

  it('serves the shared département and région outlines, and nothing else', async () => {
    const d = await get('/couverture/geo/departements-metropole-simplifie.geojson');
    assert.equal(d.statusCode, 200);
    const fc = d.json() as { type: string; features: unknown[] };
    assert.equal(fc.type, 'FeatureCollection');
    assert.equal(fc.features.length, 96);
    assert.equal((await get('/couverture/geo/regions-metropole-simplifie.geojson')).json().features.length, 13);
    assert.equal((await get('/couverture/geo/communes-2018.geojson')).statusCode, 404);
    assert.equal((await get('/couverture/geo/..%2F..%2Fetc%2Fpasswd')).statusCode, 404);
  });

  it('runs the planner from the form (CSRF) and shows the picks on the map and in a table', async () => {
    const url = '/couverture/departement/27';
    const { csrf, cookie } = await session(url);
    const refused = await postForm(`${url}/plan`, cookie, { radiusKm: '10', k: '3', service: 'tous' });
    assert.equal(refused.statusCode, 403);
    const r = await postForm(`${url}/plan`, cookie, { _csrf: csrf, radiusKm: '10', k: '3', service: 'tous' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /Propositions du planificateur/);
    const data = mapData(r.body);
    assert.equal(data.picks.length, 3);
    assert.equal(data.radiusKm, 10);
    const api = (await t.app.inject({ method: 'POST', url: '/api/v1/coverage/plan', payload: { territory: 'departement:27', radiusKm: 10, k: 3 } })).json() as { picks: { name: string; code: string }[] };
    assert.deepEqual(data.picks.map((p) => p[2]), api.picks.map((p) => p.name));
    for (const p of api.picks) assert.ok(r.body.includes(`${escapeHtml(p.name)} <span class="count">(${p.code})</span>`));
    assert.match(r.body, /Carré noir et cercle en tirets/);
    const bad = await postForm(`${url}/plan`, cookie, { _csrf: csrf, radiusKm: '10', k: 'beaucoup', service: 'tous' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /Nombre de lieux à ouvrir : indiquez un nombre valide/);
  });

  it('runs "what if" from the form and names a wrong line', async () => {
    const url = '/couverture/departement/27';
    const { csrf, cookie } = await session(url);
    const r = await postForm(`${url}/et-si`, cookie, { _csrf: csrf, close: '', open: '48.75, 0.85', service: 'tous' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /Résultat de la simulation/);
    assert.match(r.body, /0 fermeture\(s\), 1 ouverture\(s\)/);
    const bad = await postForm(`${url}/et-si`, cookie, { _csrf: csrf, close: '', open: '48.75, 0.85\nnord', service: 'tous' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /Ligne 2 : attendu « latitude, longitude »/);
    assert.match(bad.body, /nord<\/textarea>/);
  });
});

describe('coverage CLI', () => {
  async function cli(...args: string[]): Promise<{ code: number | void; out: string[] }> {
    const out: string[] = [];
    const ctx: CliContext = { ...t.ctx, out: (l) => out.push(l), progress: () => silentProgress() };
    const code = await coverageCommands.coverage!.run(args, ctx);
    return { code, out };
  }

  it('recomputes and prints a département report as CSV', async () => {
    const r = await cli('recompute');
    assert.equal(r.code, 0);
    assert.match(r.out.at(-1)!, /Couverture : recalcul complet — \d+ communes \(dont \d+ sans centre connu\), 2 lieux/);
    const csv = await cli('report', '--territory', '27', '--format', 'csv');
    assert.equal(csv.code, 0);
    const rows = csvRecords(csv.out.join('\n') + '\n');
    assert.equal(rows.length, eure.length);
    assert.equal(rows.find((x) => x.code_insee === '27229')!.lieux_dans_la_commune, '1');
    const summary = await cli('report', '--territory', 'region:28', '--table', 'summary', '--level', 'departement', '--format', 'csv');
    assert.deepEqual(csvRecords(summary.out.join('\n') + '\n').map((x) => x.code), ['14', '27', '50', '61', '76']);
    const plan = await cli('plan', '--territory', '27', '--k', '2');
    assert.equal(plan.code, 0);
    assert.match(plan.out.at(-1)!, /^Habitants à 10 km ou moins d’un lieu : \d+ → \d+ sur \d+/);
  });

  it('refuses bad options with exit code 2', async () => {
    assert.equal((await cli('report', '--format', 'xml')).code, 2);
    assert.equal((await cli('report', '--bogus', '1')).code, 2);
    assert.equal((await cli('plan')).code, 2);
    assert.equal((await cli('frobnicate')).code, 2);
  });
});
