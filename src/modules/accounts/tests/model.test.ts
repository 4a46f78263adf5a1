/**
 * The permission function on its own: every role × scope × object, written out as a table (the
 * expectations come from the rules, not from ROLE_ACTIONS), plus the pure sign-in rules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { can, passwordProblem, progressiveDelay, requiresMfa, safeReturnTo, scopesFor, validateGrant, type Action, type Actor, type Resource, type RoleGrant } from '../model.ts';
import { checkTotp, newTotpSecret, totpCode } from '../totp.ts';
import { recoveryCodeHash } from '../crypto.ts';

const actor = (...grants: RoleGrant[]): Actor => ({ id: 'u', grants });
const admin = actor({ role: 'admin', scopeKind: 'platform', scopeId: '' });
const staffRegion = actor({ role: 'regional_staff', scopeKind: 'region', scopeId: '84' });
const staffDep = actor({ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' });
const manager = actor({ role: 'place_manager', scopeKind: 'place', scopeId: 'P1' });
const twoPlaces = actor({ role: 'place_manager', scopeKind: 'place', scopeId: 'P1' }, { role: 'place_manager', scopeKind: 'place', scopeId: 'P3' });
const reviewer = actor({ role: 'reviewer', scopeKind: 'region', scopeId: '84' });
const nobody = actor();

// P1: managed place in Lyon (69, région 84); P2: another place in the same département;
// P3: a place in Isère (38, same région); P4: a place in Normandie (27, région 28).
const place = (id: string, departement: string, region: string): Resource => ({ type: 'place', id, departement, region, commune: null });
const P1 = place('P1', '69', '84');
const P2 = place('P2', '69', '84');
const P3 = place('P3', '38', '84');
const P4 = place('P4', '27', '28');
const region84: Resource = { type: 'territory', region: '84' };
const dep69: Resource = { type: 'territory', region: '84', departement: '69' };
const dep38: Resource = { type: 'territory', region: '84', departement: '38' };

type Row = [string, Actor | null, Action, Resource | undefined, boolean];

const table: Row[] = [
  // platform-wide actions: administrators only
  ['admin manages accounts', admin, 'accounts.manage', undefined, true],
  ['regional staff does not manage accounts', staffRegion, 'accounts.manage', undefined, false],
  ['regional staff does not read the audit journal', staffRegion, 'audit.read', undefined, false],
  ['regional staff does not manage sources', staffRegion, 'sources.manage', undefined, false],
  ['a manager does not manage accounts', manager, 'accounts.manage', undefined, false],
  // back-office access: anyone with a role, nobody without
  ['a manager enters the back office', manager, 'backoffice.access', undefined, true],
  ['a reviewer enters the back office', reviewer, 'backoffice.access', undefined, true],
  ['no role, no back office', nobody, 'backoffice.access', undefined, false],
  ['anonymous, no back office', null, 'backoffice.access', undefined, false],
  // editing places
  ['admin edits any place', admin, 'places.edit', P4, true],
  ['staff of the région edits a place of a département of the région', staffRegion, 'places.edit', P3, true],
  ['staff of the région does not edit a place of another région', staffRegion, 'places.edit', P4, false],
  ['staff of the département edits a place of the département', staffDep, 'places.edit', P2, true],
  ['staff of the département does not edit a place of another département of the région', staffDep, 'places.edit', P3, false],
  ['a manager edits the managed place', manager, 'places.edit', P1, true],
  ['a manager does not edit another place of the same département', manager, 'places.edit', P2, false],
  ['a manager of two places edits both', twoPlaces, 'places.edit', P3, true],
  ['a manager sees the history of the managed place', manager, 'places.history', P1, true],
  ['a reviewer does not edit places', reviewer, 'places.edit', P1, false],
  ['no role, no edit', nobody, 'places.edit', P1, false],
  // moderation, claims, reports, imports, duplicates: regional staff in scope, never managers
  ['a manager does not moderate the managed place', manager, 'places.moderate', P1, false],
  ['a manager does not review claims', manager, 'places.claims.review', P1, false],
  ['a manager does not import', manager, 'places.import', dep69, false],
  ['staff of the département moderates its places', staffDep, 'places.moderate', P1, true],
  ['staff of the département reviews reports of its places', staffDep, 'places.reports.review', P2, true],
  ['staff of the département does not review reports elsewhere', staffDep, 'places.reports.review', P3, false],
  ['staff of the région reviews duplicates of the région', staffRegion, 'places.duplicates.review', P3, true],
  ['staff of the région appoints managers of its places', staffRegion, 'places.managers.manage', P3, true],
  ['a manager does not appoint managers', manager, 'places.managers.manage', P1, false],
  // territory dashboards
  ['staff of the région opens the région dashboard', staffRegion, 'territory.dashboard', region84, true],
  ['staff of the région opens a département dashboard of the région', staffRegion, 'territory.dashboard', dep38, true],
  ['staff of the département opens its dashboard', staffDep, 'territory.dashboard', dep69, true],
  ['staff of the département does not open the région dashboard', staffDep, 'territory.dashboard', region84, false],
  ['staff of the département does not open another département dashboard', staffDep, 'territory.dashboard', dep38, false],
  ['a manager has no dashboard', manager, 'territory.dashboard', dep69, false],
  ['staff of the région imports into a département of the région', staffRegion, 'places.import', dep69, true],
  // roadmaps: regional staff edit their territory's plans; reviewers (elected officials, partners) read drafts
  ['staff of the région edits a plan of the région', staffRegion, 'roadmap.edit', region84, true],
  ['staff of the région edits a plan of a département of the région', staffRegion, 'roadmap.edit', dep38, true],
  ['staff of the département does not edit the région plan', staffDep, 'roadmap.edit', region84, false],
  ['staff of a région does not edit another région plan', staffRegion, 'roadmap.edit', { type: 'roadmap_plan', region: '28' }, false],
  ['a reviewer of the région reads its draft plans', reviewer, 'roadmap.drafts.read', region84, true],
  ['a reviewer does not edit plans', reviewer, 'roadmap.edit', region84, false],
  ['a reviewer does not read another région draft plans', reviewer, 'roadmap.drafts.read', { type: 'roadmap_plan', region: '28' }, false],
  ['a manager does not read draft plans', manager, 'roadmap.drafts.read', region84, false],
  // consultations: staff of the territory manage and moderate its processes; reviewers evaluate proposals; nobody else
  ['staff of the région manages a consultation of the région', staffRegion, 'consultation.manage', { type: 'consultation_process', region: '84' }, true],
  ['staff of the région does not manage another région consultation', staffRegion, 'consultation.manage', { type: 'consultation_process', region: '28' }, false],
  ['staff of the département moderates its département consultation', staffDep, 'consultation.moderate', { type: 'consultation_process', region: '84', departement: '69' }, true],
  ['staff of the département does not moderate the région consultation', staffDep, 'consultation.moderate', { type: 'consultation_process', region: '84' }, false],
  ['a reviewer evaluates proposals of the région', reviewer, 'consultation.evaluate', { type: 'consultation_process', region: '84' }, true],
  ['a reviewer does not moderate', reviewer, 'consultation.moderate', { type: 'consultation_process', region: '84' }, false],
  ['a reviewer does not answer proposals', reviewer, 'consultation.manage', { type: 'consultation_process', region: '84' }, false],
  ['a manager does not moderate consultations', manager, 'consultation.moderate', { type: 'consultation_process', region: '84' }, false],
  ['no role, no moderation', nobody, 'consultation.moderate', { type: 'consultation_process', region: '84' }, false],
  // mediation: mediators record wherever their role is scoped; staff read territory statistics in scope
  ['a mediator records activities', actor({ role: 'mediator', scopeKind: 'departement', scopeId: '69' }), 'mediation.record', undefined, true],
  ['a mediator scoped to a place records activities', actor({ role: 'mediator', scopeKind: 'place', scopeId: 'P1' }), 'mediation.record', undefined, true],
  ['a manager does not record mediation activities', manager, 'mediation.record', undefined, false],
  ['a reviewer does not record mediation activities', reviewer, 'mediation.record', undefined, false],
  ['no role, no mediation record', nobody, 'mediation.record', undefined, false],
  ['a mediator registers a person to a training session', actor({ role: 'mediator', scopeKind: 'region', scopeId: '84' }), 'training.register_others', undefined, true],
  ['a manager does not register people to training', manager, 'training.register_others', undefined, false],
  // calls for projects: staff manage and instruct the calls of their territory; reviewers review
  ['staff of the région manages a call of the région', staffRegion, 'calls.manage', { type: 'call', id: 'C1', region: '84' }, true],
  ['staff of the région does not manage a call of another région', staffRegion, 'calls.manage', { type: 'call', id: 'C2', region: '28' }, false],
  ['staff of a département does not manage a région-wide call', staffDep, 'calls.manage', { type: 'call', id: 'C1', region: '84' }, false],
  ['staff of the région instructs a call of the région', staffRegion, 'calls.instruct', { type: 'call', id: 'C1', region: '84' }, true],
  ['a reviewer reviews for a call of the région', reviewer, 'calls.review', { type: 'call', id: 'C1', region: '84' }, true],
  ['a reviewer does not review for another région', reviewer, 'calls.review', { type: 'call', id: 'C2', region: '28' }, false],
  ['a reviewer does not manage calls', reviewer, 'calls.manage', { type: 'call', id: 'C1', region: '84' }, false],
  ['a manager does not instruct calls', manager, 'calls.instruct', { type: 'call', id: 'C1', region: '84' }, false],
  ['a mediator does not read a territory’s mediation statistics', actor({ role: 'mediator', scopeKind: 'departement', scopeId: '69' }), 'mediation.stats.territory', dep69, false],
  ['staff of the région reads mediation statistics of a département of the région', staffRegion, 'mediation.stats.territory', dep38, true],
  ['staff of the département does not read the région’s mediation statistics', staffDep, 'mediation.stats.territory', region84, false],
  ['staff manages mediator teams', staffDep, 'mediation.teams.manage', undefined, true],
  ['a mediator does not manage teams', actor({ role: 'mediator', scopeKind: 'departement', scopeId: '69' }), 'mediation.teams.manage', undefined, false],
  ['staff manages the training catalogue', staffRegion, 'training.manage', undefined, true],
  ['a mediator does not manage the training catalogue', actor({ role: 'mediator', scopeKind: 'departement', scopeId: '69' }), 'training.manage', undefined, false],
  // mandates: helpers act (their structure is checked by the mandates module); staff habilitate structures of their territory
  ['a helper may act under mandates', actor({ role: 'helper', scopeKind: 'place', scopeId: 'P1' }), 'mandates.act', undefined, true],
  ['a mediator does not act under mandates', actor({ role: 'mediator', scopeKind: 'departement', scopeId: '69' }), 'mandates.act', undefined, false],
  ['a manager does not act under mandates', manager, 'mandates.act', undefined, false],
  ['staff of the département manages the helper structures of the département', staffDep, 'mandates.manage', { type: 'mandates.structure', id: 'S1', region: '84', departement: '69' }, true],
  ['staff of the département does not manage structures elsewhere', staffDep, 'mandates.manage', { type: 'mandates.structure', id: 'S2', region: '84', departement: '38' }, false],
  ['a helper does not manage structures', actor({ role: 'helper', scopeKind: 'place', scopeId: 'P1' }), 'mandates.manage', { type: 'mandates.structure', id: 'S1', region: '84', departement: '69' }, false],
  // partner services of the OIDC provider: the whole platform's (resource: the région the site covers); staff of a département or a helper: no
  ['staff of the région manages the partner services of its platform', staffRegion, 'mandates.partners.manage', { type: 'mandates.partners', id: 'all', region: '84' }, true],
  ['staff of another région does not', staffRegion, 'mandates.partners.manage', { type: 'mandates.partners', id: 'all', region: '28' }, false],
  ['staff of a département does not manage partner services', staffDep, 'mandates.partners.manage', { type: 'mandates.partners', id: 'all', region: '84' }, false],
  ['an admin manages partner services', admin, 'mandates.partners.manage', { type: 'mandates.partners', id: 'all' }, true],
  ['a helper does not manage partner services', actor({ role: 'helper', scopeKind: 'place', scopeId: 'P1' }), 'mandates.partners.manage', { type: 'mandates.partners', id: 'all', region: '84' }, false],
  // a place grant never matches a territory and vice versa
  ['a place grant does not cover a territory with the same code', actor({ role: 'place_manager', scopeKind: 'place', scopeId: '69' }), 'places.edit', dep69, false],
];

describe('can(): the one permission function', () => {
  for (const [name, who, action, resource, expected] of table) {
    test(`${expected ? 'allowed' : 'refused'}: ${name}`, () => assert.equal(can(who, action, resource), expected));
  }

  test('scopesFor lists where an action is allowed, for listings', () => {
    assert.deepEqual(scopesFor(twoPlaces, 'places.edit'), { platform: false, regions: [], departements: [], places: ['P1', 'P3'] });
    assert.deepEqual(scopesFor(staffDep, 'places.moderate'), { platform: false, regions: [], departements: ['69'], places: [] });
    assert.deepEqual(scopesFor(manager, 'places.moderate'), { platform: false, regions: [], departements: [], places: [] });
    assert.equal(scopesFor(admin, 'places.import').platform, true);
  });

  test('2FA is required for administrators and regional staff only', () => {
    assert.equal(requiresMfa(admin.grants), true);
    assert.equal(requiresMfa(staffDep.grants), true);
    assert.equal(requiresMfa(manager.grants), false);
    assert.equal(requiresMfa(reviewer.grants), false);
  });

  test('grants are validated with French messages naming the problem', () => {
    assert.equal(validateGrant('admin', 'platform', ''), null);
    assert.match(validateGrant('admin', 'region', '84')!, /ne peut pas porter/);
    assert.match(validateGrant('regional_staff', 'region', '8')!, /deux chiffres/);
    assert.equal(validateGrant('regional_staff', 'departement', '2A'), null);
    assert.equal(validateGrant('regional_staff', 'departement', '974'), null);
    assert.match(validateGrant('superuser', 'platform', '')!, /Rôle inconnu/);
  });
});

describe('sign-in rules', () => {
  test('progressive delay: none for the first two failures, then doubling, capped', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 8, 20].map((n) => progressiveDelay(n, 100)), [0, 0, 0, 100, 200, 400, 3200, 3200]);
  });

  test('return paths are local only', () => {
    assert.equal(safeReturnTo('/gestion/lieux?x=1'), '/gestion/lieux?x=1');
    for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example', 'javascript:alert(1)', '/a\nb', 42]) assert.equal(safeReturnTo(bad), null);
  });

  test('TOTP (RFC 6238): current step ± 1 accepted, a step is accepted once, malformed codes refused', () => {
    const secret = newTotpSecret();
    const now = Date.now();
    const step = checkTotp(secret, totpCode(secret, now), null, now);
    assert.ok(step !== null);
    assert.equal(checkTotp(secret, totpCode(secret, now), step, now), null, 'replay refused');
    assert.ok(checkTotp(secret, totpCode(secret, now + 30_000), step, now) !== null, 'next step accepted');
    assert.equal(checkTotp(secret, totpCode(secret, now - 90_000), null, now), null, 'too old');
    assert.equal(checkTotp(secret, 'abcdef', null, now), null);
  });

  test('RFC 6238 test vector (SHA-1, T = 59 s)', () => {
    // Secret "12345678901234567890" in base32; the RFC's 8-digit value is 94287082 → 6 digits 287082.
    assert.equal(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000), '287082');
  });

  test('recovery codes are stored keyed by SECRET_KEY and user: same code, different hashes', () => {
    const a = recoveryCodeHash('k1', 'user-a', 'ABCDE-FGHJK');
    assert.notEqual(a, recoveryCodeHash('k1', 'user-b', 'ABCDE-FGHJK'));
    assert.notEqual(a, recoveryCodeHash('k2', 'user-a', 'ABCDE-FGHJK'));
    assert.match(a, /^[0-9a-f]{64}$/);
  });
});

describe('password policy', () => {
  test('common passwords, keyboard walks and the site\'s own words are refused; passphrases pass', () => {
    for (const p of ['password1234', 'azertyuiopqs', '123456789012', 'motdepasse123', 'Maillage2024!!', 'soleil123456', 'qwertyuiop12']) {
      assert.match(passwordProblem(p) ?? '', /deviner|courants/, p);
    }
    // The person's own name or address as the base of the password.
    assert.ok(passwordProblem('dominique1990!', 'dominique@example.fr'));
    assert.ok(passwordProblem('Val-de-Maille 2026 !', undefined, ['Val-de-Maille']));
    for (const p of ['une phrase de passe assez longue', 'un tout nouveau mot de passe', 'j3 suis un Chat vert à Caen']) {
      assert.equal(passwordProblem(p, 'camille@example.fr', ['Maillage', 'Camille Martin']), null, p);
    }
  });
});
