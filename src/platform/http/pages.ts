/**
 * What every module's server-rendered pages share: one CSRF token per response and the way an
 * HTML page is sent (never cached: pages carry per-person content and tokens).
 */
import type { FastifyReply } from 'fastify';

const tokens = new WeakMap<FastifyReply, string>();

/** One CSRF token per response: generating twice would set two different secrets on a first visit. */
export function csrfOf(reply: FastifyReply): string {
  let t = tokens.get(reply);
  if (!t) tokens.set(reply, (t = reply.generateCsrf()));
  return t;
}

/** Sends an HTML page with its status, never stored by caches. */
export function sendPage(reply: FastifyReply, status: number, body: string) {
  return reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}
