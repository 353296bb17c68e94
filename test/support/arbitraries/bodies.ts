// Body specs: valid bodies, wild bodies and image bodies, in every content type and transport.

import fc from 'fast-check';
import { READ_ONLY_NAMES, SPECIAL_NAMES, TEXT_FIELD_NAMES, type TextFieldName, WRITABLE_NAMES } from './pool.ts';
import { type FileContent, goodImageArb, mutatedImage, type Mutation, mutationArb } from './images.ts';
import { anyJson, anyString, base64ImageArb, GOOD_PREFIXES, fileArb, invalidText, invalidUsername, type Json, type Pair, validText, validUsername, type Value } from './values.ts';

export type Transport = 'plain' | 'base64' | 'lieBase64' | 'lieText';

export type ContentTypeSpec =
  | { kind: 'natural'; params: string }
  | { kind: 'explicit'; value: string | undefined };

export type BodySpec =
  | { enc: 'none'; body: null | undefined | '' }
  | { enc: 'json'; pairs: Pair[]; style: 'compact' | 'pretty' | 'bom' | 'trailing' | 'truncated' | 'comment'; cut: number }
  | { enc: 'jsonValue'; value: Json }
  | { enc: 'urlencoded'; pairs: Pair[]; style: 'standard' | 'raw' | 'semicolons' }
  | { enc: 'urlencodedText'; text: string }
  | { enc: 'manyPairs'; count: number }
  /** A JSON object with that many (unknown) keys. */
  | { enc: 'manyJsonKeys'; count: number }
  | { enc: 'multipart'; form: MultipartSpec }
  | { enc: 'text'; text: string }
  | { enc: 'bytes'; bytes: Uint8Array }
  | { enc: 'huge'; bytes: number }
  /** One field with a value of about a megabyte, in any form: what the answer does with it. */
  | { enc: 'bigValue'; form: Form; field: string; char: string; length: number };

export interface PartSpec {
  disposition: 'normal' | 'noName' | 'emptyName' | 'none' | 'attachment' | 'nameStar' | 'unquoted' | 'badStarCharset';
  name: string;
  value: Value;
  /** Content-Type of a text part, e.g. with an unknown charset. */
  partType?: string;
}

export interface MultipartSpec {
  boundary: string;
  header: 'plain' | 'quoted' | 'missing' | 'other' | 'empty' | 'duplicate' | 'uppercase';
  parts: PartSpec[];
  ending: 'proper' | 'noFinal' | 'noCrlf' | 'preamble' | 'epilogue' | 'lf';
  mutations: Mutation[];
}

export interface BodyRequest {
  spec: BodySpec;
  contentType: ContentTypeSpec;
  transport: Transport;
  /** Built by the valid generator: every field accepted, honestly encoded. */
  valid: boolean;
}

const NATURAL_PARAMS = ['', '; charset=utf-8', '; charset=UTF-8', ';charset="utf-8"', '; charset=utf8', '; charset=us-ascii'];
const BAD_PARAMS = ['; charset=latin1', '; charset=utf-16', '; charset=', '; charset="', ';;;', '; foo', '; charset=utf-8; charset=latin1'];

const RANDOM_CONTENT_TYPES = [
  undefined, '', 'text/plain', 'text/plain; charset=utf-8', 'application/octet-stream', '*/*', 'application/json',
  'APPLICATION/JSON', ' application/json ', 'application/json5', 'application/vnd.api+json', 'text/json',
  'application/x-www-form-urlencoded', 'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="',
  'multipart/mixed; boundary=abc', 'multipart/form-data; boundary=abc', 'image/png', ';', 'application/json; charset=latin1',
  'application/x-www-form-urlencoded; charset=iso-8859-1', 'multipart/form-data; boundary=abc; charset=utf-16',
  // Huge ones: an answer that quotes the type must not grow with it (nor split a surrogate pair).
  `text/${'x'.repeat(100_000)}`, `application/json; charset=${'x'.repeat(100_000)}`, `x${'\u{1F600}'.repeat(20_000)}`,
];

