import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../../src/platform/config.ts';
import { ParseError, ValidationError } from '../../src/http/errors.ts';
import { buildPatch, isEmptyPatch } from '../../src/users/patch-fields.ts';
import { inspectImage } from '../../src/images/header-check.ts';
import type { RawFields, RawValue } from '../../src/http/request-body.ts';
import { reservedNames } from '../../src/users/username-keys.ts';
import { pngImage } from '../../tools/support/images.ts';

/** The contract's reserved names, as the handler passes them. */
const RESERVED = reservedNames();

const LIMITS = {
  avatarMaxBytes: DEFAULTS.avatarMaxBytes,
  coverMaxBytes: DEFAULTS.coverMaxBytes,
  maxSide: DEFAULTS.maxSide,
  maxPixels: DEFAULTS.maxPixels,
  maxFrames: DEFAULTS.maxFrames,
  maxAnimationPixels: DEFAULTS.maxAnimationPixels,
  maxJpegScans: DEFAULTS.maxJpegScans,
  maxDecodeBytes: DEFAULTS.maxDecodeMegabytes * 1024 * 1024,
  avatarSize: DEFAULTS.avatarSize,
  coverMaxSide: DEFAULTS.coverMaxSide,
  timeoutSeconds: DEFAULTS.imageTimeoutSeconds,
};

const fromJson = (body: Record<string, unknown>): RawFields =>
  new Map(Object.entries(body).map(([k, value]) => [k, { kind: 'json', value } as RawValue]));
const fromForm = (body: Record<string, string>): RawFields =>
  new Map(Object.entries(body).map(([k, value]) => [k, { kind: 'text', value } as RawValue]));
const file = (bytes: Buffer, filename = 'x.png', tooLarge = false): RawValue => ({
  kind: 'file',
  filename,
  mimeType: 'image/png',
  bytes,
  tooLarge,
});

/** The field errors of a refused patch, as `{field: [codes]}`; every error has a message. */
function fieldErrors(fields: RawFields, limits = LIMITS): Record<string, string[]> {
  let error: unknown;
  try {
    buildPatch(fields, limits, RESERVED, inspectImage);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ValidationError, `expected field errors, got ${String(error)}`);
  return Object.fromEntries(
    error.envelope().errors.map((entry) => {
      assert.ok('field' in entry, 'a field error names its field');
      for (const m of entry.messages) assert.ok(m.message.length > 0, 'every error has a message');
      return [entry.field, entry.messages.map((m) => m.code)];
    }),
  );
}

