/**
 * The public site over HTTP (app.inject): each page's content and status codes.
 */
import { maplibreBase, maplibreUrl } from '../../../platform/http/maplibre.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { upsertPlaces, searchPlaces } from '../../places/index.ts';
import { testApp } from '../../../../test/support/app.ts';
import { FormClock, purgeErrorReports, setErrorReportStatus } from '../reports.ts';
import { siteData } from '../wire.ts';
import { renderPlace } from '../pages/place.ts';
import { placeCard } from '../pages/results.ts';
import type { SiteContext } from '../pages/common.ts';
import { renderAudit } from '../pages/audit.ts';
import { AUDIT_SAMPLE, readAuditResults, type AuditResults, type PageResult } from '../audit.ts';
import { FRANCE_SERVICES, MEDIATHEQUE, samplePlaces } from './fixtures.ts';

type T = Awaited<ReturnType<typeof testApp>>;
let t: T;
const uids = new Map<string, { uid: string; slug: string }>();
const SECRET = 'site-tests-secret';

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers: { accept: 'text/html', ...headers } });

before(async () => {
  t = await testApp({ secretKey: SECRET });
  await upsertPlaces(t.db, samplePlaces(), { source: 'tests' });
  for await (const hit of (await searchPlaces(t.db, { limit: 500 })).items) uids.set(hit.place.nom, { uid: hit.place.uid, slug: hit.place.slug });
});
after(async () => t?.close());

function placeUrl(nom: string): string {
  const p = uids.get(nom);
  assert.ok(p, `place ${nom} loaded`);
  return `/lieux/${p.uid}/${p.slug}`;
}

describe('home page', () => {
  it('offers one search field, « Autour de moi » and entry points by need', async () => {
    const r = await get('/');
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /text\/html/);
    assert.match(r.body, /<h1>Trouver de l’aide pour le numérique près de chez vous<\/h1>/);
    assert.match(r.body, /<form class="search-form" method="get" action="\/recherche" role="search">/);
    assert.match(r.body, /<label for="q">Votre commune, votre code postal ou votre adresse<\/label>/);
    assert.match(r.body, /data-around-me hidden>Autour de moi</);
    assert.match(r.body, /href="\/recherche\?services=Aide%20aux%20d%C3%A9marches%20administratives"/);
    assert.match(r.body, /<script type="module" src="\/site\/assets\/site.js"><\/script>/);
  });
});