export const wildName: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...WRITABLE_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...READ_ONLY_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_NAMES) },
  { weight: 2, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom('n'.repeat(100), 'n'.repeat(101), 'é'.repeat(51)) },
);

/** A value for a field of a wild body: anything, with some good values and images. */
function wildValueArb(files: boolean): fc.Arbitrary<Value> {
  const arbs: fc.WeightedArbitrary<Value>[] = [
    { weight: 5, arbitrary: anyJson.map((json) => ({ json })) },
    { weight: 2, arbitrary: validUsername.map((json) => ({ json })) },
    { weight: 2, arbitrary: fc.constantFrom(...TEXT_FIELD_NAMES).chain((f) => fc.oneof(validText(f), invalidText(f))).map((json) => ({ json })) },
    { weight: 2, arbitrary: base64ImageArb(false).map((b64) => ({ b64 })) },
  ];
  if (files) arbs.push({ weight: 3, arbitrary: fileArb(false).map((file) => ({ file })) });
  return fc.oneof(...arbs);
}

type Form = 'json' | 'urlencoded' | 'multipart';

/** A value aimed at one field: often good, often bad in a way that field checks, sometimes anything. */
function aimedValueArb(name: string, form: Form): fc.Arbitrary<Value> {
  const json = (arb: fc.Arbitrary<Json>) => arb.map((v): Value => ({ json: v }));
  const anything = form === 'json' ? json(anyJson) : json(anyString);
  const empties = json(fc.constantFrom<Json>(...(form === 'json' ? [null, ''] : [''])));
  if (name === 'username') {
    return fc.oneof({ weight: 3, arbitrary: json(validUsername) }, { weight: 3, arbitrary: json(invalidUsername) }, { weight: 1, arbitrary: anything }, { weight: 1, arbitrary: empties });
  }
  if ((TEXT_FIELD_NAMES as readonly string[]).includes(name)) {
    const field = name as TextFieldName;
    return fc.oneof({ weight: 3, arbitrary: json(validText(field)) }, { weight: 3, arbitrary: json(invalidText(field)) }, { weight: 2, arbitrary: anything }, { weight: 1, arbitrary: empties });
  }
  if (name === 'avatar' || name === 'cover') {
    const arbs: fc.WeightedArbitrary<Value>[] = [{ weight: 1, arbitrary: empties }, { weight: 1, arbitrary: anything }];
    if (form === 'multipart') arbs.push({ weight: 6, arbitrary: fileArb(false).map((file): Value => ({ file })) });
    return fc.oneof(...arbs);
  }
  if (name === 'avatar_base64' || name === 'cover_base64') {
    const arbs: fc.WeightedArbitrary<Value>[] = [
      { weight: 6, arbitrary: base64ImageArb(false).map((b64): Value => ({ b64 })) },
      { weight: 1, arbitrary: empties },
      { weight: 1, arbitrary: anything },
    ];
    if (form === 'multipart') arbs.push({ weight: 1, arbitrary: fileArb(false).map((file): Value => ({ file })) });
    return fc.oneof(...arbs);
  }
  return anything;
}

/** One name and value of a wild body: mostly aimed at a writable field, sometimes anything. */
const wildPairArb = (form: Form): fc.Arbitrary<Pair> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...WRITABLE_NAMES).chain((name) => aimedValueArb(name, form).map((v): Pair => [name, v])) },
    { weight: 2, arbitrary: fc.tuple(wildName, wildValueArb(form === 'multipart')).map(([n, v]): Pair => [n, v]) },
  );

