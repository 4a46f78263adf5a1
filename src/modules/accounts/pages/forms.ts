/** Reading url-encoded form bodies safely (every value a string, bounded). */
import type { FastifyRequest } from 'fastify';

export function formValue(req: FastifyRequest, name: string, max = 2000): string {
  const body = req.body as Record<string, unknown> | undefined;
  const v = body?.[name];
  if (typeof v !== 'string') return '';
  return v.slice(0, max);
}

export function queryValue(req: FastifyRequest, name: string): string | null {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : null;
}

export function param(req: FastifyRequest, name: string): string {
  const v = (req.params as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}
