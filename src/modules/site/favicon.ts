/**
 * The site's icon, drawn from the région's primary colour (no image file to configure): a 32×32
 * PNG of a filled disc with a white centre, like the map's markers. Browsers ask for
 * /favicon.ico on every site; answering it avoids a 404 on each first visit.
 */
import zlib from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

function rgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  const n = m ? Number.parseInt(m[1]!, 16) : 0x1f5f8b;
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** A size×size RGBA PNG: a disc of `colour` with a white dot in its centre, anti-aliased edges. */
export function faviconPng(colour: string, size = 32): Buffer {
  const [r, g, b] = rgb(colour);
  const c = (size - 1) / 2;
  const outer = size / 2 - 0.5;
  const inner = size * 0.17;
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c);
      const alpha = Math.max(0, Math.min(1, outer - d + 0.5));
      const white = Math.max(0, Math.min(1, inner - d + 0.5));
      const o = 1 + x * 4;
      row[o] = Math.round(r + (255 - r) * white);
      row[o + 1] = Math.round(g + (255 - g) * white);
      row[o + 2] = Math.round(b + (255 - b) * white);
      row[o + 3] = Math.round(alpha * 255);
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