describe('buildPatch: text fields', () => {
  it('sets every writable text field', () => {
    const patch = buildPatch(
      fromJson({
        real_name: 'Ada Lovelace',
        bio: 'Mathematician',
        location: 'London',
        location_lat_lng: '51.5072,-0.1276',
        position_lat_lng: '-33.9,151.2',
        date_of_birth: '1815-12-10',
        description: 'First programmer',
        gender: 'Female',
        website: 'https://example.org/ada',
        language: 'it',
        company_name: 'Analytical Engines',
        company_role: 'Author',
      }),
      LIMITS,
      RESERVED,
      inspectImage,
    );
    assert.equal(patch.text.real_name, 'Ada Lovelace');
    assert.equal(patch.text.gender, 'Female');
    assert.equal(patch.text.language, 'it');
    assert.equal(Object.keys(patch.text).length, 12);
    assert.equal(patch.username, undefined);
  });
  it('clears a field with an empty string or JSON null', () => {
    const patch = buildPatch(fromJson({ bio: '', website: null }), LIMITS, RESERVED, inspectImage);
    assert.deepEqual(patch.text, { bio: '', website: '' });
  });
  it('trims surrounding white space, as Django REST Framework does', () => {
    assert.equal(buildPatch(fromForm({ real_name: '  Ada  ' }), LIMITS, RESERVED, inspectImage).text.real_name, 'Ada');
  });
  it('refuses numbers, booleans, arrays and objects in JSON with invalid', () => {
    assert.deepEqual(fieldErrors(fromJson({ real_name: 5, bio: true, location: ['x'], description: { a: 1 } })), {
      real_name: ['invalid'],
      bio: ['invalid'],
      location: ['invalid'],
      description: ['invalid'],
    });
  });
  it('reports max_length for each field at its limit plus one, counting characters', () => {
    assert.deepEqual(
      fieldErrors(
        fromJson({
          real_name: 'a'.repeat(256),
          bio: 'b'.repeat(5001),
          location: 'c'.repeat(101),
          description: 'd'.repeat(51),
          company_name: 'e'.repeat(256),
          company_role: 'f'.repeat(256),
          website: `https://example.org/${'g'.repeat(181)}`,
        }),
      ),
      {
        real_name: ['max_length'],
        bio: ['max_length'],
        location: ['max_length'],
        description: ['max_length'],
        company_name: ['max_length'],
        company_role: ['max_length'],
        website: ['max_length'],
      },
    );
    // Fifty emoji are fifty characters, though a hundred UTF-16 units.
    assert.equal(buildPatch(fromJson({ description: '😀'.repeat(50) }), LIMITS, RESERVED, inspectImage).text.description, '😀'.repeat(50));
  });
  it('refuses NUL characters and unpaired surrogates', () => {
    assert.deepEqual(fieldErrors(fromJson({ bio: 'a\u0000b', real_name: 'x\ud800' })), { bio: ['invalid'], real_name: ['invalid'] });
  });
  it('quotes a refused choice cut short, whatever its size', () => {
    let error: unknown;
    try {
      buildPatch(fromJson({ gender: 'x'.repeat(1_000_000) }), LIMITS, RESERVED, inspectImage);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ValidationError);
    assert.ok(JSON.stringify(error.envelope()).length < 200);
  });
  it('refuses choices outside the list with invalid_choice', () => {
    assert.deepEqual(fieldErrors(fromJson({ gender: 'male', language: 'fr' })), {
      gender: ['invalid_choice'],
      language: ['invalid_choice'],
    });
  });
  it('checks lat,lng ranges', () => {
    for (const ok of ['0,0', '90,180', '-90,-180', ' 45.5 , 9.19 ']) {
      assert.ok(buildPatch(fromJson({ location_lat_lng: ok }), LIMITS, RESERVED, inspectImage).text.location_lat_lng !== undefined, ok);
    }
    for (const bad of ['91,0', '0,181', '45', 'a,b', '45;9', '1e2,3']) {
      assert.deepEqual(fieldErrors(fromJson({ position_lat_lng: bad })), { position_lat_lng: ['invalid'] }, bad);
    }
  });
  it('accepts only real past calendar dates', () => {
    assert.equal(buildPatch(fromJson({ date_of_birth: '2000-02-29' }), LIMITS, RESERVED, inspectImage).text.date_of_birth, '2000-02-29');
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    for (const bad of ['1999-02-29', '2001-13-01', '10/12/1815', '1815-12-1', future]) {
      assert.deepEqual(fieldErrors(fromJson({ date_of_birth: bad })), { date_of_birth: ['invalid'] }, bad);
    }
  });
  it('accepts only absolute http(s) URLs', () => {
    assert.equal(buildPatch(fromJson({ website: 'http://a.example' }), LIMITS, RESERVED, inspectImage).text.website, 'http://a.example');
    for (const bad of ['example.org', 'ftp://example.org', 'javascript:alert(1)', 'https://', 'http://a b.example']) {
      assert.deepEqual(fieldErrors(fromJson({ website: bad })), { website: ['invalid'] }, bad);
    }
  });
  it('reports every invalid field at once', () => {
    assert.deepEqual(fieldErrors(fromJson({ gender: 'x', website: 'y', username: '' })), {
      gender: ['invalid_choice'],
      website: ['invalid'],
      username: ['blank'],
    });
  });
});

