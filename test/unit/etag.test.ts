// Entity tags as RFC 9110 (section 13.1.1, 13.1.2, 8.8.3.2) defines them, for the user's version.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entityTag, matches, parseIfMatch, parseIfNoneMatch } from '../../src/http/etag.ts';
import { ParseError } from '../../src/http/errors.ts';

describe('entity tags', () => {
  it('a user’s tag is its version, strong and quoted', () => {
    assert.equal(entityTag(7), '"7"');
    assert.equal(entityTag(0), '"0"');
  });

  it('If-Match: strong comparison, so a weak tag never matches', () => {
    assert.equal(matches(parseIfMatch('"7"')!, 7), true);
    assert.equal(matches(parseIfMatch('W/"7"')!, 7), false);
    assert.equal(matches(parseIfMatch('"6"')!, 7), false);
  });

  it('If-None-Match: weak comparison, so W/"7" and "7" both match', () => {
    assert.equal(matches(parseIfNoneMatch('W/"7"')!, 7), true);
    assert.equal(matches(parseIfNoneMatch('"7"')!, 7), true);
    assert.equal(matches(parseIfNoneMatch('W/"8"')!, 7), false);
  });

  it('lists, with or without spaces, and * for any current representation', () => {
    assert.equal(matches(parseIfMatch('"1", "7" ,"9"')!, 7), true);
    assert.equal(matches(parseIfMatch('"1","9"')!, 7), false);
    assert.equal(matches(parseIfNoneMatch('W/"1", W/"7"')!, 7), true);
    assert.equal(matches(parseIfMatch('*')!, 7), true);
    assert.equal(matches(parseIfNoneMatch(' * ')!, 7), true);
  });

  it('an opaque tag with a comma inside stays one tag', () => {
    assert.equal(matches(parseIfMatch('"a,7", "8"')!, 7), false);
    assert.equal(matches(parseIfMatch('"a,b", "7"')!, 7), true);
  });

  it('tags that are not ours (unquoted, other text, leading zeros) match nothing', () => {
    for (const header of ['7', '"07"', '"abc"', '""', 'garbage', '"7', '7"']) {
      assert.equal(matches(parseIfMatch(header)!, 7), false, header);
    }
  });

  it('no header is no condition', () => {
    assert.equal(parseIfMatch(undefined), undefined);
    assert.equal(parseIfNoneMatch(undefined), undefined);
  });

  it('more than 100 tags in If-Match is refused (a DynamoDB condition takes at most 100)', () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `"${i}"`).join(', ');
    assert.equal((parseIfMatch(tags(100)) as number[]).length, 100);
    assert.throws(() => parseIfMatch(tags(101)), ParseError);
    assert.equal((parseIfNoneMatch(tags(101)) as number[]).length, 101);
  });
});
