/**
 * The victim of test/platform/crash-modules.test.ts: the whole app over an embedded database in a
 * real directory, writing through its HTTP routes (app.inject: sessions, CSRF, services, audit) in
 * a loop, and printing `ack <kind> <id>` for each write the app acknowledged. The test kills it
 * with SIGKILL at some point of that loop, then checks that every acknowledged write is there and
 * that nothing half-written is.
 *
 *   node --import tsx test/support/crash-writer.ts <data dir> <mediation|consultation|calls>
 *
 * The first run in a directory loads the test fixture (migrated, with the territories) into it and
 * creates what the workload needs (a place, a mediator; a process, a budget, its projects; a
 * published call); its
 * ids are kept in `<data dir>/state.json`. A later run reopens the same directory — the database
 * recovers from the crash — and writes on.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/platform/config.ts';
import { openDb } from '../../src/platform/db/index.ts';
import { createLogger } from '../../src/platform/log.ts';
import { accountsTesting, getUser } from '../../src/modules/accounts/index.ts';
import { todayIso } from '../../src/modules/mediation/model.ts';
import { updateProfile } from '../../src/modules/mediation/service.ts';
import { makePlace } from '../../src/modules/mediation/tests/support.ts';
import * as consultation from '../../src/modules/consultation/service.ts';
import { makeProcess } from '../../src/modules/consultation/tests/support.ts';
import { getGrants } from '../../src/modules/accounts/index.ts';
import { siretProblem } from '../../src/modules/calls/index.ts';
import { completeForm, makeCall } from '../../src/modules/calls/tests/support.ts';
import { fixturePath } from './fixture.ts';

const [dir, workload] = process.argv.slice(2) as [string, string];
const statePath = path.join(dir, 'state.json');
const pgliteDir = path.join(dir, 'pglite');
const first = !fs.existsSync(pgliteDir);
const db = await openDb({ databaseUrl: null, pgliteDir, loadDataDir: first ? new Blob([fs.readFileSync(fixturePath())]) : null });
const config = loadConfig({ ...process.env, NODE_ENV: 'test' }, { dataDir: dir });
const { app, ctx } = await buildApp(config, db, createLogger('silent'));
const deps = accountsTesting.depsOf(app);
const say = (line: string) => fs.writeSync(1, `${line}\n`);

type State = Record<string, string | string[]>;
let state: State;
if (fs.existsSync(statePath)) state = JSON.parse(fs.readFileSync(statePath, 'utf8')) as State;
else {
  state = {};
  if (workload === 'mediation') {
    const place = await makePlace(db, '76540');
    const user = await accountsTesting.makeUser(deps, 'crash-mediateur@exemple.fr', [{ role: 'mediator', scopeKind: 'departement', scopeId: '76' }], 'Médiatrice');
    await updateProfile(ctx, user.id, user.displayName, { employer: 'Commune de Rouen', placeUids: [place] });
    state = { place, user: user.id };
  } else if (workload === 'consultation') {
    const p = await makeProcess(db, { votes: true });
    await consultation.createBudget({ db }, null, p.id, { slug: 'region', title: 'Budget régional', departement: null, amountCents: 100_000, rule: 'minimum', thresholdPct: 0, minProjects: 2, maxProjects: null });
    const b = (await consultation.getBudget(db, p.id, 'region'))!;
    const projects: string[] = [];
    for (const [title, cost] of [['Projet un', 20_000], ['Projet deux', 25_000], ['Projet trois', 10_000]] as const) projects.push(await consultation.createProject({ db }, null, b.id, { title, costCents: cost }));
    state = { slug: p.slug, budget: b.id, projects };
  } else if (workload === 'calls') {
    const staff = await accountsTesting.makeUser(deps, 'crash-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '24' }], 'Équipe');
    const call = await makeCall(db, { id: staff.id, grants: await getGrants(db, staff.id) });
    state = { slug: call.slug };
  } else throw new Error(`unknown workload ${workload}`);
  fs.writeFileSync(statePath, JSON.stringify(state));
}
say('ready');

async function fail(what: string, res: accountsTesting.Res): Promise<never> {
  say(`error ${what} ${res.status} ${res.body.slice(0, 300).replace(/\s+/g, ' ')}`);
  process.exit(3);
}

if (workload === 'mediation') {
  const me = (await getUser(db, state.user as string))!;
  const b = await accountsTesting.signedInBrowser(app, deps, me);
  for (;;) {
    await b.get('/mediation/activites/nouvelle');
    const res = await b.post('/mediation/activites', {
      kind: 'individual', date: todayIso(), duration: '30', placeKind: 'place', placeUid: state.place as string,
      themes: ['e-mail', 'aide-aux-demarches-administratives'], adminThemes: 'logement', idempotencyKey: crypto.randomUUID(),
    });
    const id = /enregistre=([0-9a-f-]{36})/.exec(res.location ?? '')?.[1];
    if (res.status !== 303 || !id) await fail('mediation', res);
    say(`ack activity ${id}`);
  }
} else if (workload === 'calls') {
  /** A SIRET with a valid Luhn key (the form check), different at each call. */
  const siret = () => {
    for (;;) {
      const body = Array.from(crypto.randomBytes(13), (b) => String(b % 10)).join('');
      for (let k = 0; k < 10; k++) if (!siretProblem(body + k)) return body + k;
    }
  };
  for (let n = 0; ; n++) {
    const applicant = await accountsTesting.makeUser(deps, `crash-${crypto.randomUUID()}@exemple.fr`, [], `Porteur ${n}`);
    const b = await accountsTesting.signedInBrowser(app, deps, applicant);
    const start = `/appels/${state.slug as string}/candidater`;
    await b.get(start);
    const org = await b.post('/candidatures/structures', { siret: siret(), name: `Tiers-lieu ${n}`, kind: 'association', retour: start });
    if (org.status !== 303) await fail('organisation', org);
    const page = await b.get(start);
    const organisationId = /name="organisationId"><option value="([0-9a-f-]{36})"/.exec(page.body)?.[1];
    if (!organisationId) await fail('organisation id', page);
    const draft = await b.post(start, { organisationId: organisationId! });
    const id = draft.location?.split('/').pop();
    if (draft.status !== 303 || !id) await fail('draft', draft);
    await b.get(`/candidatures/${id}`);
    const saved = await b.post(`/candidatures/${id}`, completeForm(10_000 + n));
    if (saved.status !== 303) await fail('answers', saved);
    const submitted = await b.post(`/candidatures/${id}/depot`, {});
    if (submitted.status !== 303) await fail('submission', submitted);
    say(`ack application ${id}`);
  }
} else {
  const url = `/concertations/${state.slug as string}/budgets/region`;
  const projects = state.projects as string[];
  for (let n = 0; ; n++) {
    const voter = await accountsTesting.makeUser(deps, `crash-${crypto.randomUUID()}@exemple.fr`, [], `Votant ${n}`);
    const b = await accountsTesting.signedInBrowser(app, deps, voter);
    await b.get(url);
    for (const projectId of [projects[n % 3]!, projects[(n + 1) % 3]!]) {
      const r = await b.post(`${url}/panier`, { op: 'add', projectId });
      if (r.status !== 200) await fail('basket', r);
    }
    await b.get(`${url}/confirmer`);
    const done = await b.post(`${url}/vote`, {});
    if (done.status !== 200) await fail('vote', done);
    say(`ack vote ${voter.id} ${projects[n % 3]} ${projects[(n + 1) % 3]}`);
  }
}
