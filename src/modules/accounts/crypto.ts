/**
 * Secrets handling: random tokens (stored as SHA-256 hashes), constant-time comparison, argon2id
 * passwords, AES-256-GCM for secrets that must be read back (TOTP seeds).
 */
import crypto from 'node:crypto';
import { hash as argonHash, verify as argonVerify, type Algorithm } from '@node-rs/argon2';

/** 256 bits of randomness, URL-safe. */
export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

export function sha256(value: string): string {
  return crypto.createHash('sha256').update(value).digest('hex');
}

/** Compares two strings in constant time (over their SHA-256 digests, so lengths leak nothing). */
export function safeEqual(a: string, b: string): boolean {
  const da = crypto.createHash('sha256').update(a).digest();
  const db = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(da, db);
}

// OWASP-recommended argon2id parameters (19 MiB, 2 iterations, 1 lane).
const ARGON2ID = 2 as Algorithm; // Algorithm.Argon2id (an ambient const enum, not importable as a value)
const ARGON = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return argonHash(password, ARGON);
}

// Verified against when the account does not exist, so both cases take the same time.
let dummyHash: Promise<string> | null = null;

export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (!stored) {
    dummyHash ??= hashPassword(randomToken());
    await argonVerify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await argonVerify(stored, password);
  } catch {
    return false;
  }
}

function key(secretKey: string): Buffer {
  return crypto.createHash('sha256').update(`maillage-secrets:${secretKey}`).digest();
}

export function encryptSecret(secretKey: string, plaintext: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key(secretKey), iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url')}`;
}

export function decryptSecret(secretKey: string, box: string): string {
  if (!box.startsWith('v1:')) throw new Error('decryptSecret: unknown format');
  const raw = Buffer.from(box.slice(3), 'base64url');
  const decipher = crypto.createDecipheriv('aes-256-gcm', key(secretKey), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

/** Recovery codes: 10 groups-of-five base32 characters, e.g. "K7Q2M-XW4TR". */
export function recoveryCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.randomBytes(10);
  let s = '';
  for (let i = 0; i < 10; i++) s += alphabet[bytes[i]! % 32];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/**
 * How a recovery code is stored: HMAC-SHA-256 keyed by SECRET_KEY over the user id and the code.
 * A copy of the database alone is not enough to test guesses offline (the key is not in it), and
 * the same code for two people never gives the same hash.
 */
export function recoveryCodeHash(secretKey: string, userId: string, code: string): string {
  const k = crypto.createHash('sha256').update(`maillage-recovery:${secretKey}`).digest();
  return crypto.createHmac('sha256', k).update(`${userId}:${code}`).digest('hex');
}

export function normaliseRecoveryCode(input: string): string {
  const s = input.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return s.length === 10 ? `${s.slice(0, 5)}-${s.slice(5)}` : s;
}
