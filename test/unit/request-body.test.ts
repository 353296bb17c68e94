import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError, RequestTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../../src/http/errors.ts';
import { decodeBody, parseBody, parseContentType, topLevelKeys, type RawFields } from '../../src/http/request-body.ts';

const LIMITS = { maxBodyBytes: 6_000_000, maxFileBytes: 4 * 1024 * 1024 };

const json = (body: string, contentType = 'application/json') =>
  parseBody({ body, isBase64Encoded: false, contentType }, LIMITS);

async function multipart(form: FormData): Promise<{ body: string; contentType: string }> {
  const response = new Response(form);
  const bytes = Buffer.from(await response.arrayBuffer());
  return { body: bytes.toString('base64'), contentType: response.headers.get('content-type')! };
}

const parseForm = async (form: FormData, limits = LIMITS) => {
  const { body, contentType } = await multipart(form);
  return parseBody({ body, isBase64Encoded: true, contentType }, limits);
};

const values = (fields: RawFields) =>
  Object.fromEntries([...fields].map(([k, v]) => [k, v.kind === 'file' ? `<file ${v.bytes.length}>` : v.value]));

const duplicateFields = (error: unknown) =>
  error instanceof ValidationError &&
  error.fields.every((f) => f.messages.every((m) => m.code === 'duplicate_field'))
    ? error.fields.map((f) => f.field)
    : undefined;

describe('parseBody: empty bodies', () => {
  for (const contentType of [undefined, 'application/json', 'text/plain', 'multipart/form-data']) {
    it(`an empty body is an empty patch (content type ${contentType})`, async () => {
      const fields = await parseBody({ body: '', isBase64Encoded: false, contentType }, LIMITS);
      assert.equal(fields.size, 0);
    });
  }
  it('a null body is an empty patch', async () => {
    assert.equal((await parseBody({ body: null, isBase64Encoded: false, contentType: undefined }, LIMITS)).size, 0);
  });
});

describe('parseBody: content types', () => {
  it('refuses a body without a content type with 415', async () => {
    await assert.rejects(parseBody({ body: '{}', isBase64Encoded: false, contentType: undefined }, LIMITS), UnsupportedMediaTypeError);
  });
  it('refuses text/plain with 415', async () => {
    await assert.rejects(json('{"bio":"x"}', 'text/plain'), UnsupportedMediaTypeError);
  });
  it('accepts charset parameters in any case', async () => {
    assert.deepEqual(values(await json('{"bio":"x"}', 'Application/JSON; Charset="UTF-8"')), { bio: 'x' });
  });
  it('refuses a charset other than UTF-8 with 415', async () => {
    await assert.rejects(json('{"bio":"x"}', 'application/json; charset=latin1'), UnsupportedMediaTypeError);
  });
  it('parses content type parameters, quoted or not', () => {
    const { mediaType, params } = parseContentType('multipart/form-data; boundary="a b"; charset=utf-8');
    assert.equal(mediaType, 'multipart/form-data');
    assert.equal(params.get('boundary'), 'a b');
    assert.equal(params.get('charset'), 'utf-8');
  });
});

describe('parseBody: JSON', () => {
  it('keeps every JSON value as sent', async () => {
    const fields = await json('{"bio":"hi","website":null,"real_name":5,"tags":[1]}');
    assert.deepEqual(values(fields), { bio: 'hi', website: null, real_name: 5, tags: [1] });
  });
  it('refuses malformed JSON with parse_error', async () => {
    await assert.rejects(json('{"bio":'), (e) => e instanceof ParseError && e.code === 'parse_error');
  });
  it('refuses a JSON array, string or null', async () => {
    for (const body of ['[1,2]', '"x"', 'null', '42']) {
      await assert.rejects(json(body), ParseError, body);
    }
  });
  it('refuses invalid UTF-8', async () => {
    const body = Buffer.from([0x7b, 0x22, 0x62, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]).toString('base64');
    await assert.rejects(parseBody({ body, isBase64Encoded: true, contentType: 'application/json' }, LIMITS), ParseError);
  });
  it('reports a key sent twice as duplicate_field', async () => {
    await assert.rejects(json('{"bio":"a","bio":"b"}'), (e) => duplicateFields(e)?.join() === 'bio');
  });
  it('treats __proto__ and constructor as plain names', async () => {
    const fields = await json('{"__proto__":{"polluted":true},"constructor":"x"}');
    assert.deepEqual([...fields.keys()], ['__proto__', 'constructor']);
    assert.deepEqual(fields.get('__proto__'), { kind: 'json', value: { polluted: true } });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it('refuses more keys than a form may have fields with 413', async () => {
    const body = JSON.stringify(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 0])));
    await assert.rejects(json(body), RequestTooLargeError);
  });
  it('refuses a key over the field name limit with 413', async () => {
    await assert.rejects(json(JSON.stringify({ ['k'.repeat(101)]: 1 })), RequestTooLargeError);
  });
  it('finds top-level keys only, with escapes and nesting', () => {
    assert.deepEqual(topLevelKeys('{"a\\"b":{"c":[{"d":1}]},"e":"}\\\\","f":[]}'), ['a"b', 'e', 'f']);
  });
});

