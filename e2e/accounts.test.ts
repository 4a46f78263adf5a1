/**
 * Accounts in a real browser (playwright-core + Debian's Chromium): the journeys people rely on
 * (activate an invitation, set up 2FA with an authenticator, sign in with a code, manage sessions,
 * sign out; an administrator grants a role) and axe-core on every accounts page, in its normal
 * state and with form errors shown. Skipped when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { axeViolations, formatViolations } from './support/axe.ts';
import { launchBrowser, newContext, screenshot, skipReason } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';
import { accountsTesting, readOutbox } from '../src/modules/accounts/index.ts';
import { totpCode } from '../src/modules/accounts/totp.ts';

const { makeUser, depsOf, PASSWORD, nextTotp } = accountsTesting;

let server: TestServer;
let browser: Browser;

async function expectAccessible(page: Page, what: string) {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${what}: axe-core violations\n${formatViolations(v)}`);
  // axe-core no longer reports duplicate ids, yet a label then points at the wrong field.
  const duplicates = await page.evaluate(() => {
    const seen = new Set<string>();
    const dup: string[] = [];
    for (const el of document.querySelectorAll('[id]')) (seen.has(el.id) ? dup.push(el.id) : seen.add(el.id));
    return dup;
  });
  assert.deepEqual(duplicates, [], `${what}: duplicate ids`);
}

/** Page errors, except the browser's note that a page came with an error status (forms answer 400 on purpose). */
const realErrors = (errors: string[]) => errors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));

async function lastLink(email: string, prefix: string): Promise<string> {
  for (const m of await readOutbox(server.db, email)) {
    const match = new RegExp(`https?://\\S+(${prefix}\\S+)`).exec(m.body);
    if (match) return server.url + match[1]!;
  }
  throw new Error(`no ${prefix} link for ${email}`);
}

