/**
 * One small data-access interface over the embedded database (PGlite) and PostgreSQL (`pg`).
 * Every module uses it; the SQL is the same on both.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { giveWay, isBackground } from './background.ts';

export type Row = Record<string, unknown>;

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Keep the statement prepared on the connection (PostgreSQL): later runs of the same SQL text skip
   * parsing and, once PostgreSQL finds a generic plan as good as the custom ones, planning. For hot
   * statements whose best plan does not depend on the parameters' values. Ignored by PGlite.
   */
  prepare?: boolean;
}

export interface Queryable {
  /** Runs one parameterised statement ($1, $2…). */
  query<T = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<T>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Loads rows in COPY's text format into `target` (`table (col, …)`, checked by `copyRows`,
   * which is the way modules call it): `COPY … FROM STDIN` on PostgreSQL, `COPY … FROM
   * '/dev/blob'` on PGlite. Returns the number of rows loaded. `text` may be already encoded
   * (UTF-8 bytes).
   */
  copyText(target: string, text: string | Buffer): Promise<number>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn in a transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** PostgreSQL connection string; when null the embedded database is used. */
  databaseUrl: string | null;
  /** Directory for the embedded database files; null = in memory. */
  pgliteDir?: string | null;
  /** A gzipped PGlite data directory to start from (test fixtures). */
  loadDataDir?: Blob | null;
  poolSize?: number;
}

// Type parsers shared by both drivers: dates stay ISO strings, bigints and numerics become numbers.
const DATE_OID = 1082;
const INT8_OID = 20;
const NUMERIC_OID = 1700;

export async function openDb(options: DbOptions): Promise<Db> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 10);
  return openPglite(options.pgliteDir ?? null, options.loadDataDir ?? null);
}

async function openPglite(dir: string | null, loadDataDir: Blob | null): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const { unaccent } = await import('@electric-sql/pglite/contrib/unaccent');
  if (dir) {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    lockDataDir(dir);
  }
  const pg = await PGlite.create({
    dataDir: dir ?? undefined,
    loadDataDir: loadDataDir ?? undefined,
    extensions: { pg_trgm, unaccent },
    parsers: {
      [DATE_OID]: (v: string) => v,
      [INT8_OID]: (v: string) => Number(v),
      [NUMERIC_OID]: (v: string) => Number(v),
    },
  });
  // Outside a transaction, background work (a first start's data load) gives way to requests
  // before each statement it sends (see background.ts); inside one, the connection is its own.
  const wrap = (q: { query: typeof pg.query; exec: typeof pg.exec }, outside: boolean): Queryable => {
    const turn = async () => {
      if (outside && isBackground()) await giveWay();
    };
    return {
      async query<T>(sql: string, params?: readonly unknown[]) {
        await turn();
        const r = await q.query<T>(sql, params as unknown[] | undefined);
        return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
      },
      async exec(sql: string) {
        await turn();
        await q.exec(sql);
      },
      async copyText(target: string, text: string | Buffer) {
        await turn();
        const r = await q.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([text as string | Uint8Array<ArrayBuffer>]) });
        return r.affectedRows ?? 0;
      },
    };
  };
  const base = wrap(pg, true);
  return {
    kind: 'pglite',
    ...base,
    transaction: async (fn) => {
      if (isBackground()) await giveWay();
      return pg.transaction((tx) => fn(wrap(tx, false)));
    },
    close: async () => {
      await pg.close();
      if (dir) unlockDataDir(dir);
    },
    // Exposed for fixtures (dumpDataDir); not part of the interface modules use.
    ...({ raw: pg } as object),
  };
}

/**
 * The embedded database lives in one process at a time: a second process (a CLI import while the
 * server runs) would corrupt it. A lock file names the owner; a stale lock (dead process) is taken over.
 */
