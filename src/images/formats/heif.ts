import type { ImageRules } from '../header-check.ts';
import { ImageError, invalid } from '../image-error.ts';
import { hasAscii, still, u16be, u32be, type ContainerColour, type Layout } from './layout.ts';

// HEIF (HEIC) and AVIF: ISO base media file format boxes. Only the structure that says what the
// decoder will do is read: the primary item (`pitm`), its type (`iinf`), where its bytes are
// (`iloc`), its properties (`ipco` + `ipma`: `ispe` sizes, `colr` colours), and for a grid image its tiles (`dimg`
// references in `iref`) and its output size (the grid item's own data). Every box loop advances
// by at least a box header and every count is capped before it is looped over, so the walk is one
// linear pass over the header whatever the file declares.

export const HEIF_BRANDS = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'] as const;
export const AVIF_BRANDS = ['avif', 'avis'] as const;

/** Items in one file: an iPhone photo has about 60 (48 tiles, thumbnails, EXIF, depth, gain map). */
export const HEIF_MAX_ITEMS = 1024;
/** Tiles of one grid image: a 24 MP iPhone photo has 108 tiles of 512×512. */
export const HEIF_MAX_TILES = 256;
/** Properties in `ipco`, and associations in `ipma` (all items together). */
export const HEIF_MAX_PROPERTIES = 4096;
/** Byte ranges (`iloc` extents) of all items together. */
export const HEIF_MAX_EXTENTS = 4096;

/**
 * Bytes per output pixel while decoding: the decoded YUV planes plus the RGBA image, and for HEIC
 * (libheif in WebAssembly) the RGBA copy handed out of the WebAssembly memory as well.
 */
const DECODE_BYTES_PER_PIXEL = { heif: 10, avif: 6 } as const;

export type HeifKind = 'heif' | 'avif';

/** The format named by the `ftyp` brands, or undefined when the file is not HEIF or AVIF. */
export function heifKind(b: Uint8Array): HeifKind | undefined {
  if (!hasAscii(b, 4, 'ftyp') || b.length < 16) return undefined;
  const size = u32be(b, 0);
  if (size < 16 || size > b.length) return undefined;
  const brands: string[] = [];
  // The major brand, then the compatible brands (the minor version sits between them).
  for (let at = 8; at + 4 <= size; at += at === 8 ? 8 : 4) {
    brands.push(String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!));
    if (brands.length > 64) break;
  }
  if (brands.some((brand) => (AVIF_BRANDS as readonly string[]).includes(brand))) return 'avif';
  if (brands.some((brand) => (HEIF_BRANDS as readonly string[]).includes(brand))) return 'heif';
  return undefined;
}

interface Box {
  type: string;
  start: number;
  /** First byte of the box's content (after its header). */
  data: number;
  end: number;
}

/** The boxes between start and end, each inside its parent: a box whose size lies is refused. */
function* boxes(b: Uint8Array, start: number, end: number): Generator<Box> {
  let pos = start;
  while (pos < end) {
    if (pos + 8 > end) invalid();
    let size = u32be(b, pos);
    const type = String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!);
    let data = pos + 8;
    if (size === 1) {
      if (pos + 16 > end) invalid();
      size = u32be(b, pos + 8) * 2 ** 32 + u32be(b, pos + 12);
      data = pos + 16;
    } else if (size === 0) {
      size = end - pos; // to the end of the enclosing box
    }
    if (size < data - pos || pos + size > end) invalid();
    yield { type, start: pos, data, end: pos + size };
    pos += size;
  }
}

const fourcc = (b: Uint8Array, at: number): string => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/** Reads a big-endian unsigned field of 0, 2, 4 or 8 bytes inside [.., end), or refuses. */
function uint(b: Uint8Array, at: number, bytes: number, end: number): number {
  if (at + bytes > end) invalid();
  switch (bytes) {
    case 0:
      return 0;
    case 2:
      return u16be(b, at);
    case 4:
      return u32be(b, at);
    case 8:
      return u32be(b, at) * 2 ** 32 + u32be(b, at + 4);
    default:
      return invalid();
  }
}

interface Extent {
  method: number;
  offset: number;
  length: number;
}

const tooLarge = (message: string): never => {
  throw new ImageError('image_too_large', message);
};

