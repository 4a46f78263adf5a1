/**
 * The audit journal in words (/admin/journal): sentences with linked objects, filters, cursor
 * pages, least privilege (each role reads the entries about the objects in its scope), and
 * refused filters (400 naming the field, nothing written).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { addPlace, record, LYON } from '../../places/backoffice/tests/helpers.ts';
import { dismissDuplicate, mergeDuplicates } from '../../places/backoffice/service.ts';
import { contract, readJournal } from '../journal.ts';
import { depsOf, makeUser, signedInBrowser, type TestUser } from '../testing.ts';
import { getGrants, type AccountsDeps } from '../service.ts';

describe('audit journal in words', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  let admin: TestUser;
  let staff69: TestUser;
  let manager: TestUser;
  let reviewer: TestUser;
  const uid: Record<'a' | 'b' | 'c' | 'd', string> = { a: '', b: '', c: '', d: '' };

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsOf(t.app);
    uid.a = await addPlace(t.db, record({ id: 'j-a', nom: 'Médiathèque d’Évreux' }), 'journal');
    uid.b = await addPlace(t.db, record({ id: 'j-b', nom: 'Espace <b>numérique</b> Évreux' }), 'journal');
    uid.c = await addPlace(t.db, record({ id: 'j-c', nom: 'Maison France services Lyon', ...LYON }), 'journal');
    uid.d = await addPlace(t.db, record({ id: 'j-d', nom: 'Cyber-base Lyon', ...LYON }), 'journal');
    admin = await makeUser(deps, 'marie.dupont@exemple.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Marie Dupont');
    staff69 = await makeUser(deps, 'rhone@exemple.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' }], 'Équipe Rhône');
    manager = await makeUser(deps, 'gestion-a@exemple.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid.a }], 'Gestionnaire A');
    reviewer = await makeUser(deps, 'relecture@exemple.fr', [{ role: 'reviewer', scopeKind: 'region', scopeId: '84' }], 'Relecteur');
    await mergeDuplicates(t.db, admin.id, uid.a, uid.b, []);
    await dismissDuplicate(t.db, admin.id, uid.c, uid.d);
  });
  after(async () => t.close());

  // One browser per person (signing in is itself audited).
  const browsers = new Map<string, Awaited<ReturnType<typeof signedInBrowser>>>();
  const page = async (who: TestUser, url: string) => {
    if (!browsers.has(who.id)) browsers.set(who.id, await signedInBrowser(t.app, deps, who));
    return browsers.get(who.id)!.get(url);
  };
  const entries = async () => Number((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry')).rows[0]!.n);
  const actorOf = async (u: TestUser) => ({ id: u.id, grants: await getGrants(t.db, u.id) });
  const text = (body: string) => body.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ');

  test('an administrator reads who did what to which object, in words, with links and the date', async () => {
    const r = await page(admin, '/admin/journal');
    assert.equal(r.status, 200);
    const words = text(r.body);
    assert.match(words, /Marie Dupont a fusionné le lieu « Médiathèque d’Évreux » avec le lieu « Espace &lt;b&gt;numérique&lt;\/b&gt; Évreux » — \d{1,2} [a-zéû.]+ \d{4} à \d{2}:\d{2}/);
    assert.match(words, /Marie Dupont a indiqué que le lieu « (Maison France services Lyon|Cyber-base Lyon) » et le lieu « (Maison France services Lyon|Cyber-base Lyon) » ne sont pas des doublons/);
    assert.match(words, /a attribué le rôle « Gestionnaire de lieu » \(lieu [0-9a-f-]{36}\) au compte de Gestionnaire A/);
    assert.ok(r.body.includes(`<a href="/gestion/lieux/${uid.a}">« Médiathèque d’Évreux »</a>`));
    assert.ok(r.body.includes(`<a href="/admin/utilisateurs/${manager.id}">Gestionnaire A</a>`));
    assert.ok(r.body.includes(`<a href="/admin/journal?personne=${admin.id}">Marie Dupont</a>`));
    assert.doesNotMatch(r.body, /\{&quot;|\{"|places\.merge|accounts\.role\.grant/, 'no raw JSON nor action codes');
    assert.match(r.body, /<code id="tete-journal">\d+:[0-9a-f]{64}<\/code>/, 'the chain head is shown');
    assert.match(r.body, /Vérifier l’intégrité de la chaîne/);
  });

  test('filters: by module, person, object and dates', async () => {
    const places = text((await page(admin, '/admin/journal?module=places')).body);
    assert.match(places, /a fusionné/);
    assert.doesNotMatch(places, /a invité|a attribué le rôle/);
    const accounts = text((await page(admin, '/admin/journal?module=accounts')).body);
    assert.match(accounts, /a invité le compte de Équipe Rhône/);
    assert.doesNotMatch(accounts, /a fusionné/);
    const byName = text((await page(admin, '/admin/journal?qui=dupont&module=places')).body);
    assert.match(byName, /a fusionné/);
    const byOther = text((await page(admin, `/admin/journal?personne=${staff69.id}`)).body);
    assert.doesNotMatch(byOther, /a fusionné/);
    assert.match(byOther, /Équipe Rhône a ouvert une session|Équipe Rhône a activé/);
    const object = text((await page(admin, `/admin/journal?type=place&objet=${[uid.c, uid.d].sort()[0]}`)).body);
    assert.match(object, /ne sont pas des doublons/);
    assert.doesNotMatch(object, /a fusionné/);
    const old = await page(admin, '/admin/journal?du=2001-01-01&au=2001-01-31');
    assert.equal(old.status, 200);
    assert.match(text(old.body), /Aucune entrée avec ces critères/);
    // The journal's dates are Paris days (between 23:00 and 00:00 UTC, the UTC date is the day before).
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date());
    const now = text((await page(admin, `/admin/journal?du=${today}&au=${today}&module=places`)).body);
    assert.match(now, /a fusionné/);
  });

  test('cursor pages: the next page continues below the last entry shown, without overlap', async () => {
    const first = await readJournal(t.db, await actorOf(admin), {}, 3);
    assert.equal(first.lines.length, 3);
    assert.ok(first.next);
    const second = await readJournal(t.db, await actorOf(admin), { before: first.next! }, 3);
    assert.ok(second.lines.every((l) => l.entry.seq < first.lines[2]!.entry.seq));
    const body = (await page(admin, '/admin/journal')).body;
    const total = await entries();
    if (total > 50) assert.match(body, /href="\/admin\/journal\?avant=\d+" rel="next">Entrées plus anciennes/);
  });

  test('least privilege: each role reads the entries about the objects in its scope only', async () => {
    const rhone = text((await page(staff69, '/admin/journal')).body);
    assert.match(rhone, /ne sont pas des doublons/, 'the Lyon places are in the département 69');
    assert.doesNotMatch(rhone, /a fusionné/, 'the Évreux merge is not');
    assert.doesNotMatch(rhone, /a invité|a attribué le rôle/, 'accounts are for those who manage them');
    assert.doesNotMatch(rhone, /Vérifier l’intégrité/, 'checking the whole chain is for audit readers');
    const a = text((await page(manager, '/admin/journal')).body);
    assert.match(a, /a fusionné le lieu « Médiathèque d’Évreux »/);
    assert.doesNotMatch(a, /ne sont pas des doublons/);
    // The dropped place is named but not linked for its manager (they may not follow it).
    const r = await page(manager, '/admin/journal');
    assert.ok(r.body.includes(`<a href="/gestion/lieux/${uid.a}">`));
    assert.ok(!r.body.includes(`<a href="/gestion/lieux/${uid.b}">`));
    const refused = await page(reviewer, '/admin/journal');
    assert.equal(refused.status, 403);
    // Asking for an object outside one's scope gives nothing, not an error.
    const outside = text((await page(staff69, `/admin/journal?type=place&objet=${uid.a}`)).body);
    assert.match(outside, /Aucune entrée visible pour votre rôle/);
    const scoped = await readJournal(t.db, await actorOf(staff69), {}, 1);
    assert.equal(scoped.lines.length, 1);
  });

  test('hostile or malformed filters: a 400 naming the field, and nothing written', async () => {
    await page(admin, '/admin/journal');
    const count = await entries();
    const cases: [string, RegExp][] = [
      ['du=2026-13-45', /Du : une date au format AAAA-MM-JJ/],
      ['du=2026-12-05&au=2026-12-01', /Au : la date de fin précède/],
      ['module=constructor', /Module : choisissez un module/],
      ['type=__proto__', /Type d’objet : choisissez un type/],
      ['type=place&objet=x%01y', /Objet : identifiant invalide/],
      ['type=place&objet=x%00y', /Paramètre « objet » : caractère nul interdit/],
      ['objet=abc', /Objet : précisez aussi le type/],
      ['avant=abc', /Page : numéro d’entrée invalide/],
      ['avant=99999999999999999999', /Page : numéro d’entrée invalide/],
      ['personne=../../x', /Personne : identifiant inconnu/],
      [`personne=${'-'.repeat(36)}`, /Personne : identifiant inconnu/],
      [`qui=${'a'.repeat(500)}`, /Personne : 120 caractères au plus/],
    ];
    for (const [q, message] of cases) {
      const r = await page(admin, `/admin/journal?${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.body, message, q);
      assert.match(r.body, /<title>Erreur/, q);
    }
    const pct = await page(admin, '/admin/journal?qui=%25%25%25_');
    assert.equal(pct.status, 200, 'LIKE wildcards are taken literally');
    assert.match(text(pct.body), /Aucune entrée/);
    assert.equal(await entries(), count, 'reading the journal writes nothing');
  });

  test('the account page shows its history in words', async () => {
    const r = await page(admin, `/admin/utilisateurs/${manager.id}`);
    assert.equal(r.status, 200);
    assert.match(text(r.body), /Historique .*a attribué le rôle « Gestionnaire de lieu »/s);
    assert.doesNotMatch(r.body, /accounts\.role\.grant|\{&quot;/);
  });

  test('French contractions: « de le lieu » → « du lieu », « à le compte » → « au compte »', () => {
    const parts = contract(['a modifié la fiche de ', { noun: 'le lieu', label: 'X', quote: true, href: null }, ' et écrit à ', { noun: 'le compte de', label: 'Y', quote: false, href: null }]);
    assert.deepEqual(parts.map((p) => (typeof p === 'string' ? p : p.noun)), ['a modifié la fiche ', 'du lieu', ' et écrit ', 'au compte de']);
  });
});
