/**
 * A REAL OpenID Connect provider for the consultation tests (the `oidc-provider` package, on a
 * loopback port of its own; RS256 key generated at start), standing in for FranceConnect or a
 * région's provider; and the person's side at it (sign in as a given subject, consent).
 * Each person has a birth date and a postal address (claims `birthdate`, `address`).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { walkDevProvider } from '../../../../test/support/oidc-provider.ts';

export const CLIENT = { client_id: 'maillage-concertations-test', client_secret: 'un secret de test pour les concertations 0123456789' };

/** People known to the provider: subject → claims (none for `sub-anonyme`). */
export const PEOPLE: Record<string, { birthdate?: string; address?: { postal_code: string; locality: string } }> = {
  'sub-camille': { birthdate: '1985-04-02', address: { postal_code: '21000', locality: 'Dijon' } },
  'sub-malik': { birthdate: '1992-10-20', address: { postal_code: '25000', locality: 'Besançon' } },
  'sub-jeune': { birthdate: `${new Date().getUTCFullYear() - 12}-01-15`, address: { postal_code: '21000', locality: 'Dijon' } },
  'sub-parisien': { birthdate: '1970-06-30', address: { postal_code: '75001', locality: 'Paris' } },
  'sub-alex': { birthdate: '2001-03-09' },
  'sub-bea': { birthdate: '1999-12-31' },
  'sub-rafale': { birthdate: '1980-05-05', address: { postal_code: '21000', locality: 'Dijon' } },
  'sub-anonyme': {},
};

export async function startProvider(redirectUri: string): Promise<{ issuer: string; close(): Promise<void> }> {
  let handler: http.RequestListener = (_req, res) => res.end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: crypto.randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [{ ...CLIENT, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' }],
    jwks: { keys: [jwk] },
    claims: { openid: ['sub'], birthdate: ['birthdate'], address: ['address'] },
    findAccount: async (_ctx: unknown, id: string) => (Object.hasOwn(PEOPLE, id) ? { accountId: id, claims: async () => ({ sub: id, ...PEOPLE[id] }) } : undefined),
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
  });
  handler = provider.callback();
  return { issuer, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The person's side at the provider: follows redirects, signs in as `sub`, consents; returns the callback URL's path on `publicUrl`. */
export async function atProvider(start: string, sub: string, publicUrl: string): Promise<string> {
  return (await walkDevProvider(start, sub, publicUrl)).slice(publicUrl.length);
}
