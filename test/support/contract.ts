// The contract's lists, written out once for every test that checks answers against them.
import type { ImageRules } from '../../src/images/header-check.ts';

/** Every field of the User object, in the contract's order. */
export const USER_FIELDS = [
  'id', 'username', 'real_name', 'avatar', 'cover', 'ext_id', 'followings_counter', 'followers_counter',
  'posts_counter', 'discussions_counter', 'polls_counter', 'categories_counter', 'connection_status',
  'date_joined', 'bio', 'location', 'location_lat_lng', 'position_lat_lng', 'date_of_birth', 'description',
  'gender', 'website', 'tags', 'reputation', 'community_badge', 'reg_approved', 'deleted', 'company_name',
  'company_role', 'language',
] as const;

/** The caller's private fields, which `/me/` alone adds to the User object ("Reading a user"). */
export const CURRENT_USER_FIELDS = ['email', 'email_isvalid', 'role'] as const;

/** Codes of 400 field errors. */
export const FIELD_ERROR_CODES = [
  'invalid', 'blank', 'null', 'max_length', 'unique', 'invalid_choice', 'invalid_image', 'file_too_large',
  'image_too_large', 'unknown_field', 'duplicate_field',
  // The avatar gallery's (contract, "Avatars").
  'required', 'max_avatars',
] as const;

/** Codes of errors that are not about one field, by status. */
export const ERROR_CODES_BY_STATUS: Record<string, string[]> = {
  '400': ['parse_error'],
  '401': ['not_authenticated', 'authentication_failed'],
  '403': ['permission_denied'],
  '404': ['not_found'],
  '412': ['precondition_failed'],
  '413': ['request_too_large'],
  '415': ['unsupported_media_type'],
  '500': ['server_error'],
  '503': ['service_unavailable'],
};

/**
 * The longest message an error answer may carry: the service's longest sentence plus at most 80
 * characters of quoted client input (issue 13: an answer never grows with the input).
 */
export const MAX_ERROR_MESSAGE_CHARS = 400;

const MiB = 1024 * 1024;

/**
 * The header budgets of the contract's "Images" (sides, pixels, frames, animation pixels, scans,
 * the request's decoder memory), with a byte limit of 3 MiB for the header checks' own tests.
 */
export const IMAGE_RULES: ImageRules = {
  maxBytes: 3 * MiB,
  maxSide: 8192,
  maxPixels: 40_000_000,
  maxFrames: 300,
  maxAnimationPixels: 60_000_000,
  maxJpegScans: 64,
  maxDecodeBytes: 256 * MiB,
};
