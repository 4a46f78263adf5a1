/**
 * Use cases of the places back office. Every change runs in one transaction with its audit entry
 * (before/after) and, for listings, the new version: a change is either fully recorded or absent.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db, Queryable } from '../../../platform/db/index.ts';
import { ForbiddenError, NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { recordAudit } from '../../../platform/audit/index.ts';
import { resolveTerritory } from '../../territories/index.ts';
import type { Action, Resource } from '../../accounts/index.ts';
import { enrich, importPlaces, upsertPlaces, getPlace, TerritoryCache, type ImportReport } from '../service.ts';
import { getPlaceRow, getPlacesByUids, toRecord, type Place } from '../store.ts';
import { markNotDuplicate, mergePlaces } from '../duplicates.ts';
import { parseMappingFile, type MappingFile } from '../model/index.ts';
import type { FieldName, PlaceRecord } from '../model/types.ts';
import { diffRecords, sameContent } from './model.ts';
import * as store from './store.ts';

export type Territory = { level: 'region' | 'departement'; code: string; name: string; region: string };

// ---------------------------------------------------------------------------------------------
// Objects as the permission function sees them

/** A place for `can()`: its uid and territory codes. */
export function placeResource(p: Pick<Place, 'uid' | 'region' | 'departement' | 'communeCode'>): Resource {
  return { type: 'place', id: p.uid, region: p.region, departement: p.departement, commune: p.communeCode };
}

/** Asks the permission function for the person acting (`(action, resource) => can(user, action, resource)`). */
export type Permits = (action: Action, resource: Resource) => boolean;

/**
 * The place as `record` would make it, for `can()`: the same uid, in the territory that the
 * record's commune (INSEE code, else postal code + name, else coordinates) lies in — exactly as
 * the write will place it.
 */
export async function resourceAfter(q: Queryable, place: Place, record: PlaceRecord): Promise<Resource> {
  const { write } = await enrich({ ...record, id: place.id }, 0, place.importSource, new TerritoryCache(q), q);
  return { type: 'place', id: place.uid, region: write.region, departement: write.departement, commune: write.communeCode };
}

const movesTerritory = (from: Resource, to: Resource) => (from.region ?? null) !== (to.region ?? null) || (from.departement ?? null) !== (to.departement ?? null);

function whereLabel(r: Resource): string {
  return r.departement ? `le département ${r.departement}` : r.region ? `la région ${r.region}` : 'une commune inconnue';
}

/** A territory for `can()`: a département carries its région, so régional staff reach it. */
export function territoryResource(t: Territory): Resource {
  return t.level === 'region' ? { type: 'territory', region: t.code } : { type: 'territory', region: t.region, departement: t.code };
}

/** A région or département from the URL (level + code), or null when unknown. */
export async function loadTerritory(db: Queryable, level: string, code: string): Promise<Territory | null> {
  if (level !== 'region' && level !== 'departement') return null;
  if (!/^[0-9AB]{2,3}$/i.test(code)) return null;
  const t = await resolveTerritory(db, `${level}:${code}`);
  if (!t) return null;
  const region = t.level === 'region' ? t.code : (t.parents.find((p) => p.level === 'region')?.code ?? '');
  return { level, code: t.code, name: t.name, region };
}

/** Runs the module's own Db-taking write paths (upsertPlaces, mergePlaces) inside our transaction. */
function inTx(tx: Queryable, kind: Db['kind']): Db {
  return {
    kind,
    query: (sql, params) => tx.query(sql, params),
    exec: (sql) => tx.exec(sql),
    transaction: (fn) => fn(tx),
    close: async () => undefined,
  } as Db;
}

const todayIso = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};
export const today = todayIso;

async function lockPlace(tx: Queryable, uid: string): Promise<Place> {
  await tx.query('SELECT uid FROM places.place WHERE uid = $1 FOR UPDATE', [uid]);
  const p = await getPlaceRow(tx, uid);
  if (!p) throw new NotFoundError('Ce lieu n’existe pas.');
  return p;
}

/**
 * The version number describing the place as it is now. The first back-office change keeps the
 * listing as it was (`initial`); a change made by an import since the last version is kept too
 * (`outside`), so history and restore see every state.
 */
