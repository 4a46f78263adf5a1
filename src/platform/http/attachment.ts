import type { FastifyReply } from 'fastify';

/**
 * Sends a stored file as a download, never inline: its type as read from its content, the name in
 * ASCII and in UTF-8 (RFC 6266), `nosniff`, and a sandboxing policy in case a browser renders it anyway.
 */
export function sendAttachment(reply: FastifyReply, f: { name: string; mime: string; data: Buffer }, cacheControl = 'private, no-store') {
  const ascii = f.name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return reply
    .header('content-type', f.mime)
    .header('content-disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(f.name)}`)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('cache-control', cacheControl)
    .send(f.data);
}