export function parseHeif(b: Uint8Array, kind: HeifKind, rules: ImageRules): Layout {
  let meta: Box | undefined;
  let first = true;
  for (const box of boxes(b, 0, b.length)) {
    if (first && box.type !== 'ftyp') invalid();
    first = false;
    if (box.type === 'meta') {
      if (meta) invalid();
      meta = box;
    }
  }
  if (!meta) return invalid();

  let primary: number | undefined;
  const itemTypes = new Map<number, string>();
  const locations = new Map<number, Extent[]>();
  const properties: { type: string; width?: number; height?: number; colour?: ContainerColour }[] = [];
  const associations = new Map<number, number[]>();
  const tilesOf = new Map<number, number[]>();
  /** Items that describe another (`cdsc`): where the primary image's EXIF is. */
  const describes = new Map<number, number[]>();
  let idat: Box | undefined;
  let extents = 0;
  let associated = 0;

  // meta is a full box: version and flags first.
  for (const box of boxes(b, meta.data + 4, meta.end)) {
    const at = box.data + 4; // every child read here is a full box too, except iprp and idat
    const version = box.data < box.end ? b[box.data]! : 0;
    switch (box.type) {
      case 'pitm':
        primary = uint(b, at, version === 0 ? 2 : 4, box.end);
        break;
      case 'iinf': {
        const count = uint(b, at, version === 0 ? 2 : 4, box.end);
        if (count > HEIF_MAX_ITEMS) tooLarge(`The image file holds ${count} items; at most ${HEIF_MAX_ITEMS} are allowed.`);
        for (const infe of boxes(b, at + (version === 0 ? 2 : 4), box.end)) {
          if (infe.type !== 'infe') continue;
          if (infe.data >= infe.end) invalid();
          const v = b[infe.data]!;
          // Versions 0 and 1 carry no item type: such an item is nothing a photo decodes.
          if (v < 2) continue;
          const idBytes = v === 2 ? 2 : 4;
          const id = uint(b, infe.data + 4, idBytes, infe.end);
          const typeAt = infe.data + 4 + idBytes + 2;
          if (typeAt + 4 > infe.end) invalid();
          if (itemTypes.has(id)) invalid();
          itemTypes.set(id, fourcc(b, typeAt));
          if (itemTypes.size > HEIF_MAX_ITEMS) tooLarge(`The image file holds more than ${HEIF_MAX_ITEMS} items.`);
        }
        break;
      }
      case 'iloc': {
        if (version > 2) invalid();
        if (at + 2 > box.end) invalid();
        const offsetSize = b[at]! >> 4;
        const lengthSize = b[at]! & 15;
        const baseSize = b[at + 1]! >> 4;
        const indexSize = version === 0 ? 0 : b[at + 1]! & 15;
        let pos = at + 2;
        const count = uint(b, pos, version < 2 ? 2 : 4, box.end);
        pos += version < 2 ? 2 : 4;
        if (count > HEIF_MAX_ITEMS) tooLarge(`The image file holds ${count} items; at most ${HEIF_MAX_ITEMS} are allowed.`);
        for (let i = 0; i < count; i++) {
          const id = uint(b, pos, version < 2 ? 2 : 4, box.end);
          pos += version < 2 ? 2 : 4;
          let method = 0;
          if (version > 0) {
            method = uint(b, pos, 2, box.end) & 15;
            pos += 2;
          }
          pos += 2; // data reference index
          const base = uint(b, pos, baseSize, box.end);
          pos += baseSize;
          const extentCount = uint(b, pos, 2, box.end);
          pos += 2;
          extents += extentCount;
          if (extents > HEIF_MAX_EXTENTS) tooLarge(`The image file holds more than ${HEIF_MAX_EXTENTS} data ranges.`);
          const list: Extent[] = [];
          for (let e = 0; e < extentCount; e++) {
            pos += indexSize;
            const offset = uint(b, pos, offsetSize, box.end);
            pos += offsetSize;
            const length = uint(b, pos, lengthSize, box.end);
            pos += lengthSize;
            list.push({ method, offset: base + offset, length });
          }
          if (locations.has(id)) invalid();
          locations.set(id, list);
        }
        break;
      }
      case 'iprp':
        for (const child of boxes(b, box.data, box.end)) {
          if (child.type === 'ipco') {
            for (const property of boxes(b, child.data, child.end)) {
              if (properties.length >= HEIF_MAX_PROPERTIES) tooLarge(`The image file holds more than ${HEIF_MAX_PROPERTIES} properties.`);
              if (property.type === 'ispe') {
                const width = uint(b, property.data + 4, 4, property.end);
                const height = uint(b, property.data + 8, 4, property.end);
                properties.push({ type: 'ispe', width, height });
              } else if (property.type === 'colr') {
                properties.push({ type: 'colr', ...colourOf(b, property) });
              } else {
                properties.push({ type: property.type });
              }
            }
          } else if (child.type === 'ipma') {
            if (child.data + 4 > child.end) invalid();
            const v = b[child.data]!;
            const wide = (b[child.data + 3]! & 1) === 1;
            let pos = child.data + 4;
            const count = uint(b, pos, 4, child.end);
            pos += 4;
            if (count > HEIF_MAX_ITEMS) tooLarge(`The image file holds ${count} items; at most ${HEIF_MAX_ITEMS} are allowed.`);
            for (let i = 0; i < count; i++) {
              const id = uint(b, pos, v < 1 ? 2 : 4, child.end);
              pos += v < 1 ? 2 : 4;
              if (pos >= child.end) invalid();
              const n = b[pos++]!;
              associated += n;
              if (associated > HEIF_MAX_PROPERTIES) tooLarge(`The image file holds more than ${HEIF_MAX_PROPERTIES} property associations.`);
              const list = associations.get(id) ?? [];
              for (let k = 0; k < n; k++) {
                // The top bit says "essential"; the rest is the 1-based index into ipco.
                const index = wide ? uint(b, pos, 2, child.end) & 0x7fff : (pos < child.end ? b[pos]! : invalid()) & 0x7f;
                pos += wide ? 2 : 1;
                if (index > 0) list.push(index - 1);
              }
              associations.set(id, list);
            }
          }
        }
        break;
      case 'iref': {
        const idBytes = version === 0 ? 2 : 4;
        for (const ref of boxes(b, at, box.end)) {
          const from = uint(b, ref.data, idBytes, ref.end);
          const n = uint(b, ref.data + idBytes, 2, ref.end);
          if (ref.data + idBytes + 2 + n * idBytes > ref.end) invalid();
          if (ref.type === 'cdsc' && n > 0) describes.set(from, [uint(b, ref.data + idBytes + 2, idBytes, ref.end)]);
          if (ref.type !== 'dimg') continue;
          if (tilesOf.has(from)) invalid();
          if (n > HEIF_MAX_TILES) tooLarge(`The image has ${n} tiles; at most ${HEIF_MAX_TILES} are allowed.`);
          const to: number[] = [];
          for (let k = 0; k < n; k++) to.push(uint(b, ref.data + idBytes + 2 + k * idBytes, idBytes, ref.end));
          tilesOf.set(from, to);
        }
        break;
      }
      case 'idat':
        idat = box;
        break;
    }
  }

  // Every declared size, of any item (thumbnails, alpha and depth images are decoded too), within
  // the budgets: a file that declares more is refused whatever it really holds.
  for (const p of properties) {
    if (p.type === 'ispe') checkSize(p.width!, p.height!, rules);
  }
  // Every item's bytes inside the file (or its idat): a truncated file is refused here.
  for (const list of locations.values()) {
    for (const e of list) {
      const limit = e.method === 0 ? b.length : e.method === 1 ? (idat ? idat.end - idat.data : invalid()) : undefined;
      if (limit !== undefined && e.offset + e.length > limit) invalid();
    }
  }

  if (primary === undefined) return invalid();
  const sizeOf = (id: number): { width: number; height: number } => {
    for (const index of associations.get(id) ?? []) {
      const p = properties[index] ?? invalid();
      if (p.type === 'ispe') return { width: p.width!, height: p.height! };
    }
    return invalid(); // ispe is mandatory for every image item
  };
  const codedType = kind === 'avif' ? 'av01' : 'hvc1';
  const type = itemTypes.get(primary) ?? invalid();
  let width: number;
  let height: number;
  // What the decoder holds: the whole image, or every tile at its full size.
  let decodedPixels: number;
  if (type === codedType) {
    ({ width, height } = sizeOf(primary));
    decodedPixels = width * height;
  } else if (type === 'grid') {
    const tiles = tilesOf.get(primary) ?? invalid();
    const grid = gridOf(b, locations.get(primary) ?? invalid(), idat);
    if (grid.rows * grid.columns > HEIF_MAX_TILES) tooLarge(`The image has ${grid.rows * grid.columns} tiles; at most ${HEIF_MAX_TILES} are allowed.`);
    if (grid.rows * grid.columns !== tiles.length) invalid();
    const tile = sizeOf(tiles[0]!);
    for (const id of tiles) {
      // A tile is a coded image of the same size as the others, never a grid (itself or another).
      if (itemTypes.get(id) !== codedType || id === primary) invalid();
      const size = sizeOf(id);
      if (size.width !== tile.width || size.height !== tile.height) invalid();
      if (!locations.has(id)) invalid();
    }
    // The tiles cover the output, and the output is not a sliver of them.
    if (tile.width * grid.columns < grid.width || tile.height * grid.rows < grid.height) invalid();
    if (tile.width * (grid.columns - 1) >= grid.width || tile.height * (grid.rows - 1) >= grid.height) invalid();
    width = grid.width;
    height = grid.height;
    decodedPixels = Math.max(width * height, tiles.length * tile.width * tile.height);
  } else {
    return invalid();
  }
  if (!locations.has(primary)) invalid();
  checkSize(width, height, rules);
  // The container's own turn and mirror are applied by the decoder; the EXIF orientation only
  // where there are none (an iPhone writes both for the same turn: it is turned once).
  const transformed = (associations.get(primary) ?? []).some((index) => ['irot', 'imir'].includes(properties[index]?.type ?? ''));
  let orientation = 1;
  if (!transformed) {
    for (const [id, targets] of describes) {
      if (targets[0] === primary && itemTypes.get(id) === 'Exif') orientation = exifOrientation(b, locations.get(id));
    }
  }
  // The primary image's colours; a grid without its own `colr` has its tiles' (as libheif reads it).
  const colourOfItem = (id: number): ContainerColour | undefined => {
    const found = (associations.get(id) ?? []).flatMap((index) => properties[index]?.colour ?? []);
    return found.find((colour) => 'icc' in colour) ?? found[0];
  };
  const firstTile = type === 'grid' ? tilesOf.get(primary)?.[0] : undefined;
  const colour = colourOfItem(primary) ?? (firstTile === undefined ? undefined : colourOfItem(firstTile));
  return { ...still(width, height, decodedPixels * DECODE_BYTES_PER_PIXEL[kind]), orientation, ...(colour && { colour }) };
}

