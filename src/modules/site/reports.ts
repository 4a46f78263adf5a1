/**
 * « Signaler une erreur »: visitors' reports about a place, stored for the place's managers
 * (table site.error_report). Spam resistance without third parties: a honeypot field, a signed
 * start time (minimum fill time, maximum age) and length limits; the route is also rate limited.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../platform/db/index.ts';

export const REPORT_LIMITS = {
  messageMin: 10,
  messageMax: 2000,
  contactMax: 200,
  /** A human needs at least this long to read the form and type a message. */
  minFillMs: 3000,
  /** Forms older than this are refused (the visitor reloads the page). */
  maxAgeMs: 24 * 3600 * 1000,
};

export type ReportStatus = 'new' | 'in_progress' | 'resolved' | 'rejected';

export interface ErrorReport {
  id: number;
  placeUid: string;
  message: string;
  contact: string | null;
  createdAt: string;
  status: ReportStatus;
}

/** Signs form start times; the key comes from configuration or is drawn per process. */
export class FormClock {
  private readonly key: Buffer;
  constructor(secret: string | null) {
    this.key = secret ? crypto.createHash('sha256').update(`site-form:${secret}`).digest() : crypto.randomBytes(32);
  }
  stamp(now = Date.now()): string {
    const t = String(now);
    return `${t}.${this.sign(t)}`;
  }
  /** Milliseconds since the stamp, or null when the stamp is missing or forged. */
  elapsed(stamp: string | undefined, now = Date.now()): number | null {
    if (!stamp) return null;
    const [t, sig] = stamp.split('.');
    if (!t || !sig || !/^\d+$/.test(t)) return null;
    const expected = this.sign(t);
    if (sig.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) return null;
    return now - Number(t);
  }
  private sign(t: string): string {
    return crypto.createHmac('sha256', this.key).update(t).digest('base64url').slice(0, 32);
  }
}

export interface ReportInput {
  message?: unknown;
  contact?: unknown;
  website?: unknown;
  started?: unknown;
}

export type ReportCheck =
  | { ok: true; message: string; contact: string | null }
  | { ok: false; spam: true }
  | { ok: false; spam: false; errors: Partial<Record<'message' | 'contact' | 'form', string>>; values: { message: string; contact: string } };

/** Validates a report; `spam` results (a filled honeypot) are silently dropped by the caller. */
export function checkReport(input: ReportInput, clock: FormClock, now = Date.now()): ReportCheck {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const message = str(input.message).replace(/\r\n/g, '\n').trim();
  const contact = str(input.contact).trim();
  if (str(input.website).trim() !== '') return { ok: false, spam: true };
  const elapsed = clock.elapsed(str(input.started), now);
  const values = { message: message.slice(0, REPORT_LIMITS.messageMax), contact: contact.slice(0, REPORT_LIMITS.contactMax) };
  if (elapsed === null || elapsed > REPORT_LIMITS.maxAgeMs) {
    return { ok: false, spam: false, errors: { form: 'Le formulaire a expiré. Vérifiez votre message et envoyez-le de nouveau.' }, values };
  }
  // Sent within seconds of opening the page: robots do that, and so may a quick person. Not stored,
  // but said, with the text kept, so a genuine report is sent again with one click.
  if (elapsed < REPORT_LIMITS.minFillMs) {
    return {
      ok: false,
      spam: false,
      errors: { form: `Votre signalement est parti ${Math.max(0, Math.round(elapsed / 100) / 10).toLocaleString('fr-FR')} s après l’ouverture de la page : pour écarter les envois automatiques, nous n’enregistrons pas un signalement envoyé en moins de ${REPORT_LIMITS.minFillMs / 1000} secondes. Votre texte est conservé : relisez-le et envoyez-le de nouveau.` },
      values,
    };
  }
  const errors: Partial<Record<'message' | 'contact', string>> = {};
  if (message.length < REPORT_LIMITS.messageMin) errors.message = `Décrivez l’erreur en au moins ${REPORT_LIMITS.messageMin} caractères.`;
  else if (message.length > REPORT_LIMITS.messageMax) errors.message = `Votre message dépasse ${REPORT_LIMITS.messageMax} caractères : raccourcissez-le.`;
  if (contact.length > REPORT_LIMITS.contactMax) errors.contact = `Le contact dépasse ${REPORT_LIMITS.contactMax} caractères.`;
  else if (contact && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(contact) && !/^\+?[\d\s.()-]{6,20}$/.test(contact)) {
    errors.contact = 'Indiquez un courriel (nom@exemple.fr) ou un numéro de téléphone, ou laissez ce champ vide.';
  }
  // Link-stuffed messages are the commonest spam.
  if (!errors.message && (message.match(/https?:\/\//g) ?? []).length > 3) errors.message = 'Votre message contient trop de liens.';
  if (Object.keys(errors).length) return { ok: false, spam: false, errors, values };
  return { ok: true, message, contact: contact || null };
}

export async function saveReport(db: Queryable, placeUid: string, message: string, contact: string | null): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    'INSERT INTO site.error_report (place_uid, message, contact) VALUES ($1, $2, $3) RETURNING id',
    [placeUid, message, contact],
  );
  return rows[0]!.id;
}

/** Reports for the managers (back office): newest first, optionally for one place or status. */
export async function listErrorReports(db: Queryable, o: { placeUid?: string; status?: ReportStatus; limit?: number } = {}): Promise<ErrorReport[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (o.placeUid) where.push(`place_uid = $${params.push(o.placeUid)}`);
  if (o.status) where.push(`status = $${params.push(o.status)}`);
  params.push(Math.min(Math.max(o.limit ?? 100, 1), 1000));
  const { rows } = await db.query<{ id: number; place_uid: string; message: string; contact: string | null; created_at: Date | string; status: ReportStatus }>(
    `SELECT id, place_uid, message, contact, created_at, status FROM site.error_report
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    id: r.id,
    placeUid: r.place_uid,
    message: r.message,
    contact: r.contact,
    createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : String(r.created_at),
    status: r.status,
  }));
}

/**
 * Changes a report's status. Once a report is handled (resolved or rejected) the visitor's contact
 * is erased: it only served to ask them about this report (promise of the personal-data page).
 */
export async function setErrorReportStatus(db: Queryable, id: number, status: ReportStatus): Promise<boolean> {
  const r = await db.query(
    `UPDATE site.error_report SET status = $2, contact = CASE WHEN $2 IN ('resolved', 'rejected') THEN NULL ELSE contact END WHERE id = $1`,
    [id, status],
  );
  return r.rowCount > 0;
}

/** How long a report is kept, whatever its status (personal-data page: « au plus tard au bout d’un an »). */
export const REPORT_RETENTION_DAYS = 365;

/** Deletes the reports older than the retention period; returns how many were deleted. */
export async function purgeErrorReports(db: Queryable, now: Date = new Date()): Promise<number> {
  const r = await db.query(`DELETE FROM site.error_report WHERE created_at < $1::timestamptz - make_interval(days => $2)`, [now.toISOString(), REPORT_RETENTION_DAYS]);
  return r.rowCount;
}