describe('buildPatch: username', () => {
  it('keeps case', () => {
    assert.equal(buildPatch(fromJson({ username: 'Ada_Lovelace-1815' }), LIMITS, RESERVED, inspectImage).username, 'Ada_Lovelace-1815');
  });
  it('refuses "" as blank and null as null', () => {
    assert.deepEqual(fieldErrors(fromJson({ username: '' })), { username: ['blank'] });
    assert.deepEqual(fieldErrors(fromJson({ username: null })), { username: ['null'] });
  });
  it('accepts 255 characters and refuses 256 with max_length', () => {
    assert.equal(buildPatch(fromJson({ username: 'a'.repeat(255) }), LIMITS, RESERVED, inspectImage).username?.length, 255);
    assert.deepEqual(fieldErrors(fromJson({ username: 'a'.repeat(256) })), { username: ['max_length'] });
  });
  it('refuses lookalikes, fullwidth, zero-width, right-to-left, spaces and only _ and -', () => {
    const bad = [
      'аlice', // Cyrillic а
      'ａｌｉｃｅ', // fullwidth
      'ali\u200bce', // zero-width space
      'ali\u202ece', // right-to-left override
      ' alice',
      'alice ',
      'al ice',
      '___',
      '-_-',
      'alice@example',
    ];
    for (const username of bad) {
      assert.deepEqual(fieldErrors(fromJson({ username })), { username: ['invalid'] }, JSON.stringify(username));
    }
  });
  it('refuses the names nobody may take, in any case and as any lookalike, with unique (contract, "Writable fields")', () => {
    const reserved = [
      'admin',
      'Admin',
      'ADMINISTRATOR',
      'root',
      'support',
      'SelfCommunity',
      'me',
      'hidden_users_id',
      'ａｄｍｉｎ', // fullwidth
      '\u0430dmin', // Cyrillic а
      'adrnin', // rn for m
      'r00t', // zeros for O
      'supp0rt',
    ];
    for (const username of reserved) {
      assert.deepEqual(fieldErrors(fromJson({ username })), { username: ['unique'] }, JSON.stringify(username));
    }
    assert.deepEqual(fieldErrors(fromForm({ username: 'Admin' })), { username: ['unique'] });
    for (const username of ['admins', 'admin_ada', 'rooty', 'helpful']) {
      assert.equal(buildPatch(fromJson({ username }), LIMITS, RESERVED, inspectImage).username, username);
    }
  });
  it('refuses a deployment’s own reserved names too', async () => {
    const { reservedNames } = await import('../../src/users/username-keys.ts');
    const isReserved = reservedNames(['admin', 'founder']);
    assert.throws(() => buildPatch(fromJson({ username: 'F0under' }), LIMITS, isReserved, inspectImage), ValidationError);
    assert.equal(buildPatch(fromJson({ username: 'support' }), LIMITS, isReserved, inspectImage).username, 'support');
  });
});

describe('buildPatch: display text (contract, "Writable fields")', () => {
  const DISPLAY_FIELDS = ['real_name', 'bio', 'location', 'description', 'company_name', 'company_role'];
  it('refuses control characters and bidirectional overrides and isolates with invalid', () => {
    const bad = ['Ada\u202eecalevoL', '\u202aAda', 'A\u202bda', 'Ad\u202ca', 'Ad\u202da', '\u2066Ada\u2069', 'A\u2067da', 'Ad\u2068a', 'A\u0007da', 'A\u001bda', 'A\u007fda', 'A\u0085da'];
    for (const field of DISPLAY_FIELDS) {
      for (const value of bad) {
        assert.deepEqual(fieldErrors(fromJson({ [field]: value })), { [field]: ['invalid'] }, `${field} ${JSON.stringify(value)}`);
      }
    }
    for (const field of DISPLAY_FIELDS.filter((f) => f !== 'bio')) {
      for (const value of ['Ada\nLovelace', 'Ada\tLovelace', 'Ada\rLovelace']) {
        assert.deepEqual(fieldErrors(fromJson({ [field]: value })), { [field]: ['invalid'] }, `${field} ${JSON.stringify(value)}`);
      }
    }
  });
  it('bio may hold line breaks and tabs; every field keeps other scripts, emoji and joiners', () => {
    assert.equal(buildPatch(fromJson({ bio: 'Line one\nLine two\r\n\tindented' }), LIMITS, RESERVED, inspectImage).text.bio, 'Line one\nLine two\r\n\tindented');
    for (const field of DISPLAY_FIELDS) {
      for (const value of ['עברית ואנגלית', 'José Müller', '👩\u200d💻 dev', 'Ἀλέξανδρος']) {
        assert.equal(buildPatch(fromJson({ [field]: value }), LIMITS, RESERVED, inspectImage).text[field as 'bio'], value, `${field} ${value}`);
      }
    }
  });
});

