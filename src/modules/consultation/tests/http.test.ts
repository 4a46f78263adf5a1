/**
 * Consultation pages and API through HTTP: the no-JavaScript journeys (propose, support, comment,
 * report, moderate, answer, build a basket, confirm the vote), refusals re-rendered with their
 * reason and checked on the rows, permissions, the JSON API and the open data (no personal data).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting, readOutbox } from '../../accounts/index.ts';
import { openDataSections } from '../../../platform/opendata.ts';
import * as svc from '../service.ts';
import { makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser, Browser } = accountsTesting;

describe('consultation over HTTP', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let p: svc.Process;
  let closed: svc.Process;
  let alice: Awaited<ReturnType<typeof makeUser>>;
  let bob: Awaited<ReturnType<typeof makeUser>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let outsider: Awaited<ReturnType<typeof makeUser>>;
  before(async () => {
    t = await testApp();
    p = await makeProcess(t.db, { proposals: true, supports: true, comments: true, votes: true });
    closed = await makeProcess(t.db, { comments: true });
    const deps = depsOf(t.app);
    alice = await makeUser(deps, 'alice@exemple.fr', [], 'Alice');
    bob = await makeUser(deps, 'bob@exemple.fr', [], 'Bob');
    staff = await makeUser(deps, 'staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe BFC');
    outsider = await makeUser(deps, 'staff28@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Équipe Normandie');
  });
  after(async () => t.close());

  test('public pages render in French with the current phase', async () => {
    const anon = new Browser(t.app);
    const list = await anon.get('/concertations');
    assert.equal(list.status, 200);
    assert.match(list.body, new RegExp(p.title));
    const page = await anon.get(`/concertations/${p.slug}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Étape en cours : <strong>En cours<\/strong>/);
    assert.match(page.body, /aria-current="step"/);
    assert.equal((await anon.get('/concertations/constructor')).status, 404);
    assert.equal((await anon.get('/concertations/%00')).status, 400);
  });

  let number = 0;
  test('a participant proposes through the form; errors name the field and save nothing; honeypot refused', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), alice);
    await b.get(`/concertations/${p.slug}/propositions/nouvelle`);
    const before = await snapshot(t.db);
    const bad = await b.post(`/concertations/${p.slug}/propositions`, { title: 'Oui', body: 'trop court', category: '__proto__' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /href="#f-title">Titre : 5 caractères au moins/);
    assert.match(bad.body, /Thème : choisissez un thème/);
    const spam = await b.post(`/concertations/${p.slug}/propositions`, { title: 'Achetez nos montres', body: 'Une offre exceptionnelle pour vous', website: 'http://spam.example' });
    assert.equal(spam.status, 400);
    const noCsrf = await b.post(`/concertations/${p.slug}/propositions`, { title: 'Sans jeton CSRF ici', body: 'Une proposition sans jeton de formulaire' }, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    const ok = await b.post(`/concertations/${p.slug}/propositions`, { title: 'Un atelier numérique par semaine', body: 'Un atelier hebdomadaire dans chaque médiathèque du département.', category: 'Thème A' });
    assert.equal(ok.status, 303);
    number = Number(/propositions\/(\d+)$/.exec(ok.location!)![1]);
    const page = await b.get(ok.location!);
    assert.match(page.body, /Un atelier numérique par semaine/);
    // closed phase: the form page and the post are refused, nothing saved
    const before2 = await snapshot(t.db);
    assert.equal((await b.get(`/concertations/${closed.slug}/propositions/nouvelle`)).status, 409);
    await b.get(`/concertations/${closed.slug}`);
    const refused = await b.post(`/concertations/${closed.slug}/propositions`, { title: 'Dans une phase fermée', body: 'Cette proposition arrive trop tard.' });
    assert.equal(refused.status, 409);
    assert.match(refused.body, /n’ouvre pas le dépôt de propositions/);
    assert.deepEqual(await snapshot(t.db), before2);
  });

  test('support once, second support refused on the page with its reason; anonymous refused', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), bob);
    const url = `/concertations/${p.slug}/propositions/${number}`;
    await b.get(url);
    const ok = await b.post(`${url}/soutien`, {});
    assert.equal(ok.status, 200);
    assert.match(ok.body, /Votre soutien est enregistré \(1 soutien\)/);
    const before = await snapshot(t.db);
    const again = await b.post(`${url}/soutien`, {});
    assert.equal(again.status, 409);
    assert.match(again.body, /un seul soutien par personne/);
    const anon = new Browser(t.app);
    await anon.get(url);
    assert.ok([401, 403].includes((await anon.post(`${url}/soutien`, {})).status));
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('comment, report, staff hides with a reason; the text is gone for the public (page and API), kept for moderators; outsiders refused', async () => {
    const url = `/concertations/${p.slug}/propositions/${number}`;
    const b = await signedInBrowser(t.app, depsOf(t.app), bob);
    await b.get(url);
    const c = await b.post(`${url}/commentaires`, { body: 'Texte inacceptable à masquer' });
    assert.equal(c.status, 200);
    const commentId = (await t.db.query<{ id: string }>(`SELECT id FROM consultation.comment WHERE body = 'Texte inacceptable à masquer'`)).rows[0]!.id;
    const a = await signedInBrowser(t.app, depsOf(t.app), alice);
    await a.get(url);
    assert.equal((await a.post(`/concertations/${p.slug}/signalements`, { kind: 'comment', id: commentId, reason: 'offensive', n: String(number) })).status, 200);
    // an outsider (staff of another région) may not moderate, nothing changes
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider);
    const s = await signedInBrowser(t.app, depsOf(t.app), staff);
    const before = await snapshot(t.db);
    assert.equal((await o.get(`/gestion/concertations/${p.slug}`)).status, 403);
    const queue = await s.get(`/gestion/concertations/${p.slug}`);
    assert.equal(queue.status, 200);
    assert.match(queue.body, /File de modération \(1\)/);
    await o.get('/concertations');
    o.csrf = s.csrf; // even with a valid-looking token, refused on permission
    const refused = await o.post(`/gestion/concertations/${p.slug}/moderation`, { kind: 'comment', id: commentId, decision: 'hide', reason: 'Propos injurieux' });
    assert.ok(refused.status === 403, `status ${refused.status}`);
    const noReason = await s.post(`/gestion/concertations/${p.slug}/moderation`, { kind: 'comment', id: commentId, decision: 'hide', reason: '' });
    assert.equal(noReason.status, 422);
    assert.deepEqual(await snapshot(t.db), before);
    const hidden = await s.post(`/gestion/concertations/${p.slug}/moderation`, { kind: 'comment', id: commentId, decision: 'hide', reason: 'Propos injurieux' });
    assert.equal(hidden.status, 200);
    const publicPage = await new Browser(t.app).get(url);
    assert.doesNotMatch(publicPage.body, /Texte inacceptable/);
    assert.match(publicPage.body, /Commentaire masqué par la modération. Motif : Propos injurieux/);
    assert.match((await s.get(url)).body, /Texte inacceptable à masquer/);
    const api = await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/proposals/${number}/comments` });
    assert.equal(api.statusCode, 200);
    const hiddenItem = api.json().items.find((x: { id: string }) => x.id === commentId);
    assert.deepEqual([hiddenItem.body, hiddenItem.hidden, hiddenItem.hiddenReason], [null, true, 'Propos injurieux']);
    assert.ok(!('authorId' in hiddenItem));
    assert.match((await new Browser(t.app).get(`/concertations/${p.slug}/moderation`)).body, /Propos injurieux/);
  });

  test('staff answer: state and answer published, author notified by e-mail; a reviewer without assignment is refused', async () => {
    const s = await signedInBrowser(t.app, depsOf(t.app), staff);
    const url = `/gestion/concertations/${p.slug}/propositions/${number}`;
    await s.get(url);
    const r = await s.post(`${url}/reponse`, { state: 'accepted', answer: 'Retenue : un atelier sera financé dans chaque médiathèque.' });
    assert.equal(r.status, 200);
    const pub = await new Browser(t.app).get(`/concertations/${p.slug}/propositions/${number}`);
    assert.match(pub.body, /Réponse officielle/);
    assert.match(pub.body, /Retenue : un atelier sera financé/);
    const mails = await readOutbox(t.db, 'alice@exemple.fr');
    assert.ok(mails.some((m) => /Réponse officielle/.test(m.subject)));
    const reviewer = await makeUser(depsOf(t.app), 'relecteur@exemple.fr', [{ role: 'reviewer', scopeKind: 'region', scopeId: '27' }], 'Relectrice');
    const rv = await signedInBrowser(t.app, depsOf(t.app), reviewer);
    assert.equal((await rv.get(url)).status, 403);
    await s.get(url);
    assert.equal((await s.post(`${url}/evaluateurs`, { email: 'relecteur@exemple.fr' })).status, 200);
    assert.equal((await rv.get(url)).status, 200);
    await rv.get(url);
    assert.equal((await rv.post(`${url}/notes`, { note: 'Coût à vérifier avec les médiathèques.' })).status, 200);
    const before = await snapshot(t.db);
    assert.equal((await rv.post(`${url}/reponse`, { state: 'rejected', answer: 'Je ne devrais pas pouvoir répondre.' })).status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    // private notes never reach the public page or the open data
    assert.doesNotMatch((await new Browser(t.app).get(`/concertations/${p.slug}/propositions/${number}`)).body, /Coût à vérifier/);
  });

  test('budget vote without JavaScript: add, over-budget refused on the page, confirm, final; the live region announces the total', async () => {
    await svc.createBudget({ db: t.db }, null, p.id, { slug: 'region', title: 'Budget régional', departement: null, amountCents: 50_000, rule: 'minimum', thresholdPct: 70, minProjects: 2, maxProjects: null });
    const b = (await svc.getBudget(t.db, p.id, 'region'))!;
    const ids = [];
    for (const [title, cost] of [['Projet un', 20_000], ['Projet deux', 25_000], ['Projet trois', 10_000]] as const) ids.push(await svc.createProject({ db: t.db }, null, b.id, { title, costCents: cost }));
    const v = await signedInBrowser(t.app, depsOf(t.app), alice);
    const url = `/concertations/${p.slug}/budgets/region`;
    const page = await v.get(url);
    assert.match(page.body, /aria-live="polite"/);
    assert.match(page.body, /0 projet choisi, 0 € sur 500 €/);
    assert.match((await v.post(`${url}/panier`, { op: 'add', projectId: ids[0]! })).body, /1 projet choisi, 200 € sur 500 €/);
    // checkout with one project: the rule needs two
    await v.get(`${url}/confirmer`);
    const before = await snapshot(t.db);
    const tooFew = await v.post(`${url}/vote`, {});
    assert.equal(tooFew.status, 422);
    assert.match(tooFew.body, /Choisissez au moins 2 projets/);
    assert.deepEqual(await snapshot(t.db), before);
    await v.get(url);
    assert.match((await v.post(`${url}/panier`, { op: 'add', projectId: ids[1]! })).body, /2 projets choisis, 450 € sur 500 €/);
    const over = await v.post(`${url}/panier`, { op: 'add', projectId: ids[2]! });
    assert.equal(over.status, 409);
    assert.match(over.body, /ferait dépasser le budget : il reste 50 €/);
    const bad = await v.post(`${url}/panier`, { op: 'constructor', projectId: ids[2]! });
    assert.equal(bad.status, 400);
    await v.get(`${url}/confirmer`);
    const done = await v.post(`${url}/vote`, {});
    assert.equal(done.status, 200);
    assert.match(done.body, /Votre vote est enregistré. Il est définitif/);
    const before2 = await snapshot(t.db);
    await v.get(`${url}/confirmer`);
    const again = await v.post(`${url}/vote`, {});
    assert.equal(again.status, 409);
    assert.deepEqual(await snapshot(t.db), before2);
    // While a vote can be cast, totals are sealed everywhere (page, API, CSV, open data): the
    // number of voters only, projects in title order. Read before and after a known person's
    // vote, live totals would give it away.
    const api = `/api/v1/consultation/processes/${p.slug}/budgets/region/results`;
    const sealed = await t.app.inject({ method: 'GET', url: api });
    assert.equal(sealed.statusCode, 200);
    assert.equal(sealed.json().sealed, true);
    assert.equal(sealed.json().voters, 1);
    assert.deepEqual(sealed.json().projects.map((x: { title: string; votes: number | null; rank: number | null }) => [x.title, x.votes, x.rank]), [['Projet deux', null, null], ['Projet trois', null, null], ['Projet un', null, null]]);
    const sealedPage = await new Browser(t.app).get(`${url}/resultats`);
    assert.match(sealedPage.body, /les voix de chaque projet seront publiées à sa clôture/);
    assert.doesNotMatch(sealedPage.body, /Projets classés par nombre de voix/);
    for (const file of [`${api}.csv`, `/api/v1/consultation/processes/${p.slug}/votes.csv`]) {
      const csv = (await t.app.inject({ method: 'GET', url: file })).body.trim().split('\n').slice(1);
      assert.equal(csv.length, 3, file);
      for (const line of csv) assert.match(line.trimEnd(), /,,$/, `${file}: ${line}`); // votes and funded empty
    }
    // The vote over, the totals are published.
    const phases = (await t.db.query<{ id: string; ends_at: string }>('SELECT id, ends_at::text FROM consultation.phase WHERE process_id = $1 AND votes_open', [p.id])).rows;
    await t.db.query(`UPDATE consultation.phase SET ends_at = now() - interval '1 second' WHERE process_id = $1 AND votes_open`, [p.id]);
    const results = await t.app.inject({ method: 'GET', url: api });
    assert.equal(results.statusCode, 200);
    assert.equal(results.json().sealed, false);
    assert.deepEqual(results.json().projects.map((x: { title: string; votes: number }) => [x.title, x.votes]), [['Projet un', 1], ['Projet deux', 1], ['Projet trois', 0]]);
    assert.equal(results.json().voters, 1);
    assert.match((await new Browser(t.app).get(`${url}/resultats`)).body, /Projets classés par nombre de voix/);
    for (const ph of phases) await t.db.query('UPDATE consultation.phase SET ends_at = $2::timestamptz WHERE id = $1', [ph.id, ph.ends_at]);
  });

  test('API and open data: proposals without authors; CSV safe against formulas; unknown parameters refused', async () => {
    const api = await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/proposals?limit=1` });
    assert.equal(api.statusCode, 200);
    const body = api.json();
    assert.equal(body.items.length, 1);
    assert.ok(!JSON.stringify(body).includes(alice.id));
    const bad = await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/proposals?limit=1&__proto__=1` });
    assert.equal(bad.statusCode, 400);
    assert.equal((await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/proposals?cursor=zzz` })).statusCode, 400);
    await svc.submitProposal({ db: t.db }, p, { id: bob.id, emailVerified: true, createdAt: bob.createdAt }, { title: '=HYPERLINK("http://x")', body: 'Une cellule qui ressemble à une formule de tableur.', category: null, communeCode: null, placeUid: null });
    const csv = await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/proposals.csv` });
    assert.equal(csv.statusCode, 200);
    assert.match(csv.body, /"'=HYPERLINK\(""http:\/\/x""\)"/);
    for (const ds of ['comments.json', 'votes.json', 'proposals.json']) {
      const r = await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/${ds}` });
      assert.equal(r.statusCode, 200, ds);
      for (const u of [alice, bob, staff]) {
        assert.ok(!r.body.includes(u.id), `${ds} has no user id`);
        assert.ok(!r.body.includes(u.email), `${ds} has no e-mail`);
      }
    }
    const comments = await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/comments.json` });
    assert.doesNotMatch(comments.body, /Texte inacceptable/);
    const section = openDataSections().find((s) => s.id === 'concertations')!;
    const files = await section.files(t.db);
    assert.ok(files.some((g) => g.group === p.title && g.files.some((f) => f.href.endsWith('/votes.csv'))));
  });
});
