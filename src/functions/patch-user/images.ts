// New images are decoded and re-encoded before anything is stored. The module (and sharp behind
// it) is imported only here, when a request carries an image: a text-only request never loads it.
import type { Config } from '../../platform/config.ts';
import type { Patch } from '../../users/patch-fields.ts';

export async function normalizeImages(patch: Patch, config: Config): Promise<Patch> {
  if (!Object.values(patch.images).some(Boolean)) return patch;
  const { normalizeImages: normalize } = await import('../../images/normalize.ts');
  return normalize(patch, config.images);
}
