/**
 * The mandates pages (French, server-rendered, usable without JavaScript):
 * - helpers: their structure's mandates, creating one (form → the mandate in plain words → the
 *   person's consent → the attestation to print, with the revocation code shown once), a
 *   mandate's page (acts, revocation, its journal), the attestation;
 * - the person (no account): the public verification page and revocation with the code;
 * - regional staff: structures of their territory, helpers and their training, journal, statistics.
 */
import { signedInUser } from '../accounts/index.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import { layout } from '../../platform/html/layout.ts';
import { html, raw, type Raw } from '../../platform/html/html.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../platform/http/errors.ts';
import { can, currentUser, requirePermission, requireSignedIn, scopesFor, type CurrentUser, type Resource } from '../accounts/index.ts';
import { inviteByEmail, invitationsSection } from './invitations.ts';
import { ADMIN_PROCEDURES, DURATIONS, EVENTS, REFERENCE, STATUS_LABELS, ValidationFailed, expiresAt, isProcedure, parseMandateInput, parseRenewalInput, plainWords, type FieldError } from './model.ts';
import { getPlace } from '../places/index.ts';
import * as service from './service.ts';
import { identitySettings, personMandatesPage, personSignInForm, registerIdentity, type PageKit } from './identity.ts';
import { PRINT_SCRIPT, attestationPdf, qrSvg, registerVerificationPage, verifyUrl } from './attestation.ts';
import { translatedVersions } from './translations.ts';
import { smsConsentSection } from './sms.ts';
import { remoteConsentSection } from './remote.ts';
import { byDepartement, byStructure, type StructureRow } from './breakdown.ts';