async function currentVersion(tx: Queryable, place: Place): Promise<number> {
  const latest = await store.latestVersion(tx, place.uid);
  const record = toRecord(place);
  if (!latest) return store.insertVersion(tx, { placeUid: place.uid, record, reason: 'initial', actorId: null, note: null });
  if (diffRecords(latest.record, record).length > 0) {
    return store.insertVersion(tx, { placeUid: place.uid, record, reason: 'outside', actorId: null, note: 'Modifiée hors de l’espace de gestion (import)' });
  }
  return latest.version;
}

/** Versions of a place, making sure the current state is one of them. */
export async function versionsOf(db: Db, uid: string): Promise<store.Version[]> {
  await db.transaction(async (tx) => currentVersion(tx, await lockPlace(tx, uid)));
  return store.listVersions(db, uid);
}

async function writeRecord(tx: Queryable, kind: Db['kind'], place: Place, record: PlaceRecord): Promise<Place> {
  const rec = { ...record, id: place.id };
  await upsertPlaces(inTx(tx, kind), [rec], { source: place.importSource });
  return (await getPlaceRow(tx, place.uid))!;
}

// ---------------------------------------------------------------------------------------------
// Editing, moderation, versions

/** Whether managers' edits on this place wait for moderation: the département's setting, else the région's. */
export async function isModerated(q: Queryable, place: Pick<Place, 'region' | 'departement'>): Promise<boolean> {
  const s = await store.moderationSettings(q, place.region, place.departement);
  return s.departement ?? s.region ?? false;
}

export type EditOutcome = { status: 'published'; version: number } | { status: 'pending'; pendingId: number } | { status: 'unchanged' };

/**
 * A new state of a listing, already validated by the standard. Published at once unless the
 * place's territory is moderated and the author may not moderate it (then it waits).
 */
export async function submitEdit(
  db: Db,
  o: { actorId: string; permits: Permits; placeUid: string; record: PlaceRecord; kind: 'edit' | 'restore'; note?: string | null; baseVersion?: number | null },
): Promise<EditOutcome> {
  return db.transaction(async (tx) => {
    const place = await lockPlace(tx, o.placeUid);
    const base = await currentVersion(tx, place);
    const before = toRecord(place);
    const record: PlaceRecord = { ...o.record, id: place.id };
    if (sameContent(before, record)) return { status: 'unchanged' } as const;
    // Permission is checked on the place as it is (by the route) AND as it will be: a new commune
    // or new coordinates may take it into another territory, where the author needs a right too,
    // and whose moderation applies as well as the current one's.
    const from = placeResource(place);
    const to = await resourceAfter(tx, place, record);
    const moves = movesTerritory(from, to);
    if (moves && !o.permits('places.edit', to)) {
      throw new ForbiddenError(
        `Cette modification déplacerait le lieu dans ${whereLabel(to)}, où vous n’avez pas le droit de modifier les fiches : vérifiez le code INSEE, la commune et les coordonnées, ou demandez le changement à l’équipe de ce territoire.`,
        'code_insee',
      );
    }
    const mayPublish = o.permits('places.moderate', from) && (!moves || o.permits('places.moderate', to));
    const moderated = (await isModerated(tx, place)) || (moves && (await isModerated(tx, { region: to.region ?? null, departement: to.departement ?? null })));
    if (!mayPublish && moderated) {
      const pending = await store.insertPendingEdit(tx, { placeUid: place.uid, baseVersion: o.baseVersion ?? base, record, kind: o.kind, submittedBy: o.actorId });
      await recordAudit(tx, { actorId: o.actorId, action: 'places.edit.submit', objectType: 'place', objectId: place.uid, before, after: record, meta: { pendingEdit: pending.id, kind: o.kind } });
      return { status: 'pending', pendingId: pending.id } as const;
    }
    const after = toRecord(await writeRecord(tx, db.kind, place, record));
    const version = await store.insertVersion(tx, { placeUid: place.uid, record: after, reason: o.kind, actorId: o.actorId, note: o.note ?? null });
    await recordAudit(tx, { actorId: o.actorId, action: o.kind === 'restore' ? 'places.restore' : 'places.update', objectType: 'place', objectId: place.uid, before, after, meta: { version } });
    return { status: 'published', version } as const;
  });
}

