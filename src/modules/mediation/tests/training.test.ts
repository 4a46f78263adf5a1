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
    const { rows } = await t.db.query<{ competence: string; level: number }>(`SELECT competence, level FROM mediation.competence_result r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email_key = 'camille@exemple.fr' AND r.framework = 'crcn' ORDER BY competence`);
    assert.deepEqual(rows, [{ competence: '1.1', level: 3 }, { competence: '4.1', level: 2 }]);
    await assert.rejects(training.importPix(t.ctx, actor, session, 'a;b\n1;2'), /adresse e-mail/);
  });

  test('Pix Orga export as Pix writes it (BOM, ";", quoted French headers, NA when not shared) → CRCN and DigComp 2.2 levels, learner page, staff figures kept incrementally', async () => {
    // The header of a "collecte de profils" campaign export (Pix Orga), the campaign's external id
    // being the e-mail address; one "Niveau" and one "Nombre de pix" column per CRCN competence,
    // named by its title. A participant who did not share their profile has "NA" everywhere.
    const comps = ['Mener une recherche et une veille d\'information', 'Gérer des données', 'Traiter des données', 'S\'insérer dans le monde numérique', 'Sécuriser l\'environnement numérique'];
    const head = ['Nom de l\'organisation', 'ID Campagne', 'Code', 'Nom de la campagne', 'Nom du Participant', 'Prénom du Participant', 'Adresse e-mail', 'Envoi (O/N)',
      'Date et heure de l\'envoi (Europe/Paris)', 'Nombre de pix total', 'Certifiable (O/N)', 'Nombre de compétences certifiables',
      ...comps.flatMap((c) => [`Niveau pour la compétence ${c}`, `Nombre de pix pour la compétence ${c}`])];
    const q = (v: string | number) => (typeof v === 'number' ? String(v) : `"${v.replace(/"/g, '""')}"`);
    const line = (cells: (string | number)[]) => cells.map(q).join(';');
    const export1 = '\ufeff' + [
      line(head),
      line(['Organisme de formation normand', 123, 'NORMAND01', 'Premiers pas', 'Lefèvre', 'Inès', 'ines@exemple.fr', 'Oui', '2026-11-02 10:15', 96, 'Non', 2, 3, 24, 1, 8, 2, 14, 2, 16, 0, 0]),
      line(['Organisme de formation normand', 123, 'NORMAND01', 'Premiers pas', '\'=Bono', 'Jean', 'jean@exemple.fr', 'Non', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA', 'NA']),
    ].join('\r\n') + '\r\n';
    const session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2026-11-01', capacity: '5', placeUid: place });
    await training.register(t.ctx, session, { name: 'Inès Lefèvre', email: 'ines@exemple.fr', status: 'resident' }, null);
    await training.register(t.ctx, session, { name: 'Jean Bono', email: 'jean@exemple.fr', status: 'resident' }, null);
    const results = async () => (await t.db.query<{ framework: string; competence: string; level: number }>(
      `SELECT framework, competence, level FROM mediation.competence_result r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email_key = 'ines@exemple.fr' ORDER BY framework, competence`,
    )).rows.map((r) => `${r.framework} ${r.competence}:${r.level}`);
    const counters = async () => (await t.db.query<{ metric: string; key: string; value: string }>(
      `SELECT metric, key, sum(value)::text AS value FROM mediation.stat_counter WHERE scope = 'departement' AND scope_id = '14' AND metric LIKE 'pix_%' GROUP BY metric, key ORDER BY metric, key`,
    )).rows.map((r) => `${r.metric} ${r.key}=${r.value}`);
    // What the counters must equal: the latest results, counted from the table.
    const fromTable = async () => (await t.db.query<{ metric: string; key: string; value: string }>(
      `SELECT CASE r.framework WHEN 'crcn' THEN 'pix_crcn' ELSE 'pix_digcomp' END AS metric, r.competence || ':' || r.level AS key, count(*)::text AS value
         FROM mediation.competence_result r JOIN mediation.training_session s ON s.id = r.session_id
        WHERE s.departement = '14' AND r.source = 'pix' GROUP BY 1, 2 ORDER BY 1, 2`,
    )).rows.map((r) => `${r.metric} ${r.key}=${r.value}`);

    const report = await training.importPix(t.ctx, actor, session, export1, '2026-11-02');
    assert.equal(report.imported, 1);
    assert.deepEqual(report.notShared, [3]);
    assert.deepEqual(report.unknown, []);
    assert.deepEqual(report.invalid, []);
    // CRCN as measured; DigComp by our correspondence: 1.1 → 1.1, 1.2; 1.2 and 1.3 → 1.3 (the higher
    // level, 2); 2.4 → 2.3, 2.5, 2.6; 4.1 → 4.1.
    assert.deepEqual(await results(), ['crcn 1.1:3', 'crcn 1.2:1', 'crcn 1.3:2', 'crcn 2.4:2', 'crcn 4.1:0',
      'digcomp 1.1:3', 'digcomp 1.2:3', 'digcomp 1.3:2', 'digcomp 2.3:2', 'digcomp 2.5:2', 'digcomp 2.6:2', 'digcomp 4.1:0']);
    assert.deepEqual(await counters(), await fromTable());
    assert.ok((await counters()).includes('pix_digcomp 1.3:2=1'));

    // A later campaign: Inès progressed in 1.2 (now 4: DigComp 1.3 follows) — her former levels
    // leave the figures, only the latest count.
    const export2 = '\ufeff' + [line(head.slice(0, 14)), line(['Organisme de formation normand', 124, 'NORMAND02', 'Suite', 'Lefèvre', 'Inès', 'ines@exemple.fr', 'Oui', '2026-12-01 09:00', 120, 'Non', 2, 3, 24])].join('\r\n')
      .replace(`"Niveau pour la compétence ${comps[0]}";"Nombre de pix pour la compétence ${comps[0]}"`, '"Niveau pour la compétence Gérer des données";"Nombre de pix pour la compétence Gérer des données"')
      .replace(/;3;24$/, ';4;30');
    assert.equal((await training.importPix(t.ctx, actor, session, export2, '2026-12-01')).imported, 1);
    assert.ok((await results()).includes('crcn 1.2:4'));
    assert.ok((await results()).includes('digcomp 1.3:4'));
    assert.deepEqual(await counters(), await fromTable());
    assert.ok(!(await counters()).some((c) => c.startsWith('pix_digcomp 1.3:2=')));

    // A refused file changes nothing at all.
    const rowsBefore = [await results(), await counters()];
    await assert.rejects(training.importPix(t.ctx, actor, session, '\ufeff"Nom";"Prénom"\r\n"A";"B"'), /adresse e-mail/);
    await assert.rejects(training.importPix(t.ctx, actor, session, export1.replace(';3;24;', ';\u0000;24;')), /caractères invalides/);
    await assert.rejects(training.importPix(t.ctx, actor, session, export1 + 'x;y\r\n'.repeat(training.PIX_MAX_LINES)), /participants au plus/);
    assert.deepEqual([await results(), await counters()], rowsBefore);

    // The learner's page shows both frameworks; the staff territory figures both breakdowns.
    await t.db.query(`UPDATE mediation.learner SET token_hash = $1 WHERE email_key = 'ines@exemple.fr'`, [(await import('node:crypto')).createHash('sha256').update('jeton-de-test-ines-0123456789').digest('hex')]);
    const page = await t.app.inject({ method: 'GET', url: '/formations/apprenant/jeton-de-test-ines-0123456789' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Cadre européen <span lang="en">DigComp<\/span> 2.2/);
    assert.match(page.body, /1\.3 Gérer des données, des informations et des contenus numériques : niveau 4/);
    assert.match(page.body, /1\.2 Gérer des données : niveau 4 \(Pix, 2026-12-01\)/);
    const stats = await statistics(t.db, 'departement', ['14'], { from: '2026-01', to: '2026-12' });
    const digcomp = stats.breakdowns.find((b) => b.metric === 'pix_digcomp')!;
    assert.deepEqual(digcomp.rows.find((r) => r.key === '1.3:4')?.value, 1);
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
