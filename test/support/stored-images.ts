// What a stored image is, read by tools that are not the code under test: exiftool (every tag it
// finds, in every group) and sharp's metadata reader for the decoded size and frame count.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';

export const PHOTOS = new URL('../fixtures/photos/', import.meta.url);

/**
 * The tags a metadata-free file may show, by exiftool group: the file's own structure (type,
 * size, colour layout, frames, timing) and nothing about who, where, when or with what.
 */
const STRUCTURE_TAGS: Record<string, readonly string[]> = {
  ExifTool: ['ExifToolVersion'],
  File: ['FileType', 'FileTypeExtension', 'MIMEType', 'ImageWidth', 'ImageHeight', 'EncodingProcess', 'BitsPerSample', 'ColorComponents', 'YCbCrSubSampling'],
  JFIF: ['JFIFVersion', 'ResolutionUnit', 'XResolution', 'YResolution'],
  PNG: ['ImageWidth', 'ImageHeight', 'BitDepth', 'ColorType', 'Compression', 'Filter', 'Interlace', 'Palette', 'Transparency'],
  'PNG-pHYs': ['PixelsPerUnitX', 'PixelsPerUnitY', 'PixelUnits'],
  GIF: ['GIFVersion', 'ImageWidth', 'ImageHeight', 'HasColorMap', 'ColorResolutionDepth', 'BitsPerPixel', 'BackgroundColor', 'TransparentColor', 'FrameCount', 'AnimationIterations', 'Duration'],
  RIFF: [
    'WebP_Flags', 'ImageWidth', 'ImageHeight', 'BackgroundColor', 'AnimationLoopCount', 'Duration', 'AlphaPreprocessing',
    'AlphaFiltering', 'AlphaCompression', 'VP8Version', 'HorizontalScale', 'VerticalScale', 'AlphaIsUsed', 'VP8LVersion',
  ],
  Composite: ['ImageSize', 'Megapixels', 'Duration'],
};

/** What the contract names: none of it may appear, whatever group exiftool files it under. */
const FORBIDDEN = /GPS|Make|Model|Serial|XMP|IPTC|ICC|Profile|Comment|Thumbnail|C2PA|JUMBF|Date|Time|Artist|Author|Copyright|Software|Text|Maker|Owner|Lens|Warning/i;

export interface ExifToolReport {
  file: string;
  /** `Group:Tag` → value, every tag exiftool finds (`-a -G1`, embedded documents too). */
  tags: Record<string, unknown>;
}

/** exiftool on each of the given files in one run. */
export async function exiftool(files: { name: string; bytes: Buffer }[]): Promise<ExifToolReport[]> {
  if (files.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'stored-images-'));
  try {
    const paths = files.map((f, i) => {
      const path = join(dir, `${i}-${f.name.replace(/[^\w.-]/g, '_')}`);
      writeFileSync(path, f.bytes);
      return path;
    });
    const { stdout } = await promisify(execFile)('exiftool', ['-j', '-a', '-G1', '-s', '-ee', '-u', '-n', ...paths], { maxBuffer: 64 * 1024 * 1024 });
    const reports = JSON.parse(stdout) as Record<string, unknown>[];
    return reports.map((tags, i) => {
      const { SourceFile: _source, ...rest } = tags;
      return { file: files[i]!.name, tags: Object.fromEntries(Object.entries(rest).filter(([k]) => !k.startsWith('System:'))) };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every tag is a structure tag, and none names metadata the contract forbids. */
export function assertNoMetadata(report: ExifToolReport): void {
  const extra = Object.entries(report.tags).filter(([key]) => {
    const [group, tag] = key.split(':') as [string, string];
    if (key === 'ExifTool:ExifToolVersion') return false;
    return !STRUCTURE_TAGS[group]?.includes(tag) || FORBIDDEN.test(tag);
  });
  assert.deepEqual(extra, [], `${report.file}: exiftool finds metadata: ${JSON.stringify(Object.fromEntries(extra))}`);
}

export interface Decoded {
  format: string;
  width: number;
  /** Height of one frame. */
  height: number;
  frames: number;
}

/** Decodes the whole file (every frame) and reports what it is. */
export async function decode(bytes: Buffer): Promise<Decoded> {
  const meta = await sharp(bytes, { animated: true, failOn: 'error' }).metadata();
  // A full decode, not just the header: a file that only looks right fails here.
  await sharp(bytes, { animated: true, failOn: 'error' }).raw().toBuffer();
  return { format: meta.format, width: meta.width, height: meta.pageHeight ?? meta.height, frames: meta.pages ?? 1 };
}

/** A small greyscale thumbnail of the upright image, for comparing what two files show. */
export async function fingerprint(bytes: Buffer, autoOrient = false): Promise<Buffer> {
  return sharp(bytes, { autoOrient }).resize(24, 24, { fit: 'fill' }).greyscale().raw().toBuffer();
}

/** Mean absolute difference (0-255) between two fingerprints. */
export function difference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** Frames made of real photo pixels, each a different crop, joined as an animation. */
export async function animation(format: 'gif' | 'webp', frames: number, width: number, height: number): Promise<Buffer> {
  const photo = await sharp(new URL('gps/DSCN0010.jpg', PHOTOS).pathname).resize(width + frames * 4, height, { fit: 'cover' }).png().toBuffer();
  const pages = await Promise.all(
    Array.from({ length: frames }, (_, i) => sharp(photo).extract({ left: i * 4, top: 0, width, height }).png().toBuffer()),
  );
  const joined = sharp(pages, { join: { animated: true } });
  // Lowest encoder effort: the files are inputs, made fast; their quality does not matter.
  return format === 'gif'
    ? joined.gif({ delay: 80, loop: 0, effort: 1, dither: 0 }).toBuffer()
    : joined.webp({ delay: 80, loop: 0, quality: 70, effort: 0 }).toBuffer();
}
