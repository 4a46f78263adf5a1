/**
 * Pure parts of the public site: URL state, text → commune resolution, error-report checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Commune, SiteData } from '../data.ts';
import { parseBbox, parseState, stateToQuery } from '../query.ts';
import { findCommune, fold, resolveSearch } from '../resolve.ts';
import { checkReport, FormClock, REPORT_LIMITS } from '../reports.ts';
import { AggregateCache } from '../cache.ts';

describe('search state in the URL', () => {
  it('reads filters given as repeated parameters or joined with |, and writes them back', () => {
    const { state } = parseState({
      q: ' Évreux ',
      services: ['Aide aux démarches administratives', 'Loisirs et créations numériques|Aide aux démarches administratives'],
      open_now: '1',
      sort: 'name',
      page: '3',
    });
    assert.equal(state.q, 'Évreux');
    assert.deepEqual(state.filters.services, ['Aide aux démarches administratives', 'Loisirs et créations numériques']);
    assert.equal(state.openNow, true);
    assert.equal(state.page, 3);
    const again = parseState(Object.fromEntries([...new URLSearchParams(stateToQuery(state)).keys()].map((k) => [k, new URLSearchParams(stateToQuery(state)).getAll(k)]))).state;
    assert.deepEqual(again, state);
  });

  it('drops invalid values and says so', () => {
    const { state, problems } = parseState({ near: 'abc', bbox: '1,2,0,3', radius: '-5', page: '-2', services: 'Inconnu' }, () => ['Aide aux démarches administratives']);
    assert.equal(state.near, null);
    assert.equal(state.bbox, null);
    assert.equal(state.radius, null);
    assert.equal(state.page, 1);
    assert.deepEqual(state.filters.services, []);
    assert.equal(problems.length, 4);
  });

  it('parses a bounding box west,south,east,north', () => {
    assert.deepEqual(parseBbox('1.1,48.9,1.3,49.1'), [1.1, 48.9, 1.3, 49.1]);
    assert.equal(parseBbox('1.3,48.9,1.1,49.1'), null);
  });
});

const C = (code: string, name: string, postalCodes: string[], population: number): Commune => ({
  code,
  name,
  departement: code.slice(0, 2),
  region: '28',
  population,
  postalCodes,
  lat: 49,
  lon: 1,
});
const communes = [C('27229', 'Évreux', ['27000'], 46000), C('27306', 'Guichainville', ['27930'], 2800), C('27022', 'Angerville-la-Campagne', ['27930'], 1000), C('93066', 'Saint-Denis', ['93200'], 110000)];
const fake = {
  async communesByPostalCode(cp: string) {
    return communes.filter((c) => c.postalCodes.includes(cp));
  },
  async searchCommunes(text: string) {
    const f = fold(text);
    return communes.filter((c) => fold(c.name).startsWith(f));
  },
} as unknown as SiteData;

describe('understanding what the visitor typed', () => {
  it('finds a commune by name, ignoring accents and case, and "st" for "saint"', async () => {
    assert.equal((await findCommune(fake, 'evreux')).commune?.code, '27229');
    assert.equal((await findCommune(fake, 'ST DENIS')).commune?.code, '93066');
  });

  it('finds a commune by postal code, preferring the one named after it', async () => {
    assert.equal((await findCommune(fake, '27000')).commune?.code, '27229');
    const r = await findCommune(fake, '27930 Angerville-la-Campagne');
    assert.equal(r.commune?.code, '27022');
    assert.deepEqual(r.candidates.map((c) => c.code), ['27306']);
  });

  it('reads an address ending with the commune', async () => {
    assert.equal((await findCommune(fake, '3 place de la Mairie, Évreux')).commune?.code, '27229');
    assert.equal((await findCommune(fake, '12 rue Victor Hugo 27000 Évreux')).commune?.code, '27229');
  });

  it('searches place names when no commune matches, sorted by relevance', async () => {
    const r = await resolveSearch(fake, parseState({ q: 'médiathèque' }).state);
    assert.equal(r.kind, 'text');
    assert.equal(r.query.q, 'médiathèque');
    assert.equal(r.query.sort, 'relevance');
  });

  it('searches around the commune centre within the chosen radius', async () => {
    const r = await resolveSearch(fake, parseState({ q: 'Évreux', radius: '20', services: 'Aide aux démarches administratives' }).state);
    assert.equal(r.kind, 'commune');
    assert.deepEqual(r.query.near, { lat: 49, lon: 1 });
    assert.equal(r.query.radiusKm, 20);
    assert.equal(r.query.sort, 'distance');
    assert.deepEqual(r.query.filters, { services: ['Aide aux démarches administratives'] });
  });
});

describe('error reports', () => {
  const clock = new FormClock('secret');
  const now = Date.now();
  const started = clock.stamp(now - 10_000);

  it('accepts a genuine report', () => {
    const r = checkReport({ message: 'Le numéro de téléphone ne répond plus.', contact: 'nom@example.org', website: '', started }, clock, now);
    assert.deepEqual(r, { ok: true, message: 'Le numéro de téléphone ne répond plus.', contact: 'nom@example.org' });
  });

  it('treats a filled honeypot as spam and explains a form sent too fast', () => {
    assert.deepEqual(checkReport({ message: 'Un message assez long.', website: 'http://spam', started }, clock, now), { ok: false, spam: true });
    // Too fast: not stored, but said (a quick person can send it again; the text is kept).
    const quick = checkReport({ message: 'Un message assez long.', started: clock.stamp(now - 500) }, clock, now);
    assert.ok(!quick.ok && !quick.spam);
    if (!quick.ok && !quick.spam) {
      assert.match(quick.errors.form!, /0,5 s après l’ouverture de la page.*moins de 3 secondes.*envoyez-le de nouveau/);
      assert.equal(quick.values.message, 'Un message assez long.');
    }
  });

  it('refuses a forged or missing start time, a short message and an invalid contact, naming the field', () => {
    const forged = checkReport({ message: 'Un message assez long.', started: `${now - 10_000}.abc` }, clock, now);
    assert.ok(!forged.ok && !forged.spam && forged.errors.form);
    const short = checkReport({ message: 'court', contact: 'pas un contact', started }, clock, now);
    assert.ok(!short.ok && !short.spam);
    if (!short.ok && !short.spam) {
      assert.match(short.errors.message!, new RegExp(String(REPORT_LIMITS.messageMin)));
      assert.ok(short.errors.contact);
      assert.equal(short.values.message, 'court');
    }
  });
});

describe('aggregate cache', () => {
  const setup = (o: { maxEntries?: number; ttlMs?: number } = {}) => {
    let version = 1;
    let clock = 0;
    let computed = 0;
    const cache = new AggregateCache({ version: async () => version }, { ...o, now: () => clock });
    const compute = async () => ++computed;
    return { cache, compute, setVersion: (v: number) => (version = v), tick: (ms: number) => (clock += ms), computed: () => computed };
  };

  it('answers the same query from memory until the data version changes', async () => {
    const c = setup();
    assert.equal(await c.cache.get('services', { territory: 'departement:27' }, c.compute), 1);
    assert.equal(await c.cache.get('services', { territory: 'departement:27' }, c.compute), 1);
    assert.equal(await c.cache.get('services', { territory: 'departement:76' }, c.compute), 2);
    c.setVersion(2);
    assert.equal(await c.cache.get('services', { territory: 'departement:27' }, c.compute), 3);
  });

  it('expires entries, keys time-dependent queries by the minute, and forgets failures', async () => {
    const c = setup({ ttlMs: 1000 });
    await c.cache.get('a', 1, c.compute);
    c.tick(1001);
    assert.equal(await c.cache.get('a', 1, c.compute), 2);
    const t = setup();
    await t.cache.get('open', 1, t.compute, { timeDependent: true });
    t.tick(60_000);
    assert.equal(await t.cache.get('open', 1, t.compute, { timeDependent: true }), 2);
    await assert.rejects(t.cache.get('bad', 1, async () => Promise.reject(new Error('db down'))));
    assert.equal(await t.cache.get('bad', 1, t.compute), 3);
  });

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const c = setup({ maxEntries: 2 });
    await c.cache.get('k', 1, c.compute);
    await c.cache.get('k', 2, c.compute);
    await c.cache.get('k', 1, c.compute); // 1 is now the most recent
    await c.cache.get('k', 3, c.compute); // drops 2
    assert.equal(c.cache.size, 2);
    assert.equal(await c.cache.get('k', 1, c.compute), 1);
    assert.equal(await c.cache.get('k', 2, c.compute), 4);
  });
});