/** Mostly one to three fields, so that one bad field does not hide what the others would do. */
const wildPairsArb = (form: Form) =>
  fc.oneof({ weight: 4, arbitrary: fc.array(wildPairArb(form), { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(wildPairArb(form), { maxLength: 8 }) });

/** Pairs that make a valid patch: unique writable names, accepted values, read-only extras. */
function validPairsArb(form: 'json' | 'urlencoded' | 'multipart'): fc.Arbitrary<Pair[]> {
  const fieldValue = (name: string): fc.Arbitrary<Value> => {
    if (name === 'username') return validUsername.map((json) => ({ json }));
    if ((TEXT_FIELD_NAMES as readonly string[]).includes(name)) {
      const text = validText(name as TextFieldName).map((json): Value => ({ json }));
      return form === 'json' ? fc.oneof({ weight: 5, arbitrary: text }, { weight: 1, arbitrary: fc.constant<Value>({ json: null }) }) : text;
    }
    if (name === 'avatar' || name === 'cover') {
      const removal = fc.constantFrom<Value>(...(form === 'json' ? [{ json: null }, { json: '' }] : [{ json: '' }]));
      return form === 'multipart' ? fc.oneof(fileArb(true).map((file): Value => ({ file })), removal) : removal;
    }
    if (name.endsWith('_base64')) {
      return fc.oneof(
        { weight: 4, arbitrary: base64ImageArb(true).map((b64): Value => ({ b64 })) },
        { weight: 1, arbitrary: fc.constantFrom<Value>(...(form === 'json' ? [{ json: null }, { json: '' }] : [{ json: '' }])) },
      );
    }
    // read-only: ignored whatever it holds
    return form === 'json' ? anyJson.map((json) => ({ json })) : anyString.map((json) => ({ json }));
  };
  return fc
    .tuple(
      fc.shuffledSubarray(['username', ...TEXT_FIELD_NAMES], { maxLength: 5 }),
      fc.subarray(['avatar', 'cover'] as const),
      fc.boolean(),
      fc.subarray([...READ_ONLY_NAMES], { maxLength: 2 }),
    )
    .chain(([texts, images, asBase64, readOnly]) => {
      // An image is sent as a file (multipart), as base64 text, or removed with an empty value.
      const names = [...texts, ...images.map((f) => (asBase64 ? `${f}_base64` : f)), ...readOnly];
      return fc.tuple(...names.map((n) => fieldValue(n).map((v): Pair => [n, v])));
    })
    .map((pairs) => pairs as Pair[]);
}

const boundaryArb = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9'+_.-]{1,40}$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9'()+_,.\/:=?-]{1,40}$/) },
  { weight: 1, arbitrary: fc.constantFrom('----WebKitFormBoundary7MA4YWxkTrZu0gW', 'x', 'a b', 'abc"def', '-', '=', 'é', 'a'.repeat(70), 'a'.repeat(71)) },
);

/** A boundary parameter value as a careful client writes it: quoted when it is not a token. */
export const boundaryParam = (b: string) => (/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(b) ? b : `"${b}"`);

const partArb = (pair: fc.Arbitrary<Pair>, valid: boolean): fc.Arbitrary<PartSpec> =>
  fc
    .record(
      {
        disposition: valid
          ? fc.constantFrom('normal' as const, 'unquoted' as const)
          : fc.oneof(
              { weight: 12, arbitrary: fc.constant('normal' as const) },
              { weight: 1, arbitrary: fc.constantFrom('noName' as const, 'emptyName' as const, 'none' as const, 'attachment' as const, 'nameStar' as const, 'unquoted' as const, 'badStarCharset' as const) },
            ),
        pair,
        partType: valid
          ? fc.constantFrom(undefined, 'text/plain', 'text/plain; charset=utf-8')
          : fc.constantFrom(undefined, undefined, undefined, 'text/plain; charset=latin1', 'text/plain; charset=bogus', 'text/plain; charset=utf-16le', 'application/octet-stream', 'text/plain; charset=base64'),
      },
      { requiredKeys: ['disposition', 'pair'] },
    )
    .map(({ pair: [name, value], ...rest }): PartSpec => ({ ...rest, name, value }));

