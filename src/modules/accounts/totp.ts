/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps — what every authenticator app reads), with
 * replay protection: the caller stores the accepted step and passes it back as `lastStep`.
 */
import { Secret, TOTP } from 'otpauth';
import { safeEqual } from './crypto.ts';

const PERIOD = 30;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secret: string, issuer: string, label: string): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secret) });
}

/** The otpauth:// URI authenticator apps read (from the QR code). */
export function totpUri(secret: string, issuer: string, label: string): string {
  return totp(secret, issuer, label).toString();
}

export function totpCode(secret: string, timestamp = Date.now()): string {
  return totp(secret, 'x', 'x').generate({ timestamp });
}

/** Checks a code against the current step ± 1; returns the step it matched, or null. Codes of a
 *  step at or before `lastStep` are refused (a code works once). Comparison in constant time. */
export function checkTotp(secret: string, code: string, lastStep: number | null, now = Date.now()): number | null {
  const clean = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(clean)) return null;
  const current = Math.floor(now / 1000 / PERIOD);
  let matched: number | null = null;
  for (const step of [current - 1, current, current + 1]) {
    const expected = totp(secret, 'x', 'x').generate({ timestamp: step * PERIOD * 1000 });
    if (safeEqual(expected, clean) && matched === null) matched = step;
  }
  if (matched === null || (lastStep !== null && matched <= lastStep)) return null;
  return matched;
}