describe('accounts in a browser', { skip: skipReason }, () => {
  before(async () => {
    server = await startServer({ places: [], config: { signinDelayMs: 1 } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('regional staff: invitation, password, mandatory 2FA with the QR code, recovery codes, sign-out, sign-in with a code', async () => {
    const deps = depsOf(server.app);
    const { inviteUser } = await import('../src/modules/accounts/service.ts');
    await inviteUser(deps, null, { email: 'claire@exemple.fr', displayName: 'Claire', grant: { role: 'regional_staff', scopeKind: 'departement', scopeId: '27' } });
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();

    await page.goto(await lastLink('claire@exemple.fr', '/compte/invitation/'));
    await expectAccessible(page, 'invitation');
    await page.getByLabel('Mot de passe').fill('court');
    await page.getByRole('button', { name: 'Activer mon compte' }).click();
    await page.getByText('Il y a un problème').waitFor();
    assert.match(await page.title(), /^Erreur : /);
    await expectAccessible(page, 'invitation with an error');
    // The error summary links to the field.
    await page.getByRole('link', { name: /au moins 12 caractères/ }).click();
    assert.equal(await page.evaluate(() => location.hash), '#f-password');
    await page.getByLabel('Mot de passe').fill(PASSWORD);
    await page.getByRole('button', { name: 'Activer mon compte' }).click();

    // Staff must set up 2FA before anything else.
    await page.waitForURL(/\/compte\/2fa/);
    await page.getByText('Votre rôle impose la double authentification').waitFor();
    await expectAccessible(page, '2FA setup');
    await screenshot(page, 'accounts-2fa-setup');
    assert.equal(await page.locator('.qr svg[role="img"]').count(), 1);
    const secret = (await page.locator('.secret').textContent())!.replace(/\s/g, '');
    // The QR code is drawn by our own encoder: a real decoder must read the otpauth:// URI back
    // (checked where Debian's zbar-tools is installed).
    if (fs.existsSync('/usr/bin/zbarimg')) {
      const shot = await screenshot(page, 'accounts-2fa-qr');
      const decoded = spawnSync('/usr/bin/zbarimg', ['-q', '--raw', shot], { encoding: 'utf8' }).stdout.trim();
      assert.equal(decoded, `otpauth://totp/Maillage:claire%40exemple.fr?issuer=Maillage&secret=${secret}&algorithm=SHA1&digits=6&period=30`);
    }
    await page.getByLabel('Code à 6 chiffres').fill('000000' === totpCode(secret) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Activer' }).click();
    await page.getByText('Ce code ne correspond pas').first().waitFor();
    await expectAccessible(page, '2FA setup with an error');
    await page.getByLabel('Code à 6 chiffres').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Activer' }).click();
    await page.getByRole('heading', { name: 'Double authentification activée' }).waitFor();
    assert.equal(await page.locator('ul.codes li').count(), 10);
    await expectAccessible(page, 'recovery codes');
    await page.getByRole('link', { name: 'Continuer' }).click();

    // The account page.
    await page.waitForURL(/\/compte$/);
    await expectAccessible(page, 'account page');
    await screenshot(page, 'accounts-account');
    await page.getByLabel('Mot de passe actuel').fill('pas le bon');
    await page.getByLabel('Nouveau mot de passe').fill('un autre mot de passe long');
    await page.getByRole('button', { name: 'Changer le mot de passe' }).click();
    await page.getByText('Le mot de passe actuel est incorrect').first().waitFor();
    await expectAccessible(page, 'account page with an error');
    await page.getByLabel('Mot de passe (pour générer de nouveaux codes de secours)').fill(PASSWORD);
    await page.getByRole('button', { name: 'Générer de nouveaux codes de secours' }).click();
    await page.getByRole('heading', { name: 'Nouveaux codes de secours' }).waitFor();
    assert.equal(await page.locator('ul.codes li').count(), 10);
    await expectAccessible(page, 'new recovery codes');
    await page.getByRole('link', { name: 'Retour à mon compte' }).click();

    // The back-office home.
    await page.getByRole('link', { name: 'Espace de gestion' }).click();
    await page.waitForURL(/\/gestion$/);
    await expectAccessible(page, 'back-office home');
    // Refused page (no accounts.manage).
    await page.goto(server.url + '/admin/utilisateurs');
    await page.getByRole('heading', { name: 'Accès refusé' }).waitFor();
    await expectAccessible(page, 'access refused');

    // Sign out from the account bar, then sign in again: password, then the code.
    await page.getByRole('button', { name: 'Se déconnecter' }).first().click();
    await page.getByRole('heading', { name: 'Vous êtes déconnecté' }).waitFor();
    await expectAccessible(page, 'signed out');
    await page.goto(server.url + '/gestion');
    await page.waitForURL(/\/compte\/connexion\?retour=%2Fgestion/);
    await expectAccessible(page, 'sign-in');
    await page.getByLabel('Adresse e-mail').fill('claire@exemple.fr');
    await page.getByLabel('Mot de passe').fill('pas le bon mot de passe');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByText('Adresse e-mail ou mot de passe incorrect').first().waitFor();
    await expectAccessible(page, 'sign-in with an error');
    await page.getByLabel('Mot de passe').fill(PASSWORD);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.waitForURL(/\/compte\/connexion\/code/);
    await expectAccessible(page, 'code step');
    await page.getByLabel('Code').fill('999999' === nextTotp(secret) ? '888888' : '999999');
    await page.getByRole('button', { name: 'Vérifier' }).click();
    await page.getByText('Ce code n’est pas valable').first().waitFor();
    await expectAccessible(page, 'code step with an error');
    await page.getByLabel('Code').fill(nextTotp(secret));
    await page.getByRole('button', { name: 'Vérifier' }).click();
    await page.waitForURL(/\/gestion$/);
    assert.deepEqual(realErrors(errors), []);
    await context.close();
  });

  it('e-mailed links: forgotten password, magic link, expired link, change of address — every page accessible', async () => {
    const deps = depsOf(server.app);
    await makeUser(deps, 'lien@exemple.fr', [], 'Lou');
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/compte/connexion');
    await page.getByRole('link', { name: 'Mot de passe oublié ?' }).click();
    await expectAccessible(page, 'forgotten password');
    await page.getByRole('button', { name: 'Recevoir un lien' }).click();
    await page.getByText('Saisissez votre adresse e-mail').first().waitFor();
    await expectAccessible(page, 'forgotten password with an error');
    await page.getByLabel('Adresse e-mail').fill('lien@exemple.fr');
    await page.getByRole('button', { name: 'Recevoir un lien' }).click();
    await page.getByText('Si un compte actif existe pour cette adresse').waitFor();
    await expectAccessible(page, 'forgotten password sent');
    await page.goto(await lastLink('lien@exemple.fr', '/compte/reinitialiser/'));
    await expectAccessible(page, 'new password');
    await page.getByLabel('Nouveau mot de passe').fill('une nouvelle phrase de passe');
    await page.getByRole('button', { name: 'Enregistrer le mot de passe' }).click();
    await page.getByText('Votre mot de passe est enregistré').waitFor();
    await page.goto(await lastLink('lien@exemple.fr', '/compte/reinitialiser/'));
    await page.getByRole('heading', { name: 'Ce lien n’est plus valable' }).waitFor();
    await expectAccessible(page, 'expired link');

    await page.goto(server.url + '/compte/connexion/lien');
    await expectAccessible(page, 'magic link request');
    await page.getByLabel('Adresse e-mail').fill('lien@exemple.fr');
    await page.getByRole('button', { name: 'Recevoir le lien' }).click();
    await page.getByText('Si un compte actif existe pour cette adresse').waitFor();
    await page.goto(await lastLink('lien@exemple.fr', '/compte/lien/'));
    await expectAccessible(page, 'magic link confirmation');
    await page.getByRole('button', { name: 'Me connecter' }).click();
    await page.waitForURL(/\/compte$/);

    // Change of address: confirmation page; sessions; deletion request; data export link.
    await page.getByLabel('Adresse e-mail').fill('lou.nouvelle@exemple.fr');
    await page.getByRole('button', { name: 'Enregistrer le profil' }).click();
    await page.getByText('Ouvrez le lien envoyé à la nouvelle adresse').waitFor();
    await expectAccessible(page, 'account page after a profile change');
    await page.goto(await lastLink('lou.nouvelle@exemple.fr', '/compte/verifier/'));
    await expectAccessible(page, 'address confirmation');
    await page.getByRole('button', { name: 'Confirmer cette adresse' }).click();
    await page.getByRole('heading', { name: 'Adresse confirmée' }).waitFor();
    await expectAccessible(page, 'address confirmed');
    await page.goto(server.url + '/compte');
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Télécharger mes données (JSON)' }).click();
    assert.equal((await download).suggestedFilename(), 'mes-donnees.json');
    await page.getByLabel(/Demander la suppression de mon compte/).fill('Je change de structure');
    await page.getByRole('button', { name: 'Demander la suppression' }).click();
    await page.getByText('Votre demande de suppression est enregistrée').waitFor();
    await expectAccessible(page, 'account page after a deletion request');
    await page.goto(server.url + '/compte/outbox');
    await expectAccessible(page, 'development outbox');
    await page.goto(server.url + '/compte');
    await page.getByRole('button', { name: 'Se déconnecter partout, y compris ici' }).click();
    await page.getByRole('heading', { name: 'Vous êtes déconnecté partout' }).waitFor();
    await expectAccessible(page, 'signed out everywhere');
    await page.goto(server.url + '/compte');
    await page.waitForURL(/\/compte\/connexion/);
    assert.deepEqual(realErrors(errors), []);
    await context.close();
  });

  it('administrator: users, invitation with a scoped role, role change, audit journal with verification', async () => {
    const deps = depsOf(server.app);
    const admin = await makeUser(deps, 'admin-e2e@exemple.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Alex Admin');
    const { context, errors } = await newContext(browser);
    const page = await context.newPage();
    await page.goto(server.url + '/compte/connexion?retour=/admin/utilisateurs');
    await page.getByLabel('Adresse e-mail').fill('admin-e2e@exemple.fr');
    await page.getByLabel('Mot de passe').fill(PASSWORD);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.waitForURL(/\/compte\/connexion\/code/);
    await page.getByLabel('Code').fill(nextTotp(admin.totpSecret!));
    await page.getByRole('button', { name: 'Vérifier' }).click();
    await page.waitForURL(/\/admin\/utilisateurs$/);
    await expectAccessible(page, 'users');
    await page.getByRole('link', { name: 'Inviter une personne' }).click();
    await expectAccessible(page, 'invite form');
    await page.getByLabel('Adresse e-mail').fill('gestionnaire@exemple.fr');
    await page.getByLabel('Nom').fill('Gaby Gestion');
    await page.getByLabel('Rôle', { exact: true }).selectOption('regional_staff');
    await page.getByLabel('Périmètre', { exact: true }).selectOption('departement');
    await page.getByLabel('Code du périmètre').fill('6');
    await page.getByRole('button', { name: 'Envoyer l’invitation' }).click();
    await page.getByText('Le code de département a deux chiffres').first().waitFor();
    await expectAccessible(page, 'invite form with an error');
    await page.getByLabel('Code du périmètre').fill('69');
    await page.getByRole('button', { name: 'Envoyer l’invitation' }).click();
    await page.getByText('Invitation envoyée.').waitFor();
    await expectAccessible(page, 'user page');
    await screenshot(page, 'accounts-admin-user');
    await page.getByLabel('Rôle', { exact: true }).selectOption('place_manager');
    await page.getByLabel('Périmètre', { exact: true }).selectOption('place');
    await page.getByLabel('Code du périmètre').fill('');
    await page.getByRole('button', { name: 'Attribuer' }).click();
    await page.getByText('L’identifiant du lieu est invalide').first().waitFor();
    await expectAccessible(page, 'user page with an error');
    await page.getByRole('button', { name: /^Retirer/ }).first().click();
    await page.getByText('Rôle retiré.').waitFor();
    await page.getByRole('link', { name: 'Journal d’audit' }).click();
    await expectAccessible(page, 'audit journal');
    await page.getByRole('button', { name: 'Vérifier l’intégrité de la chaîne' }).click();
    await page.getByText(/Chaîne intègre : \d+ entrées? vérifiées?/).waitFor();
    await expectAccessible(page, 'audit journal verified');
    // The journal in words: who did what to which object, the object linked, no codes.
    const revoked = page.locator('ol.journal li', { hasText: /Alex Admin a retiré le rôle « Équipe régionale » \(département 69\) au compte de Gaby Gestion — \d{1,2} \S+ \d{4} à \d{2}:\d{2}/ });
    assert.equal(await revoked.count(), 1);
    assert.equal(await revoked.getByRole('link', { name: 'Gaby Gestion' }).count(), 1);
    assert.equal(await page.getByText('accounts.role.revoke').count(), 0);
    await page.getByLabel('Module').selectOption({ label: 'Comptes et accès' });
    await page.getByLabel('Personne').fill('Alex');
    await page.getByRole('button', { name: 'Filtrer' }).click();
    await page.waitForURL(/module=accounts/);
    assert.ok((await page.locator('ol.journal li').count()) >= 1);
    await expectAccessible(page, 'audit journal filtered');
    await screenshot(page, 'accounts-audit-journal');
    await page.setViewportSize({ width: 390, height: 844 });
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), true, 'no sideways scrolling at 390 px');
    await expectAccessible(page, 'audit journal on a phone');
    assert.deepEqual(realErrors(errors), []);
    await context.close();
  });
});
