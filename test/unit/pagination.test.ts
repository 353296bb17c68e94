// The list answers of the contract ("Avatars": `count`, `next`, `previous`, `results`; `limit`
// default 20, at most 100; `offset` default 0; invalid values fall back to the defaults, as Django
// REST Framework's limit-offset pagination does; `next` / `previous` absolute URLs or null).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { page, pageRequest, queryParameters } from '../../src/http/pagination.ts';
import type { ApiEvent } from '../../src/http/api-event.ts';

const items = Array.from({ length: 45 }, (_, i) => i + 1);
const event = (query: Record<string, string> = {}, headers: Record<string, string> = { Host: 'api.example.org' }): ApiEvent => ({
  httpMethod: 'GET',
  path: '/api/v2/user/avatar/',
  headers,
  queryStringParameters: query,
  requestContext: { path: '/prod/api/v2/user/avatar/' },
});

describe('limit and offset', () => {
  const cases: Array<[Record<string, string>, { limit: number; offset: number }]> = [
    [{}, { limit: 20, offset: 0 }],
    [{ limit: '5', offset: '10' }, { limit: 5, offset: 10 }],
    [{ limit: '100' }, { limit: 100, offset: 0 }],
    [{ limit: '101' }, { limit: 100, offset: 0 }],
    [{ limit: '0' }, { limit: 20, offset: 0 }],
    [{ limit: '-3', offset: '-1' }, { limit: 20, offset: 0 }],
    [{ limit: 'ten', offset: 'x' }, { limit: 20, offset: 0 }],
    [{ limit: '2.5', offset: '1e3' }, { limit: 20, offset: 0 }],
    [{ limit: '99999999999999999999' }, { limit: 20, offset: 0 }],
  ];
  for (const [query, expected] of cases) {
    it(`${JSON.stringify(query)} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(pageRequest(query), expected);
    });
  }
  it('reads the last of repeated values', () => {
    assert.deepEqual(queryParameters({ multiValueQueryStringParameters: { limit: ['3', '7'] }, queryStringParameters: { limit: '7' } }), { limit: '7' });
  });
});

describe('a page', () => {
  it('the first page: count, the first items, a next link and no previous', () => {
    const result = page(event(), { limit: 20, offset: 0 }, items);
    assert.equal(result.count, 45);
    assert.deepEqual(result.results, items.slice(0, 20));
    assert.equal(result.next, 'https://api.example.org/prod/api/v2/user/avatar/?limit=20&offset=20');
    assert.equal(result.previous, null);
  });
  it('a middle page links both ways; the link to the first page has no offset', () => {
    const result = page(event({ limit: '20', offset: '20' }), { limit: 20, offset: 20 }, items);
    assert.deepEqual(result.results, items.slice(20, 40));
    assert.equal(result.next, 'https://api.example.org/prod/api/v2/user/avatar/?limit=20&offset=40');
    assert.equal(result.previous, 'https://api.example.org/prod/api/v2/user/avatar/?limit=20');
  });
  it('the last page has no next', () => {
    const result = page(event({ offset: '40' }), { limit: 20, offset: 40 }, items);
    assert.deepEqual(result.results, [41, 42, 43, 44, 45]);
    assert.equal(result.next, null);
    assert.equal(result.previous, 'https://api.example.org/prod/api/v2/user/avatar/?offset=20&limit=20');
  });
  it('an offset past the end: no results, a previous page, no next', () => {
    const result = page(event({ offset: '500' }), { limit: 20, offset: 500 }, items);
    assert.deepEqual(result.results, []);
    assert.equal(result.next, null);
    assert.equal(result.previous, 'https://api.example.org/prod/api/v2/user/avatar/?offset=25&limit=20');
  });
  it('an empty list', () => {
    assert.deepEqual(page(event(), { limit: 20, offset: 0 }, []), { count: 0, next: null, previous: null, results: [] });
  });
  it('the local stack: http on localhost, the port kept', () => {
    const result = page(event({}, { host: 'localhost:3000' }), { limit: 2, offset: 0 }, items);
    assert.equal(result.next, 'http://localhost:3000/prod/api/v2/user/avatar/?limit=2&offset=2');
  });
  it('X-Forwarded-Proto decides the scheme when sent', () => {
    const result = page(event({}, { Host: 'localhost:3000', 'X-Forwarded-Proto': 'https' }), { limit: 2, offset: 0 }, items);
    assert.match(result.next!, /^https:\/\/localhost:3000\//);
  });
});