describe('results page', () => {
  it('finds the places around a commune typed by name, nearest first, with distance and count', async () => {
    const r = await get('/recherche?q=%C3%A9vreux');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /<h1>Lieux près de Évreux \(27000\)<\/h1>/);
    assert.match(r.body, /27 lieux trouvés à moins de 10 km de Évreux \(27000\)/);
    assert.match(r.body, /Médiathèque Rolland-Plaisance/);
    assert.match(r.body, /À \d+(,\d)? (km|m)</);
    assert.doesNotMatch(r.body, /Point numérique CAF de Rouen/);
    assert.match(r.body, /Page 1 sur 2/);
  });

  it('offers to share and print a search, and an itinerary on each result card; the print stylesheet keeps only the list', async () => {
    const r = await get('/recherche?q=%C3%A9vreux');
    assert.match(r.body, /<button type="button" class="secondary" data-share hidden>Copier le lien de cette recherche<\/button>/);
    assert.match(r.body, /<button type="button" class="secondary" data-print hidden>Imprimer la liste<\/button>/);
    assert.match(r.body, /<p class="hint" data-share-status role="status"><\/p>/);
    const cards = r.body.split('<li class="place-card').slice(1);
    assert.ok(cards.length >= 10);
    for (const card of cards) {
      assert.match(card, /<a href="https:\/\/www\.openstreetmap\.org\/directions\?route=%3B-?\d+(\.\d+)?%2C-?\d+(\.\d+)?" rel="noopener">Itinéraire<span class="visually-hidden"> vers [^<]+ \(OpenStreetMap\)<\/span><\/a>/);
    }
    assert.match(r.body, /<section class="results-map no-print"/, 'the map is left out of the printed list');
    const css = (await get('/assets/components.css')).body;
    const print = /@media print \{([\s\S]*?)\n\}/.exec(css)?.[1] ?? '';
    for (const hidden of ['.results-map', '.filters', '.view-switch', '.pagination', '.search-form', '.no-print']) assert.ok(print.includes(hidden), `print hides ${hidden}`);
    assert.match(print, /\.place-card \{ break-inside: avoid; \}/);
  });

  it('links the search to the territory page of the commune found', async () => {
    const r = await get('/recherche?q=Evreux');
    assert.match(r.body, /<a href="\/territoires\/commune\/27229">Les lieux de la commune de Évreux et leurs services<\/a>/);
    const dep = await get('/recherche?territory=departement:27');
    assert.match(dep.body, /<a href="\/territoires\/departement\/27">Page du territoire \(département\) : Eure<\/a>/);
  });

  it('names the filters in plain words while keeping the standard’s values in the URL', async () => {
    const r = await get('/recherche?q=Evreux');
    assert.match(r.body, /value="Maîtrise des outils numériques du quotidien"><label for="f-services-\d+">Utiliser un ordinateur, un smartphone, internet/);
    assert.match(r.body, /value="Surdité"><label for="f-prise_en_charge_specifique-\d+">Personnes sourdes ou malentendantes/);
  });

  it('understands a postal code and an address', async () => {
    const byCode = await get('/recherche?q=27000');
    assert.match(byCode.body, /27 lieux trouvés à moins de 10 km de Évreux \(27000\)/);
    const byAddress = await get(`/recherche?q=${encodeURIComponent('12 rue de Nétreville, 27000 Évreux')}`);
    assert.match(byAddress.body, /Lieux près de Évreux \(27000\)/);
  });

  it('applies filters (OR within a field, AND across fields) and keeps them in the forms and links', async () => {
    const r = await get(`/recherche?q=Evreux&services=${encodeURIComponent('Aide aux démarches administratives')}&dispositif_programmes_nationaux=${encodeURIComponent('France Services')}`);
    assert.match(r.body, /1 lieu trouvé/);
    assert.match(r.body, /France Services Évreux Nétreville/);
    assert.doesNotMatch(r.body, /Médiathèque Rolland-Plaisance/);
    assert.match(r.body, /<input type="checkbox" id="f-services-0" name="services" value="Aide aux démarches administratives" checked>/);
    assert.match(r.body, /href="\/api\/v1\/places.csv\?[^"]*services=Aide/);
  });

  it('downloads exactly the current results as standard CSV and GeoJSON', async () => {
    const r = await get(`/recherche?q=Evreux&services=${encodeURIComponent('Aide aux démarches administratives')}&dispositif_programmes_nationaux=${encodeURIComponent('France Services')}`);
    const href = (ext: string) => new RegExp(`href="(/api/v1/places\\.${ext}\\?[^"]+)" download`).exec(r.body)![1]!.replace(/&amp;/g, '&');
    const csv = await t.app.inject({ method: 'GET', url: href('csv') });
    assert.equal(csv.statusCode, 200);
    const lines = csv.body.trim().split(/\r?\n/);
    assert.match(lines[0]!, /^id,pivot,nom,commune,code_postal,/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /France Services Évreux Nétreville/);
    const geo = await t.app.inject({ method: 'GET', url: href('geojson') });
    const features = (geo.json() as { features: { properties: { nom: string } }[] }).features;
    assert.deepEqual(features.map((f) => f.properties.nom), ['France Services Évreux Nétreville']);
    const all = await t.app.inject({ method: 'GET', url: href('csv').replace(/&dispositif_programmes_nationaux=[^&]+/, '') });
    assert.ok(all.body.trim().split(/\r?\n/).length > 2, 'fewer filters, more rows');
  });

  it('paginates with numbered pages in the URL', async () => {
    const r = await get('/recherche?q=Evreux&page=2');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /Page 2 sur 2/);
    assert.match(r.body, /<ol class="place-list" id="liste-lieux" start="21">/);
    assert.equal((r.body.match(/class="place-card"/g) ?? []).length, 7);
    assert.match(r.body, /rel="prev" href="\/recherche\?q=Evreux"/);
  });

  it('sorts by name on request', async () => {
    const r = await get('/recherche?q=Evreux&sort=name');
    const names = [...r.body.matchAll(/<h3><a href="\/lieux\/[^"]+">([^<]+)<\/a><\/h3>/g)].map((m) => m[1]!);
    assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b, 'fr')));
  });

  it('searches place names when the text is not a commune', async () => {
    const r = await get('/recherche?q=mediatheque');
    assert.match(r.body, /Médiathèque Rolland-Plaisance/);
  });

  it('lists a territory and says when a territory is unknown', async () => {
    const r = await get('/recherche?territory=departement:27');
    assert.match(r.body, /<h1>Lieux : Eure<\/h1>/);
    assert.match(r.body, /28 lieux trouvés/);
    const unknown = await get('/recherche?territory=departement:99');
    assert.equal(unknown.statusCode, 404);
  });

  it('offers a wider search when nothing is found nearby', async () => {
    const r = await get(`/recherche?q=Vernon&radius=2&services=${encodeURIComponent('Loisirs et créations numériques')}`);
    assert.match(r.body, /Aucun lieu ne correspond à votre recherche/);
    assert.match(r.body, /Chercher jusqu’à 50 km/);
  });

  it('gives the map the same results', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/carte/points.json?q=Evreux' });
    assert.equal(r.statusCode, 200);
    const body = r.json() as { count: number; points: [string, number, number][] };
    assert.equal(body.count, 27);
    assert.ok(body.points.every((p) => typeof p[0] === 'string' && p[1] > 0 && p[2] > 48));
  });
});

