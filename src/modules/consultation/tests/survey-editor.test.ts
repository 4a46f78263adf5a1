/**
 * The question-by-question survey editor over HTTP: staff add, edit, move and delete questions
 * through forms (no JSON); a change that would break a condition, a prototype key, a missing CSRF
 * token, an outsider, or any change once someone has answered is refused with its reason and the
 * rows unchanged; every change audited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import * as sv from '../surveys.ts';
import { parseQuestions } from '../survey.ts';
import { makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('survey editor, question by question', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let outsider: Awaited<ReturnType<typeof makeUser>>;
  let alice: Awaited<ReturnType<typeof makeUser>>;
  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    staff = await makeUser(deps, 'equipe-ed@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe');
    outsider = await makeUser(deps, 'equipe28-ed@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Autre');
    alice = await makeUser(deps, 'alice-ed@exemple.fr', [], 'Alice');
  });
  after(async () => t.close());

  test('add, edit, move, delete through forms; broken conditions, bad keys, no CSRF, outsiders refused with rows unchanged; frozen once answered', async () => {
    const p = await makeProcess(t.db, {});
    await sv.createSurvey({ db: t.db }, staff.id, p.id, { slug: 'usages', title: 'Usages', description: '', questions: parseQuestions(JSON.stringify([{ key: 'commune', type: 'short', label: 'Votre commune' }])), startsAt: new Date(Date.now() - 1e6), endsAt: new Date(Date.now() + 1e9), resultsPublished: false });
    const base = `/gestion/concertations/${p.slug}/questionnaires/usages/questions`;
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.111');
    const list = await b.get(base);
    assert.equal(list.status, 200);
    assert.match(list.body, /Ajouter une question/);
    assert.equal((await b.get(`${base}/nouvelle`)).status, 200);
    const questions = async () => (await sv.getSurvey(t.db, p.id, 'usages'))!.questions;

    // Add a single choice, then a question shown only when « Jamais » is chosen.
    const added = await b.post(`${base}/nouvelle`, { type: 'single', key: 'frequence', label: 'À quelle fréquence ?', required: '1', options: 'Jamais\nParfois\nSouvent' });
    assert.equal(added.status, 200, added.body.slice(0, 300));
    assert.match(added.body, /Question ajoutée/);
    const cond = await b.post(`${base}/nouvelle`, { type: 'long', key: 'pourquoi', label: 'Pourquoi jamais ?', c0question: 'frequence', c0op: 'equal', c0value: 'Jamais' });
    assert.equal(cond.status, 200);
    assert.deepEqual((await questions()).map((q) => q.key), ['commune', 'frequence', 'pourquoi']);
    assert.deepEqual((await questions())[2]!.conditions, [{ question: 'frequence', op: 'equal', option: 0 }]);
    assert.match((await b.get(base)).body, /posée seulement si vous avez choisi « Jamais » à la question 2/);

    // Refusals: each names its field, changes nothing.
    const refusals: [string, Record<string, string>, number, RegExp][] = [
      [`${base}/nouvelle`, { type: 'short', key: 'constructor', label: 'x' }, 422, /href="#f-key"/],
      [`${base}/nouvelle`, { type: 'short', key: 'commune', label: 'Doublon' }, 422, /href="#f-key">Key : « commune » est déjà/],
      [`${base}/nouvelle`, { type: 'single', key: 'seul', label: 'Une seule option', options: 'Oui' }, 422, /href="#f-options"/],
      [`${base}/nouvelle`, { type: 'radio', key: 'radio', label: 'Type inconnu' }, 422, /href="#f-type"/],
      [`${base}/nouvelle`, { type: 'short', key: 'apres', label: 'Condition fausse', c0question: 'frequence', c0op: 'equal', c0value: 'Toujours' }, 422, /href="#f-c0question"/],
      [`${base}/nouvelle`, { type: 'short', key: 'nul', label: 'a\u0000b' }, 400, /Erreur/], // NUL bytes: refused by the platform before the handler
      [`${base}/frequence`, { type: 'multiple', label: 'À quelle fréquence ?', options: 'Jamais\nParfois', maxChoices: 'deux' }, 422, /href="#f-maxChoices"/],
      [`${base}/pourquoi/deplacer`, { direction: 'up' }, 422, /condition 1, question/],
      [`${base}/frequence/supprimer`, {}, 422, /condition 1, question/],
      [`${base}/commune/deplacer`, { direction: 'up' }, 409, /ne peut pas aller plus loin/],
      [`${base}/commune/deplacer`, { direction: 'constructor' }, 400, /Direction/],
    ];
    for (const [url, form, status, re] of refusals) {
      const before = await snapshot(t.db);
      const res = await b.post(url, form);
      assert.equal(res.status, status, `${url} ${JSON.stringify(form)}: ${res.body.slice(0, 200)}`);
      assert.match(res.body, re, url);
      assert.deepEqual(await snapshot(t.db), before, url);
    }
    assert.equal((await b.get(`${base}/constructor`)).status, 404);
    assert.equal((await b.post(`${base}/__proto__/supprimer`, {})).status, 404);
    const noCsrfBefore = await snapshot(t.db);
    assert.equal((await b.post(`${base}/commune/supprimer`, {}, { csrf: false })).status, 403);
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider, '192.0.2.112');
    await o.get('/concertations');
    assert.equal((await o.post(`${base}/commune/supprimer`, {})).status, 403);
    assert.equal((await o.get(base)).status, 403);
    // (the platform's audit trail records the refused access itself: compare everything else)
    const { audit: _a1, ...afterRefusals } = await snapshot(t.db);
    const { audit: _a0, ...beforeRefusals } = noCsrfBefore;
    assert.deepEqual(afterRefusals, beforeRefusals);
    const denied = await t.db.query<{ action: string }>('SELECT action FROM platform.audit_entry ORDER BY seq DESC LIMIT 1');
    assert.doesNotMatch(denied.rows[0]!.action, /^consultation\./);

    // Edit (type and options change), move, delete.
    const edited = await b.post(`${base}/frequence`, { type: 'single', label: 'Fréquentez-vous un tiers-lieu ?', required: '1', options: 'Jamais\nParfois\nSouvent\nChaque jour' });
    assert.equal(edited.status, 200);
    assert.deepEqual((await questions())[1]!.options, ['Jamais', 'Parfois', 'Souvent', 'Chaque jour']);
    assert.equal((await b.post(`${base}/commune/deplacer`, { direction: 'down' })).status, 200);
    assert.deepEqual((await questions()).map((q) => q.key), ['frequence', 'commune', 'pourquoi']);
    assert.equal((await b.post(`${base}/commune/supprimer`, {})).status, 200);
    assert.deepEqual((await questions()).map((q) => q.key), ['frequence', 'pourquoi']);
    const s = (await sv.getSurvey(t.db, p.id, 'usages'))!;
    const audit = await listAudit(t.db, { objectId: s.id, limit: 20 });
    assert.equal(audit.filter((e) => e.action === 'consultation.survey.questions').length, 5);

    // Once someone has answered, the questions are frozen: no forms, and a replayed change is refused.
    const a = await signedInBrowser(t.app, depsOf(t.app), alice, '192.0.2.113');
    await a.get(`/concertations/${p.slug}/questionnaires/usages`);
    assert.equal((await a.post(`/concertations/${p.slug}/questionnaires/usages`, { q_frequence: '1' })).status, 200);
    const frozen = await b.get(base);
    assert.match(frozen.body, /les questions ne changent plus/);
    assert.doesNotMatch(frozen.body, /Ajouter une question/);
    const before = await snapshot(t.db);
    for (const [url, form] of [[`${base}/nouvelle`, { type: 'short', key: 'tard', label: 'Trop tard' }], [`${base}/pourquoi/supprimer`, {}], [`${base}/pourquoi/deplacer`, { direction: 'up' }], [`${base}/frequence`, { type: 'single', label: 'Changée', options: 'A\nB' }]] as const) {
      const res = await b.post(url, form);
      assert.equal(res.status, 409, url);
      assert.match(res.body, /une personne a déjà répondu/);
    }
    assert.deepEqual(await snapshot(t.db), before);
  });
});
