/** Test helpers for the calls module: people, a standard form, a call, the database's state. */
import assert from 'node:assert/strict';
import type { Db } from '../../../platform/db/index.ts';
import type { App } from '../../../platform/http/server.ts';
import { accountsTesting, getGrants, type Actor } from '../../accounts/index.ts';
import * as service from '../service.ts';

const { depsOf, makeUser, signedInBrowser, databaseState, stateChanges } = accountsTesting;

export const FORM = {
  questions: [
    { id: 'resume', label: 'Résumé', type: 'long_text', required: true, maxLength: 500 },
    { id: 'public', label: 'Publics', type: 'multi_choice', required: true, options: ['Jeunes', 'Seniors'] },
    { id: 'volet', label: 'Volet', type: 'choice', required: true, options: ['Aménagement', 'Équipement'] },
    { id: 'detail', label: 'Détail de l’équipement', type: 'short_text', required: true, showIf: { question: 'volet', equals: 'Équipement' } },
    { id: 'debut', label: 'Démarrage', type: 'date', required: false },
    { id: 'postes', label: 'Postes', type: 'number', required: false, min: 1, max: 100 },
    { id: 'montant', label: 'Montant demandé', type: 'amount', required: true, requested: true, min: 1000 },
    { id: 'budget', label: 'Budget', type: 'budget', required: true },
    { id: 'suite', label: 'Projet détaillé', type: 'long_text', required: true, stage: 2 },
  ],
  criteria: [
    { id: 'impact', label: 'Impact', weight: 3, scale: 5 },
    { id: 'faisabilite', label: 'Faisabilité', weight: 1, scale: 10 },
  ],
  documents: ['Statuts'],
};

/** A complete set of answers to FORM, as posted by the applicant's page. */
export function completeForm(amount = 20000): Record<string, string> {
  return {
    title: 'Un tiers-lieu au village',
    'q.resume': 'Ouvrir un espace partagé.',
    'q.public': 'Jeunes',
    'q.volet': 'Aménagement',
    'q.montant': String(amount),
    'q.budget.e.0.label': 'Travaux',
    'q.budget.e.0.amount': String(amount * 2),
    'q.budget.r.0.label': 'Région',
    'q.budget.r.0.amount': String(amount),
    'q.budget.r.1.label': 'Fonds propres',
    'q.budget.r.1.amount': String(amount),
  };
}

/** A commune of région 24 (Centre-Val de Loire), for places that receive the test calls' labels. */
export const TOURS = { commune: 'Tours', code_postal: '37000', code_insee: '37261', latitude: 47.3941, longitude: 0.6848 };

let n = 0;
export async function person(app: App, role: string | null, scope: { kind: string; id: string } = { kind: 'region', id: '24' }) {
  const deps = depsOf(app);
  const u = await makeUser(deps, `calls-${++n}-${Date.now().toString(36)}@exemple.fr`, role ? [{ role, scopeKind: scope.kind, scopeId: scope.id }] : [], `Personne ${n}`);
  const browser = await signedInBrowser(app, deps, u, `192.0.2.${(n % 200) + 10}`);
  const actor: Actor = { id: u.id, grants: await getGrants(deps.db, u.id) };
  return { user: u, browser, actor };
}

export async function makeCall(db: Db, staff: Actor, o: Partial<service.CallInput> = {}) {
  const c = await service.createCall({ db }, staff, {
    kind: 'aap', title: `Appel test ${++n}`, region: '24', envelope: 100000, funderName: 'Région Centre-Val de Loire', funderSiret: '73282932000074',
    opensAtIso: new Date(Date.now() - 86400000).toISOString(), closesAtIso: new Date(Date.now() + 10 * 86400000).toISOString(), form: FORM, ...o,
  });
  await service.setCallStatus({ db }, staff, c.id, 'published');
  return (await service.getCall(db, c.id))!;
}

/** Runs a refused request and checks that no table was written and no audit entry added. */
export async function unchanged(db: Db, fn: () => Promise<unknown>): Promise<void> {
  const before = await databaseState(db);
  await fn();
  assert.equal(stateChanges(before, await databaseState(db)), '');
}

/** A service call that must be refused with this status and field, changing nothing. */
export async function refused(db: Db, fn: () => Promise<unknown>, status: number, field?: string | null, message?: RegExp) {
  await unchanged(db, async () => {
    await assert.rejects(fn, (e: { statusCode?: number; field?: string | null; message: string }) => {
      assert.equal(e.statusCode, status, e.message);
      if (field !== undefined) assert.equal(e.field, field, e.message);
      if (message) assert.match(e.message, message);
      return true;
    });
  });
}
