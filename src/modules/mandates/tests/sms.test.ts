/**
 * Remote consent by SMS: Brevo's HTTP API called exactly as documented (a local fake server checks
 * the request); the helper sends the summary (development outbox), the person answers through the
 * signed webhook; OUI creates the mandate (consent method sms) and texts the reference and the
 * revocation code; NON creates nothing; unsigned, malformed, wrong-code, expired and replayed
 * answers are refused with every row unchanged; the waiting page refreshes until the answer.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { BrevoSms, normalisePhone, readSmsOutbox, receiveSmsAnswer, signWebhook } from '../sms.ts';
import { personView, verifyJournal } from '../service.ts';
import { snapshot, structureWithHelper } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;
const SECRET = 'sms-webhook-test-secret';

test('normalisePhone: French mobiles in E.164, anything else refused naming the field', () => {
  assert.equal(normalisePhone('06 12 34 56 78'), '+33612345678');
  assert.equal(normalisePhone('+33 7 12.34.56.78'), '+33712345678');
  assert.equal(normalisePhone('0033612345678'), '+33612345678');
  for (const bad of ['01 23 45 67 89', '0612', '+4915112345678', '06123456789', '']) assert.throws(() => normalisePhone(bad), (e: Error & { field?: string }) => e.field === 'phone');
});

test('BrevoSms: the exact documented request; an error answer rejects', async () => {
  const seen: { method?: string; url?: string; headers?: http.IncomingHttpHeaders; body?: string }[] = [];
  let status = 201;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 201 ? JSON.stringify({ reference: 'ab1cde2fgh3i4jklmno', messageId: 1511882900176220, smsCount: 2, usedCredits: 0.7, remainingCredits: 82.85 }) : JSON.stringify({ code: 'invalid_parameter', message: 'recipient is not valid' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/transactionalSMS/send`;
    const sms = new BrevoSms({ apiUrl: url, apiKey: 'xkeysib-test', sender: 'Maillage' });
    assert.deepEqual(await sms.send('+33612345678', 'Répondez OUI 123456'), { messageId: '1511882900176220' });
    assert.equal(seen.length, 1);
    const r = seen[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/v3/transactionalSMS/send');
    assert.equal(r.headers!['api-key'], 'xkeysib-test');
    assert.equal(r.headers!['content-type'], 'application/json');
    assert.equal(r.headers!.accept, 'application/json');
    assert.deepEqual(JSON.parse(r.body!), { sender: 'Maillage', recipient: '33612345678', content: 'Répondez OUI 123456', type: 'transactional', unicodeEnabled: true });
    status = 400;
    await assert.rejects(sms.send('+33612345678', 'x'), /HTTP 400/);
  } finally {
    server.close();
  }
});

describe('mandates: remote consent by SMS', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let alice: accountsTesting.Browser;
  let bob: accountsTesting.Browser;
  let aliceHere: accountsTesting.Browser; // on the server's machine (the development outbox)
  let structureId = '';
  const PHONE = '+33612345678';

  const rows = async () => ({
    rows: await snapshot(t.db),
    consents: (await t.db.query('SELECT id, state, phone, draft, answered_at, mandate_id FROM mandates.sms_consent ORDER BY id')).rows,
  });
  const inbound = (body: string, signature: string | null = signWebhook(SECRET, body)) =>
    t.app.inject({ method: 'POST', url: '/api/v1/mandates/sms/inbound', headers: { 'content-type': 'application/json', ...(signature ? { 'x-maillage-signature': signature } : {}) }, payload: body });
  const lastCode = async () => /OUI (\d{6})/.exec((await readSmsOutbox(t.db, 1))[0]!.body)![1]!;

  before(async () => {
    t = await testApp({ sms: { provider: 'outbox', apiUrl: 'https://api.brevo.com/v3/transactionalSMS/send', apiKey: null, sender: 'Maillage', webhookSecret: SECRET } });
    const deps = depsOf(t.app);
    const a = await makeUser(deps, 's-alice@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: '00000000-0000-0000-0000-000000000001' }], 'Alice Aidante');
    const b = await makeUser(deps, 's-bob@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: '00000000-0000-0000-0000-000000000001' }], 'Bob Aidant');
    structureId = (await structureWithHelper(t.ctx, a.id, { name: 'Maison France Services du Bourg' })).id;
    await structureWithHelper(t.ctx, b.id);
    alice = await signedInBrowser(t.app, deps, a, '192.0.2.41');
    bob = await signedInBrowser(t.app, deps, b, '192.0.2.42');
    aliceHere = await signedInBrowser(t.app, deps, a, '127.0.0.1');
  });
  after(async () => t.close());

  const mandateForm = (o: Record<string, string | string[]> = {}) => ({ structure: structureId, givenName: 'Jeanne', familyName: 'Lefèvre', birthDate: '1948-05-12', identityChecked: 'oui', procedures: ['argent-impots', 'logement'], duration: '6m', phone: '06 12 34 56 78', ...o });

  async function sendRequest(o: Record<string, string | string[]> = {}) {
    await alice.get('/mandats/nouveau');
    return alice.post('/mandats/nouveau/sms', mandateForm(o));
  }

  test('the preview offers the SMS; bad phone or form refused with no row; the summary goes out, journalled', async () => {
    await alice.get('/mandats/nouveau');
    const preview = await alice.post('/mandats/nouveau', { ...mandateForm(), step: 'apercu' });
    assert.equal(preview.status, 200);
    assert.match(preview.body, /Envoyer la demande par SMS/);
    const before = await rows();
    let r = await sendRequest({ phone: '01 23 45 67 89' });
    assert.equal(r.status, 422);
    assert.match(r.body, /mobile français/);
    r = await sendRequest({ procedures: 'constructor' });
    assert.equal(r.status, 422);
    r = await bob.get('/mandats/nouveau').then(() => bob.post('/mandats/nouveau/sms', mandateForm()));
    assert.equal(r.status, 403); // Bob is not a helper of Alice's structure
    assert.deepEqual(await rows(), before);
    assert.equal((await readSmsOutbox(t.db)).length, 0);
    r = await sendRequest();
    assert.equal(r.status, 303);
    assert.match(r.location!, /^\/mandats\/sms\/[0-9a-f-]{36}$/);
    const sms = (await readSmsOutbox(t.db))[0]!;
    assert.equal(sms.recipient, PHONE);
    assert.match(sms.body, /Maison France Services du Bourg/);
    assert.match(sms.body, /Argent|impôts/i);
    assert.match(sms.body, /répondez OUI \d{6}/);
    const j = await t.db.query("SELECT 1 FROM mandates.journal WHERE event = 'consent.sms_sent'");
    assert.equal(j.rows.length, 1);
    // The waiting page refreshes itself while pending; another helper sees nothing.
    const wait = await alice.get(r.location!);
    assert.equal(wait.status, 200);
    assert.match(wait.body, /<meta http-equiv="refresh" content="5">/);
    assert.match(wait.body, /En attente de la réponse/);
    assert.equal((await bob.get(r.location!)).status, 404);
  });

  test('unsigned, wrongly signed, malformed, wrong-code and expired answers are refused; nothing changes', async () => {
    const code = await lastCode();
    const good = JSON.stringify({ from: PHONE, text: `OUI ${code}` });
    const before = await rows();
    assert.equal((await inbound(good, null)).statusCode, 401);
    assert.equal((await inbound(good, signWebhook('another-secret', good))).statusCode, 401);
    assert.equal((await inbound(good, `${signWebhook(SECRET, good)}0`)).statusCode, 401);
    assert.equal((await inbound('{"from":', signWebhook(SECRET, '{"from":'))).statusCode, 400);
    assert.equal((await inbound(JSON.stringify({ from: PHONE, text: { constructor: 1 } }))).statusCode, 400);
    assert.equal((await inbound(JSON.stringify({ from: PHONE, text: 'peut-être' }))).statusCode, 400);
    const wrong = await inbound(JSON.stringify({ from: PHONE, text: `OUI ${code === '000000' ? '111111' : '000000'}` }));
    assert.equal(wrong.statusCode, 409);
    assert.equal((await inbound(JSON.stringify({ from: '+33699999999', text: `OUI ${code}` }))).statusCode, 409);
    await assert.rejects(receiveSmsAnswer(t.ctx, { from: PHONE, text: `OUI ${code}` }, new Date(Date.now() + 16 * 60_000)), (e: Error & { code?: string }) => e.code === 'expired');
    assert.deepEqual(await rows(), before);
  });

  test('OUI creates the mandate (consent by SMS) and texts the revocation code; a replay is refused', async () => {
    const code = await lastCode();
    const body = JSON.stringify({ from: '06 12 34 56 78', text: ` oui ${code} ` });
    const r = await inbound(body);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().status, 'accepted');
    const c = await t.db.query<{ id: string; state: string; phone: string | null; draft: unknown; mandate_id: string }>('SELECT * FROM mandates.sms_consent WHERE state = $1', ['accepted']);
    assert.equal(c.rows.length, 1);
    assert.equal(c.rows[0]!.phone, null);
    assert.equal(c.rows[0]!.draft, null);
    const m = await t.db.query<{ reference: string; consent_method: string; structure_id: string }>('SELECT reference, consent_method, structure_id FROM mandates.mandate WHERE id = $1', [c.rows[0]!.mandate_id]);
    assert.equal(m.rows[0]!.consent_method, 'sms');
    assert.equal(m.rows[0]!.structure_id, structureId);
    const events = await t.db.query<{ event: string }>('SELECT event FROM mandates.journal ORDER BY id');
    assert.deepEqual(events.rows.map((e) => e.event).slice(-3), ['consent.sms_sent', 'mandate.created', 'consent.sms_received']);
    const confirmation = (await readSmsOutbox(t.db, 1))[0]!;
    assert.equal(confirmation.recipient, PHONE);
    const rc = /révocation : ([A-Z0-9]{12})/.exec(confirmation.body)![1]!;
    assert.ok(confirmation.body.includes(m.rows[0]!.reference));
    const view = await personView(t.db, m.rows[0]!.reference, rc);
    assert.equal(view.mandate.procedures.length, 2);
    // The replayed answer: refused, nothing changes.
    const before = await rows();
    assert.equal((await inbound(body)).statusCode, 409);
    assert.deepEqual(await rows(), before);
    // The waiting page now shows the mandate and stops refreshing.
    const wait = await alice.get(`/mandats/sms/${c.rows[0]!.id}`);
    assert.match(wait.body, new RegExp(m.rows[0]!.reference));
    assert.doesNotMatch(wait.body, /http-equiv="refresh"/);
    assert.equal((await verifyJournal(t.db)).ok, true);
  });

  test('NON creates nothing; the development outbox answers as the person would', async () => {
    let r = await sendRequest({ procedures: 'logement', duration: '1d' });
    assert.equal(r.status, 303);
    const mandates = (await t.db.query('SELECT count(*)::int AS n FROM mandates.mandate')).rows;
    const code = await lastCode();
    assert.equal((await alice.get('/mandats/sms-dev')).status, 403); // only on the server's machine
    r = await aliceHere.get('/mandats/sms-dev');
    assert.equal(r.status, 200);
    assert.match(r.body, new RegExp(`OUI ${code}`));
    r = await aliceHere.post('/mandats/sms-dev', { from: PHONE, text: `NON ${code}` });
    assert.equal(r.status, 200);
    assert.match(r.body, /Réponse NON reçue/);
    assert.deepEqual((await t.db.query('SELECT count(*)::int AS n FROM mandates.mandate')).rows, mandates);
    const refused = await t.db.query<{ state: string; phone: string | null }>("SELECT state, phone FROM mandates.sms_consent WHERE state = 'refused'");
    assert.equal(refused.rows.length, 1);
    assert.equal(refused.rows[0]!.phone, null);
  });
});
