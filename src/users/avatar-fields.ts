// The bodies of the avatar gallery (contract, "Avatars"): `POST /api/v2/user/avatar/`'s image, by
// the same rules as `avatar` in PATCH /{id}/ (src/users/patch-fields.ts), and the `avatar_id` of
// its PATCH and DELETE. Only the gallery's routes load it.
import { FieldErrors } from '../http/errors.ts';
import type { RawFields } from '../http/request-body.ts';
import type { ImageLimits } from '../platform/config.ts';
import { inspectImage } from '../images/header-check.ts';
import { imageRules, readBase64Image, readImageField, type ImageUpload } from './patch-fields.ts';


const GALLERY_MSG = {
  null: 'This field may not be null.',
  required: 'This field is required.',
  noImage: 'No file was submitted.',
  bothForms: 'Send the image either as the file "avatar" or as "avatar_base64", not both.',
  integer: 'A valid integer is required.',
  unknown: 'This field is not a field of the request and cannot be sent.',
  twice: 'This field was sent both in the body and in the query string.',
};

/**
 * The image of `POST /api/v2/user/avatar/`: the file part `avatar` or the text `avatar_base64`,
 * exactly one. Neither (or an empty one) is `required` on `avatar`, both `invalid`.
 */
export function buildAvatarUpload(fields: RawFields, limits: ImageLimits): ImageUpload {
  const errors = new FieldErrors();
  for (const name of fields.keys()) {
    if (name !== 'avatar' && name !== 'avatar_base64') errors.add(name, 'unknown_field', GALLERY_MSG.unknown);
  }
  const file = fields.get('avatar');
  const base64 = fields.get('avatar_base64');
  const rules = imageRules('avatar', limits);
  let image: ImageUpload | null | undefined;
  if (file && base64) errors.add('avatar', 'invalid', GALLERY_MSG.bothForms);
  else if (file) image = readImageField('avatar', file, rules, errors, inspectImage);
  else if (base64) image = readBase64Image('avatar_base64', base64, rules, errors, inspectImage);
  // Nothing sent, or an empty value (which on PATCH /{id}/ removes the avatar): nothing to add.
  if (image === null || (!file && !base64)) errors.add('avatar', 'required', image === null ? GALLERY_MSG.noImage : GALLERY_MSG.required);
  errors.throwIfAny();
  return image!;
}

/**
 * `avatar_id` of `PATCH` and `DELETE /api/v2/user/avatar/`: a JSON number or a numeric string,
 * from the body or (DELETE) the query string. Missing is `required`; not an integer `invalid`;
 * sent in both places `duplicate_field`. Whether the gallery has it is the write's to say (404).
 */
export function readAvatarId(fields: RawFields, query: Record<string, string> = {}): number {
  const errors = new FieldErrors();
  for (const name of fields.keys()) {
    if (name !== 'avatar_id') errors.add(name, 'unknown_field', GALLERY_MSG.unknown);
  }
  const raw = fields.get('avatar_id');
  const fromQuery = query.avatar_id;
  let id: number | undefined;
  if (raw && fromQuery !== undefined) errors.add('avatar_id', 'duplicate_field', GALLERY_MSG.twice);
  else if (raw === undefined && fromQuery === undefined) errors.add('avatar_id', 'required', GALLERY_MSG.required);
  else {
    const value = raw ? (raw.kind === 'file' ? undefined : raw.value) : fromQuery;
    id = integerValue(value);
    if (id === undefined) errors.add('avatar_id', value === null ? 'null' : 'invalid', value === null ? GALLERY_MSG.null : GALLERY_MSG.integer);
  }
  errors.throwIfAny();
  return id!;
}

/** A safe integer from a JSON number or a decimal string, as Django's IntegerField reads it. */
function integerValue(value: unknown): number | undefined {
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && /^\s*[-+]?\d{1,16}\s*$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(number) ? number : undefined;
}
