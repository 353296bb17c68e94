// The files of a deployment zip (what `osls package` writes), read without an unzip tool, and the
// part of a split ESM build that a cold start loads. Used by bench/run.ts and
// test/package/template-{artifact,functions}.test.ts.
import { inflateRawSync } from 'node:zlib';
import { posix } from 'node:path';

export interface ZipFile {
  name: string;
  data: Buffer;
}

/** Every file of a zip (stored or deflated), from its central directory. */
export function readZip(zip: Buffer): ZipFile[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('not a zip: no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const files: ZipFile[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`zip: bad central directory entry ${i}`);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue; // a folder
    // The local header's own name and extra lengths; its sizes may be zero (data descriptor).
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? inflateRawSync(raw) : undefined;
    if (!data) throw new Error(`zip: ${name} uses compression method ${method}`);
    if (data.length !== size) throw new Error(`zip: ${name} is ${data.length} bytes, the directory says ${size}`);
    files.push({ name, data });
  }
  return files;
}

/**
 * Relative module specifiers of minified ESM output (what esbuild writes), resolved against the
 * file's folder: `static` are import declarations (`import{a}from"./x.mjs"`, `import"./x.mjs"`),
 * evaluated before the file runs; `dynamic` are `import("./x.mjs")` calls, loaded when reached.
 */
export function relativeImports(file: string, source: string): { static: string[]; dynamic: string[] } {
  const dir = posix.dirname(file);
  const resolve = (specifier: string) => posix.normalize(posix.join(dir, specifier));
  const found = { static: new Set<string>(), dynamic: new Set<string>() };
  // A declaration starts a statement: at a line start or after `;` (or `}` of a previous block).
  for (const m of source.matchAll(/(?:^|[;}\n])\s*import\s*(?:[\w$*{][^;"'()]*?from\s*)?["'](\.\.?\/[^"']+)["']/g)) {
    found.static.add(resolve(m[1]!));
  }
  for (const m of source.matchAll(/\bimport\(\s*["'](\.\.?\/[^"']+)["']\s*\)/g)) found.dynamic.add(resolve(m[1]!));
  return { static: [...found.static], dynamic: [...found.dynamic] };
}

/** The entry and every file it imports statically, transitively: what importing the entry reads. */
export function staticClosure(entry: string, sources: Map<string, string>): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = sources.get(file);
    if (source === undefined) throw new Error(`${file} is imported but not in the artifact`);
    for (const imported of relativeImports(file, source).static) visit(imported);
  };
  visit(entry);
  return [...seen];
}
