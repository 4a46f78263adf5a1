/**
 * Consultation use cases against the database: phases decide what is allowed (server clock), one
 * support and one vote per person even under concurrent requests, a basket never above its budget,
 * moderation audited, who may vote. Every refusal is checked on the ROWS, not only the error.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testDb } from '../../../../test/support/db.ts';
import type { Db } from '../../../platform/db/index.ts';
import { parseProposal } from '../model.ts';
import * as svc from '../service.ts';
import { at, makeProcess, snapshot } from './support.ts';

const person = (o: Partial<svc.Participant> = {}): svc.Participant => ({ id: crypto.randomUUID(), emailVerified: true, createdAt: at(-100).toISOString(), ...o });
const input = (title = 'Un tiers-lieu dans chaque canton', body = 'Ouvrir un lieu d’accompagnement au numérique dans chaque canton rural.') => parseProposal({ title, body }, ['Thème A', 'Thème B']);

describe('consultation service', () => {
  let db: Db;
  let ctx: svc.Ctx;
  before(async () => {
    db = await testDb();
    ctx = { db };
  });
  after(async () => db.close());

  test('a proposal in a phase that does not open proposals is refused, nothing saved; open phase: saved, numbered, audited', async () => {
    const closed = await makeProcess(db, { comments: true });
    const open = await makeProcess(db, { proposals: true });
    const before = await snapshot(db);
    await assert.rejects(svc.submitProposal(ctx, closed, person(), input()), (e: Error & { code?: string }) => e.code === 'phase_closed' && /n’ouvre pas le dépôt de propositions/.test(e.message));
    assert.deepEqual(await snapshot(db), before);
    // an open process, judged at a moment outside every phase (the server clock decides)
    await assert.rejects(svc.submitProposal(ctx, open, person(), input(), at(30)), /Aucune phase n’est en cours/);
    assert.deepEqual(await snapshot(db), before);
    const pr = await svc.submitProposal(ctx, open, person(), input());
    assert.equal(pr.number, 1);
    assert.equal((await svc.submitProposal(ctx, open, person(), input('Deuxième proposition'))).number, 2);
    const audit = await db.query(`SELECT 1 FROM platform.audit_entry WHERE action = 'consultation.proposal.create' AND object_id = $1`, [pr.id]);
    assert.equal(audit.rows.length, 1);
  });

  test('who may take part: unverified e-mail, account too recent, commune outside the territory: refused, nothing saved', async () => {
    const p = await makeProcess(db, { proposals: true }, { minAccountDays: 7 });
    const before = await snapshot(db);
    await assert.rejects(svc.submitProposal(ctx, p, person({ emailVerified: false }), input()), /Confirmez d’abord votre adresse e-mail/);
    await assert.rejects(svc.submitProposal(ctx, p, person({ createdAt: at(-2).toISOString() }), input()), /au moins 7 jours/);
    await assert.rejects(svc.submitProposal(ctx, p, null, input()), /Connectez-vous/);
    await assert.rejects(svc.submitProposal(ctx, p, person(), { ...input(), communeCode: '75056' }), (e: Error) => /communeCode: Commune : elle n’est pas sur le territoire/.test(e.message));
    assert.deepEqual(await snapshot(db), before);
  });

  test('hostile proposal input is refused with the field named', () => {
    assert.throws(() => parseProposal({ title: 'abc\u0000def ghi', body: 'x'.repeat(20) }, []), /title: Titre : caractères non autorisés/);
    assert.throws(() => parseProposal({ title: 'Un titre correct', body: 'y'.repeat(5001) }, []), /body: Description : 5000 caractères au plus/);
    assert.throws(() => parseProposal({ title: 'Un titre correct', body: 'y'.repeat(50), category: 'constructor' }, ['Thème A']), /category: Thème/);
    assert.throws(() => parseProposal(Object.assign(Object.create(null), { title: 'Un titre correct', body: 'y'.repeat(50), communeCode: '__proto__' }), []), /communeCode/);
  });

  test('one support per person: 12 concurrent requests record exactly one support and count one', async () => {
    const p = await makeProcess(db, { proposals: true, supports: true });
    const pr = await svc.submitProposal(ctx, p, person(), input());
    const fan = person();
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => svc.support(ctx, p, fan, pr.id)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results.filter((r) => r.status === 'rejected')) assert.match(String((r as PromiseRejectedResult).reason.message), /déjà|could not serialize|duplicate/);
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.support WHERE proposal_id = $1', [pr.id]);
    assert.equal(rows.rows[0]!.n, 1);
    assert.equal((await svc.getProposalById(db, pr.id))!.supports, 1);
    const before = await snapshot(db);
    await assert.rejects(svc.support(ctx, p, fan, pr.id), /un seul soutien par personne/);
    assert.deepEqual(await snapshot(db), before);
  });

  test('edit until evaluation, only by the author; withdraw', async () => {
    const p = await makeProcess(db, { proposals: true, supports: true });
    const author = person();
    const pr = await svc.submitProposal(ctx, p, author, input());
    await assert.rejects(svc.editProposal(ctx, p, person(), pr.id, input('Titre modifié par un autre')), /Seul l’auteur/);
    await svc.editProposal(ctx, p, author, pr.id, input('Titre modifié par l’auteur'));
    assert.equal((await svc.getProposalById(db, pr.id))!.title, 'Titre modifié par l’auteur');
    await svc.assignValuator(ctx, null as unknown as string, pr.id, crypto.randomUUID());
    const before = await snapshot(db);
    await assert.rejects(svc.editProposal(ctx, p, author, pr.id, input('Trop tard pour modifier')), /ne peut plus être modifiée/);
    await assert.rejects(svc.withdrawProposal(ctx, author, pr.id), /ne peut plus être retirée/);
    assert.deepEqual(await snapshot(db), before);
  });

  test('comments: threaded; a hidden comment keeps its place without its text for non-moderators; hide audited with its reason; reports resolved', async () => {
    const p = await makeProcess(db, { proposals: true, comments: true });
    const pr = await svc.submitProposal(ctx, p, person(), input());
    const c1 = await svc.addComment(ctx, p, person(), pr.id, { body: 'Très bonne idée pour les communes rurales.' });
    const c2 = await svc.addComment(ctx, p, person(), pr.id, { body: 'Contenu injurieux', parentId: c1 });
    const reporter = person();
    await svc.report(ctx, reporter, 'comment', c2, { reason: 'offensive' });
    let before = await snapshot(db);
    await assert.rejects(svc.report(ctx, reporter, 'comment', c2, { reason: 'offensive' }), /déjà signalé/);
    await assert.rejects(svc.report(ctx, person(), 'comment', c2, { reason: 'constructor' }), /reason: Motif/);
    await assert.rejects(svc.report(ctx, person(), 'place', c2, { reason: 'spam' }), /Type de contenu inconnu/);
    assert.deepEqual(await snapshot(db), before);
    assert.equal((await svc.moderationQueue(db, p.id)).length, 1);
    // a hide without a reason is refused, nothing changes
    await assert.rejects(svc.moderate(ctx, crypto.randomUUID(), 'comment', c2, 'hide', ''), /reason: Motif : champ obligatoire/);
    assert.deepEqual(await snapshot(db), before);
    const moderator = crypto.randomUUID();
    await svc.moderate(ctx, moderator, 'comment', c2, 'hide', 'Propos injurieux envers une personne');
    const publicView = await svc.listComments(db, pr.id);
    assert.deepEqual(publicView.items.map((c) => [c.id, c.body, c.hidden]), [[c1, 'Très bonne idée pour les communes rurales.', false], [c2, null, true]]);
    assert.equal(publicView.items[1]!.hiddenReason, 'Propos injurieux envers une personne');
    assert.equal((await svc.listComments(db, pr.id, { moderator: true })).items[1]!.body, 'Contenu injurieux');
    assert.equal((await svc.moderationQueue(db, p.id)).length, 0);
    const audit = await db.query<{ actor_id: string; meta: { reason: string } }>(`SELECT actor_id, meta FROM platform.audit_entry WHERE action = 'consultation.moderation.hide' AND object_id = $1`, [c2]);
    assert.equal(audit.rows[0]!.actor_id, moderator);
    assert.deepEqual((await svc.moderationLog(db, p.id)).map((l) => [l.kind, l.reason]), [['comment', 'Propos injurieux envers une personne']]);
    // replying to a hidden comment is refused
    before = await snapshot(db);
    await assert.rejects(svc.addComment(ctx, p, person(), pr.id, { body: 'Je réponds quand même', parentId: c2 }), /masqué par la modération/);
    await assert.rejects(svc.addComment(ctx, p, person(), pr.id, { body: 'Réponse à rien', parentId: crypto.randomUUID() }), /n’existe pas/);
    assert.deepEqual(await snapshot(db), before);
  });

  test('comments are paginated in order with a stable cursor', async () => {
    const p = await makeProcess(db, { comments: true, proposals: true });
    const pr = await svc.submitProposal(ctx, p, person(), input());
    for (let i = 0; i < 7; i++) await svc.addComment(ctx, p, person(), pr.id, { body: `Commentaire ${i}` });
    const first = await svc.listComments(db, pr.id, { limit: 5 });
    const second = await svc.listComments(db, pr.id, { limit: 5, after: first.nextCursor });
    assert.deepEqual([...first.items, ...second.items].map((c) => c.body), Array.from({ length: 7 }, (_, i) => `Commentaire ${i}`));
    assert.equal(second.nextCursor, null);
    assert.throws(() => svc.decodeCursor('!!!'), /Curseur de pagination invalide/);
    assert.throws(() => svc.decodeCursor(Buffer.from('2020|00000000-0000-4000-8000-000000000000x').toString('base64url')), /Curseur/);
    // rows a few microseconds apart (same millisecond): each comes exactly once, in order
    await db.query(`INSERT INTO consultation.comment (id, proposal_id, body, created_at) SELECT gen_random_uuid(), $1, 'Micro ' || g, timestamptz '2030-01-01 00:00:00.123' + g * interval '1 microsecond' FROM generate_series(1, 5) g`, [pr.id]);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof svc.listComments>> = await svc.listComments(db, pr.id, { limit: 2, after });
      seen.push(...page.items.map((c) => c.body!));
      after = page.nextCursor;
    } while (after);
    assert.deepEqual(seen.slice(-5), ['Micro 1', 'Micro 2', 'Micro 3', 'Micro 4', 'Micro 5']);
    assert.equal(seen.length, 12);
  });

  test('official answer with a custom state: audited, authors and followers notified', async () => {
    const p = await makeProcess(db, { proposals: true, supports: true }, { customStates: [{ key: 'ami', label: 'Retenue dans l’AMI', base: 'accepted' }] });
    const author = person();
    const fan = person();
    const pr = await svc.submitProposal(ctx, p, author, input());
    await svc.support(ctx, p, fan, pr.id);
    const sent: { to: string; subject: string }[] = [];
    const emailsOf = async (ids: string[]) => ids.map((id) => `${id}@exemple.fr`);
    const before = await snapshot(db);
    await assert.rejects(svc.answerProposal(ctx, p, 'x', pr.id, { state: 'withdrawn', answer: 'Une réponse suffisamment longue' }, async (m) => void sent.push(m), emailsOf), /state: État/);
    await assert.rejects(svc.answerProposal(ctx, p, 'x', pr.id, { state: 'accepted', answer: '' }, async (m) => void sent.push(m), emailsOf), /answer: Réponse : champ obligatoire/);
    assert.deepEqual(await snapshot(db), before);
    await svc.answerProposal(ctx, p, crypto.randomUUID(), pr.id, { state: 'custom:ami', answer: 'Retenue : la structure peut candidater à l’AMI.' }, async (m) => void sent.push(m), emailsOf);
    const after = (await svc.getProposalById(db, pr.id))!;
    assert.equal(after.state, 'accepted');
    assert.equal(svc.stateLabel(p, after), 'Retenue dans l’AMI');
    assert.deepEqual(sent.map((m) => m.to).sort(), [`${author.id}@exemple.fr`, `${fan.id}@exemple.fr`].sort());
  });

  describe('participatory budget', () => {
    let p: svc.Process;
    let b: svc.Budget;
    let b2: svc.Budget;
    const projects: string[] = [];
    before(async () => {
      p = await makeProcess(db, { votes: true }, { residenceRequired: true, minAge: 16, budgetWorkflow: 'one' });
      await svc.createBudget(ctx, null, p.id, { slug: 'cote-d-or', title: 'Côte-d’Or', departement: '21', amountCents: 100_000, rule: 'threshold', thresholdPct: 70, minProjects: 1, maxProjects: null });
      await svc.createBudget(ctx, null, p.id, { slug: 'doubs', title: 'Doubs', departement: '25', amountCents: 100_000, rule: 'range', thresholdPct: 70, minProjects: 1, maxProjects: 2 });
      b = (await svc.getBudget(db, p.id, 'cote-d-or'))!;
      b2 = (await svc.getBudget(db, p.id, 'doubs'))!;
      for (const [t, c] of [['A', 40_000], ['B', 35_000], ['C', 30_000], ['D', 10_000]] as const) projects.push(await svc.createProject(ctx, null, b.id, { title: `Projet ${t}`, costCents: c }));
    });

    test('a basket never exceeds the budget, even with concurrent additions', async () => {
      const voter = person();
      const results = await Promise.allSettled(projects.map((id) => svc.addToBasket(ctx, p, b, voter, id)));
      const basket = await svc.basketOf(db, p, b, voter.id);
      assert.ok(basket.totalCents <= 100_000, `total ${basket.totalCents}`);
      assert.ok(results.some((r) => r.status === 'rejected' && /ferait dépasser le budget/.test((r as PromiseRejectedResult).reason.message)));
      const rows = await db.query<{ total: number }>('SELECT coalesce(sum(pr.cost_cents), 0)::int AS total FROM consultation.basket_item i JOIN consultation.basket bk ON bk.id = i.basket_id JOIN consultation.project pr ON pr.id = i.project_id WHERE bk.user_id = $1', [voter.id]);
      assert.ok(rows.rows[0]!.total <= 100_000);
    });

    test('checkout refused when the rule is not met, outside the territory, too young: nothing saved', async () => {
      const voter = person();
      await svc.addToBasket(ctx, p, b, voter, projects[3]!); // 100 € of 1 000 €: below 70 %
      const before = await snapshot(db);
      await assert.rejects(svc.checkout(ctx, p, b, voter, { postalCode: '21000', birthYear: '1980' }), /doit atteindre au moins 70 %/);
      await svc.addToBasket(ctx, p, b, voter, projects[0]!);
      await svc.addToBasket(ctx, p, b, voter, projects[1]!); // 850 €
      const mid = await snapshot(db);
      await assert.rejects(svc.checkout(ctx, p, b, voter, { postalCode: '75001', birthYear: '1980' }), (e: Error & { code?: string }) => e.code === 'outside_territory');
      await assert.rejects(svc.checkout(ctx, p, b, voter, { postalCode: '25000', birthYear: '1980' }), /du département 21/);
      await assert.rejects(svc.checkout(ctx, p, b, voter, { postalCode: '21000', birthYear: String(new Date().getFullYear() - 10) }), /à partir de 16 ans/);
      await assert.rejects(svc.checkout(ctx, p, b, voter, { postalCode: 'abcde', birthYear: '1980' }), /Code postal : cinq chiffres/);
      assert.deepEqual(await snapshot(db), mid);
      assert.notDeepEqual(mid, before);
    });

    test('one vote per person: 10 concurrent checkouts record one ballot and count each project once; the vote is then final', async () => {
      const voter = person();
      await svc.addToBasket(ctx, p, b, voter, projects[0]!);
      await svc.addToBasket(ctx, p, b, voter, projects[1]!);
      const votesBefore = await svc.recount(db, b.id);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => svc.checkout(ctx, p, b, voter, { postalCode: '21000', birthYear: '1990' })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const ballots = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.ballot WHERE user_id = $1', [voter.id]);
      assert.equal(ballots.rows[0]!.n, 1);
      const recount = await svc.recount(db, b.id);
      assert.equal(recount.get(projects[0]!), (votesBefore.get(projects[0]!) ?? 0) + 1);
      const t = await svc.tally(db, b);
      for (const x of t.projects) assert.equal(x.votes, recount.get(x.id) ?? 0, 'counter matches the recount');
      const before = await snapshot(db);
      await assert.rejects(svc.removeFromBasket(ctx, p, b, voter, projects[0]!), /déjà confirmé/);
      await assert.rejects(svc.addToBasket(ctx, p, b, voter, projects[3]!), /déjà confirmé/);
      await assert.rejects(svc.checkout(ctx, p, b, voter, { postalCode: '21000', birthYear: '1990' }), /déjà confirmé/);
      // one budget per person: the Doubs budget is closed to them
      await assert.rejects(svc.addToBasket(ctx, p, b2, voter, projects[0]!), /ne fait pas partie de ce budget/);
      const doubsProject = await svc.createProject(ctx, null, b2.id, { title: 'Projet du Doubs', costCents: 50_000 });
      const before2 = await snapshot(db);
      await assert.rejects(svc.addToBasket(ctx, p, b2, voter, doubsProject), /un seul budget par personne/);
      assert.deepEqual(await snapshot(db), before2);
      assert.notDeepEqual(before, before2); // only the new project
    });

    test('a vote after closing is refused (the server clock decides), nothing saved', async () => {
      const voter = person();
      await svc.addToBasket(ctx, p, b, voter, projects[0]!);
      await svc.addToBasket(ctx, p, b, voter, projects[2]!);
      const before = await snapshot(db);
      await assert.rejects(svc.checkout(ctx, p, b, voter, { postalCode: '21000', birthYear: '1990' }, at(11)), /n’ouvre pas le vote/);
      await assert.rejects(svc.addToBasket(ctx, p, b, voter, projects[3]!, at(25)), /Aucune phase n’est en cours/);
      assert.deepEqual(await snapshot(db), before);
    });
  });

  test('results: progress rolls up from children', async () => {
    const p = await makeProcess(db, {});
    const parent = await svc.createResult(ctx, null, p.id, { title: 'Parent' });
    await svc.createResult(ctx, null, p.id, { parentId: parent, title: 'Enfant 1', progress: 40, status: 'ongoing' });
    await svc.createResult(ctx, null, p.id, { parentId: parent, title: 'Enfant 2', status: 'done' });
    await svc.createResult(ctx, null, p.id, { parentId: parent, title: 'Enfant abandonné', progress: 0, status: 'dropped' });
    const r = await svc.listResults(db, p.id);
    assert.equal(r.find((x) => x.id === parent)!.rolledProgress, 70);
  });

  test('meetings: registration never beyond capacity, never twice', async () => {
    const p = await makeProcess(db, {});
    const id = await svc.createMeeting(ctx, null, p.id, { title: 'Rencontre', description: '', startsAt: at(5).toISOString(), endsAt: at(5.1).toISOString(), departement: '21', placeUid: null, address: 'Salle des fêtes', onlineUrl: null, capacity: 3 });
    const m = (await svc.getMeeting(db, p.id, id))!;
    const people = Array.from({ length: 6 }, () => person());
    const results = await Promise.allSettled(people.map((x) => svc.registerForMeeting(ctx, x, m)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
    assert.equal((await svc.getMeeting(db, p.id, id))!.registered, 3);
    assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.registration WHERE meeting_id = $1', [id])).rows[0]!.n, 3);
    await assert.rejects(svc.createMeeting(ctx, null, p.id, { title: 'x', description: '', startsAt: at(5).toISOString(), endsAt: at(6).toISOString(), departement: null, placeUid: null, address: null, onlineUrl: null, capacity: null }), (e: Error & { field?: string }) => e.field === 'placeUid' && /Lieu : choisissez/.test(e.message));
  });
});
