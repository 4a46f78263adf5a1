/**
 * Second factors offered by other modules (e.g. the physical TOTP cards of mandates' helpers),
 * next to the account's own TOTP app: a provider says whether a person has enrolled one, and
 * checks a code inside the sign-in's transaction (the provider locks its row, refuses a replayed
 * code and stores what it accepted). Secrets a provider keeps are sealed like the accounts' TOTP
 * seeds (AES-256-GCM under SECRET_KEY; former keys of SECRET_KEY_PREVIOUS still open them).
 */
import { secretKeys, type Config } from '../../platform/config.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { encryptSecret } from './crypto.ts';
import { openSecret } from './secrets.ts';

export interface SecondFactorProvider {
  /** A short name (e.g. "mandates.card"), unique. */
  name: string;
  /** True when this person has a factor of this kind (their sign-in then asks for a code). */
  enrolled(q: Queryable, userId: string): Promise<boolean>;
  /** Checks a 6-digit code in the caller's transaction; true when accepted (and recorded as used). */
  verify(q: Queryable, userId: string, code: string, now: Date): Promise<boolean>;
}

const providers = new Map<string, SecondFactorProvider>();

/** Registers (or replaces, by name) a second-factor provider. */
export function registerSecondFactor(p: SecondFactorProvider): void {
  providers.set(p.name, p);
}

/** Whether any provider has a factor for this person. */
export async function hasProvidedFactor(q: Queryable, userId: string): Promise<boolean> {
  for (const p of providers.values()) if (await p.enrolled(q, userId)) return true;
  return false;
}

/** Tries the code with each provider the person is enrolled with (in the caller's transaction). */
export async function verifyProvidedFactor(q: Queryable, userId: string, code: string, now = new Date()): Promise<boolean> {
  for (const p of providers.values()) {
    if ((await p.enrolled(q, userId)) && (await p.verify(q, userId, code, now))) return true;
  }
  return false;
}

/** Seals a secret a module must read back (e.g. a card's seed) under the current SECRET_KEY. */
export function sealSecret(config: Config, plaintext: string): string {
  return encryptSecret(secretKeys(config)[0]!, plaintext);
}

/** Opens a sealed secret with the current or a former key; null when no configured key opens it. */
export function openSealedSecret(config: Config, box: string): string | null {
  return openSecret(secretKeys(config), box)?.plaintext ?? null;
}
