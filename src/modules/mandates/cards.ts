/**
 * Physical TOTP cards (Aidants Connect's « cartes OTP »): regional staff import a structure's cards
 * in bulk (CSV: serial number, seed in base32), each seed encrypted under SECRET_KEY (never shown
 * back); the référent (or staff) associates a card of the stock to one of the structure's helpers,
 * proving they hold it with the code it shows (journalled « card associated »); the helper then
 * confirms it from their OWN session with a code of the card (journalled « card confirmed »), and
 * only from then on signs in with the card's code as their second factor (a provider registered
 * with accounts): a référent may add any account as a helper, so a card they hold must not become
 * another person's sign-in factor without that person. A code works once: the last accepted time
 * step is stored and older or equal steps are refused.
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { html, type Raw } from '../../platform/html/html.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { checkTotp, openSealedSecret, registerSecondFactor, requirePermission, requireSignedIn, sealSecret, signedInUser, type CurrentUser } from '../accounts/index.ts';
import { ValidationFailed, type FieldError } from './model.ts';
import { errorSummary, fieldError, fmt, formBody, frame, invalid, one, plural, send } from './pages.ts';
import * as service from './service.ts';

/** At most this many cards per import (one transaction). */
export const MAX_CARDS_PER_IMPORT = 10_000;
const SERIAL = /^[A-Za-z0-9-]{4,40}$/;
const BASE32 = /^[A-Z2-7]{16,128}$/;

export interface CardLine {
  line: number;
  serial: string;
  seed: string;
}

/**
 * Reads the CSV of an import: one card a line, `serial,seed` (or `;`), an optional header line,
 * blank lines ignored. Every error names its line; nothing is kept when there is one.
 */
export function parseCardsCsv(text: string): { cards: CardLine[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const cards: CardLine[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > MAX_CARDS_PER_IMPORT + 2) return { cards: [], errors: [{ field: 'csv', message: `Trop de lignes : ${MAX_CARDS_PER_IMPORT.toLocaleString('fr-FR')} cartes au plus par import.` }] };
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (errors.length >= 50) return;
    const err = (message: string) => errors.push({ field: 'csv', message: `Ligne ${line} : ${message}` });
    if (!raw.trim()) return;
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(raw)) return err('caractère de contrôle interdit.');
    const cells = raw.split(/[;,]/).map((c) => c.trim().replace(/^"(.*)"$/, '$1').trim());
    if (i === 0 && /^(serial|serie|série|numero|numéro|n°)/i.test(cells[0] ?? '')) return;
    if (cells.length !== 2) return err(`2 colonnes attendues (numéro de série, graine), ${cells.length} trouvées.`);
    const serial = cells[0]!;
    const seed = cells[1]!.replace(/\s/g, '').replace(/=+$/, '').toUpperCase();
    if (!SERIAL.test(serial)) return err('le numéro de série a 4 à 40 caractères (lettres, chiffres, traits d’union).');
    if (!BASE32.test(seed)) return err('la graine doit être en base32 (lettres A à Z, chiffres 2 à 7), de 16 à 128 caractères.');
    const key = serial.toUpperCase();
    const before = seen.get(key);
    if (before) return err(`le numéro de série ${serial} figure déjà ligne ${before}.`);
    seen.set(key, line);
    cards.push({ line, serial, seed });
  });
  if (!errors.length && !cards.length) errors.push({ field: 'csv', message: 'Aucune carte dans le fichier.' });
  return { cards, errors };
}