const wildMultipart: fc.Arbitrary<MultipartSpec> = fc.record({
  boundary: boundaryArb,
  header: fc.oneof(
    { weight: 10, arbitrary: fc.constant('plain' as const) },
    { weight: 3, arbitrary: fc.constantFrom('quoted' as const, 'missing' as const, 'other' as const, 'empty' as const, 'duplicate' as const, 'uppercase' as const) },
  ),
  parts: fc.oneof({ weight: 4, arbitrary: fc.array(partArb(wildPairArb('multipart'), false), { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(partArb(wildPairArb('multipart'), false), { maxLength: 7 }) }),
  ending: fc.oneof(
    { weight: 8, arbitrary: fc.constant('proper' as const) },
    { weight: 3, arbitrary: fc.constantFrom('noFinal' as const, 'noCrlf' as const, 'preamble' as const, 'epilogue' as const, 'lf' as const) },
  ),
  mutations: fc.oneof({ weight: 6, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }),
});

const validMultipart: fc.Arbitrary<MultipartSpec> = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9_-]{8,40}$/), fc.constantFrom('plain' as const, 'quoted' as const), validPairsArb('multipart'), fc.constantFrom('proper' as const, 'preamble' as const, 'epilogue' as const))
  .chain(([boundary, header, pairs, ending]) =>
    fc
      .tuple(...pairs.map((pair) => partArb(fc.constant(pair), true)))
      .map((parts): MultipartSpec => ({ boundary, header, parts: parts as PartSpec[], ending, mutations: [] })),
  );

const naturalType = fc.oneof(
  { weight: 5, arbitrary: fc.constant<ContentTypeSpec>({ kind: 'natural', params: '' }) },
  { weight: 2, arbitrary: fc.constantFrom(...NATURAL_PARAMS).map((params): ContentTypeSpec => ({ kind: 'natural', params })) },
);
const wildType = fc.oneof(
  { weight: 8, arbitrary: naturalType },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_PARAMS).map((params): ContentTypeSpec => ({ kind: 'natural', params })) },
  { weight: 1, arbitrary: fc.constantFrom(...RANDOM_CONTENT_TYPES).map((value): ContentTypeSpec => ({ kind: 'explicit', value })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((value): ContentTypeSpec => ({ kind: 'explicit', value })) },
);

export const validBodyArb: fc.Arbitrary<BodyRequest> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      spec: fc.record({ enc: fc.constant('json' as const), pairs: validPairsArb('json'), style: fc.constantFrom('compact' as const, 'pretty' as const, 'bom' as const), cut: fc.constant(0) }),
      contentType: naturalType,
      transport: fc.constantFrom('plain' as const, 'base64' as const),
      valid: fc.constant(true),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      spec: fc.record({ enc: fc.constant('urlencoded' as const), pairs: validPairsArb('urlencoded'), style: fc.constant('standard' as const) }),
      contentType: naturalType,
      transport: fc.constantFrom('plain' as const, 'base64' as const),
      valid: fc.constant(true),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      spec: fc.record({ enc: fc.constant('multipart' as const), form: validMultipart }),
      contentType: fc.constant<ContentTypeSpec>({ kind: 'natural', params: '' }),
      transport: fc.constant('base64' as const),
      valid: fc.constant(true),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      spec: fc.constantFrom<BodySpec>({ enc: 'none', body: null }, { enc: 'none', body: undefined }, { enc: 'none', body: '' }),
      contentType: fc.oneof(naturalType, fc.constantFrom(...RANDOM_CONTENT_TYPES).map((value): ContentTypeSpec => ({ kind: 'explicit', value }))),
      transport: fc.constantFrom('plain' as const, 'base64' as const),
      valid: fc.constant(true),
    }),
  },
);

