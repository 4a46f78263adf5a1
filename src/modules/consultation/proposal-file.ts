/**
 * The one file a proposal's author may attach (« lieu de l’annuaire ou fichier », #21): PDF, PNG
 * or JPEG as read from its first bytes (the client's type is never trusted, and the name's
 * extension must agree), 5 Mo at most, attached or replaced while the proposal may be edited,
 * removed with it. Read by whoever may read the proposal (a hidden proposal's file: moderators
 * only, see the pages); never part of the open-data exports. Stored in consultation's own table.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { editable, type State } from './model.ts';
import type { Ctx } from './service.ts';

export const MAX_PROPOSAL_FILE_BYTES = 5 * 1024 * 1024;

export const PROPOSAL_FILE_KINDS = {
  pdf: { label: 'PDF', mime: 'application/pdf', ext: ['pdf'] },
  png: { label: 'image PNG', mime: 'image/png', ext: ['png'] },
  jpeg: { label: 'image JPEG', mime: 'image/jpeg', ext: ['jpg', 'jpeg'] },
} as const;
export type ProposalFileKind = keyof typeof PROPOSAL_FILE_KINDS;

/** The kind of a file from its first bytes; null when not one accepted here. */
export function sniffProposalFile(data: Buffer): ProposalFileKind | null {
  if (data.length < 8) return null;
  if (data.subarray(0, 5).toString('latin1') === '%PDF-') return 'pdf';
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  return null;
}

export interface ProposalFileInfo {
  name: string;
  kind: ProposalFileKind;
  size: number;
}

/** Checks name, size and content; returns the kind, or throws a UserError naming the field `file`. */
export function checkProposalFile(fileName: string, data: Buffer): { name: string; kind: ProposalFileKind } {
  const name = fileName.normalize('NFC').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (!name || data.length === 0) throw new UserError('Fichier : choisissez un fichier à joindre.', 400, 'file');
  if (name.length > 200) throw new UserError('Fichier : son nom dépasse 200 caractères.', 400, 'file');
  if (data.length > MAX_PROPOSAL_FILE_BYTES) throw new UserError('Fichier : 5 Mo au plus.', 413, 'file');
  const kind = sniffProposalFile(data);
  if (!kind) throw new UserError('Fichier : seuls les PDF et les images PNG ou JPEG sont acceptés (le contenu du fichier n’en est pas un).', 415, 'file');
  const ext = /\.([a-z0-9]{1,5})$/i.exec(name)?.[1]?.toLowerCase() ?? '';
  if (!(PROPOSAL_FILE_KINDS[kind].ext as readonly string[]).includes(ext)) {
    throw new UserError(`Fichier : son contenu est un ${PROPOSAL_FILE_KINDS[kind].label} mais son nom finit par « .${ext || '?'} » ; renommez-le.`, 415, 'file');
  }
  return { name, kind };
}

/** Locks the proposal and checks that `userId` is its author and that it may still be edited. */
async function lockOwnEditable(tx: Queryable, proposalId: string, userId: string): Promise<void> {
  const { rows } = await tx.query<{ author_id: string | null; state: State; hidden_at: Date | null }>('SELECT author_id, state, hidden_at FROM consultation.proposal WHERE id = $1 FOR UPDATE', [proposalId]);
  const r = rows[0];
  if (!r) throw new NotFoundError('Proposition introuvable.');
  if (r.author_id !== userId) throw new UserError('Seul l’auteur peut joindre ou retirer le fichier de sa proposition.', 403, null, 'forbidden');
  if (r.hidden_at) throw new UserError('Fichier : cette proposition a été masquée par la modération.', 409, 'file');
  if (!editable(r.state)) throw new UserError('Fichier : cette proposition est à l’étude ou a reçu une réponse ; elle ne peut plus être modifiée.', 409, 'file');
}

/** Attaches (or replaces) the proposal's file. Audited with its name, kind, size and digest. */
export async function attachProposalFile(ctx: Ctx, userId: string, proposalId: string, upload: { fileName: string; data: Buffer }): Promise<ProposalFileInfo> {
  const { name, kind } = checkProposalFile(upload.fileName, upload.data);
  await ctx.db.transaction(async (tx) => {
    await lockOwnEditable(tx, proposalId, userId);
    const before = (await tx.query<{ name: string; sha256: string }>('SELECT name, sha256 FROM consultation.proposal_file WHERE proposal_id = $1', [proposalId])).rows[0] ?? null;
    await storeProposalFile(tx, userId, proposalId, { name, kind }, upload.data, before);
  });
  return { name, kind, size: upload.data.length };
}

/** Within a transaction: stores (or replaces) the proposal's file; audited. */
export async function storeProposalFile(tx: Queryable, userId: string, proposalId: string, f: { name: string; kind: ProposalFileKind }, data: Buffer, before: { name: string; sha256: string } | null): Promise<void> {
  const sha256 = crypto.createHash('sha256').update(data).digest('hex');
  await tx.query(
    `INSERT INTO consultation.proposal_file (proposal_id, name, kind, size, sha256, data, uploaded_by) VALUES ($1,$2,$3,$4,$5,$6,$7)
     ON CONFLICT (proposal_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, size = EXCLUDED.size, sha256 = EXCLUDED.sha256, data = EXCLUDED.data, uploaded_by = EXCLUDED.uploaded_by, created_at = now()`,
    [proposalId, f.name, f.kind, data.length, sha256, data, userId]);
  await recordAudit(tx, { actorId: userId, action: 'consultation.file.attach', objectType: 'consultation.proposal', objectId: proposalId, before, after: { name: f.name, kind: f.kind, size: data.length, sha256 } });
}

export async function removeProposalFile(ctx: Ctx, userId: string, proposalId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await lockOwnEditable(tx, proposalId, userId);
    const del = await tx.query<{ name: string; sha256: string }>('DELETE FROM consultation.proposal_file WHERE proposal_id = $1 RETURNING name, sha256', [proposalId]);
    if (!del.rows[0]) throw new UserError('Fichier : cette proposition n’a pas de fichier joint.', 409, 'file');
    await recordAudit(tx, { actorId: userId, action: 'consultation.file.remove', objectType: 'consultation.proposal', objectId: proposalId, before: del.rows[0] });
  });
}

export async function proposalFileInfo(db: Queryable, proposalId: string): Promise<ProposalFileInfo | null> {
  const { rows } = await db.query<ProposalFileInfo>('SELECT name, kind, size FROM consultation.proposal_file WHERE proposal_id = $1', [proposalId]);
  return rows[0] ?? null;
}

/** The stored file (the caller has checked that the reader may read the proposal). */
export async function proposalFileData(db: Queryable, proposalId: string): Promise<{ name: string; mime: string; data: Buffer } | null> {
  const { rows } = await db.query<{ name: string; kind: ProposalFileKind; data: Buffer | Uint8Array }>('SELECT name, kind, data FROM consultation.proposal_file WHERE proposal_id = $1', [proposalId]);
  const r = rows[0];
  return r ? { name: r.name, mime: PROPOSAL_FILE_KINDS[r.kind].mime, data: Buffer.from(r.data) } : null;
}