/** Statistics by département and by structure (counts, no identity). */
function breakdownTables(rows: StructureRow[]): Raw {
  return html`<h2>Par département</h2><table class="data"><thead><tr><th scope="col">Département</th><th scope="col">Structures</th><th scope="col">Mandats en cours</th><th scope="col">Mandats créés</th><th scope="col">Aidants formés actifs</th></tr></thead><tbody>
${byDepartement(rows).map((d) => html`<tr><td>${d.departement}</td><td>${d.structures}</td><td>${d.active}</td><td>${d.total}</td><td>${d.trainedHelpers}</td></tr>`)}</tbody></table>
<h2>Par structure</h2><table class="data"><thead><tr><th scope="col">Structure</th><th scope="col">Département</th><th scope="col">Mandats en cours</th><th scope="col">Mandats créés</th><th scope="col">Aidants formés actifs</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td><a href="/mandats/structures/${r.id}">${r.name}</a></td><td>${r.departement ?? '—'}</td><td>${r.active}</td><td>${r.total}</td><td>${r.trainedHelpers}</td></tr>`)}</tbody></table>`;
}

export const STYLE = raw(`<style>
.mdt-form{max-width:42rem}.mdt-form .field{margin:0 0 1rem}.mdt-form label,.mdt-form legend{font-weight:600}
.mdt-form .hint{display:block;color:#555;font-weight:400}.mdt-form .err{display:block;color:#b00020;font-weight:600}
.mdt-form input[type=text],.mdt-form input[type=date],.mdt-form input[type=email],.mdt-form select{display:block;width:100%;max-width:30rem;padding:.5rem;font:inherit;box-sizing:border-box}
.mdt-form fieldset{border:1px solid #bbb;margin:0 0 1rem;padding:.5rem .75rem}.mdt-form fieldset label{font-weight:400;display:block;padding:.25rem 0}
.mdt-form [aria-invalid=true]{border:2px solid #b00020}
button{font:inherit;padding:.5rem 1rem;min-height:2.5rem}
.err-summary{border:3px solid #b00020;padding:.75rem 1rem;margin:1rem 0}
.ok{border-left:6px solid #1f6f3b;padding:.5rem 1rem;margin:1rem 0;background:#f2f8f4}
.warn{border-left:6px solid #8a5a00;padding:.5rem 1rem;margin:1rem 0;background:#fff8e6}
.plain{font-size:1.15em;line-height:1.6;border:2px solid #1f5f8b;padding:.75rem 1.25rem;max-width:44rem}
table.data{border-collapse:collapse;width:100%}table.data th,table.data td{border-bottom:1px solid #ccc;padding:.35rem;text-align:left;vertical-align:top}
.inline{display:inline}.code{font-family:monospace;font-size:1.3em;letter-spacing:.1em}.hash{font-family:monospace;word-break:break-all}
@media print{header,nav,footer,.no-print{display:none!important}}
</style>`);

export function frame(ctx: AppContext, title: string, body: Raw, user: CurrentUser | null): string {
  const nav = user
    ? html`<nav class="no-print" aria-label="Mandats"><ul class="inline-list" style="display:flex;gap:1rem;list-style:none;padding:0;flex-wrap:wrap">
${can(user, 'mandates.act') ? html`<li><a href="/mandats">Mes mandats</a></li><li><a href="/mandats/nouveau">Nouveau mandat</a></li>` : ''}
${scopesFor(user, 'mandates.manage').platform || scopesFor(user, 'mandates.manage').regions.length || scopesFor(user, 'mandates.manage').departements.length ? html`<li><a href="/mandats/structures">Structures d’aidants</a></li><li><a href="/mandats/statistiques">Statistiques</a></li>` : ''}
${scopesFor(user, 'mandates.partners.manage').platform || scopesFor(user, 'mandates.partners.manage').regions.length ? html`<li><a href="/mandats/partenaires">Services partenaires</a></li>` : ''}
<li><a href="/mandats/habilitation">Habilitation</a></li><li><a href="/compte">Mon compte</a></li></ul></nav>`
    : '';
  return layout({ title, theme: ctx.config.theme, head: STYLE, body: html`${nav}${body}`, noindex: true });
}

export function send(reply: FastifyReply, status: number, body: string) {
  return reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

const me = signedInUser;

/** Form fields as strings or string arrays, without prototype keys. */
export function formBody(req: FastifyRequest): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  const b = req.body;
  if (!b || typeof b !== 'object') return out;
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[k] = v;
  }
  return out;
}
export const one = (v: unknown) => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '');

export const fmt = (isoDate: string) => new Date(isoDate).toLocaleString('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' });
export const plural = (n: number, oneWord: string, many: string) => `${n.toLocaleString('fr-FR')} ${n > 1 ? many : oneWord}`;
export const procLabel = (p: string) => (isProcedure(p) ? ADMIN_PROCEDURES[p] : p);

export function errorSummary(errors: FieldError[]): Raw | '' {
  if (!errors.length) return '';
  return html`<div class="err-summary" role="alert"><h2>${errors.length > 1 ? `Il y a ${errors.length} problèmes` : 'Il y a un problème'}</h2><ul>${errors.map((e) => html`<li><a href="#f-${e.field}">${e.message}</a></li>`)}</ul></div>`;
}
export const fieldError = (errors: FieldError[], f: string) => {
  const e = errors.find((x) => x.field === f);
  return e ? html`<span class="err" id="e-${f}">${e.message}</span>` : '';
};
export const invalid = (errors: FieldError[], f: string) => (errors.some((x) => x.field === f) ? raw(` aria-invalid="true" aria-describedby="e-${f}"`) : raw(''));

/** The helper's memberships where they may act (active, trained), or a 403. */
async function actingStructures(ctx: AppContext, user: CurrentUser) {
  const all = await service.helperMemberships(ctx.db, user.id);
  return { all, trained: all.filter((h) => h.trainedOn) };
}

/** The mandate, if the user is an active helper of its structure (otherwise 404: nothing revealed). */
async function mandateFor(ctx: AppContext, user: CurrentUser, id: string) {
  const m = await service.getMandate(ctx.db, id);
  if (!m) throw new NotFoundError('Ce mandat n’existe pas.');
  // Only trained helpers of the structure see a mandate (and the person's identity).
  const { trained } = await actingStructures(ctx, user);
  if (!trained.some((h) => h.structureId === m.structureId)) throw new NotFoundError('Ce mandat n’existe pas.');
  return m;
}

function mandateForm(csrf: string, structures: { structureId: string; structureName: string }[], v: Record<string, unknown>, errors: FieldError[], identity: { label: string } | null = null, documentFallback = true): Raw {
  const checked = (name: string, value: string) => {
    const x = v[name];
    return (Array.isArray(x) ? x.includes(value) : x === value) ? raw(' checked') : raw('');
  };
  // The person's identity: through the OpenID Connect provider (FranceConnect); the identity document seen by the helper only as the fallback the configuration allows.
  const documentFields = html`<div class="field"><label for="f-givenName">Prénom de la personne</label>${fieldError(errors, 'givenName')}<input type="text" id="f-givenName" name="givenName" maxlength="100" autocomplete="off" value="${one(v.givenName)}"${invalid(errors, 'givenName')}></div>
<div class="field"><label for="f-familyName">Nom de la personne</label>${fieldError(errors, 'familyName')}<input type="text" id="f-familyName" name="familyName" maxlength="100" autocomplete="off" value="${one(v.familyName)}"${invalid(errors, 'familyName')}></div>
<div class="field"><label for="f-birthDate">Date de naissance</label>${fieldError(errors, 'birthDate')}<input type="date" id="f-birthDate" name="birthDate" value="${one(v.birthDate)}"${invalid(errors, 'birthDate')}></div>
<div class="field" id="f-identityChecked">${fieldError(errors, 'identityChecked')}<label><input type="checkbox" name="identityChecked" value="oui"${checked('identityChecked', 'oui')}${invalid(errors, 'identityChecked')}> J’ai vérifié l’identité de la personne sur une pièce d’identité en cours de validité (elle n’est pas copiée ni conservée).</label></div>`;
  return html`<form method="post" action="/mandats/nouveau" class="mdt-form" novalidate>
<input type="hidden" name="_csrf" value="${csrf}">
${structures.length > 1
    ? html`<div class="field"><label for="f-structure">Structure</label><select id="f-structure" name="structure">${structures.map((s) => html`<option value="${s.structureId}"${one(v.structure) === s.structureId ? raw(' selected') : ''}>${s.structureName}</option>`)}</select></div>`
    : html`<input type="hidden" name="structure" value="${structures[0]!.structureId}">`}
<fieldset id="f-procedures"><legend>Démarches confiées</legend>${fieldError(errors, 'procedures')}
${Object.entries(ADMIN_PROCEDURES).map(([k, label]) => html`<label><input type="checkbox" name="procedures" value="${k}"${checked('procedures', k)}> ${label}</label>`)}</fieldset>
<fieldset id="f-duration"><legend>Durée du mandat</legend>${fieldError(errors, 'duration')}
${Object.entries(DURATIONS).map(([k, d]) => html`<label><input type="radio" name="duration" value="${k}"${checked('duration', k)}> ${d.label}</label>`)}</fieldset>
${identity ? html`<h2>Identité de la personne</h2><p>La personne s’identifie elle-même avec ${identity.label} ; son identité vérifiée est reprise sur le mandat, puis elle lit le mandat et donne son accord.</p>
<p><button type="submit" formaction="/mandats/nouveau/identite">Vérifier l’identité avec ${identity.label}</button></p>
${remoteConsentSection(identity)}` : ''}
${documentFallback
    ? html`<fieldset id="f-document"><legend>${identity ? 'Solution de secours : identité vérifiée sur une pièce d’identité (si la personne ne peut pas utiliser FranceConnect)' : 'Identité de la personne (pièce d’identité)'}</legend>
${documentFields}
<p><button type="submit" name="step" value="apercu">Lire le mandat avec la personne</button></p></fieldset>`
    : ''}</form>`;
}

function hiddenFields(v: Record<string, unknown>): Raw {
  const out: Raw[] = [];
  for (const k of ['structure', 'givenName', 'familyName', 'birthDate', 'identityChecked', 'duration']) out.push(html`<input type="hidden" name="${k}" value="${one(v[k])}">`);
  const procs = Array.isArray(v.procedures) ? v.procedures : typeof v.procedures === 'string' ? [v.procedures] : [];
  for (const p of procs) out.push(html`<input type="hidden" name="procedures" value="${p}">`);
  return html`${out}`;
}

function attestation(ctx: AppContext, m: service.Mandate, structure: service.Structure, helperName: string, code: string | null, pdf: Buffer | null = null): Raw {
  const verify = verifyUrl(ctx.config.publicUrl, m);
  return html`<article aria-labelledby="att-title">
<h1 id="att-title">Attestation de mandat n° ${m.reference}</h1>
<p>Mandat donné le ${fmt(m.createdAt)} à la structure <strong>${structure.name}</strong>${structure.siret ? html` (SIRET ${structure.siret})` : ''}, recueilli par ${helperName}.</p>
${m.person ? html`<p>Personne représentée : <strong>${m.person.givenName} ${m.person.familyName}</strong>, née le ${new Date(`${m.person.birthDate}T12:00:00Z`).toLocaleDateString('fr-FR', { dateStyle: 'long' })}.</p>` : html`<p>L’identité de la personne a été supprimée à la fin de la durée de conservation.</p>`}
<div class="plain">${plainWords({ structure: structure.name, procedures: m.procedures.map((p) => p.procedure), duration: m.duration, expiresAt: new Date(m.expiresAt) }).map((p) => html`<p>${p}</p>`)}</div>
<p>La personne a lu ce mandat et a donné son accord le ${fmt(m.consentAt)}.</p>
${code
    ? html`<div class="warn"><p><strong>Code de révocation : <span class="code">${code}</span></strong></p><p>Gardez ce code : avec la référence ${m.reference}, il vous permet de voir ce qui est fait en votre nom et de retirer ce mandat vous-même sur ${ctx.config.publicUrl}/mandats/mon-mandat. Il ne sera plus affiché.</p></div>`
    : html`<p>Le code de révocation a été remis à la personne à la signature (il n’est pas conservé en clair).</p>`}
<figure class="mdt-qr">${qrSvg(verify, `Code QR de vérification du mandat ${m.reference}`)}<figcaption>Vérifier ce mandat (valide, expiré ou révoqué) : scannez ce code ou ouvrez <a href="${verify}">${ctx.config.publicUrl}/mandats/verifier/${m.verifyId.slice(0, 8)}…</a> (référence ${m.reference}).</figcaption></figure>
<p>Empreinte de l’attestation (SHA-256 salé, modèle ${m.templateVersion}) : <span class="hash">${m.attestationHash}</span></p>
<p class="no-print"><button type="button" data-imprimer hidden>Imprimer</button><script src="${PRINT_SCRIPT}" defer></script> ${pdf
    ? html`<a download="attestation-${m.reference}.pdf" href="data:application/pdf;base64,${raw(pdf.toString('base64'))}">Enregistrer l’attestation en PDF (avec le code de révocation)</a>`
    : html`<a href="/mandats/${m.id}/attestation.pdf">Attestation en PDF</a>`}</p>
</article>`;
}

function structureResource(s: service.Structure | null): Resource | null {
  return s ? { type: 'mandates.structure', id: s.id, region: s.region, departement: s.departement, commune: s.communeCode } : null;
}

/** What identity.ts's pages share with these (one look, one way to read forms). */
const kit: PageKit = { frame, send, formBody, one, errorSummary, fieldError, invalid, attestation };

export function registerMandatePages(app: App, ctx: AppContext) {
  // The person's identity through OpenID Connect, the attestation's PDF, the QR code's verification page.
  registerIdentity(app, ctx, kit);
  registerVerificationPage(app, ctx, (title, body) => frame(ctx, title, body, null));
  const helper = { preHandler: requirePermission('mandates.act') };
  const helperPost = { ...helper, preValidation: app.csrfProtection };
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  // Signed in: a helper's mandates, and the invitations awaiting the account's answer (an invited
  // person has no helper role yet); anyone else: 403.
  app.get('/mandats', { preHandler: requireSignedIn }, async (req, reply) => {
    const user = await me(req);
    const csrf = reply.generateCsrf();
    const invitations = await invitationsSection(ctx, user.id, csrf);
    if (!can(user, 'mandates.act')) {
      if (!invitations) throw new ForbiddenError('Réservé aux aidants d’une structure habilitée.');
      return send(reply, 200, frame(ctx, 'Mandats', html`<h1>Mandats</h1>${invitations}`, user));
    }
    const { all, trained } = await actingStructures(ctx, user);
    const status = one((req.query as Record<string, unknown>).statut);
    const st = status === 'expired' || status === 'revoked' || status === 'all' ? status : 'active';
    // Only trained helpers see the mandates (and the people's identities).
    const list = trained.length ? await service.listMandates(ctx.db, trained.map((h) => h.structureId), { status: st }) : [];
    const pendingCard = (await ctx.db.query<{ serial: string }>('SELECT serial FROM mandates.totp_card WHERE user_id = $1 AND withdrawn_at IS NULL AND confirmed_at IS NULL', [user.id])).rows[0]?.serial;
    const body = html`<h1>Mandats de ma structure</h1>${invitations}
${pendingCard ? html`<p class="warn">La carte TOTP n° ${pendingCard} a été associée à votre compte : <a href="/mandats/ma-carte">confirmez-la avec son code</a> pour qu’elle devienne votre second facteur de connexion.</p>` : ''}
${!all.length ? html`<p class="warn">Vous n’êtes rattaché à aucune structure d’aidants habilitée. Demandez à l’équipe régionale de vous ajouter.</p>` : ''}
${all.length && !trained.length ? html`<p class="warn">Votre formation d’aidant n’est pas encore enregistrée : vous pourrez créer des mandats et agir une fois formé.</p>` : ''}
${trained.length ? html`<p><a href="/mandats/nouveau">Créer un mandat</a></p>` : ''}
${all.length ? html`<details class="no-print"><summary>Mes structures (${all.length})</summary>
<p class="hint">Si vous quittez une structure, vous ne pourrez plus agir pour ses mandats ; seule une nouvelle invitation, que vous accepterez, vous en refera aidant.</p>
<ul>${all.map((h) => html`<li>${h.structureName} <form method="post" action="/mandats/mes-structures/${h.structureId}/quitter" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Quitter la structure « ${h.structureName} »</button></form></li>`)}</ul></details>` : ''}
<form method="get" action="/mandats" class="no-print"><label for="statut">Afficher</label> <select id="statut" name="statut">
${Object.entries({ active: 'Mandats en cours', expired: 'Mandats expirés', revoked: 'Mandats révoqués', all: 'Tous les mandats' }).map(([k, l]) => html`<option value="${k}"${k === st ? raw(' selected') : ''}>${l}</option>`)}
</select> <button type="submit">Afficher</button></form>
<p>${plural(list.length, 'mandat', 'mandats')}</p>
${list.length ? html`<table class="data"><thead><tr><th scope="col">Référence</th><th scope="col">Personne</th><th scope="col">Démarches</th><th scope="col">Fin</th><th scope="col">État</th></tr></thead><tbody>
${list.map((m) => html`<tr><td><a href="/mandats/${m.id}">${m.reference}</a></td><td>${m.person ? `${m.person.givenName} ${m.person.familyName}` : 'identité supprimée'}</td>
<td>${m.procedures.filter((p) => !p.revokedAt).map((p) => procLabel(p.procedure)).join(' ; ') || '—'}</td><td>${fmt(m.expiresAt)}</td><td>${STATUS_LABELS[m.status]}</td></tr>`)}
</tbody></table>` : ''}`;
    return send(reply, 200, frame(ctx, 'Mandats', body, user));
  });

  async function newPage(req: FastifyRequest, reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[]) {
    const user = await me(req);
    const { trained } = await actingStructures(ctx, user);
    if (!trained.length) throw new ForbiddenError('Seul un aidant formé d’une structure habilitée peut créer un mandat.');
    const body = html`<h1>Nouveau mandat</h1>${errorSummary(errors)}
<p>Remplissez ce formulaire avec la personne. À l’étape suivante, elle lit le mandat en mots simples et donne son accord.</p>
${mandateForm(reply.generateCsrf(), trained, v, errors, identitySettings(ctx.config), ctx.config.mandatesDocumentFallback)}`;
    return send(reply, status, frame(ctx, 'Nouveau mandat', body, user));
  }
  app.get('/mandats/nouveau', helper, async (req, reply) => newPage(req, reply, 200, {}, []));
  app.post('/mandats/nouveau', helperPost, async (req, reply) => {
    const user = await me(req);
    const v = formBody(req);
    const { trained } = await actingStructures(ctx, user);
    const s = trained.find((h) => h.structureId === one(v.structure));
    if (!s) {
      if (!trained.length) throw new ForbiddenError('Seul un aidant formé d’une structure habilitée peut créer un mandat.');
      return newPage(req, reply, 422, v, [{ field: 'structure', message: 'Choisissez une de vos structures.' }]);
    }
    if (!ctx.config.mandatesDocumentFallback) throw new UserError('L’identité de la personne se vérifie avec FranceConnect : la vérification sur pièce d’identité n’est pas ouverte ici (MANDATES_DOCUMENT_FALLBACK).', 403, 'identityChecked', 'forbidden');
    const confirm = one(v.step) === 'confirmer';
    let input;
    try {
      input = parseMandateInput(v, new Date(), confirm);
    } catch (e) {
      if (!(e instanceof ValidationFailed)) throw e;
      if (confirm && e.errors.every((x) => x.field === 'consent')) return preview(422, e.errors);
      return newPage(req, reply, 422, v, e.errors);
    }
    if (!confirm) return preview(200, []);
    const created = await service.createMandate(ctx, user.id, s.structureId, input);
    const m = (await service.getMandate(ctx.db, created.id))!;
    const structure = (await service.getStructure(ctx.db, s.structureId))!;
    const pdf = await attestationPdf(ctx.db, m, { publicUrl: ctx.config.publicUrl, revocationCode: created.revocationCode });
    return send(reply, 201, frame(ctx, `Attestation de mandat ${m.reference}`, html`<p class="ok no-print" role="status">Le mandat est créé. Imprimez l’attestation, ou enregistrez-la en PDF, et remettez-la à la personne.</p>${attestation(ctx, m, structure, s.displayName, created.revocationCode, pdf)}`, user));

    async function preview(status: number, errors: FieldError[]) {
      const d = one(v.duration) as keyof typeof DURATIONS;
      const procs = (Array.isArray(v.procedures) ? v.procedures : [one(v.procedures)]) as string[];
      const words = plainWords({ structure: s!.structureName, procedures: [...new Set(procs)].sort(), duration: d, expiresAt: expiresAt(new Date(), d) });
      const body = html`<h1>Le mandat, à lire avec la personne</h1>${errorSummary(errors)}
<p>${one(v.givenName)} ${one(v.familyName)}, voici ce que vous autorisez :</p>
<div class="plain" lang="fr">${words.map((p) => html`<p>${p}</p>`)}</div>
${translatedVersions({ structure: s!.structureName, procedures: [...new Set(procs)].sort(), duration: d, expiresAt: expiresAt(new Date(), d) })}
<form method="post" action="/mandats/nouveau" class="mdt-form"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">${hiddenFields(v)}
<div class="field" id="f-consent">${fieldError(errors, 'consent')}<label><input type="checkbox" name="consent" value="oui"${invalid(errors, 'consent')}> La personne a lu (ou s’est fait lire) ce mandat, l’a compris et donne son accord.</label></div>
<p><button type="submit" name="step" value="confirmer">Créer le mandat et imprimer l’attestation</button> <button type="submit" name="step" value="modifier" formaction="/mandats/nouveau/modifier">Modifier</button></p></form>
${smsConsentSection(reply.generateCsrf(), hiddenFields(v))}`;
      return send(reply, status, frame(ctx, 'Lire le mandat', body, user));
    }
  });
  app.post('/mandats/nouveau/modifier', helperPost, async (req, reply) => newPage(req, reply, 200, formBody(req), []));

  async function showMandate(req: FastifyRequest, reply: FastifyReply, status: number, notice: Raw | '', errors: FieldError[]) {
    const user = await me(req);
    const m = await mandateFor(ctx, user, idOf(req));
    const journal = await service.listJournal(ctx.db, { mandateId: m.id, limit: 200 });
    const csrf = reply.generateCsrf();
    const live = m.procedures.filter((p) => !p.revokedAt);
    const body = html`<h1>Mandat ${m.reference}</h1>${notice}${errorSummary(errors)}
<p>État : <strong>${STATUS_LABELS[m.status]}</strong>. Créé le ${fmt(m.createdAt)}, ${m.status === 'active' ? 'valable jusqu’au' : 'fin prévue le'} ${fmt(m.expiresAt)}${m.revokedAt ? html`, révoqué le ${fmt(m.revokedAt)}` : ''}.</p>
<p>Personne : ${m.person ? `${m.person.givenName} ${m.person.familyName}` : 'identité supprimée (fin de la durée de conservation)'}</p>
<p><a href="/mandats/${m.id}/attestation">Attestation à imprimer</a>${m.status !== 'revoked' ? html` · <a href="/mandats/${m.id}/renouveler">Renouveler ou transférer</a>` : ''}</p>
<h2>Démarches</h2><ul>${m.procedures.map((p) => html`<li>${procLabel(p.procedure)}${p.revokedAt ? html` — retirée le ${fmt(p.revokedAt)}` : m.status === 'active' ? html` <form method="post" action="/mandats/${m.id}/revoquer" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="procedure" value="${p.procedure}"><button type="submit">Retirer cette démarche</button></form>` : ''}</li>`)}</ul>
${m.status === 'active'
    ? html`<h2>Faire une démarche pour la personne</h2>
<form method="post" action="/mandats/${m.id}/actes" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-procedure">Démarche</label>${fieldError(errors, 'procedure')}<select id="f-procedure" name="procedure">${live.map((p) => html`<option value="${p.procedure}">${procLabel(p.procedure)}</option>`)}</select></div>
<div class="field"><label for="f-service">Service en ligne utilisé <span class="hint">(facultatif, sans donnée personnelle : par exemple « impots.gouv.fr »)</span></label>${fieldError(errors, 'service')}<input type="text" id="f-service" name="service" maxlength="100"></div>
<p><button type="submit">Inscrire la démarche au journal</button></p></form>
<h2>Révoquer</h2><form method="post" action="/mandats/${m.id}/revoquer"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Révoquer tout le mandat</button></form>`
    : ''}
<h2>Journal du mandat</h2>
<table class="data"><thead><tr><th scope="col">Date</th><th scope="col">Évènement</th><th scope="col">Démarche</th></tr></thead><tbody>
${journal.map((j) => html`<tr><td>${fmt(j.at)}</td><td>${EVENTS[j.event] ?? j.event}${j.actorKind === 'person' ? ' (par la personne)' : ''}${j.detail && typeof j.detail.service === 'string' ? ` — ${j.detail.service}` : ''}</td><td>${j.procedure ? procLabel(j.procedure) : ''}</td></tr>`)}
</tbody></table>`;
    return send(reply, status, frame(ctx, `Mandat ${m.reference}`, body, user));
  }
  app.get('/mandats/:id', helper, async (req, reply) => showMandate(req, reply, 200, '', []));
  app.get('/mandats/:id/attestation', helper, async (req, reply) => {
    const user = await me(req);
    const m = await mandateFor(ctx, user, idOf(req));
    const s = (await service.getStructure(ctx.db, m.structureId))!;
    const helperName = (await service.listHelpers(ctx.db, s.id)).find((h) => h.userId === m.createdBy)?.displayName ?? '';
    return send(reply, 200, frame(ctx, `Attestation de mandat ${m.reference}`, attestation(ctx, m, s, helperName, null), user));
  });
  app.post('/mandats/:id/actes', helperPost, async (req, reply) => {
    const user = await me(req);
    await mandateFor(ctx, user, idOf(req));
    const v = formBody(req);
    try {
      await service.recordAct(ctx, user.id, idOf(req), one(v.procedure), { service: one(v.service) });
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 404) return showMandate(req, reply, e.statusCode === 400 ? 422 : e.statusCode, '', [{ field: e.field ?? 'procedure', message: e.message }]);
      throw e;
    }
    return showMandate(req, reply, 200, html`<p class="ok" role="status">Démarche inscrite au journal.</p>`, []);
  });
  app.post('/mandats/:id/revoquer', helperPost, async (req, reply) => {
    const user = await me(req);
    await mandateFor(ctx, user, idOf(req));
    const p = one(formBody(req).procedure);
    try {
      const r = await service.revokeMandate(ctx, { kind: 'helper', id: user.id }, idOf(req), p || null);
      return showMandate(req, reply, 200, html`<p class="ok" role="status">${r.whole ? 'Le mandat est révoqué.' : 'La démarche est retirée du mandat.'}</p>`, []);
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 404) return showMandate(req, reply, e.statusCode === 400 ? 422 : e.statusCode, '', [{ field: e.field ?? 'procedure', message: e.message }]);
      throw e;
    }
  });

  // --- Renewal (same structure) or transfer (another structure of the helper): choose, read with the person, consent.
  async function renewPage(req: FastifyRequest, reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[], preview: boolean) {
    const user = await me(req);
    const m = await mandateFor(ctx, user, idOf(req));
    const { trained } = await actingStructures(ctx, user);
    const csrf = reply.generateCsrf();
    const fresh = !('duration' in v) && !('procedures' in v);
    const chosen = fresh ? m.procedures.filter((p) => !p.revokedAt).map((p) => p.procedure) : Array.isArray(v.procedures) ? v.procedures : typeof v.procedures === 'string' ? [v.procedures] : [];
    const to = one(v.structure) || m.structureId;
    const target = trained.find((h) => h.structureId === to);
    let body: Raw;
    if (preview && target) {
      const scope = parseRenewalInput(v, false);
      body = html`<h1>${to === m.structureId ? 'Renouveler' : 'Transférer'} le mandat ${m.reference}</h1>${errorSummary(errors)}
<p>Lisez ce texte avec la personne. Elle donne à nouveau son accord : rien n’est renouvelé sans elle.</p>
<div class="plain" lang="fr">${plainWords({ structure: target.structureName, procedures: scope.procedures, duration: scope.duration, expiresAt: expiresAt(new Date(), scope.duration) }).map((l) => html`<p>${l}</p>`)}</div>
${translatedVersions({ structure: target.structureName, procedures: scope.procedures, duration: scope.duration, expiresAt: expiresAt(new Date(), scope.duration) })}
<form method="post" action="/mandats/${m.id}/renouveler" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="structure" value="${to}"><input type="hidden" name="duration" value="${scope.duration}">
${scope.procedures.map((p) => html`<input type="hidden" name="procedures" value="${p}">`)}
<div class="field" id="f-consent">${fieldError(errors, 'consent')}<label><input type="checkbox" name="consent" value="oui"${invalid(errors, 'consent')}> La personne a lu ce texte et donne son accord.</label></div>
<p><button type="submit" name="step" value="valider">Créer le nouveau mandat</button></p></form>`;
    } else {
      body = html`<h1>Renouveler ou transférer le mandat ${m.reference}</h1>${errorSummary(errors)}
<p>Le nouveau mandat remplace celui-ci (qui prend fin s’il est en cours), sans nouvelle vérification d’identité tant que le mandat n’est pas expiré depuis plus d’un an. La personne relit le mandat et donne à nouveau son accord.</p>
<form method="post" action="/mandats/${m.id}/renouveler" class="mdt-form" novalidate><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-structure">Structure qui détiendra le mandat</label>${fieldError(errors, 'structureId')}<select id="f-structure" name="structure">${trained.map((h) => html`<option value="${h.structureId}"${h.structureId === to ? raw(' selected') : ''}>${h.structureName}${h.structureId === m.structureId ? ' (renouvellement)' : ' (transfert)'}</option>`)}</select></div>
<fieldset id="f-procedures"><legend>Démarches confiées</legend>${fieldError(errors, 'procedures')}
${Object.entries(ADMIN_PROCEDURES).map(([k, label]) => html`<label><input type="checkbox" name="procedures" value="${k}"${chosen.includes(k) ? raw(' checked') : ''}> ${label}</label>`)}</fieldset>
<fieldset id="f-duration"><legend>Durée du mandat</legend>${fieldError(errors, 'duration')}
${Object.entries(DURATIONS).map(([k, d]) => html`<label><input type="radio" name="duration" value="${k}"${(one(v.duration) || m.duration) === k ? raw(' checked') : ''}> ${d.label}</label>`)}</fieldset>
<p><button type="submit" name="step" value="apercu">Lire le mandat avec la personne</button></p></form>`;
    }
    return send(reply, status, frame(ctx, `Renouveler le mandat ${m.reference}`, body, user));
  }
  app.get('/mandats/:id/renouveler', helper, async (req, reply) => renewPage(req, reply, 200, {}, [], false));
  app.post('/mandats/:id/renouveler', helperPost, async (req, reply) => {
    const user = await me(req);
    const old = await mandateFor(ctx, user, idOf(req));
    const v = formBody(req);
    let scope;
    try {
      scope = parseRenewalInput(v, one(v.step) === 'valider');
    } catch (e) {
      // Only a missing consent keeps the person on the text to read; any other error goes back to the choices.
      if (e instanceof ValidationFailed) return renewPage(req, reply, 422, v, e.errors, e.errors.every((x) => x.field === 'consent'));
      throw e;
    }
    if (one(v.step) !== 'valider') return renewPage(req, reply, 200, v, [], true);
    const to = one(v.structure) || old.structureId;
    try {
      const created = to === old.structureId ? await service.renewMandate(ctx, user.id, old.id, scope) : await service.transferMandate(ctx, user.id, old.id, to, scope);
      const m = (await service.getMandate(ctx.db, created.id))!;
      const structure = (await service.getStructure(ctx.db, m.structureId))!;
      const helperName = (await service.listHelpers(ctx.db, structure.id)).find((h) => h.userId === user.id)?.displayName ?? '';
      const pdf = await attestationPdf(ctx.db, m, { publicUrl: ctx.config.publicUrl, revocationCode: created.revocationCode });
      return send(reply, 201, frame(ctx, `Attestation de mandat ${m.reference}`, html`<p class="ok no-print" role="status">Le nouveau mandat est créé${to === old.structureId ? '' : ' dans l’autre structure'}. Imprimez l’attestation et remettez-la à la personne.</p>${attestation(ctx, m, structure, helperName, created.revocationCode, pdf)}`, user));
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 404) return renewPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, v, [{ field: e.field ?? 'mandate', message: e.message }], false);
      throw e;
    }
  });

  // --- The person's own page: with the reference and the code of their attestation.
  function personPage(reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[], view: service.PersonView | null) {
    const csrf = reply.generateCsrf();
    const ref = one(v.reference);
    const code = one(v.code);
    const keep = html`<input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="reference" value="${ref}"><input type="hidden" name="code" value="${code}">`;
    const m = view?.mandate;
    const body = html`<h1>Mon mandat</h1>${errorSummary(errors)}
${m && view
    ? html`<p>Mandat <strong>${m.reference}</strong> donné à la structure « ${view.structureName} » : <strong>${STATUS_LABELS[m.status]}</strong>. Créé le ${fmt(m.createdAt)}, ${m.status === 'active' ? 'valable jusqu’au' : 'fin prévue le'} ${fmt(m.expiresAt)}${m.revokedAt ? html`, arrêté le ${fmt(m.revokedAt)}` : ''}.</p>
${view.replacedBy ? html`<p>Il a été remplacé par le mandat ${view.replacedBy.reference} (${view.replacedBy.kind === 'renewal' ? 'renouvellement' : 'transfert à une autre structure'}) : son attestation vous a été remise.</p>` : ''}
<h2>Démarches</h2><ul>${m.procedures.map((p) => html`<li>${procLabel(p.procedure)}${p.revokedAt ? html` — retirée le ${fmt(p.revokedAt)}` : m.status === 'active' ? html` <form method="post" action="/mandats/revocation" class="inline">${keep}<input type="hidden" name="procedure" value="${p.procedure}"><input type="hidden" name="retour" value="mon-mandat"><button type="submit">Retirer cette démarche</button></form>` : ''}</li>`)}</ul>
${m.status === 'active' ? html`<form method="post" action="/mandats/revocation">${keep}<input type="hidden" name="retour" value="mon-mandat"><button type="submit">Retirer tout le mandat</button></form>` : ''}
<h2>Ce qui a été fait en votre nom</h2>
${view.events.length
    ? html`<table class="data"><thead><tr><th scope="col">Date</th><th scope="col">Évènement</th><th scope="col">Démarche</th></tr></thead><tbody>
${view.events.map((j) => html`<tr><td>${fmt(j.at)}</td><td>${EVENTS[j.event] ?? j.event}${j.byPerson ? ' (par vous)' : ''}${j.service ? ` — ${j.service}` : ''}</td><td>${j.procedure ? procLabel(j.procedure) : ''}</td></tr>`)}</tbody></table>`
    : html`<p>Rien pour l’instant.</p>`}`
    : html`${personSignInForm(ctx)}<p>Avec la référence et le code de révocation inscrits sur votre attestation, voyez l’état de votre mandat, ce qui a été fait en votre nom, et retirez-le si vous le souhaitez.</p>
<form method="post" action="/mandats/mon-mandat" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-reference">Référence du mandat</label>${fieldError(errors, 'reference')}<input type="text" id="f-reference" name="reference" maxlength="20" autocomplete="off" value="${ref}"></div>
<div class="field"><label for="f-code">Code de révocation</label>${fieldError(errors, 'code')}<input type="text" id="f-code" name="code" maxlength="20" autocomplete="off"${invalid(errors, 'code')}></div>
<p><button type="submit">Voir mon mandat</button></p></form>`}`;
    return send(reply, status, frame(ctx, 'Mon mandat', body, null));
  }
  app.get('/mandats/mon-mandat', async (req, reply) => (await personMandatesPage(ctx, kit, req, reply)) ?? personPage(reply, 200, {}, [], null));
  app.post('/mandats/mon-mandat', { preValidation: app.csrfProtection, config: { rateLimit: { max: 10, timeWindow: '10 minutes' } } }, async (req, reply) => {
    const v = formBody(req);
    try {
      return personPage(reply, 200, v, [], await service.personView(ctx.db, one(v.reference), one(v.code)));
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500) return personPage(reply, 422, { reference: one(v.reference) }, [{ field: e.field ?? 'code', message: e.message }], null);
      throw e;
    }
  });

  // --- The person: public verification and revocation with the code (no account needed).
  app.get('/mandats/verifier', { config: { rateLimit: { max: 60, timeWindow: '1 minute' } } }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const reference = one(q.reference).trim().toUpperCase().slice(0, 20);
    const hash = one(q.empreinte).trim().toLowerCase().slice(0, 64);
    let result: Raw | '' = '';
    if (reference) {
      const m = REFERENCE.test(reference) ? await service.getMandateByReference(ctx.db, reference) : null;
      if (!m) result = html`<p class="warn" role="status">Aucun mandat ne porte cette référence.</p>`;
      else {
        const authentic = hash ? hash === m.attestationHash : null;
        result = html`<div class="${m.status === 'active' && authentic !== false ? 'ok' : 'warn'}" role="status"><p>Mandat ${m.reference} : <strong>${m.status === 'active' ? 'valide' : m.status === 'expired' ? 'expiré' : 'révoqué'}</strong>${m.status === 'active' ? html` jusqu’au ${fmt(m.expiresAt)}` : ''}.</p>
${authentic === null ? '' : authentic ? html`<p>L’empreinte de l’attestation est authentique.</p>` : html`<p><strong>L’empreinte ne correspond pas : cette attestation a été modifiée ou n’est pas celle de ce mandat.</strong></p>`}</div>`;
      }
    }
    const body = html`<h1>Vérifier un mandat</h1><p>Indiquez la référence inscrite sur l’attestation. Aucune donnée personnelle n’est affichée.</p>${result}
<form method="get" action="/mandats/verifier" class="mdt-form"><div class="field"><label for="f-reference">Référence du mandat <span class="hint">(par exemple M-ABCD-EFGH)</span></label><input type="text" id="f-reference" name="reference" maxlength="20" value="${reference}"></div>
<div class="field"><label for="f-empreinte">Empreinte de l’attestation <span class="hint">(facultatif)</span></label><input type="text" id="f-empreinte" name="empreinte" maxlength="64" value="${hash}"></div><p><button type="submit">Vérifier</button></p></form>`;
    return send(reply, reference && result && /Aucun mandat/.test(String(result)) ? 404 : 200, frame(ctx, 'Vérifier un mandat', body, null));
  });

  function revocationPage(reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[], notice: Raw | '') {
    const body = html`<h1>Retirer un mandat</h1>${notice}${errorSummary(errors)}
<p>Avec la référence et le code de révocation inscrits sur votre attestation, vous pouvez retirer le mandat en entier, ou seulement une démarche.</p>
<form method="post" action="/mandats/revocation" class="mdt-form"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<div class="field"><label for="f-reference">Référence du mandat</label>${fieldError(errors, 'reference')}<input type="text" id="f-reference" name="reference" maxlength="20" autocomplete="off" value="${one(v.reference)}"></div>
<div class="field"><label for="f-code">Code de révocation</label>${fieldError(errors, 'code')}<input type="text" id="f-code" name="code" maxlength="20" autocomplete="off"${invalid(errors, 'code')}></div>
<div class="field"><label for="f-procedure">Que retirer ?</label>${fieldError(errors, 'procedure')}<select id="f-procedure" name="procedure"><option value="">Tout le mandat</option>${Object.entries(ADMIN_PROCEDURES).map(([k, l]) => html`<option value="${k}">Seulement : ${l}</option>`)}</select></div>
<p><button type="submit">Retirer</button></p></form>`;
    return send(reply, status, frame(ctx, 'Retirer un mandat', body, null));
  }
  app.get('/mandats/revocation', async (_req, reply) => revocationPage(reply, 200, {}, [], ''));
  app.post('/mandats/revocation', { preValidation: app.csrfProtection, config: { rateLimit: { max: 10, timeWindow: '10 minutes' } } }, async (req, reply) => {
    const v = formBody(req);
    try {
      const r = await service.revokeByPerson(ctx, one(v.reference), one(v.code), one(v.procedure) || null);
      if (one(v.retour) === 'mon-mandat') return personPage(reply, 200, v, [], await service.personView(ctx.db, one(v.reference), one(v.code)));
      return revocationPage(reply, 200, {}, [], html`<p class="ok" role="status">${r.whole ? 'Le mandat est révoqué : plus personne ne peut agir en votre nom avec lui.' : 'La démarche est retirée du mandat.'}</p>`);
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500) return revocationPage(reply, e.statusCode === 404 ? 400 : e.statusCode === 400 ? 422 : e.statusCode, v, [{ field: e.field ?? 'code', message: e.message }], '');
      throw e;
    }
  });

  // --- Regional staff: structures, helpers, training, journal, statistics.
  const manageAny = async (req: FastifyRequest) => {
    const u = await currentUser(req);
    const s = scopesFor(u, 'mandates.manage');
    // Any territory the person manages (the list then shows only those).
    if (s.platform) return { type: 'platform' } as Resource;
    if (s.regions[0]) return { type: 'territory', region: s.regions[0] } as Resource;
    if (s.departements[0]) return { type: 'territory', departement: s.departements[0] } as Resource;
    return { type: 'territory', region: '__none__' } as Resource;
  };
  const manageList = { preHandler: requirePermission('mandates.manage', manageAny) };
  const structureOf = async (req: FastifyRequest) => structureResource(await service.getStructure(ctx.db, idOf(req)));
  const manageOne = { preHandler: requirePermission('mandates.manage', structureOf) };
  const manageOnePost = { ...manageOne, preValidation: app.csrfProtection };

  async function structuresPage(req: FastifyRequest, reply: FastifyReply, status: number, v: Record<string, unknown>, errors: FieldError[]) {
    const user = await me(req);
    const list = await service.listStructures(ctx.db, scopesFor(user, 'mandates.manage'));
    const body = html`<h1>Structures d’aidants habilitées</h1>${errorSummary(errors)}
<p>${plural(list.length, 'structure', 'structures')}</p>
${list.length ? html`<table class="data"><thead><tr><th scope="col">Structure</th><th scope="col">SIRET</th><th scope="col">Département</th><th scope="col">Aidants (formés)</th><th scope="col">Mandats en cours</th></tr></thead><tbody>
${list.map((s) => html`<tr><td><a href="/mandats/structures/${s.id}">${s.name}</a></td><td>${s.siret ?? '—'}</td><td>${s.departement ?? '—'}</td><td>${s.helpers} (${s.trained})</td><td>${s.activeMandates}</td></tr>`)}</tbody></table>` : ''}
<h2>Habiliter une structure</h2>
<form method="post" action="/mandats/structures" class="mdt-form"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">
<div class="field"><label for="f-name">Nom de la structure</label>${fieldError(errors, 'name')}<input type="text" id="f-name" name="name" maxlength="200" value="${one(v.name)}"${invalid(errors, 'name')}></div>
<div class="field"><label for="f-siret">SIRET <span class="hint">(14 chiffres)</span></label>${fieldError(errors, 'siret')}<input type="text" id="f-siret" name="siret" maxlength="20" inputmode="numeric" value="${one(v.siret)}"${invalid(errors, 'siret')}></div>
<div class="field"><label for="f-placeUid">Lieu de l’annuaire où elle accueille <span class="hint">(identifiant du lieu)</span></label>${fieldError(errors, 'placeUid')}<input type="text" id="f-placeUid" name="placeUid" maxlength="40" value="${one(v.placeUid)}"${invalid(errors, 'placeUid')}></div>
<p><button type="submit">Habiliter</button></p></form>`;
    return send(reply, status, frame(ctx, 'Structures d’aidants', body, user));
  }
  app.get('/mandats/structures', manageList, async (req, reply) => structuresPage(req, reply, 200, {}, []));
  app.post('/mandats/structures', { ...manageList, preValidation: app.csrfProtection }, async (req, reply) => {
    const user = await me(req);
    const v = formBody(req);
    // The structure's territory (from its place) must be one the person manages: checked before writing.
    const placeUid = one(v.placeUid).trim();
    try {
      const place = service.isUuid(placeUid) ? await getPlace(ctx.db, placeUid) : null;
      if (place && !can(user, 'mandates.manage', { type: 'mandates.structure', region: place.region, departement: place.departement })) throw new ForbiddenError('Ce lieu est hors de votre territoire.', 'placeUid');
      const s = await service.createStructure(ctx, user.id, { name: v.name, siret: v.siret, placeUid });
      return reply.redirect(`/mandats/structures/${s.id}`, 303);
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500) return structuresPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, v, [{ field: e.field ?? 'name', message: e.message }]);
      throw e;
    }
  });

  async function structurePage(req: FastifyRequest, reply: FastifyReply, status: number, notice: Raw | '', errors: FieldError[]) {
    const user = await me(req);
    const s = (await service.getStructure(ctx.db, idOf(req)))!;
    const helpers = await service.listHelpers(ctx.db, s.id);
    const stats = await service.statistics(ctx.db, { structureIds: [s.id] });
    const csrf = reply.generateCsrf();
    const body = html`<h1>${s.name}</h1>${notice}${errorSummary(errors)}
<p>${s.siret ? `SIRET ${s.siret} · ` : ''}département ${s.departement ?? '—'} · ${plural(stats.activeMandates, 'mandat en cours', 'mandats en cours')} · <a href="/mandats/structures/${s.id}/journal">Journal</a> · <a href="/mandats/structures/${s.id}/cartes">Cartes TOTP</a></p>
<h2>Aidants</h2>
${helpers.length ? html`<table class="data"><thead><tr><th scope="col">Aidant</th><th scope="col">Formation</th><th scope="col">État</th><th scope="col">Actions</th></tr></thead><tbody>
${helpers.map((h) => html`<tr><td>${h.displayName}</td><td>${h.trainedOn ? `formé le ${new Date(`${h.trainedOn}T12:00:00Z`).toLocaleDateString('fr-FR')}${h.trainingRef ? ` (${h.trainingRef})` : ''}` : 'non formé'}</td><td>${h.active ? 'actif' : h.leftAt ? `a quitté la structure le ${new Date(h.leftAt).toLocaleDateString('fr-FR', { timeZone: 'Europe/Paris' })} (à inviter de nouveau)` : h.acceptedAt ? 'désactivé' : 'invité (en attente de sa réponse)'}</td>
<td><form method="post" action="/mandats/structures/${s.id}/aidants/${h.userId}/formation" class="inline mdt-form"><input type="hidden" name="_csrf" value="${csrf}"><label for="t-${h.userId}">Date de formation</label><input type="date" id="t-${h.userId}" name="trainedOn"><label for="r-${h.userId}">Référence</label><input type="text" id="r-${h.userId}" name="trainingRef" maxlength="200"><button type="submit">Enregistrer la formation</button></form>
${h.acceptedAt && !h.leftAt ? html`<form method="post" action="/mandats/structures/${s.id}/aidants/${h.userId}/${h.active ? 'desactiver' : 'activer'}" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">${h.active ? 'Désactiver' : 'Réactiver'}</button></form>` : ''}</td></tr>`)}
</tbody></table>` : html`<p>Aucun aidant pour l’instant.</p>`}
<h2>Ajouter un aidant</h2>
<form method="post" action="/mandats/structures/${s.id}/aidants" class="mdt-form"><input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="f-email">Adresse e-mail de son compte <span class="hint">(la personne doit déjà avoir un compte)</span></label>${fieldError(errors, 'email')}<input type="email" id="f-email" name="email" maxlength="254"${invalid(errors, 'email')}></div>
<p><button type="submit">Ajouter</button></p></form>`;
    return send(reply, status, frame(ctx, s.name, body, user));
  }
  const guarded = (fn: (req: FastifyRequest, user: CurrentUser) => Promise<string>) => async (req: FastifyRequest, reply: FastifyReply) => {
    const user = await me(req);
    try {
      const msg = await fn(req, user);
      return structurePage(req, reply, 200, html`<p class="ok" role="status">${msg}</p>`, []);
    } catch (e) {
      if (e instanceof UserError && e.statusCode < 500 && e.statusCode !== 404) return structurePage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, '', [{ field: e.field ?? 'email', message: e.message }]);
      throw e;
    }
  };
  const userIdOf = (req: FastifyRequest) => (req.params as { userId: string }).userId;
  app.get('/mandats/structures/:id', manageOne, async (req, reply) => structurePage(req, reply, 200, '', []));
  // Invites the account: it becomes a helper (role, journal) only once the person accepts (invitations.ts).
  app.post('/mandats/structures/:id/aidants', manageOnePost, guarded(async (req, user) => {
    const s = (await service.getStructure(ctx.db, idOf(req)))!;
    return inviteByEmail(req, ctx, user.id, s, formBody(req).email);
  }));
  app.post('/mandats/structures/:id/aidants/:userId/formation', manageOnePost, guarded(async (req, user) => {
    const v = formBody(req);
    await service.recordTraining(ctx, user.id, idOf(req), userIdOf(req), { trainedOn: one(v.trainedOn), trainingRef: one(v.trainingRef) });
    return 'Formation enregistrée.';
  }));
  app.post('/mandats/structures/:id/aidants/:userId/desactiver', manageOnePost, guarded(async (req, user) => {
    await service.setHelperActive(ctx, user.id, idOf(req), userIdOf(req), false);
    return 'Aidant désactivé : il ne peut plus agir sous mandat.';
  }));
  app.post('/mandats/structures/:id/aidants/:userId/activer', manageOnePost, guarded(async (req, user) => {
    await service.setHelperActive(ctx, user.id, idOf(req), userIdOf(req), true);
    return 'Aidant réactivé.';
  }));
  app.get('/mandats/structures/:id/journal', manageOne, async (req, reply) => {
    const user = await me(req);
    const s = (await service.getStructure(ctx.db, idOf(req)))!;
    const rows = await service.listJournal(ctx.db, { structureIds: [s.id], limit: 500 });
    const body = html`<h1>Journal — ${s.name}</h1><p>Les 500 derniers évènements (sans donnée personnelle). Chaque ligne est scellée dans le journal d’audit de la plateforme.</p>
<table class="data"><thead><tr><th scope="col">Date</th><th scope="col">Évènement</th><th scope="col">Mandat</th><th scope="col">Démarche</th><th scope="col">Par</th></tr></thead><tbody>
${rows.map((j) => html`<tr><td>${fmt(j.at)}</td><td>${EVENTS[j.event] ?? j.event}</td><td>${j.mandateId ? j.mandateId.slice(0, 8) : '—'}</td><td>${j.procedure ? procLabel(j.procedure) : ''}</td><td>${j.actorKind === 'helper' ? 'aidant' : j.actorKind === 'person' ? 'la personne' : j.actorKind === 'staff' ? 'équipe régionale' : 'système'}</td></tr>`)}
</tbody></table>`;
    return send(reply, 200, frame(ctx, `Journal — ${s.name}`, body, user));
  });
  app.get('/mandats/statistiques', manageList, async (req, reply) => {
    const user = await me(req);
    const sc = scopesFor(user, 'mandates.manage');
    const st = await service.statistics(ctx.db, sc.platform ? {} : { regions: sc.regions, departements: sc.departements });
    const body = html`<h1>Statistiques des mandats</h1><p>Chiffres de vos territoires, sans aucune identité.</p>
<ul><li>${plural(st.structures, 'structure habilitée', 'structures habilitées')}</li><li>${plural(st.helpers.active, 'aidant actif', 'aidants actifs')}, dont ${plural(st.helpers.trained, 'formé', 'formés')}</li>
<li>${plural(st.activeMandates, 'mandat en cours', 'mandats en cours')} sur ${plural(st.mandates, 'mandat créé', 'mandats créés')}</li><li>${plural(st.acts, 'démarche faite', 'démarches faites')} sous mandat</li></ul>
<h2>Par démarche</h2><table class="data"><thead><tr><th scope="col">Démarche</th><th scope="col">Autorisations en cours</th><th scope="col">Autorisations données</th></tr></thead><tbody>
${st.byProcedure.map((p) => html`<tr><td>${p.label}</td><td>${p.active}</td><td>${p.total}</td></tr>`)}</tbody></table>
<h2>Par durée</h2><table class="data"><thead><tr><th scope="col">Durée</th><th scope="col">Mandats</th></tr></thead><tbody>
${st.byDuration.map((d) => html`<tr><td>${DURATIONS[d.duration as keyof typeof DURATIONS].label}</td><td>${d.total}</td></tr>`)}</tbody></table>
${breakdownTables(await byStructure(ctx.db, sc.platform ? {} : { regions: sc.regions, departements: sc.departements }))}`;
    return send(reply, 200, frame(ctx, 'Statistiques des mandats', body, user));
  });
}