describe('place page', () => {
  it('shows everything in plain words, with tel:/mailto: links, hours and the report form', async () => {
    const r = await get(placeUrl(MEDIATHEQUE.nom));
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /<h1>Médiathèque Rolland-Plaisance<\/h1>/);
    assert.match(r.body, /<a href="tel:\+33232787000">02 32 78 70 00<\/a>/);
    assert.match(r.body, /<a href="mailto:mediatheque@example.org">/);
    assert.match(r.body, /Fiche Accès libre/);
    assert.match(r.body, /<table class="hours">/);
    assert.equal((r.body.match(/<tr( class="today" aria-current="date")?><th scope="row">/g) ?? []).length, 7);
    assert.match(r.body, /class="today" aria-current="date"/);
    assert.match(r.body, /Seniors/);
    assert.match(r.body, /Informations mises à jour le 15 septembre 2026\. Source : Tests Maillage\./);
    assert.match(r.body, /href="\/territoires\/departement\/27">Eure</);
    assert.match(r.body, /data-map="place"/);
    assert.match(r.body, /<h2 id="s-signaler">Signaler une erreur<\/h2>/);
    assert.match(r.body, /name="_csrf" value="[^"]+"/);
    assert.match(r.body, /name="website" tabindex="-1"/);
  });

  it('uses plain words for the standard’s values', async () => {
    const r = await get(placeUrl(MEDIATHEQUE.nom));
    assert.match(r.body, /En atelier collectif/);
    assert.match(r.body, /Sans rendez-vous, sur place/);
    assert.doesNotMatch(r.body, />Se présenter</);
  });

  it('marks public holidays in the week’s hours and says when the place opens next', async () => {
    const ctx: SiteContext = { config: t.ctx.config, data: siteData(t.db), now: () => new Date(2026, 10, 11, 11, 0) };
    const place = (await ctx.data.getPlace(uids.get(MEDIATHEQUE.nom)!.uid))!;
    const body = await renderPlace(ctx, place, { csrf: 'x', started: 'y' });
    // Wednesday 11 November 2026 (Armistice): « Mo-Sa 10:00-18:00; PH off » is closed that day.
    assert.match(body, /<tr class="today" aria-current="date"><th scope="row">Mercredi 11 novembre<span class="no-print"> \(aujourd’hui\)<\/span><\/th><td>Fermé <span class="day-note">jour férié : Armistice 1918<\/span><\/td><\/tr>/);
    // The next seven days from today: Wednesday 11 to Tuesday 17, never the past Monday or Tuesday.
    const days = [...body.matchAll(/<th scope="row">(\p{L}+ \d+ \p{L}+)/gu)].map((m) => m[1]);
    assert.deepEqual(days, ['Mercredi 11 novembre', 'Jeudi 12 novembre', 'Vendredi 13 novembre', 'Samedi 14 novembre', 'Dimanche 15 novembre', 'Lundi 16 novembre', 'Mardi 17 novembre']);
    assert.match(body, /<th scope="row">Mardi 17 novembre<\/th><td>10\u00a0h à 18\u00a0h<\/td>/);
    // The printed sheet says which week it shows.
    assert.match(body, /<span class="print-only">Semaine du 11 novembre 2026<\/span>/);
    // On a Sunday the table starts on that Sunday.
    const sunday: SiteContext = { ...ctx, now: () => new Date(2026, 10, 15, 9, 0) };
    const sundayBody = await renderPlace(sunday, place, { csrf: 'x', started: 'y' });
    assert.deepEqual([...sundayBody.matchAll(/<th scope="row">(\p{L}+ \d+ \p{L}+)/gu)].map((m) => m[1])[0], 'Dimanche 15 novembre');
    // On screen only: a printed sheet outlives « now »; the week table is printed instead.
    assert.match(body, /<p class="status status-closed no-print">Ouvre demain à 10\u00a0h<\/p>/);
    const tuesday: SiteContext = { ...ctx, now: () => new Date(2026, 10, 10, 11, 0) };
    assert.match(placeCard(tuesday, place, null).value, /<span class="status status-open">Ouvert jusqu’à 18\u00a0h<\/span>/);
    const saturdayEvening: SiteContext = { ...ctx, now: () => new Date(2026, 10, 14, 19, 0) };
    assert.match(placeCard(saturdayEvening, place, null).value, /<span class="status status-closed">Ouvre lundi à 10\u00a0h<\/span>/);
  });

  it('redirects an address without or with an old slug to the canonical one', async () => {
    const p = uids.get(FRANCE_SERVICES.nom)!;
    const r = await get(`/lieux/${p.uid}`);
    assert.equal(r.statusCode, 301);
    assert.equal(r.headers.location, `/lieux/${p.uid}/${p.slug}`);
  });

  it('sends /lieux alone to the search of every place, with its query', async () => {
    for (const [url, to] of [['/lieux', '/recherche'], ['/lieux/', '/recherche'], ['/lieux?q=m%C3%A9diath%C3%A8que', '/recherche?q=m%C3%A9diath%C3%A8que']]) {
      const r = await get(url!);
      assert.equal(r.statusCode, 301, url);
      assert.equal(r.headers.location, to, url);
    }
  });

  it('answers an unknown place with a helpful 404', async () => {
    const r = await get('/lieux/00000000-0000-4000-8000-000000000000/inconnu');
    assert.equal(r.statusCode, 404);
    assert.match(r.body, /Ce lieu est introuvable/);
    assert.match(r.body, /action="\/recherche"/);
    const bad = await get('/lieux/pas-un-identifiant');
    assert.equal(bad.statusCode, 404);
  });

  it('gives the map a summary of a place', async () => {
    const p = uids.get(MEDIATHEQUE.nom)!;
    const r = await t.app.inject({ method: 'GET', url: `/carte/lieux/${p.uid}.json` });
    assert.equal(r.statusCode, 200);
    assert.deepEqual({ ...(r.json() as object), status: null }, { nom: MEDIATHEQUE.nom, adresse: '1 place Sepmanville, 27000 Évreux', status: null, href: `/lieux/${p.uid}/${p.slug}` });
  });
});