/** Restores a kept version (dated today): a new version, or a pending edit under moderation. */
export async function restoreVersion(db: Db, o: { actorId: string; permits: Permits; placeUid: string; version: number }): Promise<EditOutcome> {
  const v = await store.getVersion(db, o.placeUid, o.version);
  if (!v) throw new NotFoundError('Cette version n’existe pas.');
  return submitEdit(db, { ...o, record: { ...v.record, date_maj: todayIso() }, kind: 'restore', note: `Retour à la version ${v.version}` });
}

/** Publishes a pending edit. `permits` is the moderator's: an edit that moves the place into
 *  another territory needs the right to moderate there too. */
export async function approvePendingEdit(db: Db, actorId: string, id: number, note: string | null, permits: Permits): Promise<{ version: number | null }> {
  return db.transaction(async (tx) => {
    const edit = await store.getPendingEdit(tx, id, true);
    if (!edit) throw new NotFoundError('Cette modification n’existe pas.');
    if (edit.status !== 'pending') throw new UserError('Cette modification a déjà été traitée.', 409);
    const place = await lockPlace(tx, edit.placeUid);
    const to = await resourceAfter(tx, place, edit.record);
    if (movesTerritory(placeResource(place), to) && !permits('places.moderate', to)) {
      throw new ForbiddenError(`Cette modification déplacerait le lieu dans ${whereLabel(to)}, que vous ne modérez pas : elle doit être validée par l’équipe de ce territoire ou par un administrateur.`, 'code_insee');
    }
    await currentVersion(tx, place);
    const before = toRecord(place);
    await store.decidePendingEdit(tx, id, 'approved', actorId, note);
    if (sameContent(before, edit.record)) {
      await recordAudit(tx, { actorId, action: 'places.edit.approve', objectType: 'place', objectId: place.uid, before, after: before, meta: { pendingEdit: id, unchanged: true } });
      return { version: null };
    }
    const after = toRecord(await writeRecord(tx, db.kind, place, edit.record));
    const version = await store.insertVersion(tx, { placeUid: place.uid, record: after, reason: 'moderation', actorId: edit.submittedBy, note: `Validée par modération (demande n° ${id})` });
    await recordAudit(tx, { actorId, action: 'places.edit.approve', objectType: 'place', objectId: place.uid, before, after, meta: { pendingEdit: id, version, author: edit.submittedBy } });
    return { version };
  });
}

export async function rejectPendingEdit(db: Db, actorId: string, id: number, note: string | null): Promise<void> {
  await db.transaction(async (tx) => {
    const edit = await store.getPendingEdit(tx, id, true);
    if (!edit) throw new NotFoundError('Cette modification n’existe pas.');
    if (edit.status !== 'pending') throw new UserError('Cette modification a déjà été traitée.', 409);
    await store.decidePendingEdit(tx, id, 'rejected', actorId, note);
    await recordAudit(tx, { actorId, action: 'places.edit.reject', objectType: 'place', objectId: edit.placeUid, before: { status: 'pending' }, after: { status: 'rejected', note }, meta: { pendingEdit: id } });
  });
}

