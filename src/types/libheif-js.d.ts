// The part of libheif-js (libheif in WebAssembly, LGPL-3.0) that src/images/heic.ts uses: its ESM
// build exports a factory that instantiates the WebAssembly module (embedded in the file).
declare module 'libheif-js/libheif-wasm/libheif-bundle.mjs' {
  export interface HeifImage {
    get_width(): number;
    get_height(): number;
    is_primary(): boolean;
    has_alpha_channel(): boolean;
    display(target: { data: Uint8ClampedArray; width: number; height: number }, done: (result: { data: Uint8ClampedArray } | null) => void): void;
    free(): void;
  }
  export interface Libheif {
    HeifDecoder: new () => { decode(bytes: Uint8Array): HeifImage[]; decoder: unknown };
    heif_context_free(context: unknown): void;
  }
  const createLibheif: () => Libheif;
  export default createLibheif;
}