describe('parseBody: urlencoded', () => {
  const form = (body: string) => json(body, 'application/x-www-form-urlencoded');
  it('decodes names and values', async () => {
    assert.deepEqual(values(await form('bio=caf%C3%A9+au+lait&real_name=')), { bio: 'café au lait', real_name: '' });
  });
  it('reports a field sent twice', async () => {
    await assert.rejects(form('bio=a&bio=b'), (e) => duplicateFields(e)?.join() === 'bio');
  });
  it('refuses 5000 fields with 413', async () => {
    const body = Array.from({ length: 5000 }, (_, i) => `f${i}=x`).join('&');
    await assert.rejects(form(body), RequestTooLargeError);
  });
  it('refuses a 1 KB field name with 413', async () => {
    await assert.rejects(form(`${'n'.repeat(1024)}=x`), RequestTooLargeError);
  });
});

describe('parseBody: multipart', () => {
  it('reads text fields and files byte-exact', async () => {
    const form = new FormData();
    form.set('bio', 'héllo');
    const bytes = Buffer.from([0, 1, 2, 255, 13, 10, 45, 45]);
    form.set('avatar', new Blob([bytes], { type: 'image/png' }), 'ä.png');
    const fields = await parseForm(form);
    assert.deepEqual(fields.get('bio'), { kind: 'text', value: 'héllo' });
    const file = fields.get('avatar');
    assert.equal(file?.kind, 'file');
    if (file?.kind !== 'file') return;
    assert.equal(file.filename, 'ä.png');
    assert.equal(file.mimeType, 'image/png');
    assert.deepEqual(file.bytes, bytes);
    assert.equal(file.tooLarge, false);
  });
  it('reads a binary (not base64) body the same way', async () => {
    const form = new FormData();
    form.set('bio', 'x');
    const { body, contentType } = await multipart(form);
    const latin1 = Buffer.from(body, 'base64').toString('utf8');
    const fields = await parseBody({ body: latin1, isBase64Encoded: false, contentType }, LIMITS);
    assert.deepEqual(values(fields), { bio: 'x' });
  });
  it('marks a file over the limit too large instead of truncating it', async () => {
    const form = new FormData();
    form.set('cover', new Blob([Buffer.alloc(2048, 1)]), 'c.png');
    const fields = await parseForm(form, { ...LIMITS, maxFileBytes: 1024 });
    const file = fields.get('cover');
    assert.ok(file?.kind === 'file' && file.tooLarge);
  });
  it('keeps a file of exactly the limit; one byte more is too large', async () => {
    for (const [size, tooLarge] of [[1024, false], [1025, true]] as const) {
      const form = new FormData();
      form.set('cover', new Blob([Buffer.alloc(size, 1)]), 'c.png');
      const file = (await parseForm(form, { ...LIMITS, maxFileBytes: 1024 })).get('cover');
      assert.ok(file?.kind === 'file', String(size));
      assert.equal(file.tooLarge, tooLarge, `${size} bytes`);
      assert.equal(file.bytes.length, tooLarge ? 0 : size);
    }
  });
  it('reports two avatar files as a duplicate field', async () => {
    const form = new FormData();
    form.append('avatar', new Blob([Buffer.from('a')]), 'a.png');
    form.append('avatar', new Blob([Buffer.from('b')]), 'b.png');
    await assert.rejects(parseForm(form), (e) => duplicateFields(e)?.join() === 'avatar');
  });
  it('refuses 5000 fields with 413', async () => {
    const form = new FormData();
    for (let i = 0; i < 5000; i++) form.append(`f${i}`, 'x');
    await assert.rejects(parseForm(form), RequestTooLargeError);
  });
  it('refuses 100 files with 413', async () => {
    const form = new FormData();
    for (let i = 0; i < 100; i++) form.append(`f${i}`, new Blob([Buffer.from('x')]), `${i}.png`);
    await assert.rejects(parseForm(form), RequestTooLargeError);
  });
  it('refuses a 1 KB field name with 413', async () => {
    const form = new FormData();
    form.set('n'.repeat(1024), 'x');
    await assert.rejects(parseForm(form), RequestTooLargeError);
  });
  it('refuses a truncated body with parse_error', async () => {
    const form = new FormData();
    form.set('avatar', new Blob([Buffer.alloc(500, 7)]), 'a.png');
    const { body, contentType } = await multipart(form);
    const cut = Buffer.from(body, 'base64').subarray(0, 300).toString('base64');
    await assert.rejects(parseBody({ body: cut, isBase64Encoded: true, contentType }, LIMITS), ParseError);
  });
  it('refuses a body without its closing boundary', async () => {
    const form = new FormData();
    form.set('bio', 'x');
    const { body, contentType } = await multipart(form);
    const text = Buffer.from(body, 'base64').toString('utf8');
    const open = text.slice(0, text.lastIndexOf('\r\n--'));
    await assert.rejects(parseBody({ body: open, isBase64Encoded: false, contentType }, LIMITS), ParseError);
  });
  it('refuses multipart without a boundary', async () => {
    await assert.rejects(json('--x\r\n', 'multipart/form-data'), ParseError);
  });
  it('refuses a body whose boundary does not match', async () => {
    await assert.rejects(json('--other\r\nContent-Disposition: form-data; name="bio"\r\n\r\nx\r\n--other--\r\n', 'multipart/form-data; boundary=mine'), ParseError);
  });
  it('accepts a quoted boundary', async () => {
    const body = '--a b\r\nContent-Disposition: form-data; name="bio"\r\n\r\nx\r\n--a b--\r\n';
    assert.deepEqual(values(await json(body, 'multipart/form-data; boundary="a b"')), { bio: 'x' });
  });
  it('refuses a part without a field name with parse_error', async () => {
    for (const disposition of ['form-data', 'form-data; name=""', "form-data; name*=utf-8''bio", 'form-data; filename="a.png"']) {
      const body = `--b\r\nContent-Disposition: ${disposition}\r\n\r\nx\r\n--b--\r\n`;
      await assert.rejects(json(body, 'multipart/form-data; boundary=b'), ParseError, disposition);
    }
  });
  it('treats __proto__ and constructor field names as plain names', async () => {
    const form = new FormData();
    form.set('__proto__', 'x');
    form.set('constructor', 'y');
    const fields = await parseForm(form);
    assert.deepEqual([...fields.keys()], ['__proto__', 'constructor']);
  });
});

