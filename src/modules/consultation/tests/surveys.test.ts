/**
 * Surveys: the question definitions (8 types, conditions, hostile keys), reading answers with
 * conditions evaluated on the server, and the HTTP journeys — staff create a survey, participants
 * answer once (plain and multipart forms with a file), refusals leave every row unchanged, results
 * published as tables and open data, the staff's CSV, concurrent double answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { listAudit } from '../../../platform/audit/index.ts';
import { ValidationFailed } from '../model.ts';
import { parseQuestions, readAnswers, surveyResults, answersJson } from '../survey.ts';
import * as sv from '../surveys.ts';
import { makeProcess, snapshot } from './support.ts';

const { depsOf, makeUser, signedInBrowser, Browser } = accountsTesting;

const DEF = [
  { key: 'frequence', type: 'single', label: 'À quelle fréquence allez-vous dans un tiers-lieu ?', required: true, options: ['Jamais', 'Parfois', 'Souvent'] },
  { key: 'pourquoi', type: 'long', label: 'Pourquoi jamais ?', required: true, conditions: [{ question: 'frequence', op: 'equal', value: 'Jamais' }] },
  { key: 'services', type: 'multiple', label: 'Quels services ?', options: ['Wifi', 'Impression', 'Atelier'], maxChoices: 2 },
  { key: 'ordre', type: 'sorting', label: 'Classez vos priorités', options: ['Horaires', 'Accueil', 'Matériel'] },
  { key: 'commune', type: 'short', label: 'Votre commune' },
  { key: 'justificatif', type: 'file', label: 'Un document' },
  { key: 'notes', type: 'matrix_single', label: 'Notez', rows: ['Accueil', 'Matériel'], options: ['Bien', 'Mal'] },
  { key: 'jours', type: 'matrix_multiple', label: 'Quels jours ?', rows: ['Matin', 'Soir'], options: ['Lundi', 'Samedi'] },
];
const PDF = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

function multipart(fields: Record<string, string>, files: { field: string; name: string; type: string; data: Buffer }[]): { body: Buffer; type: string } {
  const boundary = '----maillage' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`), f.data, Buffer.from('\r\n'));
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

describe('survey definitions and answers (pure)', () => {
  const qs = parseQuestions(JSON.stringify(DEF));
  test('the eight types are read; conditions resolve to option indexes', () => {
    assert.deepEqual(qs.map((q) => q.type), ['single', 'long', 'multiple', 'sorting', 'short', 'file', 'matrix_single', 'matrix_multiple']);
    assert.deepEqual(qs[1]!.conditions, [{ question: 'frequence', op: 'equal', option: 0 }]);
  });
  test('faulty definitions are refused, naming the question and the field', () => {
    const bad: [unknown, RegExp][] = [
      ['{', /JSON invalide/],
      [[], /au moins une question/],
      [[{ key: 'constructor', type: 'short', label: 'x' }], /question 1, key/],
      [[{ key: '__proto__', type: 'short', label: 'x' }], /question 1, key/],
      [[{ key: 'a', type: 'short', label: 'x' }, { key: 'a', type: 'short', label: 'y' }], /question 2, key/],
      [[{ key: 'a', type: 'radio', label: 'x' }], /question 1, type/],
      [[{ key: 'a', type: 'single', label: 'x', options: ['un'] }], /question 1, options/],
      [[{ key: 'a', type: 'single', label: 'x', options: ['un', 'un'] }], /question 1, options/],
      [[{ key: 'a', type: 'matrix_single', label: 'x', options: ['un', 'deux'] }], /question 1, rows/],
      [[{ key: 'a', type: 'short', label: 'x', conditions: [{ question: 'b', op: 'answered' }] }, { key: 'b', type: 'short', label: 'y' }], /question 1, condition 1, question/],
      [[{ key: 'a', type: 'single', label: 'x', options: ['o', 'n'] }, { key: 'b', type: 'short', label: 'y', conditions: [{ question: 'a', op: 'equal', value: 'peut-être' }] }], /question 2, condition 1, value/],
      [[{ key: 'a', type: 'short', label: 'x\u0000' }], /question 1, label/],
      [[{ key: 'a', type: 'short', label: 'x'.repeat(301) }], /question 1, label/],
    ];
    for (const [def, re] of bad) {
      assert.throws(() => parseQuestions(typeof def === 'string' ? def : JSON.stringify(def)), (e: unknown) => e instanceof ValidationFailed && e.errors.some((x) => x.field === 'questions' && re.test(x.message)), String(re));
    }
    assert.throws(() => parseQuestions(JSON.stringify(Array.from({ length: 51 }, (_, i) => ({ key: `q${i}`, type: 'short', label: 'x' })))), /50 au plus/);
    assert.throws(() => parseQuestions('['.repeat(200_000)), /100.000 caractères/);
  });
  test('a question whose condition does not hold is dropped; required ones that apply are enforced', () => {
    const none = new Map();
    const r = readAnswers(qs, { q_frequence: '2', q_pourquoi: 'je ne devrais pas être gardé', q_services_0: '1', q_ordre_0: '2', q_ordre_1: '1', q_ordre_2: '3', q_notes_r0: '0', q_notes_r1: '1', q_jours_r1_1: '1' }, none);
    assert.equal(r.answers.has('pourquoi'), false);
    assert.deepEqual(r.answers.get('frequence'), [2]);
    assert.deepEqual(r.answers.get('ordre'), [1, 0, 2]);
    assert.deepEqual(r.answers.get('notes'), [[0], [1]]);
    assert.deepEqual(r.answers.get('jours'), [[], [1]]);
    assert.throws(() => readAnswers(qs, { q_frequence: '0' }, none), (e: unknown) => e instanceof ValidationFailed && e.errors[0]!.field === 'q_pourquoi');
    assert.throws(() => readAnswers(qs, { q_frequence: '7' }, none), (e: unknown) => e instanceof ValidationFailed && e.errors[0]!.field === 'q_frequence');
    assert.throws(() => readAnswers(qs, { q_frequence: '1', q_services_0: '1', q_services_1: '1', q_services_2: '1' }, none), /2 choix au plus/);
    assert.throws(() => readAnswers(qs, { q_frequence: '1', q_ordre_0: '1', q_ordre_1: '1', q_ordre_2: '3' }, none), /rang différent/);
    assert.throws(() => readAnswers(qs, { q_frequence: '1', q_commune: 'x'.repeat(301) }, none), /300 caractères au plus/);
    assert.throws(() => readAnswers(qs, { q_frequence: '1', q_commune: 'a\u0000b' }, none), /caractères non autorisés/);
    assert.throws(() => readAnswers(qs, { q_frequence: '1' }, new Map([['q_justificatif', { fileName: 'x.exe', contentType: 'application/pdf', data: Buffer.from('MZ\x90') }]])), /PDF, PNG ou JPEG/);
    const withFile = readAnswers(qs, { q_frequence: '1' }, new Map([['q_justificatif', { fileName: '../../etc/passwd.pdf', contentType: 'text/plain', data: PDF }]]));
    assert.equal(withFile.files.get('justificatif')!.type, 'application/pdf');
    assert.equal(withFile.files.get('justificatif')!.fileName, '.._.._etc_passwd.pdf');
    // Prototype names sent as fields are ignored (the keys come from the definition only).
    const proto = readAnswers(qs, Object.assign(Object.create(null), { q_frequence: '1', constructor: 'x', __proto__: 'y', q_constructor: 'z' }), none);
    assert.deepEqual([...proto.answers.keys()], ['frequence']);
  });
  test('results count choice questions only', () => {
    const a = answersJson(readAnswers(qs, { q_frequence: '0', q_pourquoi: 'trop loin', q_ordre_0: '1', q_ordre_1: '2', q_ordre_2: '3' }, new Map()).answers);
    const b = answersJson(readAnswers(qs, { q_frequence: '2', q_ordre_0: '3', q_ordre_1: '1', q_ordre_2: '2', q_notes_r0: '1', q_notes_r1: '1' }, new Map()).answers);
    const res = surveyResults(qs, [JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b))]);
    assert.deepEqual(res[0]!.counts, [1, 0, 1]);
    assert.deepEqual(res[3]!.counts, [3 + 1, 2 + 3, 1 + 2]);
    assert.deepEqual(res[3]!.meanRanks, [2, 1.5, 2.5]);
    assert.deepEqual(res[6]!.matrix, [[0, 1], [0, 1]]);
    assert.equal(res[1]!.answered, 1);
    assert.equal(res[1]!.counts, null);
  });
});

describe('surveys over HTTP', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let alice: Awaited<ReturnType<typeof makeUser>>;
  let bob: Awaited<ReturnType<typeof makeUser>>;
  let outsider: Awaited<ReturnType<typeof makeUser>>;
  let unverified: Awaited<ReturnType<typeof makeUser>>;
  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    staff = await makeUser(deps, 'equipe-sv@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Équipe');
    outsider = await makeUser(deps, 'equipe28-sv@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Autre');
    alice = await makeUser(deps, 'alice-sv@exemple.fr', [], 'Alice');
    bob = await makeUser(deps, 'bob-sv@exemple.fr', [], 'Bob');
    unverified = await makeUser(deps, 'nv-sv@exemple.fr', [], 'Non vérifiée');
    await t.db.query('UPDATE accounts.users SET email_verified_at = NULL WHERE id = $1', [unverified.id]).catch(() => undefined);
  });
  after(async () => t.close());

  const form = (slug: string, extra: Record<string, string> = {}) => ({ title: 'Usages des tiers-lieux', slug, description: 'Dites-nous.', startsAt: '2020-01-01T09:00', endsAt: '2099-01-01T09:00', questions: JSON.stringify(DEF), ...extra });

  test('staff create a survey; faulty definitions and outsiders are refused with rows unchanged', async () => {
    const p = await makeProcess(t.db, {});
    const b = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.101');
    const url = `/gestion/concertations/${p.slug}/questionnaires/nouveau`;
    assert.equal((await b.get(url)).status, 200);
    const cases: [Record<string, string>, string][] = [
      [form('s1', { questions: '[{"key":"constructor","type":"short","label":"x"}]' }), 'questions'],
      [form('s2', { questions: '' }), 'questions'],
      [form('S 3'), 'slug'],
      [form('s4', { endsAt: '2019-01-01T09:00' }), 'endsAt'],
    ];
    for (const [f, field] of cases) {
      const before = await snapshot(t.db);
      const res = await b.post(url, f);
      assert.equal(res.status, 422, field);
      assert.match(res.body, new RegExp(`href="#f-${field}"`));
      assert.deepEqual(await snapshot(t.db), before, field);
    }
    const o = await signedInBrowser(t.app, depsOf(t.app), outsider, '192.0.2.102');
    await o.get('/concertations');
    const before = await snapshot(t.db);
    assert.equal((await o.post(url, form('autre'))).status, 403);
    assert.deepEqual(await snapshot(t.db), before);
    const ok = await b.post(url, form('usages'));
    assert.equal(ok.status, 303, ok.body.slice(0, 500));
    assert.equal((await b.post(url, form('usages'))).status, 409);
    const s = (await sv.getSurvey(t.db, p.id, 'usages'))!;
    assert.equal(s.questions.length, 8);
    assert.equal((await listAudit(t.db, { objectId: s.id, limit: 5 }))[0]!.action, 'consultation.survey.create');
  });

  test('participants answer once; a hidden question is dropped; refusals change nothing; files kept apart', async () => {
    const p = await makeProcess(t.db, {});
    await sv.createSurvey({ db: t.db }, staff.id, p.id, { slug: 'usages', title: 'Usages', description: '', questions: parseQuestions(JSON.stringify(DEF)), startsAt: new Date(Date.now() - 1e6), endsAt: new Date(Date.now() + 1e9), resultsPublished: false });
    await sv.createSurvey({ db: t.db }, staff.id, p.id, { slug: 'clos', title: 'Clos', description: '', questions: parseQuestions(JSON.stringify(DEF.slice(0, 1))), startsAt: new Date(Date.now() - 2e9), endsAt: new Date(Date.now() - 1e9), resultsPublished: false });
    const url = `/concertations/${p.slug}/questionnaires/usages`;
    const anon = new Browser(t.app);
    const page = await anon.get(url);
    assert.equal(page.status, 200);
    assert.match(page.body, /Créer un compte/);
    const a = await signedInBrowser(t.app, depsOf(t.app), alice, '192.0.2.103');
    const form1 = await a.get(url);
    assert.match(form1.body, /enctype="multipart\/form-data"/);
    assert.match(form1.body, /À remplir seulement si vous avez choisi « Jamais » à la question 1/);
    // Refusals: missing required answer, closed survey, no CSRF; rows unchanged.
    const before = await snapshot(t.db);
    const bad = await a.post(url, { q_frequence: '0' });
    assert.equal(bad.status, 422);
    assert.match(bad.body, /href="#f-q_pourquoi"/);
    assert.equal((await a.post(`/concertations/${p.slug}/questionnaires/clos`, { q_frequence: '0' })).status, 409);
    assert.equal((await a.post(url, { q_frequence: '1' }, { csrf: false })).status, 403);
    // Someone not signed in is refused before the body is read (401), whatever the form holds.
    assert.equal((await anon.post(url, { q_frequence: '1' })).status, 401);
    assert.deepEqual(await snapshot(t.db), before);
    // A multipart answer with a file; the hidden question's answer is dropped.
    await a.get(url);
    const mp = multipart({ _csrf: a.csrf!, q_frequence: '1', q_pourquoi: 'je ne devrais pas être gardé', q_commune: '=HYPERLINK("x")', q_services_0: '1' }, [{ field: 'q_justificatif', name: 'attestation.pdf', type: 'application/pdf', data: PDF }]);
    const res = await t.app.inject({ method: 'POST', url, payload: mp.body, headers: { 'content-type': mp.type, cookie: [...a.cookies].map(([k, v]) => `${k}=${v}`).join('; '), accept: 'text/html' }, remoteAddress: '192.0.2.103' });
    assert.equal(res.statusCode, 200, res.body.slice(0, 500));
    const rows = await sv.responsesOf(t.db, (await sv.getSurvey(t.db, p.id, 'usages'))!.id);
    assert.equal(rows.length, 1);
    assert.equal(Object.hasOwn(rows[0]!.answers, 'pourquoi'), false);
    assert.deepEqual(rows[0]!.answers.frequence, [1]);
    const file = (await t.db.query<{ file_name: string; content_type: string }>('SELECT file_name, content_type FROM consultation.survey_file')).rows;
    assert.deepEqual(file, [{ file_name: 'attestation.pdf', content_type: 'application/pdf' }]);
    // A second answer: refused, nothing changed.
    await a.get(url);
    const before2 = await snapshot(t.db);
    const again = await a.post(url, { q_frequence: '2' });
    assert.ok(again.status === 409 || again.status === 200);
    assert.deepEqual(await snapshot(t.db), before2);
    // Bob: eight concurrent answers, one stored.
    const b = await signedInBrowser(t.app, depsOf(t.app), bob, '192.0.2.104');
    await b.get(url);
    const statuses = await Promise.all(Array.from({ length: 8 }, () => b.post(url, { q_frequence: '2', q_ordre_0: '1', q_ordre_1: '2', q_ordre_2: '3' }).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
    const s = (await sv.getSurvey(t.db, p.id, 'usages'))!;
    assert.equal(s.responses, 2);
    assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.survey_response WHERE survey_id = $1', [s.id])).rows[0]!.n, 2);

    // Results: not public until published; staff see them, the free texts and the file; CSV export.
    assert.equal((await anon.get(`${url}/resultats`)).status, 404);
    assert.equal((await anon.get(`/api/v1/consultation/processes/${p.slug}/surveys/usages/results`)).status, 404);
    const st = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.105');
    const admin = await st.get(`/gestion/concertations/${p.slug}/questionnaires/usages`);
    assert.equal(admin.status, 200);
    assert.match(admin.body, /attestation\.pdf/);
    const fileId = /fichiers\/([0-9a-f-]{36})/.exec(admin.body)![1]!;
    const dl = await st.download(`/gestion/concertations/${p.slug}/questionnaires/usages/fichiers/${fileId}`);
    assert.equal(dl.status, 200);
    assert.ok(dl.bytes.equals(PDF));
    assert.equal((await a.download(`/gestion/concertations/${p.slug}/questionnaires/usages/fichiers/${fileId}`)).status, 403);
    const csv = await st.get(`/gestion/concertations/${p.slug}/questionnaires/usages/reponses.csv`);
    assert.equal(csv.status, 200);
    assert.match(csv.body, /^response,created_at,frequence,pourquoi,services,ordre,commune,justificatif,notes,jours/);
    assert.match(csv.body, /'=HYPERLINK/);
    assert.doesNotMatch(csv.body, /alice/i);
    assert.equal((await a.get(`/gestion/concertations/${p.slug}/questionnaires/usages/reponses.csv`)).status, 403);
    // Questions frozen once answered; publishing the results is allowed.
    await st.get(`/gestion/concertations/${p.slug}/questionnaires/usages/modifier`);
    const before3 = await snapshot(t.db);
    const frozen = await st.post(`/gestion/concertations/${p.slug}/questionnaires/usages/modifier`, form('ignored', { questions: JSON.stringify(DEF.slice(0, 2)), resultsPublished: '1' }));
    assert.equal(frozen.status, 409);
    assert.match(frozen.body, /href="#f-questions"/);
    assert.deepEqual(await snapshot(t.db), before3);
    const edit = await st.get(`/gestion/concertations/${p.slug}/questionnaires/usages/modifier`);
    const current = /<textarea id="f-questions"[^>]*>([\s\S]*?)<\/textarea>/.exec(edit.body)![1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
    const pub = await st.post(`/gestion/concertations/${p.slug}/questionnaires/usages/modifier`, form('ignored', { questions: current, resultsPublished: '1' }));
    assert.equal(pub.status, 303, pub.body.slice(0, 800));
    const results = await anon.get(`${url}/resultats`);
    assert.equal(results.status, 200);
    assert.match(results.body, /<caption>À quelle fréquence allez-vous dans un tiers-lieu \? : réponses par option<\/caption>/);
    assert.doesNotMatch(results.body, /HYPERLINK|attestation/);
    const api = JSON.parse((await anon.get(`/api/v1/consultation/processes/${p.slug}/surveys/usages/results`, { accept: 'application/json' })).body);
    assert.deepEqual(api.questions[0].counts, [0, 1, 1]);
    assert.equal(api.questions[4].counts, null);
    const openCsv = await anon.get(`/api/v1/consultation/processes/${p.slug}/surveys/usages/results.csv`);
    assert.match(openCsv.body, /usages,frequence,.*,single,,Parfois,1,2/);
  });

  test('an unverified account cannot answer', async () => {
    const p = await makeProcess(t.db, {});
    await sv.createSurvey({ db: t.db }, staff.id, p.id, { slug: 'v', title: 'V', description: '', questions: parseQuestions(JSON.stringify(DEF.slice(0, 1))), startsAt: new Date(Date.now() - 1e6), endsAt: new Date(Date.now() + 1e9), resultsPublished: false });
    const s = (await sv.getSurvey(t.db, p.id, 'v'))!;
    const before = await snapshot(t.db);
    await assert.rejects(sv.answerSurvey({ db: t.db }, p, s, { id: unverified.id, emailVerified: false, createdAt: new Date().toISOString() }, { q_frequence: '0' }, new Map()), /Confirmez/);
    await assert.rejects(sv.answerSurvey({ db: t.db }, { ...p, minAccountDays: 5 }, s, { id: alice.id, emailVerified: true, createdAt: new Date().toISOString() }, { q_frequence: '0' }, new Map()), /au moins 5 jours/);
    assert.deepEqual(await snapshot(t.db), before);
  });
});