describe('buildPatch: unknown, read-only and image fields', () => {
  it('ignores read-only fields of the User object', () => {
    const patch = buildPatch(
      fromJson({ id: 99, ext_id: 'x', followers_counter: 5, date_joined: 'x', tags: [], reputation: 1, deleted: true, connection_status: null }),
      LIMITS,
      RESERVED,
      inspectImage,
    );
    assert.ok(isEmptyPatch(patch));
  });
  it('refuses unknown fields, __proto__ and constructor among them', () => {
    assert.deepEqual(fieldErrors(fromJson({ is_staff: true, __proto__x: 1, constructor: 'x' })), {
      is_staff: ['unknown_field'],
      __proto__x: ['unknown_field'],
      constructor: ['unknown_field'],
    });
    const proto = new Map<string, RawValue>([['__proto__', { kind: 'json', value: { bio: 'x' } }]]);
    assert.deepEqual(fieldErrors(proto), Object.fromEntries([['__proto__', ['unknown_field']]]));
  });
  it('removes an image with an empty value or JSON null', () => {
    assert.deepEqual(buildPatch(fromJson({ avatar: null, cover: '' }), LIMITS, RESERVED, inspectImage).images, { avatar: null, cover: null });
    assert.deepEqual(buildPatch(fromForm({ avatar: '' }), LIMITS, RESERVED, inspectImage).images, { avatar: null });
  });
  it('refuses a text value for an image and a file for a text field', () => {
    assert.deepEqual(fieldErrors(fromJson({ avatar: 'https://example.org/a.png' })), { avatar: ['invalid'] });
    assert.deepEqual(fieldErrors(new Map([['bio', file(pngImage())]])), { bio: ['invalid'] });
  });
  it('takes an image file part, sniffed from its bytes', () => {
    const patch = buildPatch(new Map([['avatar', file(pngImage({ width: 3, height: 2 }), 'a.jpg')]]), LIMITS, RESERVED, inspectImage);
    assert.equal(patch.images.avatar?.info.type, 'png');
    assert.equal(patch.images.avatar?.info.width, 3);
  });
  it('reports a file marked too large as file_too_large', () => {
    assert.deepEqual(fieldErrors(new Map([['cover', file(Buffer.alloc(0), 'c.png', true)]])), { cover: ['file_too_large'] });
  });
  it('applies the avatar limit to avatars and the cover limit to covers', () => {
    // The defaults are the same for both (the largest file a request carries); each is its own setting.
    const limits = { ...LIMITS, avatarMaxBytes: 1_000_000, coverMaxBytes: 2_000_000 };
    const big = pngImage({ padTo: limits.avatarMaxBytes + 10 });
    assert.deepEqual(fieldErrors(new Map([['avatar', file(big)]]), limits), { avatar: ['file_too_large'] });
    assert.equal(buildPatch(new Map([['cover', file(big)]]), limits, RESERVED, inspectImage).images.cover?.info.type, 'png');
  });
  it('refuses SVG and non-images as invalid_image', () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    assert.deepEqual(fieldErrors(new Map([['avatar', file(svg, 'a.png')]])), { avatar: ['invalid_image'] });
  });
  it('refuses images over the pixel limits as image_too_large', () => {
    assert.deepEqual(fieldErrors(new Map([['avatar', file(pngImage({ width: 30000, height: 30000 }))]])), {
      avatar: ['image_too_large'],
    });
  });
});

describe('buildPatch: base64 images', () => {
  const b64 = pngImage().toString('base64');
  it('accepts image/png;base64, with or without data:', () => {
    for (const value of [`image/png;base64,${b64}`, `data:image/png;base64,${b64}`]) {
      assert.equal(buildPatch(fromJson({ avatar_base64: value }), LIMITS, RESERVED, inspectImage).images.avatar?.info.type, 'png');
    }
  });
  it('accepts cover_base64 too', () => {
    assert.equal(buildPatch(fromForm({ cover_base64: `image/png;base64,${b64}` }), LIMITS, RESERVED, inspectImage).images.cover?.info.type, 'png');
  });
  it('refuses invalid base64 characters with parse_error', () => {
    assert.throws(() => buildPatch(fromJson({ avatar_base64: 'image/png;base64,iVBO*w0K' }), LIMITS, RESERVED, inspectImage), ParseError);
  });
  it('refuses a declared type that is not an image with invalid_image', () => {
    assert.deepEqual(fieldErrors(fromJson({ avatar_base64: `text/html;base64,${b64}` })), { avatar_base64: ['invalid_image'] });
  });
  it('refuses bytes that are not an image with invalid_image', () => {
    const html = Buffer.from('<html><body>hi</body></html>').toString('base64');
    assert.deepEqual(fieldErrors(fromJson({ avatar_base64: `image/png;base64,${html}` })), { avatar_base64: ['invalid_image'] });
  });
  it('refuses text without the type prefix', () => {
    assert.deepEqual(fieldErrors(fromJson({ avatar_base64: b64 })), { avatar_base64: ['invalid'] });
  });
  it('refuses the same image sent as a file and as base64', () => {
    const fields: RawFields = new Map([
      ['avatar', file(pngImage())],
      ['avatar_base64', { kind: 'text', value: `image/png;base64,${b64}` }],
    ]);
    assert.deepEqual(fieldErrors(fields), { avatar_base64: ['duplicate_field'] });
  });
  it('refuses an oversized image before decoding it', () => {
    const big = Buffer.alloc(LIMITS.avatarMaxBytes + 100).toString('base64');
    assert.deepEqual(fieldErrors(fromJson({ avatar_base64: `image/png;base64,${big}` })), { avatar_base64: ['file_too_large'] });
  });
});