const wildSpec: fc.Arbitrary<BodySpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      enc: fc.constant('json' as const),
      pairs: wildPairsArb('json'),
      style: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('compact' as const, 'pretty' as const) },
        { weight: 1, arbitrary: fc.constantFrom('bom' as const, 'trailing' as const, 'truncated' as const, 'comment' as const) },
      ),
      cut: fc.nat(200),
    }),
  },
  { weight: 2, arbitrary: fc.record({ enc: fc.constant('jsonValue' as const), value: anyJson }) },
  {
    weight: 6,
    arbitrary: fc.record({
      enc: fc.constant('urlencoded' as const),
      pairs: wildPairsArb('urlencoded'),
      style: fc.constantFrom('standard' as const, 'standard' as const, 'raw' as const, 'semicolons' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      enc: fc.constant('urlencodedText' as const),
      text: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom('=', '&&&', 'bio', 'bio=%zz', 'bio=%E0%A4', 'bio=%ED%A0%80', 'bio=a&bio=b', 'a=b=c', '%62io=x', 'bio=x&BIO=y', 'bio%00=x', '&=&', '__proto__=x', 'avatar_base64=data:image/png;base64,iVBO+w=='),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('manyPairs' as const), count: fc.constantFrom(99, 100, 101, 1000) }) },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('manyJsonKeys' as const), count: fc.constantFrom(100, 101, 1000, 60_000) }) },
  { weight: 8, arbitrary: fc.record({ enc: fc.constant('multipart' as const), form: wildMultipart }) },
  { weight: 2, arbitrary: fc.record({ enc: fc.constant('text' as const), text: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('{"bio":', '{"bio":"x"}garbage', '[]', 'null', '"x"', '{"bio":"x","bio":"y"}', '{"__proto__":{"bio":"x"}}')) }) },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.constantFrom<BodySpec>({ enc: 'none', body: null }, { enc: 'none', body: '' }) },
  { weight: 1, arbitrary: fc.record({ enc: fc.constant('huge' as const), bytes: fc.constantFrom(6_000_001, 6_000_002, 7_000_000) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      enc: fc.constant('bigValue' as const),
      form: fc.constantFrom('json' as const, 'urlencoded' as const, 'multipart' as const),
      field: fc.constantFrom('gender', 'language', 'bio', 'website', 'date_of_birth', 'username', 'location_lat_lng', 'avatar_base64', 'avatar', 'tags', 'x'),
      char: fc.constantFrom('a', '"', '\u0001', '\\', 'é', '\u2028'),
      length: fc.constantFrom(100_000, 1_100_000),
    }),
  },
);

export const wildBodyArb: fc.Arbitrary<BodyRequest> = fc.record({
  spec: wildSpec,
  contentType: wildType,
  transport: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('plain' as const, 'base64' as const) },
    { weight: 1, arbitrary: fc.constantFrom('lieBase64' as const, 'lieText' as const) },
  ),
  valid: fc.constant(false),
});

/** Bodies that carry images, mostly mutated ones: the header pre-check and libvips, through the handler. */
const mutatedImageArb: fc.Arbitrary<FileContent> = fc.oneof(
  { weight: 1, arbitrary: goodImageArb },
  { weight: 4, arbitrary: mutatedImage({ minLength: 1, maxLength: 4 }) },
);

export const imageBodyArb: fc.Arbitrary<BodyRequest> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.subarray(['avatar', 'cover'] as const, { minLength: 1 }),
        fc.array(mutatedImageArb, { minLength: 2, maxLength: 2 }),
        fc.constantFrom('a.png', 'x', ''),
        fc.stringMatching(/^[A-Za-z0-9_-]{8,30}$/),
      )
      .map(([fields, contents, filename, boundary]): BodyRequest => ({
        spec: {
          enc: 'multipart',
          form: {
            boundary,
            header: 'plain',
            parts: fields.map((field, i): PartSpec => ({
              disposition: 'normal',
              name: field,
              value: { file: { filename: filename || 'f', type: 'image/png', content: contents[i]! } },
            })),
            ending: 'proper',
            mutations: [],
          },
        },
        contentType: { kind: 'natural', params: '' },
        transport: 'base64',
        valid: false,
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.subarray(['avatar_base64', 'cover_base64'] as const, { minLength: 1 }), fc.array(mutatedImageArb, { minLength: 2, maxLength: 2 }), fc.constantFrom(...GOOD_PREFIXES))
      .map(([fields, contents, prefix]): BodyRequest => ({
        spec: {
          enc: 'json',
          pairs: fields.map((field, i): Pair => [field, { b64: { prefix, content: contents[i]!, style: 'plain' } }]),
          style: 'compact',
          cut: 0,
        },
        contentType: { kind: 'natural', params: '' },
        transport: 'plain',
        valid: false,
      })),
  },
);
