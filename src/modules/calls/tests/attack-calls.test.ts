/**
 * An outsider's attack on calls (#18): prototype names given as choice values (organisation
 * kind, conflict declaration, recommendation, state, call kind), the correction deadline read on
 * the Paris calendar, 50 simultaneous decisions on one envelope and submissions racing the
 * closing instant, hostile dossier saves, and the id-bearing routes of another applicant or
 * another département. Every refusal is checked on the rows (whole database state and audit).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import * as service from '../service.ts';
import * as dossier from '../dossier.ts';
import { answersFromForm } from '../pages/ui.ts';
import { completeForm, makeCall, person, refused, unchanged } from './support.ts';

type P = Awaited<ReturnType<typeof person>>;

describe('calls under attack', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: P;
  let instr37: P;
  let reviewer: P;
  let applicant: P;
  let stranger: P;
  let orgId: string;

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    instr37 = await person(t.app, 'regional_staff', { kind: 'departement', id: '37' });
    reviewer = await person(t.app, 'reviewer', { kind: 'region', id: '24' });
    applicant = await person(t.app, null);
    stranger = await person(t.app, null);
    orgId = (await service.createOrganisation({ db: t.db }, applicant.user.id, { siret: '73282932000074', name: 'Tiers-lieu <b>"attaque"</b>', kind: 'association', departement: '41' })).id;
  });
  after(async () => t.close());

  /** A dossier of the applicant on `call`, complete, submitted (and in instruction when asked). */
  async function dossierOn(call: service.Call, o: { amount?: number; submit?: boolean; instruct?: boolean } = {}) {
    const ctx = { db: t.db };
    const a = await service.startApplication(ctx, applicant.user.id, call.id, orgId);
    const form = await service.getForm(t.db, call.id, a.formVersion);
    const f = completeForm(o.amount ?? 20000);
    await service.saveDraft(ctx, applicant.user.id, a.id, { title: f.title, answers: answersFromForm(form, f) });
    if (o.submit ?? true) await service.submit(ctx, applicant.user.id, a.id);
    if (o.instruct) await service.transition(ctx, staff.actor, a.id, 'en_instruction', '');
    return a.id;
  }

  test('prototype names as choice values are refused with the field named, never stored, never a 500', async () => {
    const ctx = { db: t.db };
    // An organisation of kind « constructor »: through the form, then the service.
    await applicant.browser.get('/candidatures');
    await unchanged(t.db, async () => {
      for (const kind of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        const r = await applicant.browser.post('/candidatures/structures', { siret: '35600000049837', name: 'Structure piège', kind, departement: '41' });
        assert.equal(r.status, 400, `kind=${kind} → ${r.status}`);
        assert.match(r.body, /Type de structure : choisissez dans la liste/);
      }
    });
    await refused(t.db, () => service.createOrganisation(ctx, applicant.user.id, { siret: '35600000049837', name: 'Structure piège', kind: 'valueOf' }), 400, 'kind');
    // A call of kind « constructor », or open to organisations of kind « toString ».
    await refused(t.db, () => service.createCall(ctx, staff.actor, { kind: 'constructor' as 'aap', title: 'Appel piège', region: '24', envelope: 1000, funderName: 'Région', funderSiret: '73282932000074', opensAtIso: new Date().toISOString(), closesAtIso: new Date(Date.now() + 86400000).toISOString() }), 400, 'kind');
    await refused(t.db, () => service.createCall(ctx, staff.actor, { kind: 'aap', eligibleTypes: ['toString'], title: 'Appel piège', region: '24', envelope: 1000, funderName: 'Région', funderSiret: '73282932000074', opensAtIso: new Date().toISOString(), closesAtIso: new Date(Date.now() + 86400000).toISOString() }), 400, 'eligibleTypes');
    // A state, a declaration and a recommendation named after Object.prototype.
    const call = await makeCall(t.db, staff.actor);
    const id = await dossierOn(call, { instruct: true });
    await refused(t.db, () => service.transition(ctx, staff.actor, id, 'constructor', ''), 400, 'state');
    await service.assignReviewer(ctx, staff.actor, id, reviewer.actor);
    await reviewer.browser.get(`/evaluations/${id}`);
    await unchanged(t.db, async () => {
      for (const conflict of ['constructor', 'toString', '__proto__']) {
        const r = await reviewer.browser.post(`/evaluations/${id}/declaration`, { conflict, note: 'Un lien ?' });
        assert.equal(r.status, 422, `conflict=${conflict} → ${r.status}`);
      }
    });
    await service.declareConflict(ctx, reviewer.actor, id, 'none', '');
    await reviewer.browser.get(`/evaluations/${id}`);
    await unchanged(t.db, async () => {
      const r = await reviewer.browser.post(`/evaluations/${id}`, { score_impact: '4', score_faisabilite: '7', recommendation: 'constructor', comment: 'Piège' });
      assert.equal(r.status, 422);
      assert.match(r.body, /Recommandation : favorable, avec réserves ou défavorable/);
    });
  });

  test('the correction deadline is a Paris date: on the next day in Paris (still the same day in UTC) the applicant can no longer edit or submit', async () => {
    const ctx = { db: t.db };
    const call = await makeCall(t.db, staff.actor);
    const id = await dossierOn(call);
    const due = new Date(Date.now() + 3 * 86400000).toISOString().slice(0, 10);
    await service.requestCorrection(ctx, staff.actor, id, 'Joignez le budget signé.', due);
    // 00:30 in Paris the day after the deadline is 23:30 (winter) or 22:30 (summer) UTC on the deadline.
    const dueNoonUtc = new Date(`${due}T12:00:00Z`);
    const offsetH = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', hour12: false }).format(dueNoonUtc)) - 12;
    const parisMidnightAfter = Date.parse(`${due}T00:00:00Z`) + 86400000 - offsetH * 3600000;
    const lateInParis = new Date(parisMidnightAfter + 30 * 60000);
    assert.equal(new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(lateInParis) > due, true, 'the instant is the next day in Paris');
    assert.equal(lateInParis.toISOString().slice(0, 10), due, 'and still the deadline day in UTC');
    const app = (await service.getApplication(t.db, id))!;
    assert.equal(service.applicantMayEdit(app, lateInParis), false);
    await refused(t.db, () => service.submit(ctx, applicant.user.id, id, lateInParis), 409, 'correctionDue');
    await refused(t.db, () => service.saveDraft(ctx, applicant.user.id, id, { title: 'Trop tard' }, lateInParis), 409, 'state');
    // One minute before midnight in Paris, it is still on time.
    const onTime = new Date(parisMidnightAfter - 60000);
    assert.equal(service.applicantMayEdit(app, onTime), true);
    assert.equal((await service.submit(ctx, applicant.user.id, id, onTime)).app.state, 'en_construction');
  });

  test('50 simultaneous decisions of 10,000 € on an envelope of 100,000 €: exactly 10 grants, committed = envelope, the refused dossiers untouched', async () => {
    const call = await makeCall(t.db, staff.actor, { envelope: 100000 });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await dossierOn(call, { amount: 10000, instruct: true }));
    const results = await Promise.allSettled(ids.map((id) => service.decide({ db: t.db }, staff.actor, id, { decision: 'accepte', amount: '10000', motivation: 'Retenu par le comité.' })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(ok, 10);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { statusCode: number }).statusCode, 409, String(r.reason));
    const c = (await service.getCall(t.db, call.id))!;
    assert.equal(c.committed, 100000);
    const { rows } = await t.db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM calls.application WHERE call_id = $1 GROUP BY state ORDER BY state', [call.id]);
    assert.deepEqual(rows.map((r) => [r.state, r.n]), [['accepte', 10], ['en_instruction', 40]]);
    assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.grant WHERE call_id = $1', [call.id])).rows[0]!.n, 10);
    const undecided = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.application WHERE call_id = $1 AND state = $2 AND (decided_at IS NOT NULL OR decided_amount IS NOT NULL OR committee_id IS NOT NULL)', [call.id, 'en_instruction']);
    assert.equal(undecided.rows[0]!.n, 0);
  });

  test('submissions racing the closing instant: those before it pass once, those at it are refused and write nothing', async () => {
    const call = await makeCall(t.db, staff.actor);
    const closes = Date.parse(call.closesAt);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await dossierOn(call, { submit: false }));
    // Each dossier submitted twice at once: 10 a millisecond before the close, 10 at the close.
    const tries = ids.flatMap((id, i) => [0, 1].map(() => ({ id, at: new Date(i < 10 ? closes - 1 : closes) })));
    const results = await Promise.allSettled(tries.map((x) => service.submit({ db: t.db }, applicant.user.id, x.id, x.at)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
    for (const [i, id] of ids.entries()) {
      const a = (await service.getApplication(t.db, id))!;
      assert.equal(a.state, i < 10 ? 'en_construction' : 'brouillon');
      assert.equal((await service.receipts(t.db, id)).length, i < 10 ? 1 : 0);
    }
  });

  test('hostile dossier saves: prototype keys, 10,000 repeated values, NUL bytes and invalid UTF-8 get a 4xx or are stored sane, never a 500', async () => {
    const call = await makeCall(t.db, staff.actor);
    const id = await dossierOn(call, { submit: false });
    const b = applicant.browser;
    await b.get(`/candidatures/${id}`);
    const url = `/candidatures/${id}`;
    const send = (payload: string) => t.app.inject({ method: 'POST', url, payload, remoteAddress: b.ip, headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    const csrf = `_csrf=${encodeURIComponent(b.csrf!)}`;
    const base = new URLSearchParams(completeForm()).toString();
    await unchanged(t.db, async () => {
      for (const payload of [
        `${csrf}&${base}&title=${encodeURIComponent('Titre\u0000nul')}`.replace(/title=[^&]*&/, ''),
        `${csrf}&${base.replace(/q\.resume=[^&]*/, 'q.resume=%00%00%00')}`,
        `${csrf}&${base.replace(/q\.public=[^&]*/, Array.from({ length: 10_000 }, () => 'q.public=Personne').join('&'))}`,
        `${csrf}&${base.replace(/q\.montant=[^&]*/, 'q.montant=1e308')}`,
        `${csrf}&${base.replace(/q\.volet=[^&]*/, 'q.volet=constructor')}`,
      ]) {
        const r = await send(payload);
        assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${payload.slice(-80)} → ${r.statusCode} ${r.body.slice(0, 300)}`);
      }
    });
    // Accepted but sane: prototype keys ignored, a repeated option stored once, invalid UTF-8 replaced.
    for (const payload of [
      `${csrf}&${base}&q.__proto__=x&q.constructor=y&__proto__[polluted]=1&constructor[prototype][polluted]=1`,
      `${csrf}&${base.replace(/q\.public=[^&]*/, Array.from({ length: 10_000 }, () => 'q.public=Jeunes').join('&'))}`,
      `${csrf}&${base.replace(/title=[^&]*/, 'title=%C3%28%FF')}`,
    ]) {
      const r = await send(payload);
      assert.ok(r.statusCode === 303 || (r.statusCode >= 400 && r.statusCode < 500), `${payload.slice(-80)} → ${r.statusCode}`);
    }
    const a = (await service.getApplication(t.db, id))!;
    assert.deepEqual(a.answers.public, ['Jeunes']);
    assert.equal(Object.hasOwn(a.answers, '__proto__') || Object.hasOwn(a.answers, 'constructor'), false);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('id-bearing routes of another applicant, another département or a hard conflict: 403/404 and nothing written', async () => {
    const ctx = { db: t.db };
    const call = await makeCall(t.db, staff.actor, {
      form: { questions: [{ id: 'resume', label: 'Résumé', type: 'long_text', required: true }, { id: 'statuts', label: 'Statuts', type: 'file', required: false, accept: ['pdf'] }], criteria: [{ id: 'impact', label: 'Impact', weight: 1, scale: 5 }], documents: [] },
    });
    await service.setInstructor(ctx, staff.actor, call.id, instr37.user.id, ['37']);
    const a = await service.startApplication(ctx, applicant.user.id, call.id, orgId);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(100, 0x20), Buffer.from('\n%%EOF\n')]);
    const file = await dossier.attachFile(ctx, applicant.user.id, a.id, 'statuts', { fileName: 'statuts.pdf', data: pdf });
    await service.saveDraft(ctx, applicant.user.id, a.id, { title: 'Projet', answers: { resume: 'Un résumé.' } });
    await service.submit(ctx, applicant.user.id, a.id);
    await service.transition(ctx, staff.actor, a.id, 'en_instruction', '');
    await service.assignReviewer(ctx, staff.actor, a.id, reviewer.actor);
    await service.declareConflict(ctx, reviewer.actor, a.id, 'hard', 'Je préside cette association.');
    await dossier.annotate(ctx, staff.actor, a.id, 'NOTE-SECRETE-INSTRUCTION');
    const gets: [P, string, number][] = [
      [stranger, `/candidatures/${a.id}`, 404],
      [stranger, `/candidatures/${a.id}/recepisse`, 404],
      [stranger, `/candidatures/${a.id}/fichiers/${file.file}`, 404],
      [instr37, `/gestion/dossiers/${a.id}`, 403],
      [instr37, `/gestion/dossiers/${a.id}/fichiers/${file.file}`, 404],
      [reviewer, `/gestion/dossiers/${a.id}/fichiers/${file.file}`, 404],
      [reviewer, `/candidatures/${a.id}/fichiers/${file.file}`, 404],
      [reviewer, `/evaluations/${a.id}`, 403],
      [applicant, `/candidatures/${a.id}/fichiers/00000000-0000-0000-0000-000000000000`, 404],
      [applicant, `/candidatures/${a.id}/fichiers/..%2F..%2Fetc%2Fpasswd`, 404],
    ];
    for (const [who, url, status] of gets) {
      const r = await who.browser.get(url);
      assert.equal(r.status, status, `${url} → ${r.status}`);
      assert.doesNotMatch(r.body, /NOTE-SECRETE-INSTRUCTION|Je préside cette association|%PDF/, url);
    }
    const own = await applicant.browser.get(`/candidatures/${a.id}`);
    assert.doesNotMatch(own.body, /NOTE-SECRETE-INSTRUCTION|Je préside cette association/);
    const posts: [P, string, Record<string, string>][] = [
      [stranger, `/candidatures/${a.id}/messages`, { message: 'Intrus' }],
      [stranger, `/candidatures/${a.id}/depot`, {}],
      [stranger, `/candidatures/${a.id}`, { title: 'Volé' }],
      [instr37, `/gestion/dossiers/${a.id}/annotations`, { annotation: 'Hors périmètre' }],
      [instr37, `/gestion/dossiers/${a.id}/messages`, { message: 'Hors périmètre' }],
      [instr37, `/gestion/dossiers/${a.id}/etat`, { state: 'refuse', note: 'x' }],
      [reviewer, `/evaluations/${a.id}/avis`, { opinion: 'Sous conflit' }],
      [reviewer, `/evaluations/${a.id}`, { score_impact: '5', recommendation: 'favorable' }],
      [reviewer, `/gestion/dossiers/${a.id}/annotations`, { annotation: 'Évaluateur' }],
      [stranger, `/candidatures/structures/${orgId}/membres`, { email: stranger.user.email }],
    ];
    for (const [who, url, form] of posts) {
      await who.browser.get('/candidatures');
      await unchanged(t.db, async () => {
        const r = await who.browser.post(url, form);
        assert.ok([403, 404].includes(r.status), `${url} → ${r.status}`);
      });
    }
  });
});
