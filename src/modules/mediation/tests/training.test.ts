/**
 * Training: catalogue, sessions, registration race (500 concurrent requests for the last 20 seats
 * → exactly 20 seats and a waiting list of 480), automatic promotion, attendance, completion and
 * the public certificate check, Pix import.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { ValidationFailed } from '../model.ts';
import { mediationIndicators } from '../indicators.ts';
import { completionRate, parsePeriod, statistics } from '../stats.ts';
import * as training from '../training.ts';
import { makePlace } from './support.ts';
import { accountsTesting, readOutbox } from '../../accounts/index.ts';

describe('mediation: training paths', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let place: string;
  let pathId: string;
  const actor = '00000000-0000-4000-8000-00000000aaaa';

  before(async () => {
    t = await testApp();
    place = await makePlace(t.db, '14118', 'Médiathèque');
    const provider = await training.createProvider(t.ctx, actor, { name: 'Organisme de formation normand', siret: '12345678900012' });
    pathId = await training.createPath(t.ctx, actor, {
      providerId: provider,
      title: 'Premiers pas numériques',
      modules: training.parseModules('Prendre en main un ordinateur | 3 | 5.1, 5.2 | 1\nE-mail et sécurité | 3 | 2.1 4.1 | 2'),
    });
  });
  after(async () => t.close());

  const learner = (i: number) => ({ name: `Personne ${i}`, email: `personne${i}@exemple.fr`, birthYear: '1970', status: 'job_seeker' });
  const seatsOf = async (id: string) => (await t.db.query<{ seats_taken: number; capacity: number }>('SELECT seats_taken, capacity FROM mediation.training_session WHERE id = $1', [id])).rows[0]!;
  const statuses = async (id: string) => (await t.db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM mediation.registration WHERE session_id = $1 GROUP BY status', [id])).rows.reduce<Record<string, number>>((o, r) => ({ ...o, [r.status]: r.n }), {});

  test('modules are checked against the CRCN; sessions name faulty fields', async () => {
    assert.throws(() => training.parseModules('Module | 2 | 9.9 | 3'), (e: unknown) => e instanceof ValidationFailed && /inconnue : 9.9/.test(e.message));
    assert.throws(() => training.parseModules('Module | 2 | 1.1 | 9'), /niveau visé/);
    // DigComp 2.2: typed (checked) or derived from the CRCN competences.
    assert.deepEqual(training.parseModules('Module | 2 | 1.1, 4.3 | 3')[0]!.digcomp, ['1.1', '1.2', '4.3', '4.4']);
    assert.deepEqual(training.parseModules('Module | 2 | 1.1 | 3 | 2.6, 1.1')[0]!.digcomp, ['1.1', '2.6']);
    assert.throws(() => training.parseModules('Module | 2 | 1.1 | 3 | 5.5'), (e: unknown) => e instanceof ValidationFailed && e.errors[0]!.field === 'modules' && /DigComp 2.2.*inconnue : 5.5/.test(e.message));
    assert.throws(() => training.parseModules('Module | 2 | 1.1 | 3 | __proto__'), /DigComp/);
    assert.throws(() => training.parseModules('Module | 2 | 1.1 | 3 | 1.1 | en trop'), /cinq parties/);
    await assert.rejects(training.createSession(t.ctx, actor, { pathId, startsOn: '2026-05-10', endsOn: '2026-05-01', capacity: '0', placeUid: place }), (e: unknown) =>
      e instanceof ValidationFailed && e.errors.map((x) => x.field).join() === 'endsOn,capacity');
  });

  test('500 concurrent registrations for the last 20 seats: exactly 20 seats, 480 waiting, in order', async () => {
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2026-09-01', endsOn: '2026-09-30', capacity: '30', placeUid: place, funding: 'Région' });
    for (let i = 0; i < 10; i++) await training.register(t.ctx, session, learner(10_000 + i), null);
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => training.register(t.ctx, session, learner(i), null)));
    assert.equal(results.filter((r) => r.status === 'confirmed').length, 20);
    assert.equal(results.filter((r) => r.status === 'waiting').length, 480);
    assert.deepEqual(await seatsOf(session), { seats_taken: 30, capacity: 30 });
    assert.deepEqual(await statuses(session), { confirmed: 30, waiting: 480 });
    // The order of the list is the registration order (seq, unique); the position told to each
    // person is counted when their registration commits (concurrent ones may not be visible yet).
    const positions = results.filter((r) => r.status === 'waiting').map((r) => r.position!);
    assert.ok(positions.every((p) => p >= 1 && p <= 480), 'positions within the list');
    const order = (await t.db.query<{ seq: string }>(`SELECT seq FROM mediation.registration WHERE session_id = $1 AND status = 'waiting' ORDER BY seq`, [session])).rows;
    assert.equal(new Set(order.map((r) => r.seq)).size, 480);
    // Registering again changes nothing.
    const again = await training.register(t.ctx, session, learner(0), null);
    assert.equal(again.created, false);
    assert.deepEqual(await statuses(session), { confirmed: 30, waiting: 480 });

    // A cancelled seat goes to the first person waiting.
    const first = (await t.db.query<{ id: string }>(`SELECT id FROM mediation.registration WHERE session_id = $1 AND status = 'waiting' ORDER BY seq LIMIT 1`, [session])).rows[0]!.id;
    const confirmed = results.find((r) => r.status === 'confirmed')!;
    const c = await training.cancelRegistration(t.ctx, null, confirmed.registrationId);
    assert.equal(c.promoted, first);
    assert.deepEqual(await statuses(session), { confirmed: 30, waiting: 479, cancelled: 1 });
    await assert.rejects(training.cancelRegistration(t.ctx, null, confirmed.registrationId), /déjà annulée/);
    assert.deepEqual(await statuses(session), { confirmed: 30, waiting: 479, cancelled: 1 });
  });

  test('attendance, completion, certificate checked publicly, counted for the roadmap', async () => {
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2026-03-01', capacity: '2', placeUid: place });
    const r = await training.register(t.ctx, session, { name: 'Camille Martin', email: 'camille@exemple.fr', status: 'resident' }, null);
    assert.equal(r.status, 'confirmed');
    assert.ok(r.learnerToken);
    const path = (await training.sessionPath(t.db, session))!;
    await assert.rejects(training.completeRegistration(t.ctx, actor, r.registrationId), /Il manque la présence à 2 modules/);
    for (const m of path.modules) await training.setAttendance(t.ctx, actor, r.registrationId, m.id, true);
    const code = await training.completeRegistration(t.ctx, actor, r.registrationId);
    assert.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    const cert = await training.verifyCertificate(t.db, code.toLowerCase());
    assert.equal(cert!.learner, 'Camille Martin');
    assert.deepEqual(cert!.competences.find((c) => c.competence === '4.1'), { competence: '4.1', level: 2 });
    // DigComp 2.2 derived from the CRCN (5.1 → 5.1, 5.2 at level 1; 2.1, 4.1 at level 2).
    assert.deepEqual(cert!.digcomp, [{ competence: '2.1', level: 2 }, { competence: '4.1', level: 2 }, { competence: '5.1', level: 1 }, { competence: '5.2', level: 1 }, { competence: '5.3', level: 1 }, { competence: '5.4', level: 1 }]);
    assert.equal(await training.verifyCertificate(t.db, 'AAAA-BBBB-CCCC'), null);
    const page = await t.app.inject({ method: 'GET', url: `/formations/attestations?code=${code}` });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Camille Martin/);
    assert.match(page.body, /DigComp<\/span> 2\.2/);
    assert.match(page.body, /5\.4 Identifier ses lacunes en compétences numériques : niveau 1/);
    const bad = await t.app.inject({ method: 'GET', url: '/formations/attestations?code=ZZZZ-ZZZZ-ZZZZ' });
    assert.equal(bad.statusCode, 404);
    const me = await t.app.inject({ method: 'GET', url: `/formations/apprenant/${r.learnerToken}` });
    assert.equal(me.statusCode, 200);
    assert.match(me.body, /Premiers pas numériques/);
    const completed = await mediationIndicators.find((i) => i.id === 'mediation.training_paths_completed')!.compute({ db: t.db });
    // One path completed in the Calvados: below 5, so hidden in the public figures the roadmap receives.
    assert.equal(completed.find((v) => v.territory.kind === 'departement' && v.territory.code === '14' && v.period.length === 4)!.value, null);
    assert.ok(!completed.some((v) => v.value !== null && v.value > 0 && v.value < 5));
    // Training figures on the territory's statistics (staff): registrations, completions, completion rate.
    const st = await statistics(t.db, 'departement', ['14'], parsePeriod({ annee: String(new Date().getFullYear()) }));
    assert.equal(st.breakdowns.find((b) => b.metric === 'training_completed')!.rows.find((r) => r.key === 'path')!.value, 1);
    const seats = st.breakdowns.find((b) => b.metric === 'training_registrations')!.rows.find((r) => r.key === 'confirmed')!.value!;
    assert.ok(seats >= 1);
    assert.equal(completionRate(st), Math.round(100 / seats));
    // Competences reached, in both frameworks (counted in the completion's transaction).
    assert.equal(st.breakdowns.find((b) => b.metric === 'competence')!.rows.find((r) => r.key === '4.1:2')!.value, 1);
    const dig = st.breakdowns.find((b) => b.metric === 'digcomp')!.rows;
    assert.deepEqual(dig.map((r) => r.key).sort(), ['2.1:2', '4.1:2', '5.1:1', '5.2:1', '5.3:1', '5.4:1']);
    assert.equal(dig.find((r) => r.key === '5.3:1')!.label, '5.3 Utiliser les technologies numériques de façon créative — niveau 1');
    // The catalogue (page and API) shows both frameworks; the API lists the frameworks and the correspondence.
    const cat = await t.app.inject({ method: 'GET', url: `/formations/parcours/${pathId}` });
    assert.match(cat.body, /<th scope="col"><span lang="en">DigComp<\/span> 2\.2<\/th>/);
    assert.match(cat.body, /5\.2 Identifier des besoins et des réponses technologiques/);
    const api = (await t.app.inject({ method: 'GET', url: '/api/v1/mediation/training/paths' })).json() as { items: training.CatalogueEntry[] };
    assert.deepEqual(api.items.find((p) => p.id === pathId)!.modules.map((m) => m.digcomp), [['5.1', '5.2', '5.3', '5.4'], ['2.1', '4.1']]);
    const fw = await t.app.inject({ method: 'GET', url: '/api/v1/mediation/competences' });
    assert.equal(fw.statusCode, 200);
    const body = fw.json() as { digcomp: { competences: Record<string, { en: string }> }; crcnToDigcomp: { official: boolean; mapping: Record<string, string[]> } };
    assert.equal(Object.keys(body.digcomp.competences).length, 21);
    assert.equal(body.crcnToDigcomp.official, false);
    assert.deepEqual(body.crcnToDigcomp.mapping['2.4'], ['2.3', '2.5', '2.6']);
  });

  test('Pix campaign import: levels per competence by title or code; unknown people and bad levels reported by line', async () => {
    const csv = [
      'Nom du Participant;Prénom du Participant;Adresse e-mail;Niveau pour la compétence Mener une recherche et une veille d’information;Niveau pour la compétence 4.1 Sécuriser l’environnement numérique',
      'Martin;Camille;camille@exemple.fr;3;2',
      'Inconnu;X;personne-inconnue@exemple.fr;1;1',
      'Durand;Y;personne1@exemple.fr;9;1',
    ].join('\n');
    // The people of the file registered to the session imported on (Camille and Personne 1).
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2026-10-01', capacity: '5', placeUid: place });
    await training.register(t.ctx, session, { name: 'Camille Martin', email: 'camille@exemple.fr', status: 'resident' }, null);
    await training.register(t.ctx, session, learner(1), null);
    const report = await training.importPix(t.ctx, actor, session, csv);
    assert.equal(report.imported, 1);
    assert.deepEqual(report.unknown, [3]);
    assert.equal(report.invalid[0]!.line, 4);
    const { rows } = await t.db.query<{ competence: string; level: number }>(`SELECT competence, level FROM mediation.competence_result r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email_key = 'camille@exemple.fr' ORDER BY competence`);
    assert.deepEqual(rows, [{ competence: '1.1', level: 3 }, { competence: '4.1', level: 2 }]);
    await assert.rejects(training.importPix(t.ctx, actor, session, 'a;b\n1;2'), /adresse e-mail/);
  });

  test('HTTP: public registration (errors named, nothing saved); session lists only for the provider or staff', async () => {
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2026-10-01', capacity: '5', placeUid: place });
    const rows = async () => (await t.db.query('SELECT id, status FROM mediation.registration WHERE session_id = $1 ORDER BY seq', [session])).rows;
    const visitor = new accountsTesting.Browser(t.app, '192.0.2.77');
    const page = await visitor.get(`/formations/sessions/${session}`);
    assert.equal(page.status, 200);
    const bad = await visitor.post(`/formations/sessions/${session}/inscription`, { name: 'A', email: 'pas-une-adresse', constructor: 'x', __proto__: 'y' } as Record<string, string>);
    assert.equal(bad.status, 422);
    assert.match(bad.body, /adresse e-mail valide/);
    assert.deepEqual(await rows(), []);
    const ok = await visitor.post(`/formations/sessions/${session}/inscription`, { name: 'Alex Petit', email: 'alex@exemple.fr' });
    assert.equal(ok.status, 202);
    assert.match(ok.body, /Demande d’inscription reçue/);
    assert.deepEqual(await rows(), [], 'a request until confirmed from the e-mail (double opt-in)');
    const token = /\/formations\/inscription\/([\w-]+)/.exec((await readOutbox(t.db, 'alex@exemple.fr'))[0]!.body)![1]!;
    await visitor.get(`/formations/inscription/${token}`);
    assert.equal((await visitor.post(`/formations/inscription/${token}`, {})).status, 200);
    const before = await rows();
    assert.equal(before.length, 1);
    const deps = accountsTesting.depsOf(t.app);
    const med = await accountsTesting.makeUser(deps, 'formation-med@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiateur');
    const mb = await accountsTesting.signedInBrowser(t.app, deps, med, '192.0.2.78');
    assert.equal((await mb.get(`/mediation/formations/sessions/${session}`)).status, 403);
    await mb.get('/mediation');
    const regId = (before[0] as { id: string }).id;
    assert.equal((await mb.post(`/mediation/formations/inscriptions/${regId}/annuler`, {})).status, 403);
    assert.equal((await mb.post(`/mediation/formations/inscriptions/${regId}/terminer`, {})).status, 403);
    assert.deepEqual(await rows(), before);
    const staff = await accountsTesting.makeUser(deps, 'formation-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Agent');
    const sb = await accountsTesting.signedInBrowser(t.app, deps, staff, '192.0.2.79');
    const list = await sb.get(`/mediation/formations/sessions/${session}`);
    assert.equal(list.status, 200);
    assert.match(list.body, /Alex Petit/);
    const early = await sb.post(`/mediation/formations/inscriptions/${regId}/terminer`, {});
    assert.equal(early.status, 409);
    assert.match(early.body, /Il manque la présence/);
    assert.deepEqual(await rows(), before);
  });
});
