// Helpers of the backup e2e test: an image no other file holds, and a byte search in what a host
// stores (its files as a tar, read over SSH as base64: binary-safe).
import { crc32, deflateSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { LabFixture } from '../../lab/index.ts';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/**
 * A real PNG of random pixels, its pixel data stored uncompressed (deflate level 0): a run of the
 * random bytes stands in the file as they are, so finding `needle` anywhere means the image's
 * bytes are there unencrypted.
 */
export function randomPng(size = 48): { png: Buffer; needle: Buffer } {
  const rows: Buffer[] = [];
  for (let y = 0; y < size; y++) rows.push(Buffer.concat([Buffer.from([0]), randomBytes(size * 3)]));
  const raw = Buffer.concat(rows);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 0 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  // 64 random bytes from inside one row: no filter byte in between.
  const needle = raw.subarray(1 + 8, 1 + 8 + 64);
  if (png.indexOf(needle) < 0) throw new Error('randomPng: the needle is not in the file as it is');
  return { png, needle };
}

/** Every file under `dir` on the host, as one tar (contents as they are on disk). */
export async function tarOf(lab: LabFixture, host: string, dir: string): Promise<Buffer> {
  const r = await lab.ssh(host, `tar -C / -cf - ${dir.replace(/^\//, '')} | base64 -w0`);
  if (r.code !== 0) throw new Error(`tar of ${host}:${dir} failed: ${r.stderr}`);
  return Buffer.from(r.stdout.trim(), 'base64');
}
