/**
 * Participatory-budget projects created by staff from the back office: the form (commune by name or
 * code, accepted proposal of this process), every refusal naming its field and leaving every row
 * unchanged, permissions on the territory and CSRF, edit and delete until voting starts, then 409,
 * the audit trail, and a deletion racing with an addition to a basket.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as svc from '../service.ts';
import { createStaffProject, deleteStaffProject, getProject } from '../projects.ts';
import { at, makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;
const voter = (): svc.Participant => ({ id: crypto.randomUUID(), emailVerified: true, createdAt: at(-100).toISOString() });

describe('consultation: projects of a participatory budget created by staff', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let outsider: Awaited<ReturnType<typeof makeUser>>;
  let resident: Awaited<ReturnType<typeof makeUser>>;
  const rows = async () => ({ ...(await snapshot(t.db)), projects: (await t.db.query('SELECT * FROM consultation.project ORDER BY id')).rows });
  const setup = async (budgetDepartement: string | null = '21') => {
    const p = await makeProcess(t.db, { votes: true, proposals: true });
    const slug = `b-${crypto.randomUUID().slice(0, 8)}`;
    await svc.createBudget({ db: t.db }, null, p.id, { slug, title: 'Budget de test', departement: budgetDepartement, amountCents: 10_000_000, rule: 'threshold', thresholdPct: 10, minProjects: 0, maxProjects: null });
    const b = (await svc.getBudget(t.db, p.id, slug))!;
    return { p, b, url: `/gestion/concertations/${p.slug}/budgets/${b.slug}/projets` };
  };
  const proposal = async (p: svc.Process, state: string) => {
    const pr = await svc.submitProposal({ db: t.db }, p, voter(), { title: `Proposition ${state}`, body: 'Un corps de proposition assez long pour passer la validation.', category: null, communeCode: null, placeUid: null });
    await t.db.query('UPDATE consultation.proposal SET state = $2 WHERE id = $1', [pr.id, state]);
    return pr;
  };

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    staff = await makeUser(deps, 'projets27@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe BFC');
    outsider = await makeUser(deps, 'projets28@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Équipe Normandie');
    resident = await makeUser(deps, 'projets-habitant@exemple.fr', [], 'Habitant');
  });
  after(async () => t.close());

  test('staff add a project by commune name and accepted proposal; it is listed publicly and audited', async () => {
    const { p, b, url } = await setup();
    const accepted = await proposal(p, 'accepted');
    const br = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.121');
    const admin = await br.get(`/gestion/concertations/${p.slug}`);
    assert.match(admin.body, new RegExp(`href="${url}"`));
    assert.equal((await br.get(url)).status, 200);
    const res = await br.post(url, { title: 'Atelier de réparation', description: 'Outils partagés.', cost: '12 500,50', commune: 'dijon', proposal: String(accepted.number) });
    assert.equal(res.status, 200, res.body.slice(0, 2000));
    assert.match(res.body, /Projet « Atelier de réparation » ajouté/);
    const [pr] = await svc.listProjects(t.db, b.id);
    assert.deepEqual([pr!.title, pr!.description, pr!.costCents, pr!.communeCode, pr!.proposalId], ['Atelier de réparation', 'Outils partagés.', 1_250_050, '21231', accepted.id]);
    const pub = await br.get(`/concertations/${p.slug}/budgets/${b.slug}`);
    assert.match(pub.body, /Atelier de réparation/);
    // The public page names the commune (its code only when the geography does not know it).
    assert.match(pub.body, /12\s500,50\s€<\/strong> · Dijon<\/p>/);
    const audit = await t.db.query<{ actor_id: string; after: { costCents: number; communeCode: string } }>(`SELECT actor_id, after FROM platform.audit_entry WHERE action = 'consultation.project.create' AND object_id = $1`, [pr!.id]);
    assert.equal(audit.rows.length, 1);
    assert.equal(audit.rows[0]!.actor_id, staff.id);
    assert.equal(audit.rows[0]!.after.communeCode, '21231');
    // By INSEE code, without commune nor proposal.
    assert.equal((await br.post(url, { title: 'Fab lab mobile', description: '', cost: '100000', commune: '21054', proposal: '' })).status, 200);
    assert.equal((await svc.listProjects(t.db, b.id)).find((x) => x.title === 'Fab lab mobile')!.communeCode, '21054');
    assert.equal((await br.post(url, { title: 'Sans commune', cost: '50' })).status, 200);
  });

  test('refusals name the field and change no row', async () => {
    const { p, b, url } = await setup();
    const other = await makeProcess(t.db, { proposals: true });
    await proposal(other, 'accepted');
    const foreign = await proposal(other, 'accepted'); // n° 2 there; this process has only n° 1
    const rejected = await proposal(p, 'rejected');
    const ok = { title: 'Un projet correct', description: '', cost: '1000', commune: '21231', proposal: '' };
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ ...ok, title: '' }, 'title', /Titre : champ obligatoire/],
      [{ ...ok, title: 'x'.repeat(151) }, 'title', /Titre/],
      [{ ...ok, description: 'a\u0001b' }, 'description', /Description/],
      [{ ...ok, cost: '' }, 'cost', /Coût : champ obligatoire/],
      [{ ...ok, cost: '0' }, 'cost', /supérieure à zéro/],
      [{ ...ok, cost: '-5' }, 'cost', /supérieure à zéro/],
      [{ ...ok, cost: 'constructor' }, 'cost', /supérieure à zéro/],
      [{ ...ok, cost: '100 000,01' }, 'cost', /dépasse le montant du budget/],
      [{ ...ok, commune: '75056' }, 'commune', /n’est pas une commune du département 21/],
      [{ ...ok, commune: '58194' }, 'commune', /n’est pas une commune du département 21/],
      [{ ...ok, commune: '99999' }, 'commune', /code INSEE inconnu/],
      [{ ...ok, commune: 'Nevers' }, 'commune', /aucune commune du département 21/],
      [{ ...ok, commune: '__proto__' }, 'commune', /Commune/],
      [{ ...ok, commune: 'a'.repeat(121) }, 'commune', /120 caractères/],
      [{ ...ok, proposal: String(rejected.number) }, 'proposal', /n’est pas retenue/],
      [{ ...ok, proposal: String(foreign.number) }, 'proposal', /aucune proposition n° 2 dans cette concertation/],
      [{ ...ok, proposal: '999999' }, 'proposal', /aucune proposition/],
      [{ ...ok, proposal: 'constructor' }, 'proposal', /son numéro/],
    ];
    const br = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.122');
    for (const [form, field, message] of cases) {
      await br.get(url);
      const before = await rows();
      const res = await br.post(url, form);
      assert.equal(res.status, 422, `${field}: ${res.body.slice(0, 300)}`);
      assert.match(res.body, new RegExp(`href="#f-${field}"`), field);
      assert.match(res.body, message, field);
      assert.deepEqual(await rows(), before, field);
    }
    // A process-wide budget accepts a commune elsewhere in the région, not outside it.
    const wide = await setup(null);
    await br.get(wide.url);
    assert.equal((await br.post(wide.url, { ...ok, commune: '58194' })).status, 200);
    const before = await rows();
    const out = await br.post(wide.url, { ...ok, commune: 'Paris' });
    assert.equal(out.status, 422);
    assert.match(out.body, /aucune commune du territoire de la concertation/);
    assert.deepEqual(await rows(), before);
  });

  test('strangers, residents and forged forms are refused; rows unchanged', async () => {
    const { p, url } = await setup();
    const form = { title: 'Projet pirate', cost: '1000' };
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider, '192.0.2.123');
    const r = await signedInBrowser(t.app, depsOf(t.app), resident, '192.0.2.124');
    const s = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.125');
    const before = await rows();
    assert.equal((await o.get(url)).status, 403);
    assert.equal((await o.post(url, form)).status, 403);
    assert.equal((await r.post(url, form)).status, 403);
    await s.get(url);
    const nul = await s.post(url, { ...form, description: 'a\u0000b' });
    assert.ok(nul.status >= 400 && nul.status < 500, String(nul.status));
    assert.equal((await s.post(url, form, { csrf: false })).status, 403);
    assert.equal((await s.get(`/gestion/concertations/${p.slug}/budgets/inconnu/projets`)).status, 404);
    assert.equal((await s.get(`${url}/${crypto.randomUUID()}/modifier`)).status, 404);
    assert.equal((await s.get(`${url}/__proto__/modifier`)).status, 404);
    assert.deepEqual(await rows(), before);
  });

  test('edit and delete while nobody voted; once a basket holds a project: 409 naming the field, rows unchanged', async () => {
    const { p, b, url } = await setup();
    const br = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.126');
    const ctx = { db: t.db };
    const a = await createStaffProject(ctx, staff.id, b, { title: 'Projet A', description: '', costCents: 100_000, communeCode: null, proposalId: null });
    const c = await createStaffProject(ctx, staff.id, b, { title: 'Projet C', description: '', costCents: 300_000, communeCode: null, proposalId: null });
    const edit = await br.get(`${url}/${a}/modifier`);
    assert.equal(edit.status, 200);
    assert.match(edit.body, /value="1000"/);
    const saved = await br.post(`${url}/${a}/modifier`, { title: 'Projet A bis', description: 'Précisé.', cost: '2000', commune: 'Beaune', proposal: '' });
    assert.equal(saved.status, 303, saved.body.slice(0, 1500));
    const pa = (await getProject(t.db, b.id, a))!;
    assert.deepEqual([pa.title, pa.costCents, pa.communeCode], ['Projet A bis', 200_000, '21054']);
    await br.get(url);
    assert.equal((await br.post(`${url}/${c}/supprimer`, {})).status, 200);
    assert.equal(await getProject(t.db, b.id, c), null);
    const audit = (await t.db.query<{ action: string }>(`SELECT action FROM platform.audit_entry WHERE object_id = ANY($1::text[]) ORDER BY seq`, [[a, c]])).rows.map((x) => x.action);
    assert.deepEqual(audit.sort(), ['consultation.project.create', 'consultation.project.create', 'consultation.project.delete', 'consultation.project.update']);

    // A person starts voting: the projects freeze.
    await svc.addToBasket(ctx, p, b, voter(), a);
    const tries: [string, Record<string, string>, string][] = [
      [url, { title: 'Projet tardif', cost: '1000' }, 'title'],
      [`${url}/${a}/modifier`, { title: 'Projet A ter', cost: '1', commune: '', proposal: '' }, 'cost'],
      [`${url}/${a}/supprimer`, {}, 'title'],
    ];
    for (const [to, form, field] of tries) {
      await br.get(url);
      const before = await rows();
      const res = await br.post(to, form);
      assert.equal(res.status, 409, `${to}: ${res.body.slice(0, 300)}`);
      assert.match(res.body, new RegExp(`href="#f-${field}"`));
      assert.match(res.body, /le vote a commencé dans ce budget/);
      assert.deepEqual(await rows(), before, to);
    }
  });

  test('a deletion racing with additions to baskets: either the project is gone and no basket holds it, or it stays and the deletion is refused', async () => {
    const ctx = { db: t.db };
    for (let i = 0; i < 5; i++) {
      const { p, b } = await setup();
      const id = await createStaffProject(ctx, staff.id, b, { title: `Projet ${i}`, description: '', costCents: 100_000, communeCode: null, proposalId: null });
      const pr = (await getProject(t.db, b.id, id))!;
      const [del, ...adds] = await Promise.allSettled([deleteStaffProject(ctx, staff.id, b, pr), ...[1, 2, 3].map(() => svc.addToBasket(ctx, p, b, voter(), id))]);
      const exists = !!(await getProject(t.db, b.id, id));
      const items = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.basket_item WHERE project_id = $1', [id])).rows[0]!.n;
      if (del.status === 'fulfilled') {
        assert.equal(exists, false);
        assert.equal(items, 0);
        assert.ok(adds.every((x) => x.status === 'rejected'), 'no addition succeeded');
      } else {
        assert.match(String((del.reason as Error).message), /le vote a commencé/);
        assert.equal(exists, true);
        assert.equal(items, adds.filter((x) => x.status === 'fulfilled').length);
        assert.ok(items > 0);
      }
    }
  });

  test('the budget lowered under a project’s cost, or a proposal answered otherwise, after the form was read: 409 naming the field, rows unchanged', async () => {
    const { p, b, url } = await setup();
    const br = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.129');
    await br.get(url);
    assert.equal((await br.post(url, { title: 'Grand projet', cost: '80 000', commune: '' })).status, 200);
    // The budget's edit form, through the staff's path: lowering the amount under that cost.
    const edit = `/gestion/concertations/${p.slug}/budgets/${b.slug}/modifier`;
    await br.get(edit);
    let before = await rows();
    const budgetBefore = (await t.db.query('SELECT * FROM consultation.budget WHERE id = $1', [b.id])).rows;
    let r = await br.post(edit, { title: b.title, departement: '21', amount: '50 000', rule: 'threshold', thresholdPct: '10', minProjects: '0', maxProjects: '' });
    assert.equal(r.status, 409, r.body.slice(0, 1500));
    assert.match(r.body, /Montant : le projet « Grand projet » coûte 80\u202f000\s?€/);
    assert.deepEqual(await rows(), before);
    assert.deepEqual((await t.db.query('SELECT * FROM consultation.budget WHERE id = $1', [b.id])).rows, budgetBefore);
    // Above the cost: accepted.
    r = await br.post(edit, { title: b.title, departement: '21', amount: '90 000', rule: 'threshold', thresholdPct: '10', minProjects: '0', maxProjects: '' });
    assert.equal(r.status, 303);
    // A form read before the budget was lowered (the page's budget, as a concurrent request holds it):
    // the write checks the current amount.
    await t.db.query('UPDATE consultation.budget SET amount_cents = 5000000 WHERE id = $1', [b.id]);
    before = await rows();
    await assert.rejects(createStaffProject(t.ctx, staff.id, b, { title: 'Trop cher', description: '', costCents: 6_000_000, communeCode: null, proposalId: null }), (e: Error & { field?: string; statusCode?: number }) => e.field === 'cost' && e.statusCode === 409);
    assert.deepEqual(await rows(), before);
    // A proposal accepted when the form was read, answered otherwise before the write.
    const pr = await proposal(p, 'accepted');
    await t.db.query("UPDATE consultation.proposal SET state = 'rejected' WHERE id = $1", [pr.id]);
    before = await rows();
    await assert.rejects(createStaffProject(t.ctx, staff.id, b, { title: 'Depuis une proposition', description: '', costCents: 100_000, communeCode: null, proposalId: pr.id }), (e: Error & { field?: string }) => e.field === 'proposal');
    assert.deepEqual(await rows(), before);
  });
});
