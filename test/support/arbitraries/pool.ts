// The seeded users every fuzz request aims at, and the field names of a patch.

export interface PoolUser {
  id: number;
  sub: string;
  username: string;
  [field: string]: unknown;
}

/** The users every fuzz request is aimed at; subs are unguessable so a leak is recognisable. */
export const POOL: readonly PoolUser[] = [
  { id: 1, sub: 'a6f3c1d0-fuzz-4e1b-9c51-000000000001', username: 'ada', bio: 'Mathematician' },
  { id: 2, sub: 'b7e2d4c1-fuzz-4f2a-8d62-000000000002', username: 'Bob', followers_counter: 5, reputation: 12 },
  {
    id: 7,
    sub: 'c8d1e5b2-fuzz-4a3b-9e73-000000000007',
    username: 'carol_7',
    ext_id: 'ext-7',
    tags: [
      {
        id: 3, type: 'user', name: 'Staff', description: 'staff', color: '#ff0000', visible: true,
        visibility_boost: false, created_at: '2024-01-01T00:00:00Z', active: true, deleted: false,
      },
    ],
    community_badge: true,
    reg_approved: true,
  },
  { id: 123456789012345, sub: 'd9c0f6a3-fuzz-4b4c-af84-000000000015', username: 'Dave-15', deleted: false },
];

/** A valid token whose sub belongs to no user. */
export const STRANGER_SUB = 'e0b9a7f4-fuzz-4c5d-b095-0000000000ff';

// ---------------------------------------------------------------------------------------------
// Field names

export const TEXT_FIELD_NAMES = [
  'real_name', 'bio', 'location', 'location_lat_lng', 'position_lat_lng', 'date_of_birth',
  'description', 'gender', 'website', 'language', 'company_name', 'company_role',
] as const;
export type TextFieldName = (typeof TEXT_FIELD_NAMES)[number];
export const IMAGE_FIELD_NAMES = ['avatar', 'cover'] as const;
export const BASE64_FIELD_NAMES = ['avatar_base64', 'cover_base64'] as const;
export const READ_ONLY_NAMES = [
  'id', 'ext_id', 'followings_counter', 'followers_counter', 'posts_counter', 'discussions_counter',
  'polls_counter', 'categories_counter', 'connection_status', 'date_joined', 'tags', 'reputation',
  'community_badge', 'reg_approved', 'deleted',
] as const;
export const WRITABLE_NAMES = ['username', ...TEXT_FIELD_NAMES, ...IMAGE_FIELD_NAMES, ...BASE64_FIELD_NAMES] as const;
/** Names that must never be writable: internals of the stored item and prototype keys. */
export const SPECIAL_NAMES = [
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'sub', 'pk', 'version',
  'avatar_key', 'cover_key', 'is_staff', 'is_superuser', 'password', 'email', '', ' ', 'bio ', ' bio', 'BIO',
  'Username', 'avatar[]', 'avatar.0', 'bio\u0000', 'usérname', 'avatar_base64 ', 'user[bio]',
] as const;

export const LIMITS: Partial<Record<TextFieldName, number>> = {
  real_name: 255, bio: 5000, location: 100, description: 50, website: 200, company_name: 255, company_role: 255,
};
