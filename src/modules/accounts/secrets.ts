/**
 * Secrets at rest under a rotating SECRET_KEY. TOTP seeds are encrypted under SECRET_KEY; after a
 * rotation the former values, listed in SECRET_KEY_PREVIOUS, still decrypt them: a seed read with
 * a former key is re-encrypted under the current one at once (in the caller's transaction), and
 * `maillage accounts rekey` re-encrypts all of them. Recovery codes are HMACs under SECRET_KEY
 * (they cannot be re-keyed without the codes): each key in the ring is tried. When no configured
 * key decrypts a seed, the person gets a clear 503 (not a 500) and the operator a log line saying
 * what to set.
 */
import crypto from 'node:crypto';
import { secretKeys, type Config } from '../../platform/config.ts';
import type { Queryable } from '../../platform/db/index.ts';
import type { Logger } from '../../platform/log.ts';
import { UserError } from '../../platform/http/errors.ts';
import { recordAudit } from '../../platform/audit/index.ts';
import { decryptSecret, encryptSecret, recoveryCodeHash } from './crypto.ts';

/** Decrypts with the first key that opens the box (index 0: the current key); null when none does. */
export function openSecret(keys: string[], box: string): { plaintext: string; keyIndex: number } | null {
  for (let i = 0; i < keys.length; i++) {
    try {
      return { plaintext: decryptSecret(keys[i]!, box), keyIndex: i };
    } catch {
      // GCM authentication failed: not this key.
    }
  }
  return null;
}

/** Short, non-secret name of a key for logs (so operators can tell which one is configured). */
export function keyFingerprint(key: string): string {
  return crypto.createHash('sha256').update(`maillage-key-fingerprint:${key}`).digest('hex').slice(0, 8);
}

export class SecretKeyMismatch extends UserError {
  constructor() {
    super(
      'La double authentification ne peut pas être vérifiée pour le moment : la clé de chiffrement du serveur a changé. Prévenez l’administrateur de la plateforme (journal du serveur : SECRET_KEY_PREVIOUS).',
      503,
      null,
      'secret_key_mismatch',
    );
  }
}

type SecretColumn = 'totp_secret' | 'totp_pending_secret';

/**
 * Reads a user's encrypted TOTP seed: re-encrypts it under the current key when a former key
 * opened it; throws SecretKeyMismatch (503) when no configured key does, after logging for the operator.
 */
export async function readUserSecret(
  deps: { config: Config; log: Logger },
  q: Queryable,
  userId: string,
  column: SecretColumn,
  box: string,
): Promise<string> {
  const keys = secretKeys(deps.config);
  const opened = openSecret(keys, box);
  if (!opened) {
    deps.log.error(
      { userId, column, currentKey: keyFingerprint(keys[0]!), previousKeys: keys.slice(1).map(keyFingerprint) },
      'SECRET_KEY does not decrypt this account\'s 2FA secret, nor does any key in SECRET_KEY_PREVIOUS: if SECRET_KEY was changed, list its former value in SECRET_KEY_PREVIOUS (comma-separated) and restart, then run "maillage accounts rekey"',
    );
    throw new SecretKeyMismatch();
  }
  if (opened.keyIndex > 0) {
    await q.query(`UPDATE accounts.users SET ${column} = $2 WHERE id = $1 AND ${column} = $3`, [userId, encryptSecret(keys[0]!, opened.plaintext), box]);
    deps.log.info({ userId, column }, 'secret re-encrypted under the current SECRET_KEY');
  }
  return opened.plaintext;
}

/** The stored hash of a recovery code under each key of the ring (the current one first). */
export function recoveryCodeHashes(config: Config, userId: string, code: string): string[] {
  return secretKeys(config).map((k) => recoveryCodeHash(k, userId, code));
}

export interface RekeyReport {
  /** Secrets re-encrypted under the current key. */
  rekeyed: number;
  /** Secrets already under the current key. */
  current: number;
  /** Accounts whose secret no configured key decrypts (their 2FA must be reset by an administrator). */
  undecryptable: string[];
}

/** Re-encrypts every TOTP seed (enabled or pending) under the current SECRET_KEY, in one transaction, audited. */
export async function rekeySecrets(deps: { config: Config; db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> } }): Promise<RekeyReport> {
  const keys = secretKeys(deps.config);
  return deps.db.transaction(async (tx) => {
    const report: RekeyReport = { rekeyed: 0, current: 0, undecryptable: [] };
    const { rows } = await tx.query<{ id: string; totp_secret: string | null; totp_pending_secret: string | null }>(
      'SELECT id, totp_secret, totp_pending_secret FROM accounts.users WHERE totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL ORDER BY id FOR UPDATE',
    );
    for (const row of rows) {
      for (const column of ['totp_secret', 'totp_pending_secret'] as const) {
        const box = row[column];
        if (!box) continue;
        const opened = openSecret(keys, box);
        if (!opened) {
          if (!report.undecryptable.includes(row.id)) report.undecryptable.push(row.id);
        } else if (opened.keyIndex === 0) report.current++;
        else {
          await tx.query(`UPDATE accounts.users SET ${column} = $2 WHERE id = $1`, [row.id, encryptSecret(keys[0]!, opened.plaintext)]);
          report.rekeyed++;
        }
      }
    }
    if (report.rekeyed > 0) {
      await recordAudit(tx, {
        actorId: null,
        action: 'accounts.secrets.rekey',
        objectType: 'platform',
        meta: { rekeyed: report.rekeyed, current: report.current, undecryptable: report.undecryptable.length, key: keyFingerprint(keys[0]!) },
      });
    }
    return report;
  });
}