export async function setModerationSetting(db: Db, actorId: string, t: Territory, moderated: boolean | null): Promise<void> {
  await db.transaction(async (tx) => {
    const before = await store.moderationSettings(tx, t.level === 'region' ? t.code : null, t.level === 'departement' ? t.code : null);
    await store.setModeration(tx, t.level, t.code, moderated, actorId);
    await recordAudit(tx, {
      actorId,
      action: 'places.moderation.setting',
      objectType: 'territory',
      objectId: `${t.level}:${t.code}`,
      before: { moderated: before[t.level] },
      after: { moderated },
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Claims

export const CLAIM_LINK_MINUTES = 7 * 24 * 60;
const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/**
 * A signed-in person asks to manage a place: by e-mail (a link goes to one of the place's own
 * addresses) or by asking the territory's staff. Returns the token to e-mail (method email).
 */
export async function startClaim(
  db: Db,
  o: { userId: string; placeUid: string; method: 'email' | 'staff'; email: string; message: string },
): Promise<{ claim: store.Claim; token: string | null; place: Place }> {
  const place = await getPlace(db, o.placeUid);
  if (!place || !place.visible) throw new NotFoundError('Ce lieu n’existe pas.');
  const message = o.message.trim();
  let email: string | null = null;
  let token: string | null = null;
  if (o.method === 'email') {
    email = place.courriels.find((c) => c.toLowerCase() === o.email.trim().toLowerCase()) ?? null;
    if (!email) {
      throw new UserError(
        place.courriels.length ? 'Choisissez une des adresses e-mail de la fiche du lieu.' : 'La fiche de ce lieu n’a pas d’adresse e-mail : demandez la validation par l’équipe du territoire.',
        400,
        'email',
      );
    }
    token = crypto.randomBytes(32).toString('base64url');
  } else {
    if (message.length < 10) throw new UserError('Expliquez en quelques mots votre lien avec ce lieu (10 caractères au moins).', 400, 'message');
  }
  if (message.length > 1000) throw new UserError('Votre message ne doit pas dépasser 1 000 caractères.', 400, 'message');
  const claim = await db.transaction(async (tx) => {
    if (await store.pendingClaimOf(tx, place.uid, o.userId)) throw new UserError('Vous avez déjà une demande en cours pour ce lieu.', 409, 'method');
    const c = await store.insertClaim(tx, {
      placeUid: place.uid,
      userId: o.userId,
      method: o.method,
      email,
      tokenHash: token ? sha256(token) : null,
      message: message || null,
      expiresMinutes: token ? CLAIM_LINK_MINUTES : null,
    });
    await recordAudit(tx, { actorId: o.userId, action: 'places.claim.create', objectType: 'place', objectId: place.uid, after: { claim: c.id, method: c.method, email: c.email } });
    return c;
  });
  return { claim, token, place };
}

/** The pending claim behind an e-mailed link (for the confirmation page). */
export async function claimForToken(db: Queryable, token: string): Promise<store.Claim | null> {
  if (!token || token.length > 100) return null;
  return store.claimByToken(db, sha256(token));
}

/** The holder of the place's mailbox confirms: the claim is approved (the role is granted by the caller). */
export async function confirmClaim(db: Db, token: string): Promise<store.Claim | null> {
  if (!token || token.length > 100) return null;
  return db.transaction(async (tx) => {
    const c = await store.claimByToken(tx, sha256(token), true);
    if (!c) return null;
    const done = await store.decideClaim(tx, c.id, 'approved', null, `Confirmée depuis ${c.email}`);
    await recordAudit(tx, { actorId: null, action: 'places.claim.verify', objectType: 'place', objectId: c.placeUid, before: { claim: c.id, status: 'pending' }, after: { claim: c.id, status: 'approved', user: c.userId, email: c.email } });
    return done;
  });
}

export async function decideClaimByStaff(db: Db, actorId: string, id: number, approve: boolean, note: string | null): Promise<store.Claim> {
  return db.transaction(async (tx) => {
    const c = await store.getClaim(tx, id, true);
    if (!c) throw new NotFoundError('Cette demande n’existe pas.');
    if (c.status !== 'pending') throw new UserError('Cette demande a déjà été traitée.', 409);
    const done = (await store.decideClaim(tx, id, approve ? 'approved' : 'rejected', actorId, note))!;
    await recordAudit(tx, {
      actorId,
      action: approve ? 'places.claim.approve' : 'places.claim.reject',
      objectType: 'place',
      objectId: c.placeUid,
      before: { claim: id, status: 'pending' },
      after: { claim: id, status: done.status, user: c.userId, note },
    });
    return done;
  });
}

export async function getClaim(db: Queryable, id: number) {
  return store.getClaim(db, id);
}

// ---------------------------------------------------------------------------------------------
// Duplicates

export async function mergeDuplicates(db: Db, actorId: string, keepUid: string, dropUid: string, fields: FieldName[]): Promise<number> {
  return db.transaction(async (tx) => {
    const keep = await lockPlace(tx, keepUid);
    const drop = await lockPlace(tx, dropUid);
    await currentVersion(tx, keep);
    const before = { keep: toRecord(keep), drop: { uid: drop.uid, visible: drop.visible } };
    await mergePlaces(inTx(tx, db.kind), keepUid, dropUid, fields, actorId);
    const kept = (await getPlaceRow(tx, keepUid))!;
    const version = await store.insertVersion(tx, { placeUid: keepUid, record: toRecord(kept), reason: 'merge', actorId, note: `Fusion avec ${drop.nom} (${drop.importSource})` });
    await recordAudit(tx, {
      actorId,
      action: 'places.merge',
      objectType: 'place',
      objectId: keepUid,
      before,
      after: { keep: toRecord(kept), drop: { uid: drop.uid, visible: false, mergedInto: keepUid } },
      meta: { fieldsFromDropped: fields, version },
    });
    return version;
  });
}

export async function dismissDuplicate(db: Db, actorId: string, a: string, b: string): Promise<void> {
  await db.transaction(async (tx) => {
    await markNotDuplicate(tx, a, b, actorId);
    await recordAudit(tx, { actorId, action: 'places.duplicate.dismiss', objectType: 'place', objectId: a < b ? a : b, after: { pair: [a, b].sort(), decision: 'not_duplicate' } });
  });
}

// ---------------------------------------------------------------------------------------------
// Imports through the browser: the uploaded file waits on disk between the check and the import.

const UPLOAD_DIR = path.join(os.tmpdir(), 'maillage-imports');
const UPLOAD_TTL_MS = 2 * 3600 * 1000;

export interface StagedUpload {
  id: string;
  userId: string;
  fileName: string;
  source: string;
  replaceSource: boolean;
  size: number;
  createdAt: number;
}

function cleanUploads() {
  try {
    for (const f of fs.readdirSync(UPLOAD_DIR)) {
      const p = path.join(UPLOAD_DIR, f);
      if (Date.now() - fs.statSync(p).mtimeMs > UPLOAD_TTL_MS) fs.rmSync(p, { force: true });
    }
  } catch {
    /* nothing staged yet */
  }
}

export function stageUpload(userId: string, file: Buffer, o: { fileName: string; source: string; replaceSource: boolean }): StagedUpload {
  cleanUploads();
  fs.mkdirSync(UPLOAD_DIR, { recursive: true, mode: 0o700 });
  const id = crypto.randomBytes(16).toString('hex');
  const meta: StagedUpload = { id, userId, fileName: o.fileName, source: o.source, replaceSource: o.replaceSource, size: file.length, createdAt: Date.now() };
  fs.writeFileSync(path.join(UPLOAD_DIR, `${id}.data`), file, { mode: 0o600 });
  fs.writeFileSync(path.join(UPLOAD_DIR, `${id}.json`), JSON.stringify(meta), { mode: 0o600 });
  return meta;
}

/** A staged upload of this person (never someone else's), or null when unknown or expired. */
export function stagedUpload(userId: string, id: string): { meta: StagedUpload; data: Buffer } | null {
  if (!/^[0-9a-f]{32}$/.test(id)) return null;
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(UPLOAD_DIR, `${id}.json`), 'utf8')) as StagedUpload;
    if (meta.userId !== userId || Date.now() - meta.createdAt > UPLOAD_TTL_MS) return null;
    return { meta, data: fs.readFileSync(path.join(UPLOAD_DIR, `${id}.data`)) };
  } catch {
    return null;
  }
}

export function dropUpload(id: string) {
  if (!/^[0-9a-f]{32}$/.test(id)) return;
  fs.rmSync(path.join(UPLOAD_DIR, `${id}.data`), { force: true });
  fs.rmSync(path.join(UPLOAD_DIR, `${id}.json`), { force: true });
}

export const IMPORT_SOURCE = /^[\w.\-:@ ]{1,100}$/;

/** The person importing through the back office, as the permission function sees them. */
export interface Importer {
  id: string;
  /** May they import into this territory? (`can(user, 'places.import', territory)`) */
  mayImport(resource: Resource): boolean;
  /** May they manage sources (administrators: any source, anywhere)? */
  admin: boolean;
}

/** A source's territory entry: `region:84`, `departement:69`. */
export const SOURCE_TERRITORY = /^(region|departement):([0-9AB]{2,3})$/i;

/**
 * Why this person may not feed this source from this territory, or null. A described source names
 * the territories allowed to feed it; a source that exists in the data without being described is
 * for administrators until one ties it to territories; a new name becomes a source tied to the
 * importing territory (see `runImport`).
 */
export async function sourceFeedProblem(q: Queryable, importer: Importer, source: string): Promise<string | null> {
  if (importer.admin) return null;
  const src = await store.getSource(q, source);
  if (src) {
    for (const entry of src.territories) {
      const m = SOURCE_TERRITORY.exec(entry);
      const t = m ? await loadTerritory(q, m[1]!.toLowerCase(), m[2]!) : null;
      if (t && importer.mayImport(territoryResource(t))) return null;
    }
    return src.territories.length
      ? `La source « ${source} » est alimentée depuis d’autres territoires (${src.territories.join(', ')}) : importez sous une autre source, ou demandez à un administrateur de rattacher celle-ci à votre territoire (page Sources).`
      : `La source « ${source} » n’est rattachée à aucun territoire : seul un administrateur peut l’importer, ou la rattacher à votre territoire (page Sources).`;
  }
  const { rows } = await q.query('SELECT 1 FROM places.place WHERE import_source = $1 LIMIT 1', [source]);
  if (rows.length) {
    return `La source « ${source} » existe dans les données sans être décrite : un administrateur doit la décrire et la rattacher à votre territoire (page Sources) avant un import depuis cet espace.`;
  }
  return null;
}

/**
 * Checks (dry run) or imports a file for a source, with the source's mapping file when it has one.
 * The file may only touch places of the importer's territory (rows as they will be, the places
 * they update, the places "replace" would remove), and the source must be one this territory
 * feeds: problems are listed in `report.scopeProblems` by the dry run and refuse the real import.
 * Audited by `importPlaces`, in its transaction.
 */
export async function runImport(
  db: Db,
  importer: Importer,
  o: { data: Buffer; fileName: string; source: string; replaceSource: boolean; dryRun: boolean; territory: Territory },
): Promise<ImportReport> {
  if (!IMPORT_SOURCE.test(o.source)) throw new UserError('Le nom de la source est un nom court (lettres, chiffres, - _ . : @ et espaces).', 400, 'source');
  const src = await store.getSource(db, o.source);
  const mapping: MappingFile | undefined = src?.mapping ?? undefined;
  const scope = { allowed: (region: string | null, departement: string | null) => importer.mayImport({ type: 'territory', region, departement }) };
  const feed = o.dryRun ? await sourceFeedProblem(db, importer, o.source) : null;
  const report = await importPlaces(db, o.data, {
    importSource: o.source,
    actor: importer.id,
    actorId: importer.id,
    door: 'backoffice',
    auditMeta: { mapping: src?.mappingFileName ?? null, territory: `${o.territory.level}:${o.territory.code}` },
    fileName: o.fileName,
    dryRun: o.dryRun,
    replaceSource: o.replaceSource,
    mapping,
    maxIssues: 2000,
    scope,
    // In the import's transaction: a new source is created tied to the importing territory (two
    // territories importing a new name at once: the second waits on the key, then is refused).
    beforeWrite: async (tx) => {
      const created = await tx.query(
        `INSERT INTO places.source (name, label, territories)
         SELECT $1, $1, ARRAY[$2] WHERE NOT EXISTS (SELECT 1 FROM places.place WHERE import_source = $1)
         ON CONFLICT (name) DO NOTHING RETURNING name`,
        [o.source, `${o.territory.level}:${o.territory.code}`],
      );
      const problem = await sourceFeedProblem(tx, importer, o.source);
      if (problem) throw new UserError(problem, 403, 'source');
      if (created.rows.length) {
        await recordAudit(tx, {
          actorId: importer.id, action: 'places.source.create', objectType: 'source', objectId: o.source,
          after: { label: o.source, territories: [`${o.territory.level}:${o.territory.code}`] }, meta: { by: 'import' },
        });
      }
    },
  });
  if (feed) report.scopeProblems.unshift(feed);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Sources (administrators)

export interface SourceInput {
  name: string;
  label: string;
  producer: string;
  contact: string;
  url: string;
  /** Territories allowed to feed the source from the back office, separated by commas or spaces:
   *  `departement:69`, `region:84` (or a bare code: 2–3 characters = département, as typed). */
  territories?: string;
}

/** Parses a source's territories (`departement:69, region:84`); errors name the entry. */
export async function parseSourceTerritories(q: Queryable, text: string): Promise<string[]> {
  const out: string[] = [];
  for (const raw of text.split(/[\s,;]+/).filter(Boolean).slice(0, 200)) {
    const m = SOURCE_TERRITORY.exec(raw.includes(':') ? raw : `departement:${raw}`);
    const t = m ? await loadTerritory(q, m[1]!.toLowerCase(), m[2]!) : null;
    if (!t) throw new UserError(`Territoire inconnu : « ${raw.slice(0, 40)} » (écrivez par exemple departement:69 ou region:84).`, 400, 'territories');
    const entry = `${t.level}:${t.code}`;
    if (!out.includes(entry)) out.push(entry);
  }
  return out;
}

export async function saveSource(db: Db, actorId: string, input: SourceInput, isNew: boolean): Promise<void> {
  const name = input.name.trim();
  const label = input.label.trim();
  if (!IMPORT_SOURCE.test(name)) throw new UserError('L’identifiant de la source est un nom court (lettres, chiffres, - _ . : @ et espaces, 100 au plus).', 400, 'name');
  if (!label) throw new UserError('Donnez un nom lisible à la source.', 400, 'label');
  if (label.length > 200) throw new UserError('Le nom de la source ne doit pas dépasser 200 caractères.', 400, 'label');
  const url = input.url.trim();
  if (url && !/^https?:\/\/[^\s<>"]+$/i.test(url)) throw new UserError('L’adresse du site doit commencer par http:// ou https://.', 400, 'url');
  const opt = (s: string, max: number, field: string) => {
    const v = s.trim();
    if (v.length > max) throw new UserError(`Ce champ ne doit pas dépasser ${max} caractères.`, 400, field);
    return v || null;
  };
  const territories = await parseSourceTerritories(db, input.territories ?? '');
  const row = { name, label, producer: opt(input.producer, 200, 'producer'), contact: opt(input.contact, 200, 'contact'), url: url || null };
  await db.transaction(async (tx) => {
    const before = await store.getSource(tx, name);
    if (isNew && before) throw new UserError('Une source porte déjà cet identifiant.', 409, 'name');
    await store.upsertSource(tx, { ...row, territories: input.territories === undefined ? (before?.territories ?? []) : territories });
    await recordAudit(tx, {
      actorId,
      action: isNew ? 'places.source.create' : 'places.source.update',
      objectType: 'source',
      objectId: name,
      before: before ? { label: before.label, producer: before.producer, contact: before.contact, url: before.url, territories: before.territories } : null,
      after: { label: row.label, producer: row.producer, contact: row.contact, url: row.url, territories: input.territories === undefined ? (before?.territories ?? []) : territories },
    });
  });
}

/** Stores a producer's mapping file after checking it (null removes it). */
export async function setSourceMapping(db: Db, actorId: string, name: string, file: { text: string; fileName: string } | null): Promise<void> {
  let mapping: MappingFile | null = null;
  if (file) {
    const parsed = parseMappingFile(file.text);
    if (!parsed.ok) throw new UserError(parsed.message, 400, 'mapping');
    mapping = parsed.mapping;
  }
  await db.transaction(async (tx) => {
    const before = await store.getSource(tx, name);
    if (!before) throw new NotFoundError('Cette source n’existe pas.');
    await writeMapping(tx, actorId, before, mapping, file?.fileName ?? null);
  });
}

async function writeMapping(tx: Queryable, actorId: string, before: store.Source, mapping: MappingFile | null, fileName: string | null, meta?: Record<string, unknown>) {
  await store.setSourceMapping(tx, before.name, mapping, fileName);
  await recordAudit(tx, {
    actorId,
    action: 'places.source.mapping',
    objectType: 'source',
    objectId: before.name,
    before: { mapping: before.mapping, fileName: before.mappingFileName },
    after: { mapping, fileName },
    ...(meta ? { meta } : {}),
  });
}

/**
 * Saves a mapping built with the back office's form, from a territory's import pages: the person
 * must be allowed to feed the source from there (`sourceFeedProblem`: a described source tied to
 * one of their territories; administrators any). A new source name is created tied to the
 * territory, as a first import would. One transaction: source, mapping and audit, or nothing.
 */
export async function saveMappingFromTerritory(
  db: Db,
  importer: Importer,
  territory: Territory,
  o: { source: string; mapping: MappingFile; fileName: string },
): Promise<void> {
  if (!IMPORT_SOURCE.test(o.source)) throw new UserError('Le nom de la source est un nom court (lettres, chiffres, - _ . : @ et espaces).', 400, 'source');
  const where = `${territory.level}:${territory.code}`;
  await db.transaction(async (tx) => {
    const created = await tx.query(
      `INSERT INTO places.source (name, label, territories)
       SELECT $1, $1, ARRAY[$2] WHERE NOT EXISTS (SELECT 1 FROM places.place WHERE import_source = $1)
       ON CONFLICT (name) DO NOTHING RETURNING name`,
      [o.source, where],
    );
    const problem = await sourceFeedProblem(tx, importer, o.source);
    if (problem) throw new UserError(problem, 403, 'source');
    if (created.rows.length) {
      await recordAudit(tx, {
        actorId: importer.id, action: 'places.source.create', objectType: 'source', objectId: o.source,
        after: { label: o.source, territories: [where] }, meta: { by: 'mapping' },
      });
    }
    const before = (await store.getSource(tx, o.source))!;
    await writeMapping(tx, importer.id, before, o.mapping, o.fileName, { door: 'backoffice', territory: where });
  });
}

// ---------------------------------------------------------------------------------------------
// Error reports from the public site (stored by the site module, which provides these functions)

export type ReportStatus = 'new' | 'in_progress' | 'resolved' | 'rejected';
export const REPORT_STATUSES: ReportStatus[] = ['new', 'in_progress', 'resolved', 'rejected'];

export interface ErrorReportItem {
  id: number;
  placeUid: string;
  message: string;
  contact: string | null;
  createdAt: string;
  status: ReportStatus;
}

/** What the site module gives the back office (it owns the reports' table). */
export interface ErrorReportAdmin {
  /** Reports not closed yet (new, in progress), newest first. */
  listOpen(q: Queryable, limit: number): Promise<ErrorReportItem[]>;
  listForPlace(q: Queryable, placeUid: string): Promise<ErrorReportItem[]>;
  get(q: Queryable, id: number): Promise<ErrorReportItem | null>;
  setStatus(q: Queryable, id: number, status: ReportStatus): Promise<boolean>;
}

let reports: ErrorReportAdmin | null = null;

/** Called by the site module (src/modules/site/reports-admin.ts): places cannot import site. */
export function provideErrorReports(admin: ErrorReportAdmin): void {
  reports = admin;
}

export function errorReports(): ErrorReportAdmin | null {
  return reports;
}

/** Open reports about the places of a territory. */
export async function openReportsIn(db: Queryable, t: Territory, limit = 200): Promise<(ErrorReportItem & { place: Place })[]> {
  if (!reports) return [];
  const open = await reports.listOpen(db, 5000);
  const uids = [...new Set(open.map((r) => r.placeUid))].filter((u) => /^[0-9a-f-]{36}$/i.test(u));
  const places = new Map((await getPlacesByUids(db, uids)).map((p) => [p.uid, p]));
  const out: (ErrorReportItem & { place: Place })[] = [];
  for (const r of open) {
    const p = places.get(r.placeUid);
    if (!p) continue;
    if (t.level === 'region' ? p.region !== t.code : p.departement !== t.code) continue;
    out.push({ ...r, place: p });
    if (out.length >= limit) break;
  }
  return out;
}

export async function setReportStatus(db: Db, actorId: string, id: number, status: ReportStatus): Promise<void> {
  if (!reports) throw new UserError('Les signalements ne sont pas disponibles.', 503);
  if (!REPORT_STATUSES.includes(status)) throw new UserError('État de signalement inconnu.', 400, 'status');
  const admin = reports;
  await db.transaction(async (tx) => {
    const before = await admin.get(tx, id);
    if (!before) throw new NotFoundError('Ce signalement n’existe pas.');
    await admin.setStatus(tx, id, status);
    await recordAudit(tx, { actorId, action: 'places.report.status', objectType: 'error_report', objectId: String(id), before: { status: before.status }, after: { status }, meta: { place: before.placeUid } });
  });
}