describe('decodeBody', () => {
  it('decodes base64 for every content type', async () => {
    const body = Buffer.from('{"bio":"x"}').toString('base64');
    assert.deepEqual(values(await parseBody({ body, isBase64Encoded: true, contentType: 'application/json' }, LIMITS)), { bio: 'x' });
    const form = Buffer.from('bio=y').toString('base64');
    assert.deepEqual(values(await parseBody({ body: form, isBase64Encoded: true, contentType: 'application/x-www-form-urlencoded' }, LIMITS)), { bio: 'y' });
  });
  it('refuses a body over the limit with 413, before decoding base64', () => {
    const body = Buffer.alloc(6_000_001).toString('base64');
    assert.throws(() => decodeBody({ body, isBase64Encoded: true, contentType: undefined }, 6_000_000), RequestTooLargeError);
    assert.throws(() => decodeBody({ body: 'x'.repeat(6_000_001), isBase64Encoded: false, contentType: undefined }, 6_000_000), RequestTooLargeError);
  });
  it('accepts a body exactly at the limit', () => {
    const body = Buffer.alloc(1000, 1).toString('base64');
    assert.equal(decodeBody({ body, isBase64Encoded: true, contentType: undefined }, 1000).length, 1000);
  });
});

describe('multipart text parts sent as UTF-16LE', () => {
  it('are decoded, and an odd byte count at an odd offset does not corrupt Node 24’s heap', async () => {
    // Node 24's UTF-16 decoder corrupts the heap for an odd number of bytes at an odd address,
    // which is where a part lands in the body depending on the bytes before it; glibc aborts
    // the process some time later. A child process decodes such parts many times over: it must
    // exit cleanly and read every value.
    const script = `
      const { parseBody } = await import(${JSON.stringify(new URL('../../src/http/request-body.ts', import.meta.url).href)});
      let decoded = 0;
      for (let i = 0; i < 4000; i++) {
        // The padding field moves the UTF-16 part to an odd or even offset; the text is odd-sized.
        const pad = 'p'.repeat(i % 2);
        const text = Buffer.concat([Buffer.from('hi there '.repeat(1 + (i % 600)), 'utf16le'), Buffer.from([0x41])]);
        const body = Buffer.concat([
          Buffer.from('--b\\r\\nContent-Disposition: form-data; name="real_name"\\r\\n\\r\\n' + pad + '\\r\\n'),
          Buffer.from('--b\\r\\nContent-Disposition: form-data; name="bio"\\r\\nContent-Type: text/plain; charset=utf-16le\\r\\n\\r\\n'),
          text,
          Buffer.from('\\r\\n--b--\\r\\n'),
        ]);
        const fields = await parseBody(
          { body: body.toString('base64'), isBase64Encoded: true, contentType: 'multipart/form-data; boundary=b' },
          { maxBodyBytes: 6_000_000, maxFileBytes: 1_000_000 },
        );
        if (fields.get('bio').value.startsWith('hi there ')) decoded++;
      }
      console.log(decoded);`;
    const { execFile } = await import('node:child_process');
    const result = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, signal: (error as { signal?: string } | null)?.signal ?? null, stdout, stderr }),
      );
    });
    assert.equal(result.signal, null, `the process died: ${result.stderr.slice(-300)}`);
    assert.equal(result.code, 0, result.stderr.slice(-300));
    assert.equal(result.stdout.trim(), '4000');
  });
});