/**
 * A `colr` box (a plain box: colour type, then its data). One the walk cannot read says nothing:
 * decoders show such an image as sRGB, and so does the pipeline.
 */
function colourOf(b: Uint8Array, box: Box): { colour?: ContainerColour } {
  if (box.data + 4 > box.end) return {};
  const type = fourcc(b, box.data);
  if ((type === 'prof' || type === 'rICC') && box.end > box.data + 4) return { colour: { icc: { start: box.data + 4, end: box.end } } };
  if (type === 'nclx' && box.data + 8 <= box.end) {
    return { colour: { nclx: { primaries: u16be(b, box.data + 4), transfer: u16be(b, box.data + 6) } } };
  }
  return {};
}

function checkSize(width: number, height: number, rules: ImageRules): void {
  if (width === 0 || height === 0) invalid();
  if (width > rules.maxSide || height > rules.maxSide || width * height > rules.maxPixels) {
    tooLarge(
      `The image is ${width}×${height} pixels; at most ${rules.maxSide} pixels a side and ` +
        `${Math.floor(rules.maxPixels / 10_000) / 100} megapixels are allowed.`,
    );
  }
}

/** The grid item's own data: rows, columns and output size (ISO/IEC 23008-12, ImageGrid). */
function gridOf(b: Uint8Array, extents: Extent[], idat: Box | undefined): { rows: number; columns: number; width: number; height: number } {
  const e = extents[0] ?? invalid();
  let start: number;
  let end: number;
  if (e.method === 0) {
    start = e.offset;
    end = e.length === 0 ? b.length : e.offset + e.length;
  } else if (e.method === 1 && idat) {
    start = idat.data + e.offset;
    end = e.length === 0 ? idat.end : start + e.length;
  } else {
    return invalid();
  }
  if (end > b.length || start + 4 > end) invalid();
  if (b[start] !== 0) invalid();
  const wide = (b[start + 1]! & 1) === 1;
  const rows = b[start + 2]! + 1;
  const columns = b[start + 3]! + 1;
  const size = wide ? 4 : 2;
  const width = uint(b, start + 4, size, end);
  const height = uint(b, start + 4 + size, size, end);
  return { rows, columns, width, height };
}

/**
 * The orientation tag of an `Exif` item (a 4-byte offset to the TIFF header, then TIFF), 1 when
 * it has none or cannot be read: a damaged EXIF block never refuses the image.
 */
function exifOrientation(b: Uint8Array, extents: Extent[] | undefined): number {
  const e = extents?.[0];
  if (!e || e.method !== 0 || e.offset + e.length > b.length || e.length < 4) return 1;
  const end = e.offset + e.length;
  const tiff = e.offset + 4 + u32be(b, e.offset);
  if (tiff + 8 > end) return 1;
  const little = b[tiff] === 0x49 && b[tiff + 1] === 0x49;
  if (!little && !(b[tiff] === 0x4d && b[tiff + 1] === 0x4d)) return 1;
  const r16 = (at: number) => (little ? b[at]! | (b[at + 1]! << 8) : u16be(b, at));
  const r32 = (at: number) => (little ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0 : u32be(b, at));
  const ifd = tiff + r32(tiff + 4);
  if (ifd + 2 > end) return 1;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return 1;
    if (r16(entry) === 0x0112) {
      const value = r16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}
