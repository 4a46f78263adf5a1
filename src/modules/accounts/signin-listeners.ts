/**
 * Sign-in listeners: other modules learn that a person has just signed in (password, magic link,
 * OIDC, after the second factor when one is asked for: only a session that reaches the "full"
 * stage counts) — e.g. mandates journals a helper's sign-in. A listener runs INSIDE the
 * transaction that opens the session and records the `accounts.signin` audit entry, so the
 * session and what listeners write are kept or lost together (a listener that throws refuses
 * the sign-in: it must not throw for people it does not concern).
 */
import type { Queryable } from '../../platform/db/index.ts';

export interface SignInEvent {
  userId: string;
  /** How: 'password', 'magic_link', 'oidc', 'password+totp', 'totp_setup'… */
  method: string;
  ip: string | null;
}

export type SignInListener = (tx: Queryable, e: SignInEvent) => Promise<void>;

const listeners = new Map<string, SignInListener>();

/** Registers (or replaces, by name) a listener called after each successful sign-in. */
export function onSignIn(name: string, listener: SignInListener): void {
  listeners.set(name, listener);
}

/** Calls every listener in the sign-in's transaction (in registration order). */
export async function notifySignIn(tx: Queryable, e: SignInEvent): Promise<void> {
  for (const l of listeners.values()) await l(tx, e);
}
