// A text-only request never loads sharp, the image pipeline or the header pre-check: the handler
// reaches them only through import(). Checked on the bundle esbuild makes of the entry (code splitting, as deployed): what the
// entry loads at start (its static imports, transitively) holds neither src/images/normalize.ts nor
// an import of sharp, and the pipeline is in a chunk of its own; the HEIC decoder is in another,
// which only the pipeline imports, only for a HEIC.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build, type Metafile } from 'esbuild';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';

async function metafile(): Promise<Metafile> {
  const result = await build({
    absWorkingDir: PROJECT_DIR,
    entryPoints: ['src/functions/patch-user/handler.ts'],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    outdir: 'out',
    external: ['sharp'],
    mainFields: ['module', 'main'],
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  return result.metafile;
}

describe('the image pipeline is loaded lazily', () => {
  it('the entry statically imports neither sharp nor src/images/normalize.ts', async () => {
    const meta = await metafile();
    const entry = Object.entries(meta.outputs).find(([, o]) => o.entryPoint === 'src/functions/patch-user/handler.ts')!;
    assert.ok(entry, 'the entry is built');
    const atStart = new Set<string>();
    const staticImports: string[] = [];
    const visit = (name: string) => {
      if (atStart.has(name)) return;
      atStart.add(name);
      for (const imported of meta.outputs[name]!.imports) {
        if (imported.kind !== 'import-statement') continue;
        if (imported.external) staticImports.push(imported.path);
        else visit(imported.path);
      }
    };
    visit(entry[0]);
    const inputsAtStart = [...atStart].flatMap((name) => Object.keys(meta.outputs[name]!.inputs));
    // Nor the header pre-check with its format walks: a body with an image loads it (patch-fields.ts, InspectImage).
    const walks = inputsAtStart.filter((input) => input === 'src/images/header-check.ts' || input.startsWith('src/images/formats/'));
    assert.deepEqual(walks, [], 'the header pre-check is not loaded at start');
    assert.ok(Object.values(meta.outputs).some((o) => 'src/images/header-check.ts' in o.inputs), 'the pre-check is bundled');
    assert.ok(!inputsAtStart.includes('src/images/normalize.ts'), 'the pipeline is not loaded at start');
    assert.ok(!inputsAtStart.some((input) => input.includes('node_modules/sharp/')), 'sharp is not bundled at start');
    assert.ok(!staticImports.includes('sharp'), 'no static import of sharp');
    // The pipeline exists, behind import(), and imports sharp only dynamically too.
    const lazy = Object.entries(meta.outputs).find(([, o]) => 'src/images/normalize.ts' in o.inputs);
    assert.ok(lazy, 'the pipeline is bundled');
    assert.ok(!atStart.has(lazy[0]));
    assert.ok(lazy[1].imports.some((i) => i.path === 'sharp' && i.kind === 'dynamic-import'), 'sharp is imported with import()');
  });

  it('the HEIC decoder (libheif in WebAssembly) is loaded only by the pipeline, with import(), never at start', async () => {
    const meta = await metafile();
    const holding = (input: string) => Object.entries(meta.outputs).filter(([, o]) => Object.keys(o.inputs).some((i) => i.includes(input)));
    /** Every chunk that imports `chunk`: only with import(), only from a chunk holding `from`. */
    const importedOnlyLazilyBy = (chunk: string, from: string) => {
      const importers = Object.entries(meta.outputs).filter(([, o]) => o.imports.some((i) => i.path === chunk));
      assert.ok(importers.length > 0, `${chunk} is imported`);
      for (const [name, output] of importers) {
        for (const imported of output.imports.filter((i) => i.path === chunk)) {
          assert.equal(imported.kind, 'dynamic-import', `${name} imports ${chunk} statically`);
        }
        assert.ok(from in output.inputs, `${name} (not ${from}) imports ${chunk}`);
      }
    };
    const decoder = holding('node_modules/libheif-js/');
    assert.equal(decoder.length, 1, 'libheif-js is bundled once');
    const [decoderChunk, decoderOutput] = decoder[0]!;
    assert.ok(!('src/images/normalize.ts' in decoderOutput.inputs), 'not in the pipeline chunk');
    // Its WebAssembly travels inside the chunk (embedded), not as a file beside it.
    assert.ok(decoderOutput.bytes > 1_000_000, `${decoderOutput.bytes} bytes`);
    assert.ok(!Object.keys(meta.outputs).some((name) => name.endsWith('.wasm')));
    const adapter = holding('src/images/heic.ts');
    assert.equal(adapter.length, 1);
    const [adapterChunk, adapterOutput] = adapter[0]!;
    assert.ok(!('src/images/normalize.ts' in adapterOutput.inputs), 'the adapter is not in the pipeline chunk');
    if (adapterChunk !== decoderChunk) importedOnlyLazilyBy(decoderChunk, 'src/images/heic.ts');
    importedOnlyLazilyBy(adapterChunk, 'src/images/normalize.ts');
  });
});
