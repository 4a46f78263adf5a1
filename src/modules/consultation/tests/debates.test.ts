/**
 * Debates over HTTP: staff open one, participants argue for and against and reply, refusals
 * (closed phase, closed debate, bad stance, hostile input, no CSRF) leave every row unchanged,
 * contributions are reported and hidden through the moderation queue (the text hidden from
 * everyone but moderators, listed in the moderation log), staff close it with a conclusion; the
 * open data carries no author.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import * as db8 from '../debates.ts';
import { makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser, Browser } = accountsTesting;

describe('debates over HTTP', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let alice: Awaited<ReturnType<typeof makeUser>>;
  let bob: Awaited<ReturnType<typeof makeUser>>;
  let outsider: Awaited<ReturnType<typeof makeUser>>;
  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    staff = await makeUser(deps, 'equipe-db@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe');
    outsider = await makeUser(deps, 'equipe28-db@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Autre');
    alice = await makeUser(deps, 'alice-db@exemple.fr', [], 'Alice');
    bob = await makeUser(deps, 'bob-db@exemple.fr', [], 'Bob');
  });
  after(async () => t.close());

  test('open, argue, reply, report, hide, close; refusals change nothing', async () => {
    const p = await makeProcess(t.db, { comments: true });
    const quiet = await makeProcess(t.db, { proposals: true });
    await db8.createDebate({ db: t.db }, staff.id, quiet.id, { slug: 'ferme', title: 'Un débat sans commentaires ouverts', description: '' });
    const st = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.121');
    const newUrl = `/gestion/concertations/${p.slug}/debats/nouveau`;
    await st.get(newUrl);
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider, '192.0.2.122');
    await o.get('/concertations');
    let before = await snapshot(t.db);
    const bad = await st.post(newUrl, { title: 'Ok', slug: 'Pas Bon' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /href="#f-slug"/);
    assert.match(bad.body, /href="#f-title"/);
    assert.equal((await o.post(newUrl, { title: 'Faut-il ouvrir le dimanche ?', slug: 'dimanche' })).status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    assert.equal((await st.post(newUrl, { title: 'Faut-il ouvrir les tiers-lieux le dimanche ?', slug: 'dimanche', description: 'Horaires.' })).status, 303);
    assert.equal((await st.post(newUrl, { title: 'Faut-il ouvrir les tiers-lieux le dimanche ?', slug: 'dimanche' })).status, 409);
    const d = (await db8.getDebate(t.db, p.id, 'dimanche'))!;

    const url = `/concertations/${p.slug}/debats/dimanche`;
    assert.match((await new Browser(t.app).get(url)).body, /Créer un compte/);
    const a = await signedInBrowser(t.app, depsOf(t.app), alice, '192.0.2.123');
    const b = await signedInBrowser(t.app, depsOf(t.app), bob, '192.0.2.124');
    await a.get(url);
    before = await snapshot(t.db);
    const refusals: [Record<string, string>, number, string][] = [
      [{ stance: 'constructor', body: 'Un argument' }, 422, 'stance'],
      [{ stance: 'for', body: '' }, 422, 'body'],
      [{ stance: 'for', body: 'a\u0000b' }, 400, ''], // the platform refuses NUL bytes before the handler
      [{ stance: 'for', body: 'x'.repeat(2001) }, 422, 'body'],
      [{ stance: 'comment', body: 'Réponse', parentId: '00000000-0000-4000-8000-000000000000' }, 400, ''],
      [{ stance: 'for', body: 'Du spam', website: 'http://x' }, 400, ''],
    ];
    for (const [f, status, field] of refusals) {
      const r = await a.post(`${url}/contributions`, f);
      assert.equal(r.status, status, JSON.stringify(f).slice(0, 80));
      if (field) assert.match(r.body, new RegExp(`href="#f-${field}"`));
    }
    assert.equal((await a.post(`${url}/contributions`, { stance: 'for', body: 'Sans jeton' }, { csrf: false })).status, 403);
    // A process whose phase does not open comments.
    assert.equal((await a.post(`/concertations/${quiet.slug}/debats/ferme/contributions`, { stance: 'for', body: 'Trop tôt pour débattre' })).status, 409);
    assert.deepEqual(await snapshot(t.db), before);

    assert.equal((await a.post(`${url}/contributions`, { stance: 'for', body: 'Le dimanche, les familles sont disponibles.' })).status, 200);
    assert.equal((await a.post(`${url}/contributions`, { stance: 'against', body: 'Les bénévoles ont besoin de repos.' })).status, 200);
    await b.get(url);
    const [pro] = (await db8.listContributions(t.db, d.id)).filter((c) => c.stance === 'for');
    assert.equal((await b.post(`${url}/contributions`, { stance: 'comment', body: 'Texte injurieux à masquer', parentId: pro!.id })).status, 200);
    const after1 = (await db8.getDebate(t.db, p.id, 'dimanche'))!;
    assert.deepEqual([after1.argumentsFor, after1.argumentsAgainst, after1.comments], [1, 1, 1]);
    const page = await b.get(url);
    assert.match(page.body, /Arguments pour \(1\)/);
    assert.match(page.body, /Arguments contre \(1\)/);

    // Report, then hide through the moderation queue.
    const bad1 = (await db8.listContributions(t.db, d.id)).find((c) => c.body === 'Texte injurieux à masquer')!;
    await a.get(url);
    assert.equal((await a.post(`${url}/signalements`, { id: bad1.id, reason: 'offensive' })).status, 200);
    assert.equal((await a.post(`${url}/signalements`, { id: bad1.id, reason: 'offensive' })).status, 409);
    const queue = await st.get(`/gestion/concertations/${p.slug}`);
    assert.match(queue.body, /Contribution au débat/);
    const hide = await st.post(`/gestion/concertations/${p.slug}/moderation`, { kind: 'contribution', id: bad1.id, decision: 'hide', reason: 'Propos injurieux' });
    assert.equal(hide.status, 200);
    const pub = await new Browser(t.app).get(url);
    assert.doesNotMatch(pub.body, /Texte injurieux/);
    assert.match(pub.body, /masquée par la modération : Propos injurieux/);
    assert.match((await st.get(url)).body, /Texte injurieux/);
    assert.match((await new Browser(t.app).get(`/concertations/${p.slug}/moderation`)).body, /Contribution à un débat/);
    // A reply to a hidden contribution is refused.
    await b.get(url);
    before = await snapshot(t.db);
    assert.equal((await b.post(`${url}/contributions`, { stance: 'comment', body: 'Je réponds quand même', parentId: bad1.id })).status, 409);
    assert.deepEqual(await snapshot(t.db), before);

    // Open data: no author, no hidden text.
    const open = await new Browser(t.app).get(`/api/v1/consultation/processes/${p.slug}/debates.csv`);
    assert.equal(open.status, 200);
    assert.match(open.body, /^process,debate,contribution_id,parent_id,stance,body,created_at/);
    assert.match(open.body, /familles/);
    assert.doesNotMatch(open.body, /injurieux|alice|bob/i);

    // Close with a conclusion; no contribution afterwards.
    const admin = `/gestion/concertations/${p.slug}/debats/dimanche`;
    await st.get(admin);
    assert.equal((await st.post(`${admin}/cloture`, { conclusion: 'court' })).status, 422);
    assert.equal((await st.post(`${admin}/cloture`, { conclusion: 'Ouverture un dimanche par mois, à l’essai.' })).status, 200);
    assert.equal((await st.post(`${admin}/cloture`, { conclusion: 'Ouverture un dimanche par mois, à l’essai.' })).status, 409);
    await a.get(url);
    before = await snapshot(t.db);
    assert.equal((await a.post(`${url}/contributions`, { stance: 'for', body: 'Encore un argument' })).status, 409);
    assert.deepEqual(await snapshot(t.db), before);
    assert.match((await a.get(url)).body, /Conclusion \(débat clos/);
    const actions = (await listAudit(t.db, { objectId: d.id, limit: 10 })).map((e) => e.action);
    assert.ok(actions.includes('consultation.debate.create') && actions.includes('consultation.debate.close'), actions.join());
  });
});