describe('« Signaler une erreur »', () => {
  async function formSession(nom: string) {
    const page = await get(placeUrl(nom));
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const cookie = (page.headers['set-cookie'] as string | string[] | undefined) ?? [];
    const cookieHeader = (Array.isArray(cookie) ? cookie : [cookie]).map((c) => c.split(';')[0]).join('; ');
    return { csrf, cookieHeader };
  }
  const post = (nom: string, cookie: string, form: Record<string, string>) =>
    t.app.inject({
      method: 'POST',
      url: `${placeUrl(nom)}/signaler`,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      payload: new URLSearchParams(form).toString(),
    });
  const count = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM site.error_report')).rows[0]!.n;

  it('stores a genuine report for the managers and thanks the visitor', async () => {
    const { csrf, cookieHeader } = await formSession(MEDIATHEQUE.nom);
    const before = await count();
    const r = await post(MEDIATHEQUE.nom, cookieHeader, {
      _csrf: csrf,
      started: new FormClock(SECRET).stamp(Date.now() - 20_000),
      message: 'La médiathèque est fermée le samedi depuis septembre.',
      contact: 'agent@example.org',
      website: '',
    });
    assert.equal(r.statusCode, 303);
    assert.match(r.headers.location as string, /\?signalement=merci#signaler$/);
    assert.equal(await count(), before + 1);
    const { rows } = await t.db.query<{ place_uid: string; message: string; contact: string; status: string }>('SELECT place_uid, message, contact, status FROM site.error_report ORDER BY id DESC LIMIT 1');
    assert.deepEqual(rows[0], { place_uid: uids.get(MEDIATHEQUE.nom)!.uid, message: 'La médiathèque est fermée le samedi depuis septembre.', contact: 'agent@example.org', status: 'new' });
    const thanks = await get(r.headers.location as string);
    assert.match(thanks.body, /Signalement envoyé/);
  });

  it('shows what is wrong next to the field and keeps what was typed', async () => {
    const { csrf, cookieHeader } = await formSession(MEDIATHEQUE.nom);
    const before = await count();
    const r = await post(MEDIATHEQUE.nom, cookieHeader, { _csrf: csrf, started: new FormClock(SECRET).stamp(Date.now() - 20_000), message: 'Faux', contact: '' });
    assert.equal(r.statusCode, 400);
    assert.match(r.body, /id="report-message-error">Décrivez l’erreur en au moins 10 caractères/);
    assert.match(r.body, /aria-invalid="true">Faux<\/textarea>/);
    // The summary at the top of the form links to the field to fix.
    assert.match(r.body, /un point à corriger<\/p><ul><li><a href="#report-message">Décrivez l’erreur en au moins/);
    assert.equal(await count(), before);
  });

  it('silently drops robots (honeypot) and explains an instant submission instead of dropping it', async () => {
    const { csrf, cookieHeader } = await formSession(MEDIATHEQUE.nom);
    const before = await count();
    const bot = await post(MEDIATHEQUE.nom, cookieHeader, { _csrf: csrf, started: new FormClock(SECRET).stamp(Date.now() - 20_000), message: 'Achetez nos produits pas chers !', website: 'http://spam.example' });
    assert.equal(bot.statusCode, 303);
    const fast = await post(MEDIATHEQUE.nom, cookieHeader, { _csrf: csrf, started: new FormClock(SECRET).stamp(Date.now()), message: 'Le numéro de téléphone a changé.' });
    assert.equal(fast.statusCode, 400);
    assert.match(fast.body, /<div class="notice notice-error error-summary" role="alert" tabindex="-1" data-focus-on-load>/);
    assert.match(fast.body, /nous n’enregistrons pas un signalement envoyé en moins de 3 secondes/);
    assert.match(fast.body, />Le numéro de téléphone a changé\.<\/textarea>/);
    assert.equal(await count(), before);

  });

  it('keeps personal data only as long as the personal-data page says', async () => {
    const ins = async (createdAt: string) =>
      (await t.db.query<{ id: number }>(`INSERT INTO site.error_report (place_uid, message, contact, created_at) VALUES ($1, 'Le téléphone ne répond plus.', '06 12 34 56 78', $2) RETURNING id`, [uids.get(MEDIATHEQUE.nom)!.uid, createdAt])).rows[0]!.id;
    const recent = await ins('2026-11-01T10:00:00Z');
    const old = await ins('2025-10-01T10:00:00Z');
    assert.ok(await setErrorReportStatus(t.db, recent, 'resolved'));
    const row = (await t.db.query<{ contact: string | null; status: string }>('SELECT contact, status FROM site.error_report WHERE id = $1', [recent])).rows[0];
    assert.deepEqual(row, { contact: null, status: 'resolved' });
    assert.equal(await purgeErrorReports(t.db, new Date('2026-11-23T12:00:00Z')), 1);
    const left = (await t.db.query<{ id: number }>('SELECT id FROM site.error_report WHERE id IN ($1, $2)', [recent, old])).rows.map((r) => Number(r.id));
    assert.deepEqual(left, [Number(recent)]);
  });

  it('refuses a form without its CSRF token', async () => {
    const r = await post(MEDIATHEQUE.nom, '', { started: new FormClock(SECRET).stamp(Date.now() - 20_000), message: 'Un message sans jeton de sécurité.' });
    assert.equal(r.statusCode, 403);
  });
});

describe('territory pages', () => {
  it('lists the régions, then a département with its communes and counts by service', async () => {
    const index = await get('/territoires');
    assert.equal(index.statusCode, 200);
    assert.match(index.body, /<a href="\/territoires\/region\/28">Normandie<\/a> <span class="count">\(29 lieux\)<\/span>/);
    const dep = await get('/territoires/departement/27');
    assert.equal(dep.statusCode, 200);
    assert.match(dep.body, /<h1>Eure/);
    assert.match(dep.body, /<a href="\/territoires\/commune\/27229">Évreux<\/a> <span class="count">\(27 lieux\)<\/span>/);
    assert.match(dep.body, /Aide aux démarches administratives en ligne<\/th><td><a href="\/recherche\?territory=departement%3A27&amp;services=/);
  });

  it('shows a commune with its places', async () => {
    const r = await get('/territoires/commune/27681');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /Atelier numérique de Vernon/);
    assert.match(r.body, /Lieu itinérant/);
  });

  it('answers 404 for an unknown territory', async () => {
    assert.equal((await get('/territoires/region/00')).statusCode, 404);
    assert.equal((await get('/territoires/pays/FR')).statusCode, 404);
  });
});

describe('legal and trust pages, sitemap', () => {
  for (const [url, title] of [
    ['/accessibilite', 'Déclaration d’accessibilité'],
    ['/accessibilite/audit', 'Résultats de l’audit d’accessibilité'],
    ['/mentions-legales', 'Mentions légales'],
    ['/donnees-personnelles', 'Données personnelles'],
    ['/donnees', 'Données ouvertes et API'],
    ['/plan-du-site', 'Plan du site'],
    ['/code-source', 'Code source'],
  ] as const) {
    it(`serves ${url}`, async () => {
      const r = await get(url);
      assert.equal(r.statusCode, 200);
      assert.match(r.body, new RegExp(`<h1>${title}</h1>`));
    });
  }

  it('offers the source code of the running version from every page (AGPL §13)', async () => {
    const home = await get('/');
    assert.match(home.body, /<footer[\s\S]*<a href="\/code-source">Code source \(logiciel libre\)<\/a>/);
    const r = await get('/code-source');
    assert.match(r.body, /AGPL-3\.0-or-later/);
    assert.match(r.body, /Maillage, version \d+\.\d+\.\d+\./);
    // No SOURCE_URL configured here: the page says so instead of linking nowhere.
    assert.match(r.body, /n’a pas encore indiqué où le code source de cette version est publié/);
    const licence = await t.app.inject({ method: 'GET', url: '/code-source/licence.txt' });
    assert.equal(licence.statusCode, 200);
    assert.match(licence.headers['content-type'] as string, /^text\/plain/);
    assert.match(licence.body, /GNU AFFERO GENERAL PUBLIC LICENSE\s+Version 3/);
  });

  it('states the accessibility conformance status', async () => {
    const r = await get('/accessibilite');
    assert.match(r.body, /Le site est <strong>partiellement conforme<\/strong>/);
  });

  it('the recorded accessibility audit covers exactly the sample of pages (re-run `npm run audit:accessibility` after changing it)', () => {
    const recorded = readAuditResults();
    assert.ok(recorded, 'src/modules/site/accessibility-audit.json is recorded');
    assert.deepEqual(recorded.pages.map((p) => p.id), AUDIT_SAMPLE.map((p) => p.id));
    for (const [i, p] of AUDIT_SAMPLE.entries()) if (p.path) assert.equal(recorded.pages[i]!.path, p.path);
    assert.match(recorded.axe, /^\d+\.\d+/);
    assert.ok(!Number.isNaN(new Date(recorded.date).getTime()));
  });

  it('the statement links every page audited, with the results of the last audit in words', async () => {
    const r = await get('/accessibilite');
    const recorded = readAuditResults()!;
    assert.match(r.body, /<h2>Pages du site ayant fait l’objet de la vérification<\/h2>/);
    for (const p of AUDIT_SAMPLE) if (p.path) assert.ok(r.body.includes(`<a href="${p.path.replace(/&/g, '&amp;')}">${p.title.replace(/’/g, '’')}</a>`), `${p.id} linked`);
    // Example pages link the first place by name on this site, and its département.
    const first = [...uids.keys()].sort((a, b) => a.localeCompare(b, 'fr'))[0]!;
    assert.ok(r.body.includes(`<a href="${placeUrl(first)}">Fiche d’un lieu`), 'the example place is linked');
    assert.match(r.body, /<a href="\/territoires\/departement\/\d\w">Page d’un département<\/a>/);
    assert.match(r.body, /Lors de la vérification du \d{1,2}(er)? \p{L}+ \d{4}, <strong>/u);
    assert.ok(r.body.includes(`avec axe-core ${recorded.axe}`));
    assert.match(r.body, /<a href="\/accessibilite\/audit">Voir les résultats page par page<\/a>/);
    const audit = await get('/accessibilite/audit');
    assert.equal(audit.statusCode, 200);
    assert.match(audit.body, /<h1>Résultats de l’audit d’accessibilité<\/h1>/);
    assert.match(audit.body, /<h3 id="audit-accueil"><a href="\/">Accueil \(recherche d’un lieu\)<\/a><\/h3>/);
    assert.match(audit.body, /Sur téléphone \(390 × 844 pixels\) : aucune anomalie détectée par axe-core ; \d+ règles applicables respectées\./);
    assert.match(audit.body, /Clavier : sans objet \(la recherche intégrée/);
  });

  it('the audit page says in words what failed, and that nothing was recorded when nothing was', async () => {
    const ctx: SiteContext = { config: t.ctx.config, data: siteData(t.db), now: () => new Date() };
    const ok = (id: string, path: string): PageResult => ({
      id, path,
      desktop: { width: 1280, height: 900, rulesPassed: 40, violations: [], sidewaysPx: 0 },
      phone: { width: 390, height: 844, rulesPassed: 1, violations: [], sidewaysPx: 0 },
      zoom200SidewaysPx: 0, skipLink: true, structure: { h1: 1, title: true, lang: true },
    });
    const bad = ok('communs', '/communs');
    bad.phone = { ...bad.phone, sidewaysPx: 120, violations: [{ rule: 'image-alt', help: 'Images must have alternative text', elements: 2 }] };
    bad.structure.h1 = 2;
    const results: AuditResults = { date: '2026-03-01T10:00:00Z', software: '0.1.0', axe: '4.10.0', browser: 'Chromium 140', pages: [ok('accueil', '/'), bad] };
    const body = await renderAudit(ctx, results);
    assert.match(body, /1 page sur 2 a passé toutes les vérifications/);
    assert.match(body, /Lors de la vérification du 1er mars 2026/);
    assert.match(body, /1 règle applicable respectée/);
    assert.match(body, /Sur téléphone \(390 × 844 pixels\) : 1 règle non respectée —/);
    assert.match(body, /<span lang="en">Images must have alternative text<\/span> \(règle axe-core <code>image-alt<\/code>, 2 éléments concernés\)/);
    assert.match(body, /la page défile de 120 pixels sur le côté/);
    assert.match(body, /2 titres principaux \(il en faut un\)/);
    const none = await renderAudit(ctx, null);
    assert.match(none, /Aucun résultat d’audit n’a encore été enregistré/);
    assert.match(none, /<a href="\/communs">Catalogue des communs numériques<\/a>/);
  });

  it('lists every public page in sitemap.xml', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/sitemap.xml' });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /application\/xml/);
    const p = uids.get(MEDIATHEQUE.nom)!;
    assert.match(r.body, new RegExp(`/lieux/${p.uid}/${p.slug}</loc><lastmod>\\d{4}-\\d{2}-\\d{2}</lastmod>`));
    assert.match(r.body, /\/territoires\/commune\/27229<\/loc>/);
    assert.match(r.body, /\/accessibilite<\/loc>/);
    assert.equal((r.body.match(/\/lieux\//g) ?? []).length, 29);
  });
});

describe('map support', () => {
  it('serves the built-in basemap: outlines, towns, commune tiles cut from the reference geometry, and its own font', async () => {
    const style = await t.app.inject({ method: 'GET', url: '/carte/style.json' });
    assert.equal(style.statusCode, 200);
    const s = style.json() as { version: number; sources: Record<string, { data?: string; tiles?: string[] }>; 'font-faces': Record<string, { url: string }[]>; glyphs?: string };
    assert.equal(s.version, 8);
    assert.match(s.sources.regions!.data!, /\/carte\/fond\/regions\.geojson$/);
    assert.match(s.sources.communes!.tiles![0]!, /\/carte\/tuiles\/communes\/\{z\}\/\{x\}\/\{y\}\.pbf$/);
    assert.equal(s.glyphs, undefined, 'no glyph server: the font is a font-face served by the app');
    const font = await t.app.inject({ method: 'GET', url: new URL(s['font-faces']['Noto Sans Regular']![0]!.url).pathname });
    assert.equal(font.statusCode, 200);
    assert.equal(font.headers['content-type'], 'font/woff2');
    assert.equal(font.rawPayload.subarray(0, 4).toString('latin1'), 'wOF2');
    const regions = await t.app.inject({ method: 'GET', url: '/carte/fond/regions.geojson' });
    assert.equal(regions.statusCode, 200);
    assert.equal((regions.json() as { features: unknown[] }).features.length, 13);
    const towns = (await t.app.inject({ method: 'GET', url: '/carte/fond/villes.geojson' })).json() as { features: { properties: { nom: string; population: number } }[] };
    assert.ok(towns.features.some((f) => f.properties.nom === 'Rouen'));
    assert.ok(towns.features.every((f) => f.properties.population >= 20000));
    // Zoom 10 around Évreux: commune outlines and Évreux's name.
    const tile = await t.app.inject({ method: 'GET', url: '/carte/tuiles/communes/10/515/351.pbf' });
    assert.equal(tile.statusCode, 200);
    assert.equal(tile.headers['content-type'], 'application/x-protobuf');
    const { VectorTile } = await import('@mapbox/vector-tile');
    const { PbfReader } = await import('pbf'); // MapLibre's own decoders (its dependencies)
    const vt = new VectorTile(new PbfReader(tile.rawPayload) as never);
    assert.ok(vt.layers.communes && vt.layers.communes.length > 10, 'commune outlines');
    const names = Array.from({ length: vt.layers.noms!.length }, (_, i) => vt.layers.noms!.feature(i).properties.nom);
    assert.ok(names.includes('Évreux'), `names: ${names.slice(0, 10).join(', ')}`);
    for (const bad of ['/carte/tuiles/communes/10/5000/1.pbf', '/carte/tuiles/communes/99/1/1.pbf', '/carte/tuiles/communes/a/1/1.pbf', '/carte/tuiles/communes/10/1/1.png', '/carte/polices/__proto__', '/carte/polices/constructor']) {
      assert.equal((await t.app.inject({ method: 'GET', url: bad })).statusCode, 404, bad);
    }
    assert.equal((await t.app.inject({ method: 'GET', url: '/carte/tuiles/communes/3/4/2.pbf' })).statusCode, 204);
  });

  it('points the maps to the configured basemap with the built-in one as fallback, and says who runs the site', async () => {
    const other = await testApp({
      basemapStyleUrl: 'https://tiles.example.org/style.json',
      theme: {
        siteName: 'Numérique en Normandie', logoUrl: '/logo-normandie.svg', primary: '#0b4f6c', secondary: '#8a3b12',
        sourceUrl: 'https://git.example.org/normandie/maillage',
        operator: { name: 'Région Normandie', address: 'Abbaye-aux-Dames, 14035 Caen Cedex 1', email: 'numerique@normandie.example', phone: '02 31 06 98 98', url: null, director: 'Le président du conseil régional', hosting: 'Hébergeur Exemple, 1 rue du Serveur, 75000 Paris' },
        demo: false,
        territory: 'region:28',
      },
    });
    try {
      const r = await other.app.inject({ method: 'GET', url: '/recherche?q=Rouen', headers: { accept: 'text/html' } });
      assert.match(r.body, /data-style="https:\/\/tiles\.example\.org\/style\.json" data-fallback-style="\/carte\/style\.json"/);
      assert.equal((await other.app.inject({ method: 'GET', url: '/carte/style.json' })).statusCode, 200);
      // The framed finder may fetch that tile server too.
      const embed = await other.app.inject({ method: 'GET', url: '/embed', headers: { accept: 'text/html' } });
      assert.match(embed.headers['content-security-policy'] as string, /connect-src 'self' https:\/\/tiles\.example\.org/);
      const home = await other.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html' } });
      assert.match(home.body, /<title>[^<]+ — Numérique en Normandie<\/title>/);
      assert.match(home.body, /<a class="brand" href="\/"><img src="\/logo-normandie.svg" alt="" height="40"><span class="brand-text"><span class="brand-name">Numérique en Normandie<\/span><span class="brand-operator">Région Normandie<\/span><\/span><\/a>/);
      assert.match(home.body, /Site publié par <strong>Région Normandie<\/strong><br><span>Abbaye-aux-Dames, 14035 Caen Cedex 1<\/span>/);
      assert.doesNotMatch(home.body, /Site de démonstration/);
      // The search hint names the territory’s most populated commune.
      assert.match(home.body, /Par exemple : Le Havre, 76600, ou 3 rue de la Mairie 76600 Le Havre/);
      const legal = await other.app.inject({ method: 'GET', url: '/mentions-legales', headers: { accept: 'text/html' } });
      assert.match(legal.body, /est édité par Région Normandie/);
      assert.match(legal.body, /Le président du conseil régional/);
      assert.match(legal.body, /Hébergeur Exemple, 1 rue du Serveur/);
      assert.doesNotMatch(legal.body, /SITE_OPERATOR/);
      const personal = await other.app.inject({ method: 'GET', url: '/donnees-personnelles', headers: { accept: 'text/html' } });
      assert.match(personal.body, /Le responsable du traitement est Région Normandie/);
      assert.match(personal.body, /mailto:numerique@normandie\.example/);
      assert.match(home.body, /--color-primary:#0b4f6c;--color-secondary:#8a3b12/);
      const statement = await other.app.inject({ method: 'GET', url: '/accessibilite', headers: { accept: 'text/html' } });
      assert.match(statement.body, /Région Normandie s’engage à rendre son site internet accessible/);
      assert.match(statement.body, /contactez Région Normandie/);
      const source = await other.app.inject({ method: 'GET', url: '/code-source', headers: { accept: 'text/html' } });
      assert.match(source.body, /<a href="https:\/\/git\.example\.org\/normandie\/maillage">Consulter ou télécharger le code source de cette version<\/a>/);
    } finally {
      await other.close();
    }
  });

  it('serves the bundled scripts and MapLibre, compressed', async () => {
    for (const url of ['/site/assets/site.js', '/site/assets/map.js', maplibreUrl('maplibre-gl.mjs'), maplibreUrl('maplibre-gl-worker.mjs'), maplibreUrl('maplibre-gl.css')]) {
      const r = await t.app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
      assert.equal(r.statusCode, 200, url);
      assert.equal(r.headers['content-encoding'], 'gzip', url);
      assert.ok(r.headers.etag, url);
    }
    const missing = await t.app.inject({ method: 'GET', url: '/site/assets/nope.js' });
    assert.equal(missing.statusCode, 404);
  });

  it('one MapLibre for every map page: a content-hashed URL cached for a year, named by the map page, the coverage page and its script', async () => {
    assert.match(maplibreBase(), /^\/site\/maplibre\/[0-9a-f]{12}\/$/);
    const lib = await t.app.inject({ method: 'GET', url: maplibreUrl('maplibre-gl.mjs') });
    assert.equal(lib.headers['cache-control'], 'public, max-age=31536000, immutable');
    const mapJs = await t.app.inject({ method: 'GET', url: '/site/assets/map.js' });
    assert.ok(mapJs.body.includes(`${maplibreBase()}maplibre-gl.mjs`) && mapJs.body.includes(`${maplibreBase()}maplibre-gl.css`), 'the map script loads MapLibre from the hashed folder');
    assert.ok(!mapJs.body.includes('../maplibre/'));
    const coverage = await t.app.inject({ method: 'GET', url: '/couverture', headers: { accept: 'text/html' } });
    assert.equal(coverage.statusCode, 200);
    assert.ok(coverage.body.includes(`<link rel="stylesheet" href="${maplibreUrl('maplibre-gl.css')}">`), 'the coverage page uses the same stylesheet URL');
    assert.ok(!/\/site\/maplibre\/maplibre-gl/.test(coverage.body));
    const coverageJs = await t.app.inject({ method: 'GET', url: '/couverture/assets/coverage-map.js' });
    assert.equal(coverageJs.statusCode, 200);
    assert.ok(coverageJs.body.includes(`from ${JSON.stringify(maplibreUrl('maplibre-gl.mjs'))}`), 'the coverage script imports the same module URL');
    assert.ok(!coverageJs.body.includes("'/site/maplibre/maplibre-gl.mjs'"));
    // The former unhashed URLs and another version's folder lead to the current copy; nothing else is served.
    const old = await t.app.inject({ method: 'GET', url: '/site/maplibre/maplibre-gl.mjs' });
    assert.equal(old.statusCode, 301);
    assert.equal(old.headers.location, maplibreUrl('maplibre-gl.mjs'));
    const stale = await t.app.inject({ method: 'GET', url: '/site/maplibre/000000000000/maplibre-gl.css' });
    assert.equal(stale.statusCode, 302);
    assert.equal(stale.headers.location, maplibreUrl('maplibre-gl.css'));
    for (const name of ['constructor', '__proto__', 'package.json', '..%2Fpackage.json']) {
      assert.equal((await t.app.inject({ method: 'GET', url: `${maplibreBase()}${name}` })).statusCode, 404, name);
    }
  });
});

describe('embedding', () => {
  it('serves a frameable finder configured by territory, filters and colours', async () => {
    const r = await get(`/embed?territory=departement:27&services=${encodeURIComponent('Aide aux démarches administratives')}&primary=%23224466&title=Aide%20num%C3%A9rique%20dans%20l%E2%80%99Eure`);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['x-frame-options'], undefined);
    const csp = r.headers['content-security-policy'] as string;
    assert.doesNotMatch(csp, /frame-ancestors/, 'any partner site may frame the finder');
    assert.match(csp, /script-src 'self'/);
    assert.match(r.body, /--color-primary:#224466/);
    assert.match(r.body, /<h1>Aide numérique dans l’Eure<\/h1>/);
    assert.match(r.body, /France Services Évreux Nétreville/);
    assert.doesNotMatch(r.body, /site-header/);
    assert.match(r.body, /<input type="hidden" name="primary" value="#224466">/);
    const normal = await get('/');
    assert.equal(normal.headers['x-frame-options'], 'SAMEORIGIN');
  });

  it('understands a commune typed in a finder limited to a territory, and stays within it', async () => {
    const r = await get('/embed?territory=departement:27&q=Evreux&primary=%23224466');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /<h1>Lieux près de Évreux \(27000\)<\/h1>/);
    assert.match(r.body, /27 lieux trouvés à moins de 10 km de Évreux \(27000\) \(territoire : Eure\)/);
    const outside = await get('/embed?territory=departement:27&q=Rouen');
    assert.match(outside.body, /Aucun lieu ne correspond à votre recherche/);
    assert.doesNotMatch(outside.body, /Point numérique CAF de Rouen/);
  });

  it('serves the script-tag loader and the snippet generator', async () => {
    const js = await t.app.inject({ method: 'GET', url: '/embed.js' });
    assert.equal(js.statusCode, 200);
    assert.match(js.body, /createElement\('iframe'\)/);
    const g = await get('/integrer?territory=departement%3A27&primary=%23224466&secondary=%23884400&height=700&map=1&map=0');
    assert.equal(g.statusCode, 200);
    assert.match(g.body, /&lt;iframe src=&quot;http:\/\/[^&]+\/embed\?territory=departement%3A27&amp;amp;primary=%23224466/);
    assert.match(g.body, /data-territory=&quot;departement:27&quot;/);
    assert.match(g.body, /<iframe class="preview-frame" src="\/embed\?territory=departement%3A27/);
    assert.match(g.headers['content-security-policy'] as string, /frame-src 'self'/, 'the preview may frame the embed');
  });

  it('lets a town hall pick its commune or its intercommunalité, with choices, errors and a preview', async () => {
    const evreux = await siteData(t.db).resolveTerritory('commune:27229');
    const epci = evreux!.parents.find((p) => p.level === 'epci')!;
    assert.ok(epci, 'Évreux belongs to an EPCI');
    const g = await get('/integrer?collectivite=%C3%89vreux&primary=%23224466&secondary=%23884400&height=700&map=1');
    assert.equal(g.statusCode, 200);
    assert.match(g.body, /Territoire : <strong>Évreux<\/strong> \(commune, Normandie, Eure, /);
    assert.match(g.body, /data-territory=&quot;commune:27229&quot;/);
    assert.match(g.body, /<iframe class="preview-frame" src="\/embed\?territory=commune%3A27229/);
    assert.match(g.body, /<optgroup label="Commune choisie"><option value="commune:27229" selected>Évreux \(27229\)<\/option><\/optgroup>/);
    assert.match(g.body, /<input type="text" id="g-find" name="collectivite" value=""/, 'the commune is in the list now: the text field is emptied');
    // Its intercommunalité in one click, keeping the other settings.
    const link = new RegExp(`<a href="(/integrer\\?territory=epci%3A${epci.code}[^"]*)">${epci.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</a>`).exec(g.body);
    assert.ok(link, 'the EPCI is offered');
    const e = await get(link[1]!.replace(/&amp;/g, '&'));
    assert.equal(e.statusCode, 200);
    assert.match(e.body, /\(intercommunalité, Normandie, Eure\)/);
    assert.match(e.body, new RegExp(`data-territory=&quot;epci:${epci.code}&quot;`));
    assert.match(e.body, /data-primary=&quot;#224466&quot;/);
    assert.match(e.body, /data-height=&quot;700&quot;/);
    // By SIREN, and by name.
    const bySiren = await get(`/integrer?collectivite=${epci.code}`);
    assert.match(bySiren.body, new RegExp(`data-territory=&quot;epci:${epci.code}&quot;`));
    const byName = await siteData(t.db).searchEpcis(epci.name.split(' ').slice(-2).join(' '));
    assert.ok(byName.some((x) => x.code === epci.code), 'found by the last words of its name');
    // An ambiguous name: choices, no code yet.
    const many = await get('/integrer?collectivite=Saint-Martin-de');
    assert.equal(many.statusCode, 200);
    assert.match(many.body, /Plusieurs territoires correspondent à « Saint-Martin-de » : choisissez le vôtre/);
    assert.ok((many.body.match(/<a href="\/integrer\?territory=commune%3A\w{5}&amp;/g) ?? []).length >= 2);
    assert.doesNotMatch(many.body, /id="snippet-iframe"/);
    // Nothing matches, an unknown territory: 400, an error summary linking the field, no code.
    const none = await get('/integrer?collectivite=Zzqxwv');
    assert.equal(none.statusCode, 400);
    assert.match(none.body, /<div class="notice notice-error error-summary" role="alert"[^>]*>.*<a href="#g-find">Aucune commune ni intercommunalité ne correspond à « Zzqxwv »/s);
    assert.match(none.body, /aria-describedby="g-find-hint g-find-error" aria-invalid="true"/);
    assert.doesNotMatch(none.body, /id="snippet-iframe"/);
    const unknown = await get('/integrer?territory=commune%3A99999');
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.body, /Le territoire « commune:99999 » n’existe pas/);
    for (const hostile of ['%25', '__proto__', 'constructor', '_'.repeat(5000), 'a'.repeat(300), '((((((((a+)+)+)+)+)+)+)$']) {
      const r = await get(`/integrer?collectivite=${encodeURIComponent(hostile)}`);
      assert.ok(r.statusCode === 200 || r.statusCode === 400, `${hostile.slice(0, 20)}: ${r.statusCode}`);
    }
    // The embed for a commune lists that commune's places only.
    const embed = await get('/embed?territory=commune%3A27229');
    assert.equal(embed.statusCode, 200);
    assert.match(embed.body, /<h1>Lieux : Évreux<\/h1>/);
    assert.match(embed.body, /Médiathèque Rolland-Plaisance/);
    assert.doesNotMatch(embed.body, /Atelier numérique de Vernon/);
  });

  it('answers /favicon.ico with an icon in the région’s colour', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/favicon.ico' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'image/png');
    assert.deepEqual([...r.rawPayload.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(r.rawPayload.readUInt32BE(16), 32);
  });

  it('offers to copy the link of a place page (shown by the script; a polite status says it is copied)', async () => {
    const r = await get(placeUrl(MEDIATHEQUE.nom));
    assert.match(r.body, /<button type="button" class="secondary" data-share hidden>Copier le lien de cette fiche<\/button>/);
    assert.match(r.body, /<p class="hint no-print" data-share-status role="status"><\/p>/);
  });
});