/** Imports cards into a structure's stock: all of them, or none (errors name their lines). */
export async function importCards(ctx: AppContext, actorId: string | null, structureId: string, text: string, now = new Date()): Promise<number> {
  if (text.length > 1_000_000) throw new ValidationFailed([{ field: 'csv', message: 'Le fichier est trop volumineux (1 Mo au plus).' }]);
  const { cards, errors } = parseCardsCsv(text);
  if (errors.length) throw new ValidationFailed(errors);
  const s = await service.getStructure(ctx.db, structureId);
  if (!s) throw new NotFoundError('Structure inconnue.');
  return ctx.db.transaction(async (tx) => {
    const existing = await tx.query<{ serial: string }>('SELECT serial FROM mandates.totp_card WHERE upper(serial) = ANY($1::text[])', [cards.map((c) => c.serial.toUpperCase())]);
    if (existing.rows.length) {
      const taken = new Set(existing.rows.map((r) => r.serial.toUpperCase()));
      throw new ValidationFailed(cards.filter((c) => taken.has(c.serial.toUpperCase())).slice(0, 50).map((c) => ({ field: 'csv', message: `Ligne ${c.line} : la carte ${c.serial} est déjà importée.` })));
    }
    try {
      await tx.query(
        `INSERT INTO mandates.totp_card (id, serial, seed_box, structure_id, imported_at, imported_by)
         SELECT id, serial, seed_box, $4, $5, $6 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(id, serial, seed_box)`,
        [cards.map(() => crypto.randomUUID()), cards.map((c) => c.serial), cards.map((c) => sealSecret(ctx.config, c.seed)), structureId, now.toISOString(), actorId],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new UserError('Une de ces cartes vient d’être importée par ailleurs : recommencez.', 409, 'csv');
      throw e;
    }
    await recordAudit(tx, { actorId, action: 'mandates.card.import', objectType: 'mandates.structure', objectId: structureId, after: { count: cards.length, serials: cards.slice(0, 100).map((c) => c.serial) } });
    return cards.length;
  });
}

export interface Card {
  serial: string;
  userId: string | null;
  associatedAt: string | null;
  confirmedAt: string | null;
}

export async function listCards(db: Queryable, structureId: string): Promise<Card[]> {
  const { rows } = await db.query<{ serial: string; user_id: string | null; associated_at: Date | string | null; confirmed_at: Date | string | null }>('SELECT serial, user_id, associated_at, confirmed_at FROM mandates.totp_card WHERE structure_id = $1 AND withdrawn_at IS NULL ORDER BY serial LIMIT 2000', [structureId]);
  const iso = (v: Date | string | null) => (v ? new Date(v).toISOString() : null);
  return rows.map((r) => ({ serial: r.serial, userId: r.user_id, associatedAt: iso(r.associated_at), confirmedAt: iso(r.confirmed_at) }));
}

/**
 * Associates a card of the structure's stock to one of its active helpers, who shows the code
 * the card displays now (proof of possession; that step is then used). One card per helper and
 * per card. Journalled (card.associated) and audited in the same transaction.
 */
export async function associateCard(ctx: AppContext, actor: { kind: 'staff' | 'helper'; id: string }, structureId: string, raw: { serial: unknown; userId: unknown; code: unknown }, now = new Date()): Promise<void> {
  const serial = typeof raw.serial === 'string' ? raw.serial.trim() : '';
  const userId = typeof raw.userId === 'string' ? raw.userId.trim() : '';
  const code = typeof raw.code === 'string' ? raw.code.replace(/\s/g, '') : '';
  if (!SERIAL.test(serial)) throw new UserError('Indiquez le numéro de série inscrit au dos de la carte.', 400, 'serial');
  if (!/^\d{6}$/.test(code)) throw new UserError('Saisissez les 6 chiffres affichés par la carte.', 400, 'code');
  await ctx.db.transaction(async (tx) => {
    const h = await tx.query<{ active: boolean }>('SELECT active FROM mandates.helper WHERE structure_id = $1 AND user_id = $2 FOR UPDATE', [structureId, userId]);
    if (!h.rows[0]?.active) throw new UserError('Choisissez un aidant actif de la structure.', 400, 'userId');
    const c = await tx.query<{ id: string; seed_box: string; user_id: string | null; withdrawn_at: unknown }>('SELECT id, seed_box, user_id, withdrawn_at FROM mandates.totp_card WHERE upper(serial) = upper($1) AND structure_id = $2 FOR UPDATE', [serial, structureId]);
    const card = c.rows[0];
    if (!card) throw new UserError('Aucune carte de ce numéro dans le stock de la structure.', 400, 'serial');
    if (card.withdrawn_at) throw new UserError('Cette carte a été retirée : elle ne peut plus servir.', 409, 'serial');
    if (card.user_id) throw new UserError('Cette carte est déjà associée à un aidant.', 409, 'serial');
    const other = await tx.query('SELECT 1 FROM mandates.totp_card WHERE user_id = $1', [userId]);
    if (other.rows.length) throw new UserError('Cet aidant a déjà une carte.', 409, 'userId');
    const seed = openSealedSecret(ctx.config, card.seed_box);
    if (seed === null) throw new UserError('La graine de cette carte ne peut pas être déchiffrée (clé SECRET_KEY changée) : prévenez l’administrateur.', 503, 'serial');
    const step = checkTotp(seed, code, null, now.getTime());
    if (step === null) throw new UserError('Ce code ne correspond pas à la carte : saisissez le code affiché maintenant.', 400, 'code');
    await tx.query('UPDATE mandates.totp_card SET user_id = $2, associated_at = $3, last_step = $4 WHERE id = $1', [card.id, userId, now.toISOString(), step]);
    await service.appendJournal(tx, { event: 'card.associated', structureId, actorKind: actor.kind, actorId: actor.id, detail: { serial, helper: userId }, at: now });
  });
}

/**
 * Withdraws a lost or broken card: never usable again (sign-in, association); its helper may be
 * given another one. Journalled (card.withdrawn). A withdrawn or unknown card: nothing written.
 */
export async function withdrawCard(ctx: AppContext, actor: { kind: 'staff' | 'helper'; id: string }, structureId: string, serialRaw: unknown, now = new Date()): Promise<void> {
  const serial = typeof serialRaw === 'string' ? serialRaw.trim() : '';
  if (!SERIAL.test(serial)) throw new UserError('Indiquez le numéro de série de la carte.', 400, 'serial');
  await ctx.db.transaction(async (tx) => {
    const r = await tx.query<{ user_id: string | null }>(
      'UPDATE mandates.totp_card c SET withdrawn_at = $3, user_id = NULL, associated_at = NULL, confirmed_at = NULL FROM mandates.totp_card o WHERE o.id = c.id AND upper(c.serial) = upper($1) AND c.structure_id = $2 AND c.withdrawn_at IS NULL RETURNING o.user_id',
      [serial, structureId, now.toISOString()],
    );
    if (!r.rows[0]) throw new UserError('Aucune carte en service de ce numéro dans la structure.', 400, 'serial');
    await service.appendJournal(tx, { event: 'card.withdrawn', structureId, actorKind: actor.kind, actorId: actor.id, detail: { serial, helper: r.rows[0].user_id }, at: now });
  });
}

/** The serial of the card associated to this account and not yet confirmed by them, or null. */
export async function pendingCard(db: Queryable, userId: string): Promise<string | null> {
  const { rows } = await db.query<{ serial: string }>('SELECT serial FROM mandates.totp_card WHERE user_id = $1 AND withdrawn_at IS NULL AND confirmed_at IS NULL', [userId]);
  return rows[0]?.serial ?? null;
}

/**
 * The helper confirms, from their own session, the card associated to their account, with a code it
 * shows now (a step after the association's): only then does the card become their second factor.
 * Journalled (card.confirmed). A wrong code, or no card waiting: nothing written.
 */
export async function confirmCard(ctx: AppContext, userId: string, codeRaw: unknown, now = new Date()): Promise<string> {
  const code = typeof codeRaw === 'string' ? codeRaw.replace(/\s/g, '') : '';
  if (!/^\d{6}$/.test(code)) throw new UserError('Saisissez les 6 chiffres affichés par la carte.', 400, 'code');
  return ctx.db.transaction(async (tx) => {
    const c = await tx.query<{ id: string; serial: string; seed_box: string; structure_id: string; last_step: string | number | null }>(
      'SELECT id, serial, seed_box, structure_id, last_step FROM mandates.totp_card WHERE user_id = $1 AND withdrawn_at IS NULL AND confirmed_at IS NULL FOR UPDATE', [userId]);
    const card = c.rows[0];
    if (!card) throw new UserError('Aucune carte n’attend votre confirmation.', 409, 'code');
    const seed = openSealedSecret(ctx.config, card.seed_box);
    if (seed === null) throw new UserError('La graine de cette carte ne peut pas être déchiffrée (clé SECRET_KEY changée) : prévenez l’administrateur.', 503, 'code');
    const step = checkTotp(seed, code, card.last_step === null ? null : Number(card.last_step), now.getTime());
    if (step === null) throw new UserError('Ce code ne correspond pas à la carte (ou a déjà servi) : saisissez le code qu’elle affiche maintenant.', 400, 'code');
    await tx.query('UPDATE mandates.totp_card SET confirmed_at = $2, last_step = $3 WHERE id = $1', [card.id, now.toISOString(), step]);
    await service.appendJournal(tx, { event: 'card.confirmed', structureId: card.structure_id, actorKind: 'helper', actorId: userId, detail: { serial: card.serial }, at: now });
    return card.serial;
  });
}

/** The card second factor: a helper with a card signs in with its code (each code once). */
export function registerCardFactor(ctx: AppContext): void {
  registerSecondFactor({
    name: 'mandates.card',
    async enrolled(q, userId) {
      return (await q.query('SELECT 1 FROM mandates.totp_card WHERE user_id = $1 AND withdrawn_at IS NULL AND confirmed_at IS NOT NULL', [userId])).rows.length > 0;
    },
    async verify(q, userId, code, now) {
      const { rows } = await q.query<{ id: string; seed_box: string; last_step: string | number | null }>('SELECT id, seed_box, last_step FROM mandates.totp_card WHERE user_id = $1 AND withdrawn_at IS NULL AND confirmed_at IS NOT NULL FOR UPDATE', [userId]);
      const card = rows[0];
      if (!card || !/^\d{6}$/.test(code)) return false;
      const seed = openSealedSecret(ctx.config, card.seed_box);
      if (seed === null) {
        ctx.log.error({ card: card.id }, 'mandates: a TOTP card seed cannot be decrypted with SECRET_KEY or SECRET_KEY_PREVIOUS');
        return false;
      }
      const step = checkTotp(seed, code, card.last_step === null ? null : Number(card.last_step), now.getTime());
      if (step === null) return false;
      await q.query('UPDATE mandates.totp_card SET last_step = $2 WHERE id = $1', [card.id, step]);
      return true;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Pages

/** The structure's cards and the association form (on the référent's and on staff's page). */
export async function cardsSection(ctx: AppContext, s: service.Structure, helpers: service.Helper[], csrf: string, action: string, errors: FieldError[]): Promise<Raw> {
  const cards = await listCards(ctx.db, s.id);
  const names = new Map(helpers.map((h) => [h.userId, h.displayName]));
  const free = cards.filter((c) => !c.userId);
  const withoutCard = helpers.filter((h) => h.active && !cards.some((c) => c.userId === h.userId));
  return html`<h2>Cartes TOTP</h2>
<p>${plural(cards.length, 'carte', 'cartes')} dans le stock de la structure, dont ${plural(free.length, 'libre', 'libres')}.</p>
${cards.some((c) => c.userId) ? html`<ul>${cards.filter((c) => c.userId).map((c) => html`<li>Carte ${c.serial} : ${names.get(c.userId!) ?? 'aidant retiré'}, associée le ${fmt(c.associatedAt!)}${c.confirmedAt ? '' : ' (à confirmer par l’aidant depuis son compte, page « Ma carte »)'} <form method="post" action="${action.replace(/associer$/, 'retirer')}" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="serial" value="${c.serial}"><button type="submit">Retirer cette carte (perdue ou hors d’usage)</button></form></li>`)}</ul>` : ''}
${free.length && withoutCard.length
    ? html`<h3>Associer une carte à un aidant</h3><p>L’aidant a la carte en main : saisissez le numéro inscrit au dos et le code qu’elle affiche. Il la confirme ensuite depuis son propre compte (page « Ma carte ») ; il se connecte alors avec son code en second facteur.</p>
<form method="post" action="${action}" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-card-user">Aidant</label>${fieldError(errors, 'userId')}<select id="f-card-user" name="userId">${withoutCard.map((h) => html`<option value="${h.userId}">${h.displayName}</option>`)}</select></div>
<div class="field"><label for="f-serial">Numéro de série de la carte</label>${fieldError(errors, 'serial')}<input type="text" id="f-serial" name="serial" maxlength="40" autocomplete="off"${invalid(errors, 'serial')}></div>
<div class="field"><label for="f-card-code">Code affiché par la carte</label>${fieldError(errors, 'code')}<input type="text" id="f-card-code" name="code" inputmode="numeric" maxlength="6" autocomplete="off"${invalid(errors, 'code')}></div>
<p><button type="submit">Associer la carte</button></p></form>`
    : ''}`;
}

/** A refusal shown on the form (field errors), or null for what is not the user's to fix (404, 5xx). */
export function formErrors(e: unknown, field: string): FieldError[] | null {
  if (e instanceof ValidationFailed) return e.errors;
  if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 404) return [{ field: e.field ?? field, message: e.message }];
  return null;
}
/** The status of a page showing a refusal: 422 for bad input, else the error's own. */
export const refusalStatus = (e: unknown) => (e instanceof ValidationFailed || (e instanceof UserError && e.statusCode === 400) ? 422 : e instanceof UserError ? e.statusCode : 500);
const failed = (e: unknown) => formErrors(e, 'csv');
const statusOf = refusalStatus;

export function registerCardPages(app: App, ctx: AppContext) {
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
  const structureOf = async (req: FastifyRequest) => {
    const s = await service.getStructure(ctx.db, idOf(req));
    return s ? { type: 'mandates.structure', id: s.id, region: s.region, departement: s.departement, commune: s.communeCode } : null;
  };
  const manage = { preHandler: requirePermission('mandates.manage', structureOf) };

  async function cardsPage(req: FastifyRequest, reply: FastifyReply, status: number, notice: Raw | '', errors: FieldError[], csv = '') {
    const user: CurrentUser = await signedInUser(req);
    const s = (await service.getStructure(ctx.db, idOf(req)))!;
    const helpers = await service.listHelpers(ctx.db, s.id);
    const csrf = reply.generateCsrf();
    const body = html`<h1>Cartes TOTP — ${s.name}</h1>${notice}${errorSummary(errors)}
<p><a href="/mandats/structures/${s.id}">Retour à la structure</a></p>
<h2>Importer des cartes</h2>
<p>Collez le fichier du fournisseur : une carte par ligne, « numéro de série,graine » (graine en base32). Les graines sont chiffrées et ne sont plus jamais affichées. Si une ligne est fausse, rien n’est importé.</p>
<form method="post" action="/mandats/structures/${s.id}/cartes" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-csv">Cartes (CSV)</label>${fieldError(errors, 'csv')}<textarea id="f-csv" name="csv" rows="10" cols="60"${invalid(errors, 'csv')}>${csv}</textarea></div>
<p><button type="submit">Importer</button></p></form>
${await cardsSection(ctx, s, helpers, csrf, `/mandats/structures/${s.id}/cartes/associer`, errors)}`;
    return send(reply, status, frame(ctx, `Cartes TOTP — ${s.name}`, body, user));
  }
  app.get('/mandats/structures/:id/cartes', manage, async (req, reply) => cardsPage(req, reply, 200, '', []));
  app.post('/mandats/structures/:id/cartes', { ...manage, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await signedInUser(req);
    const csv = one(formBody(req).csv);
    try {
      const n = await importCards(ctx, user.id, idOf(req), csv);
      return cardsPage(req, reply, 200, html`<p class="ok" role="status">${plural(n, 'carte importée', 'cartes importées')}.</p>`, []);
    } catch (e) {
      const errors = failed(e);
      if (errors) return cardsPage(req, reply, statusOf(e), '', errors, csv.length <= 100_000 ? csv : '');
      throw e;
    }
  });
  app.post('/mandats/structures/:id/cartes/retirer', { ...manage, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await signedInUser(req);
    try {
      await withdrawCard(ctx, { kind: 'staff', id: user.id }, idOf(req), formBody(req).serial);
      return cardsPage(req, reply, 200, html`<p class="ok" role="status">Carte retirée : elle ne peut plus servir.</p>`, []);
    } catch (e) {
      const errors = failed(e);
      if (errors) return cardsPage(req, reply, statusOf(e), '', errors);
      throw e;
    }
  });
  app.post('/mandats/structures/:id/cartes/associer', { ...manage, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await signedInUser(req);
    const v = formBody(req);
    try {
      await associateCard(ctx, { kind: 'staff', id: user.id }, idOf(req), { serial: v.serial, userId: v.userId, code: v.code });
      return cardsPage(req, reply, 200, html`<p class="ok" role="status">Carte associée.</p>`, []);
    } catch (e) {
      const errors = failed(e);
      if (errors) return cardsPage(req, reply, statusOf(e), '', errors);
      throw e;
    }
  });

  // The helper's own confirmation of the card associated to their account (their session, their code).
  async function myCardPage(req: FastifyRequest, reply: FastifyReply, status: number, notice: Raw | '', errors: FieldError[]) {
    const user: CurrentUser = await signedInUser(req);
    const serial = await pendingCard(ctx.db, user.id);
    const body = html`<h1>Ma carte TOTP</h1>${notice}${errorSummary(errors)}
${serial
    ? html`<p>La carte n° ${serial} a été associée à votre compte par le référent de votre structure. Si vous l’avez en main, saisissez le code qu’elle affiche : elle deviendra votre second facteur de connexion (son code vous sera demandé à chaque connexion). Si vous ne l’avez pas, ne faites rien et prévenez votre référent.</p>
<form method="post" action="/mandats/ma-carte" class="mdt-form"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<div class="field"><label for="f-code">Code affiché par la carte</label>${fieldError(errors, 'code')}<input type="text" id="f-code" name="code" inputmode="numeric" maxlength="6" autocomplete="off"${invalid(errors, 'code')}></div>
<p><button type="submit">Confirmer ma carte</button></p></form>`
    : notice ? '' : html`<p>Aucune carte n’attend votre confirmation.</p>`}`;
    return send(reply, status, frame(ctx, 'Ma carte TOTP', body, user));
  }
  app.get('/mandats/ma-carte', { preHandler: requireSignedIn }, async (req, reply) => myCardPage(req, reply, 200, '', []));
  app.post('/mandats/ma-carte', { preHandler: requireSignedIn, preValidation: app.csrfProtection, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } }, async (req, reply) => {
    const user = await signedInUser(req);
    try {
      const serial = await confirmCard(ctx, user.id, formBody(req).code);
      return myCardPage(req, reply, 200, html`<p class="ok" role="status">Carte n° ${serial} confirmée : son code vous sera demandé à chaque connexion.</p>`, []);
    } catch (e) {
      const errors = formErrors(e, 'code');
      if (errors) return myCardPage(req, reply, statusOf(e), '', errors);
      throw e;
    }
  });
}