function lockDataDir(dir: string) {
  const lock = `${dir}.lock`;
  if (fs.existsSync(lock)) {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    let alive = false;
    if (pid && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (alive) {
      throw new Error(
        `The embedded database ${dir} is in use by process ${pid} (probably "maillage serve"). ` +
          'Stop it first, use the back office import, or run on PostgreSQL (DATABASE_URL).',
      );
    }
  }
  fs.writeFileSync(lock, String(process.pid));
  process.once('exit', () => unlockDataDir(dir));
}

function unlockDataDir(dir: string) {
  try {
    if (Number(fs.readFileSync(`${dir}.lock`, 'utf8')) === process.pid) fs.rmSync(`${dir}.lock`);
  } catch {
    /* already gone */
  }
}

// Names of prepared statements, by SQL text. Bounded: each connection keeps every statement it
// prepared until it closes, so past this many distinct texts new ones run unnamed.
const STATEMENT_NAMES_MAX = 300;
const statementNames = new Map<string, string>();
function statementName(sql: string): string | null {
  let name = statementNames.get(sql);
  if (name === undefined) {
    if (statementNames.size >= STATEMENT_NAMES_MAX) return null;
    name = `m_${crypto.createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return name;
}

async function openPostgres(url: string, poolSize: number): Promise<Db> {
  const pgmod = await import('pg');
  const pg = pgmod.default;
  pg.types.setTypeParser(DATE_OID, (v: string) => v);
  pg.types.setTypeParser(INT8_OID, (v: string) => Number(v));
  pg.types.setTypeParser(NUMERIC_OID, (v: string) => Number(v));
  const { from: copyFrom } = (await import('pg-copy-streams')).default;
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pool.on('error', () => {
    /* idle client errors are surfaced on next use */
  });
  type Client = {
    query: (sql: string | { name: string; text: string; values: unknown[] }, params?: unknown[]) => Promise<{ rows: unknown[]; rowCount: number | null }>;
  };
  // COPY … FROM STDIN through one connection: the transaction's, or one taken from the pool.
  const copyOn = async (client: pg.PoolClient, target: string, text: string | Buffer): Promise<number> => {
    const stream = client.query(copyFrom(`COPY ${target} FROM STDIN`));
    stream.end(text);
    await finished(stream);
    return stream.rowCount;
  };
  const wrap = (c: Client, copy: (target: string, text: string | Buffer) => Promise<number>): Queryable => ({
    copyText: copy,
    async query<T>(sql: string, params?: readonly unknown[], options?: QueryOptions) {
      type Result = { rows: unknown[]; rowCount: number | null };
      const name = options?.prepare && params?.length ? statementName(sql) : null;
      const res = (await (name ? c.query({ name, text: sql, values: params as unknown[] }) : c.query(sql, params as unknown[] | undefined))) as Result | Result[];
      // node-postgres answers a script of several statements (no parameters) with one result per
      // statement: keep the last, as PGlite does (pg-boss's start() sends such scripts).
      const r = Array.isArray(res) ? (res[res.length - 1] ?? { rows: [], rowCount: 0 }) : res;
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
    async exec(sql: string) {
      await c.query(sql);
    },
  });
  return {
    kind: 'postgres',
    ...wrap(pool, async (target, text) => {
      const client = await pool.connect();
      try {
        return await copyOn(client, target, text);
      } finally {
        client.release();
      }
    }),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client, (target, text) => copyOn(client, target, text)));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/** Dumps an embedded database's data directory (used to build test fixtures). */
export async function dumpPglite(db: Db): Promise<Blob> {
  const raw = (db as unknown as { raw?: { dumpDataDir(c: 'gzip'): Promise<Blob> } }).raw;
  if (!raw) throw new Error('dumpPglite: not an embedded database');
  return raw.dumpDataDir('gzip');
}

/** Builds a multi-row VALUES placeholder list: rows × cols → ($1,$2),($3,$4)… */
export function placeholders(rows: number, cols: number, offset = 0): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 1; c <= cols; c++) cells.push(`$${offset + r * cols + c}`);
    out.push(`(${cells.join(',')})`);
  }
  return out.join(',');
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
const COPY_SPECIAL = /[\\\t\n\r]/;
const ARRAY_SPECIAL = /[\\"]/;

/** One value in COPY's text format (null → \N; backslash, tab, newline and CR escaped). */
export function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'boolean') return v ? 't' : 'f';
  else if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  else if (v instanceof Date) return v.toISOString();
  else if (Array.isArray(v)) s = arrayLiteral(v);
  else s = JSON.stringify(v);
  if (s.includes('\0')) throw new Error('copyValue: a value holds a NUL character, which PostgreSQL text cannot store');
  return COPY_SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : s;
}

/** A PostgreSQL array literal (one dimension): every element quoted, null elements as NULL. */
export function arrayLiteral(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else {
      const s = String(v);
      out += `"${ARRAY_SPECIAL.test(s) ? s.replace(/[\\"]/g, '\\$&') : s}"`;
    }
  }
  return `${out}}`;
}

/** One row in COPY's text format, without its line end. */
export function copyLine(values: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) out += (i ? '\t' : '') + copyValue(values[i]);
  return out;
}

/**
 * Loads rows into a table with COPY (text format), the fastest way in on both engines; the same
 * SQL shape on PostgreSQL (`COPY … FROM STDIN`, pg-copy-streams) and PGlite (`COPY … FROM
 * '/dev/blob'`). Values: strings, numbers, booleans, dates, arrays (as array literals), null;
 * `lines` instead takes rows already built with `copyLine`, and `data` such rows already encoded
 * (each followed by a line end: see CopyBuffer). A value holding NUL is refused (the caller
 * refuses such input earlier). Within a transaction, the rows are part of it.
 */
export async function copyRows(
  db: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[] | { lines: readonly string[] } | { data: Buffer },
): Promise<number> {
  if (!IDENTIFIER.test(table)) throw new Error(`copyRows: invalid table name ${JSON.stringify(table)}`);
  for (const c of columns) if (!IDENTIFIER.test(c) || c.includes('.')) throw new Error(`copyRows: invalid column name ${JSON.stringify(c)}`);
  if ('data' in rows) return rows.data.length === 0 ? 0 : db.copyText(`${table} (${columns.join(', ')})`, rows.data);
  const lines = 'lines' in rows ? rows.lines : rows.map(copyLine);
  if (lines.length === 0) return 0;
  return db.copyText(`${table} (${columns.join(', ')})`, `${lines.join('\n')}\n`);
}

/**
 * COPY lines encoded as they are built, into one growing buffer outside the JS heap: a batch of
 * thousands of 2 KB lines joined into one string, then encoded, cost a copy of the whole batch
 * twice and kept it on the heap (copied again by each garbage collection) while it waited for the
 * previous batch's write.
 */
export class CopyBuffer {
  private buf: Buffer;
  private end = 0;
  rows = 0;
  /** `size`: the expected byte length (the buffer grows past it when needed). */
  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, size));
  }
  /** Appends one line (built with copyLine / copyValue) and its line end. */
  push(line: string) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const need = this.end + line.length * 3 + 1;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    this.end += this.buf.write(line, this.end, 'utf8');
    this.buf[this.end++] = 10;
    this.rows++;
  }
  /** The encoded lines (a view of the buffer). */
  data(): Buffer {
    return this.buf.subarray(0, this.end);
  }
}
