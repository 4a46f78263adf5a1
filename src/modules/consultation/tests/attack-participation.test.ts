/**
 * An outsider's attack on consultation (#21): who may fill a meeting, hostile input on every
 * public form and query (prototype names, NUL bytes, invalid UTF-8, 10,000 repeated parameters,
 * forged cursors, JSON and deep nesting sent to form routes), 50 simultaneous requests on the
 * limits, and user text with markup on the pages that show it. Every refusal is checked on the
 * rows (snapshot of every consultation table, the counters and the audit trail).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as svc from '../service.ts';
import { at, makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser, Browser } = accountsTesting;

describe('consultation under attack', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let p: svc.Process;
  let strict: svc.Process;
  let alice: Awaited<ReturnType<typeof makeUser>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let ip = 10;
  const browserOf = async (u: Awaited<ReturnType<typeof makeUser>>) => signedInBrowser(t.app, depsOf(t.app), u, `198.51.100.${++ip}`);
  before(async () => {
    t = await testApp();
    p = await makeProcess(t.db, { proposals: true, supports: true, comments: true, votes: true });
    strict = await makeProcess(t.db, { comments: true }, { minAccountDays: 30 });
    const deps = depsOf(t.app);
    alice = await makeUser(deps, 'alice.attack@exemple.fr', [], 'Alice');
    staff = await makeUser(deps, 'staff.attack@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe');
  });
  after(async () => t.close());

  const meeting = async (proc: svc.Process, capacity: number | null) => {
    const id = await svc.createMeeting({ db: t.db }, null, proc.id, { title: 'Atelier', description: '', startsAt: at(5).toISOString(), endsAt: at(5.1).toISOString(), departement: null, placeUid: null, address: 'Dijon', onlineUrl: null, capacity });
    return (await svc.getMeeting(t.db, proc.id, id))!;
  };

  test('a meeting admits the people the process admits: no seat for an unverified e-mail or an account younger than the process asks', async () => {
    const ctx = { db: t.db };
    const m = await meeting(p, 2);
    const young = await meeting(strict, 2);
    const b = await browserOf(alice);
    const before = await snapshot(t.db);
    await assert.rejects(svc.registerForMeeting(ctx, { id: alice.id, emailVerified: false, createdAt: at(-100).toISOString() }, m), (e: { statusCode: number; code?: string }) => e.statusCode === 403);
    await assert.rejects(svc.registerForMeeting(ctx, { id: alice.id, emailVerified: true, createdAt: at(-1).toISOString() }, young), (e: { statusCode: number }) => e.statusCode === 403);
    // Through the page: a brand-new account on the process asking for 30 days.
    await b.get(`/concertations/${strict.slug}/rencontres/${young.id}`);
    const r = await b.post(`/concertations/${strict.slug}/rencontres/${young.id}/inscription`, {});
    assert.equal(r.status, 403);
    assert.match(r.body, /au moins 30 jours/);
    assert.deepEqual(await snapshot(t.db), before);
    // An admitted person still registers.
    await svc.registerForMeeting(ctx, { id: alice.id, emailVerified: true, createdAt: at(-100).toISOString() }, m);
    assert.equal((await svc.getMeeting(t.db, p.id, m.id))!.registered, 1);
  });

  test('50 simultaneous registrations to a meeting of 5 seats: 5 rows, counter 5, the others told it is full', async () => {
    const m = await meeting(p, 5);
    const people = Array.from({ length: 50 }, () => ({ id: crypto.randomUUID(), emailVerified: true, createdAt: at(-100).toISOString() }));
    const results = await Promise.allSettled(people.map((x) => svc.registerForMeeting({ db: t.db }, x, m)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { statusCode: number }).statusCode, 409);
    const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.registration WHERE meeting_id = $1', [m.id]);
    assert.equal(rows.rows[0]!.n, 5);
    assert.equal((await svc.getMeeting(t.db, p.id, m.id))!.registered, 5);
  });

  test('50 at once: supports of 50 people count 50 (and a repeated one still once); 50 comments from one address stop at the rate limit', async () => {
    const ctx = { db: t.db };
    const pr = await svc.submitProposal(ctx, p, { id: alice.id, emailVerified: true, createdAt: at(-100).toISOString() }, { title: 'Une proposition très soutenue', body: 'Un texte assez long pour passer.', category: null, communeCode: null, placeUid: null });
    const fans = Array.from({ length: 50 }, () => ({ id: crypto.randomUUID(), emailVerified: true, createdAt: at(-100).toISOString() }));
    const results = await Promise.allSettled([...fans, fans[0]!, fans[0]!, fans[0]!].map((x) => svc.support(ctx, p, x, pr.id)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 50);
    const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.support WHERE proposal_id = $1', [pr.id]);
    assert.equal(rows.rows[0]!.n, 50);
    assert.equal((await svc.getProposal(t.db, p.id, pr.number))!.supports, 50);
    // One address posting 50 comments at once: the per-address limit (20 a minute) is counted atomically.
    const b = await browserOf(alice);
    await b.get(`/concertations/${p.slug}/propositions/${pr.number}`);
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => b.post(`/concertations/${p.slug}/propositions/${pr.number}/commentaires`, { body: `Commentaire simultané ${i}` }).then((r) => r.status)));
    const stored = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.comment WHERE proposal_id = $1', [pr.id])).rows[0]!.n;
    assert.ok(stored <= 20, `${stored} comments stored`);
    assert.equal(statuses.filter((s) => s === 200).length, stored);
    assert.equal(statuses.filter((s) => s === 429).length, 50 - stored);
    assert.equal((await svc.getProposal(t.db, p.id, pr.number))!.comments, stored);
  });

  test('the vote over HTTP: outside the territory, without CSRF, a second budget or 50 confirmations at once leave one ballot at most', async () => {
    const ctx = { db: t.db };
    const vp = await makeProcess(t.db, { votes: true }, { residenceRequired: true, budgetWorkflow: 'one' });
    await svc.createBudget(ctx, null, vp.id, { slug: 'cote-d-or', title: 'Côte-d’Or', departement: '21', amountCents: 100_000, rule: 'minimum', thresholdPct: 70, minProjects: 1, maxProjects: null });
    await svc.createBudget(ctx, null, vp.id, { slug: 'region', title: 'Région', departement: null, amountCents: 100_000, rule: 'minimum', thresholdPct: 70, minProjects: 1, maxProjects: null });
    const b1 = (await svc.getBudget(t.db, vp.id, 'cote-d-or'))!;
    const b2 = (await svc.getBudget(t.db, vp.id, 'region'))!;
    const p1 = await svc.createProject(ctx, null, b1.id, { title: 'Projet dijonnais', costCents: 50_000 });
    const p2 = await svc.createProject(ctx, null, b2.id, { title: 'Projet régional', costCents: 50_000 });
    const b = await browserOf(alice);
    const base = `/concertations/${vp.slug}/budgets`;
    await b.get(`${base}/cote-d-or`);
    assert.equal((await b.post(`${base}/cote-d-or/panier`, { op: 'add', projectId: p1 })).status, 200);
    await b.get(`${base}/region`);
    // A project of another budget cannot be slipped into this basket.
    let before = await snapshot(t.db);
    assert.equal((await b.post(`${base}/region/panier`, { op: 'add', projectId: p1 })).status, 400);
    assert.equal((await b.post(`${base}/region/panier`, { op: 'constructor', projectId: p2 })).status, 400);
    assert.deepEqual(await snapshot(t.db), before);
    assert.equal((await b.post(`${base}/region/panier`, { op: 'add', projectId: p2 })).status, 200);
    await b.get(`${base}/cote-d-or/confirmer`);
    before = await snapshot(t.db);
    const outside = await b.post(`${base}/cote-d-or/vote`, { postalCode: '75001' });
    assert.equal(outside.status, 403);
    assert.match(outside.body, /réservé aux habitants du département 21/);
    assert.equal((await b.post(`${base}/cote-d-or/vote`, { postalCode: '25000' })).status, 403);
    assert.equal((await b.post(`${base}/cote-d-or/vote`, { postalCode: '21000' }, { csrf: false })).status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    // 50 confirmations at once: one ballot, one 200, the others told the vote is final.
    const statuses = await Promise.all(Array.from({ length: 50 }, () => b.post(`${base}/cote-d-or/vote`, { postalCode: '21000' }).then((r) => r.status)));
    assert.equal(statuses.filter((x) => x === 200).length, 1, statuses.join(','));
    assert.equal(statuses.filter((x) => x === 409).length, 49, statuses.join(','));
    const ballots = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.ballot WHERE user_id = $1', [alice.id]);
    assert.equal(ballots.rows[0]!.n, 1);
    // One budget per person: the other budget's confirmation and basket are refused, nothing written.
    before = await snapshot(t.db);
    assert.equal((await b.post(`${base}/region/vote`, { postalCode: '21000' })).status, 409);
    assert.equal((await b.post(`${base}/cote-d-or/panier`, { op: 'remove', projectId: p1 })).status, 409);
    assert.deepEqual(await snapshot(t.db), before);
    assert.equal((await svc.tally(t.db, b1)).projects.find((x) => x.id === p1)!.votes, 1);
  });

  test('hostile queries get a 4xx and never a 500: forged cursors, 10,000 repeated parameters, a 60 kB query string, invalid UTF-8, NUL bytes', async () => {
    const anon = new Browser(t.app, '198.51.100.200');
    const api = `/api/v1/consultation/processes/${p.slug}`;
    const pr = await svc.submitProposal({ db: t.db }, p, { id: alice.id, emailVerified: true, createdAt: at(-100).toISOString() }, { title: 'Une proposition cible', body: 'Un texte assez long pour passer.', category: null, communeCode: null, placeUid: null });
    const cases: [string, number[]][] = [
      [`/concertations/${p.slug}?apres=${'A'.repeat(150)}`, [400]],
      [`/concertations/${p.slug}?apres=${Buffer.from('99999999999999999|not-a-uuid').toString('base64url')}`, [400]],
      [`/concertations/${p.slug}/propositions/${pr.number}?apres=%00%00`, [400]],
      [`${api}/proposals?cursor=${Buffer.from("1|00000000-0000-0000-0000-000000000000' OR 1=1").toString('base64url')}`, [400]],
      [`${api}/proposals/${pr.number}/comments?after=${'%FF'.repeat(50)}`, [400]],
      [`${api}/proposals?limit=1e400`, [400]],
      [`${api}/proposals?__proto__=1`, [400]],
      [`${api}/proposals?${Array.from({ length: 10_000 }, () => 'state=accepted').join('&')}`, [400]],
      [`/concertations/${p.slug}?${Array.from({ length: 10_000 }, () => 'etat=accepted').join('&')}`, [200, 400]],
      [`/concertations/${p.slug}?theme=${'x'.repeat(60_000)}`, [200, 400, 414, 431]],
      [`/concertations/${p.slug}?theme=%C3%28`, [200, 400]],
      [`/concertations/%C3%28`, [400, 404]],
      [`/concertations/${p.slug}/propositions/1%00`, [400, 404]],
      [`/concertations/${p.slug}/propositions/99999999999999999999`, [400, 404]],
      [`${api}/proposals/0/comments`, [400]],
      [`${api}/constructor.csv`, [400, 404]],
    ];
    const before = await snapshot(t.db);
    for (const [url, ok] of cases) {
      const r = await anon.get(url);
      assert.ok(ok.includes(r.status), `${url.slice(0, 120)} → ${r.status} ${r.body.slice(0, 200)}`);
    }
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('hostile form posts get a 4xx and change nothing: prototype names, NUL bytes, JSON and deep nesting, a huge body, missing CSRF', async () => {
    const b = await browserOf(alice);
    await b.get(`/concertations/${p.slug}/propositions/nouvelle`);
    const url = `/concertations/${p.slug}/propositions`;
    const s = await browserOf(staff);
    const before = await snapshot(t.db);
    const posts: [Record<string, string | string[]>, number[]][] = [
      [{ __proto__: 'x', constructor: 'y', title: 'Un titre correct ici', body: 'Texte avec\u0000un octet nul au milieu.' } as Record<string, string>, [400, 422]],
      [{ title: 'Un titre correct ici', body: 'Un corps de texte suffisant.', category: 'constructor' }, [400, 422]],
      [{ title: 'x'.repeat(200_000), body: 'y'.repeat(2_000_000) }, [400, 413, 422]],
    ];
    for (const [form, ok] of posts) {
      const r = await b.post(url, form);
      assert.ok(ok.includes(r.status), `${JSON.stringify(form).slice(0, 80)} → ${r.status}`);
    }
    const raw = async (payload: string, type: string) =>
      t.app.inject({ method: 'POST', url, payload, remoteAddress: b.ip, headers: { 'content-type': type, cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    let deep = '"x"';
    for (let i = 0; i < 5000; i++) deep = `{"a":${deep}}`;
    for (const [payload, type] of [
      [JSON.stringify({ title: 'Un titre par JSON, sans jeton', body: 'Un corps envoyé en JSON.' }), 'application/json'],
      [deep, 'application/json'],
      ['{"title":', 'application/json'],
      [`_csrf=${b.csrf}&${'a[b]='.repeat(10_000)}`, 'application/x-www-form-urlencoded'],
      [`_csrf=${b.csrf}&${Array.from({ length: 10_000 }, () => 'title=R').join('&')}&body=Un corps de texte suffisant.`, 'application/x-www-form-urlencoded'],
    ] as const) {
      const r = await raw(payload, type);
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${payload.slice(0, 60)} (${type}) → ${r.statusCode} ${r.body.slice(0, 200)}`);
    }
    // Reports and moderation with prototype names for the kind and id.
    await b.get(`/concertations/${p.slug}`);
    for (const form of [{ kind: '__proto__', id: 'constructor', reason: 'spam', n: '1' }, { kind: 'comment', id: '00000000-0000-0000-0000-000000000000', reason: 'constructor', n: '1' }, { kind: 'proposal', id: "1' OR '1'='1", reason: 'spam', n: '1' }]) {
      const r = await b.post(`/concertations/${p.slug}/signalements`, form);
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(form)} → ${r.status}`);
    }
    await s.get(`/gestion/concertations/${p.slug}`);
    for (const form of [{ kind: 'constructor', id: 'x', decision: 'hide', reason: 'Un motif assez long' }, { kind: 'comment', id: 'not-a-uuid', decision: 'hide', reason: 'Un motif assez long' }, { kind: 'proposal', id: '00000000-0000-0000-0000-000000000000', decision: '__proto__', reason: '' }]) {
      const r = await s.post(`/gestion/concertations/${p.slug}/moderation`, form);
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(form)} → ${r.status}`);
    }
    assert.equal((await b.post(url, { title: 'Sans jeton de formulaire', body: 'Un corps de texte suffisant.' }, { csrf: false })).status, 403);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('user text with markup is escaped on every page that shows it (proposal, list, comment, moderation queue and log, meeting)', async () => {
    const evil = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`;
    const who = { id: alice.id, emailVerified: true, createdAt: at(-100).toISOString() };
    const ctx = { db: t.db };
    const pr = await svc.submitProposal(ctx, p, who, { title: `Titre ${evil}`, body: `Corps ${evil}`, category: null, communeCode: null, placeUid: null });
    const cid = await svc.addComment(ctx, p, who, pr.id, { body: `Commentaire ${evil}` });
    await svc.report(ctx, who, 'comment', cid, { reason: 'spam', details: evil });
    const mid = await svc.createMeeting(ctx, null, p.id, { title: `Rencontre ${evil}`, description: evil, startsAt: at(3).toISOString(), endsAt: at(3.1).toISOString(), departement: null, placeUid: null, address: evil, onlineUrl: null, capacity: null });
    const s = await browserOf(staff);
    const anon = new Browser(t.app, '198.51.100.201');
    const pages = [
      await anon.get(`/concertations/${p.slug}`),
      await anon.get(`/concertations/${p.slug}/propositions/${pr.number}`),
      await anon.get(`/concertations/${p.slug}/rencontres`),
      await anon.get(`/concertations/${p.slug}/rencontres/${mid}`),
      await s.get(`/gestion/concertations/${p.slug}`),
      await s.get(`/gestion/concertations/${p.slug}/propositions/${pr.number}`),
    ];
    await s.post(`/gestion/concertations/${p.slug}/moderation`, { kind: 'comment', id: cid, decision: 'hide', reason: `Motif ${evil}` });
    pages.push(await anon.get(`/concertations/${p.slug}/moderation`), await anon.get(`/concertations/${p.slug}/propositions/${pr.number}`), await s.get(`/concertations/${p.slug}/propositions/${pr.number}`));
    for (const pg of pages) {
      assert.equal(pg.status, 200);
      assert.doesNotMatch(pg.body, /<script>alert|<img src=x|"'><img/);
    }
    // The hidden comment's text: gone for the public (page, API, open data), kept for the moderator.
    const pub = pages.at(-2)!.body;
    const mod = pages.at(-1)!.body;
    assert.doesNotMatch(pub, /Commentaire &lt;script/);
    assert.match(mod, /Commentaire &lt;script/);
    for (const url of [`/api/v1/consultation/processes/${p.slug}/proposals/${pr.number}/comments`, `/api/v1/consultation/processes/${p.slug}/comments.csv`, `/api/v1/consultation/processes/${p.slug}/comments.json`]) {
      const r = await anon.get(url);
      assert.equal(r.status, 200, url);
      assert.doesNotMatch(r.body, /Commentaire <script|Commentaire \\u003cscript/, url);
    }
  });
});
