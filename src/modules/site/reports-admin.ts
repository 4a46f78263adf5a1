/**
 * The error reports as the places back office handles them. The site module owns the table
 * (site.error_report); the back office lives in the places module, which site depends on, so
 * instead of places importing site, this file hands places the functions it needs when the site
 * module loads (src/modules/site/index.ts re-exports it).
 */
import type { Queryable } from '../../platform/db/index.ts';
import { provideErrorReports, type ErrorReportAdmin, type ErrorReportItem } from '../places/index.ts';
import { setErrorReportStatus, type ReportStatus } from './reports.ts';

type Row = { id: number | string; place_uid: string; message: string; contact: string | null; created_at: Date | string; status: ReportStatus };

function toItem(r: Row): ErrorReportItem {
  return {
    id: Number(r.id),
    placeUid: r.place_uid,
    message: r.message,
    contact: r.contact,
    createdAt: (r.created_at instanceof Date ? r.created_at : new Date(r.created_at)).toISOString(),
    status: r.status,
  };
}

export const errorReportsAdmin: ErrorReportAdmin = {
  async listOpen(q: Queryable, limit: number) {
    const { rows } = await q.query<Row>(
      `SELECT id, place_uid, message, contact, created_at, status FROM site.error_report
       WHERE status IN ('new', 'in_progress') ORDER BY created_at DESC, id DESC LIMIT $1`,
      [Math.min(Math.max(limit, 1), 10_000)],
    );
    return rows.map(toItem);
  },
  async listForPlace(q: Queryable, placeUid: string) {
    const { rows } = await q.query<Row>(
      'SELECT id, place_uid, message, contact, created_at, status FROM site.error_report WHERE place_uid = $1 ORDER BY created_at DESC, id DESC LIMIT 200',
      [placeUid],
    );
    return rows.map(toItem);
  },
  async get(q: Queryable, id: number) {
    if (!Number.isSafeInteger(id) || id <= 0) return null;
    const { rows } = await q.query<Row>('SELECT id, place_uid, message, contact, created_at, status FROM site.error_report WHERE id = $1', [id]);
    return rows[0] ? toItem(rows[0]) : null;
  },
  setStatus: (q: Queryable, id: number, status: ReportStatus) => setErrorReportStatus(q, id, status),
};

provideErrorReports(errorReportsAdmin);
