// The API function decodes untrusted images: what its role lets a decoder exploit do.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, test } from 'node:test';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';
import { type Json, prod } from './packaging.ts';
import { type Statement, list, roleStatements, ACTIONS_OF_COMMAND, TRANSACT_ITEM_ACTIONS, stringLike } from './template-support.ts';

// ---------------------------------------------------------------------------------------------
// The API function decodes untrusted images: what its role lets a decoder exploit do

/** The operators of IAM's condition block that these roles use, on one request's context. */
type RequestContext = Record<string, string | string[] | undefined>;
interface AwsRequest {
  action: string;
  /** The table, or an object key in the media bucket. */
  target: { table: true } | { objectKey: string };
  context: RequestContext;
}

function conditionHolds(operator: string, key: string, expected: string | string[], context: RequestContext): boolean {
  const [qualifier, test] = operator.includes(':') ? (operator.split(':') as [string, string]) : [undefined, operator];
  const wanted = list(expected);
  const present = context[key];
  const values = present === undefined ? [] : list(present);
  if (test === 'Null') {
    assert.equal(wanted.length, 1, `${operator} ${key}`);
    return (wanted[0] === 'true') === (present === undefined);
  }
  assert.ok(test === 'StringEquals' || test === 'StringLike', `operator ${operator} not modelled`);
  const match = (value: string) => wanted.some((pattern) => (test === 'StringLike' ? stringLike(pattern, value) : pattern === value));
  // A set operator on a missing key: ForAllValues holds (nothing fails), ForAnyValue does not.
  if (qualifier === 'ForAllValues') return values.every(match);
  if (qualifier === 'ForAnyValue') return values.some(match);
  assert.equal(qualifier, undefined, operator);
  assert.ok(!Array.isArray(present), `${key} is single-valued`);
  return present !== undefined && match(present);
}

const TABLE_ARN = { 'Fn::GetAtt': ['UsersTable', 'Arn'] };
function resourceMatches(resource: Json, target: AwsRequest['target']): boolean {
  if ('table' in target) return JSON.stringify(resource) === JSON.stringify(TABLE_ARN);
  const join = resource?.['Fn::Join'];
  if (!join) return false;
  const [separator, [bucket, pattern]] = join as [string, [Json, string]];
  return separator === '' && JSON.stringify(bucket) === JSON.stringify({ 'Fn::GetAtt': ['MediaBucket', 'Arn'] }) && stringLike(pattern, `/${target.objectKey}`);
}

/** IAM's decision on one request from a role's statements: a Deny wins, else an Allow must apply. */
function decide(statements: Statement[], request: AwsRequest): boolean {
  const applies = (s: Statement) =>
    list(s.Action).includes(request.action) &&
    list(s.Resource).some((r) => resourceMatches(r, request.target)) &&
    Object.entries((s.Condition ?? {}) as Record<string, Record<string, string | string[]>>).every(([operator, keys]) =>
      Object.entries(keys).every(([key, expected]) => conditionHolds(operator, key, expected, request.context)),
    );
  if (statements.some((s) => s.Effect === 'Deny' && applies(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && applies(s));
}

/** Words of an expression that are DynamoDB's, not attribute names. */
const EXPRESSION_WORDS = new Set(['SET', 'REMOVE', 'ADD', 'DELETE', 'AND', 'OR', 'NOT', 'IN', 'BETWEEN', 'attribute_exists', 'attribute_not_exists', 'attribute_type', 'begins_with', 'contains', 'size', 'if_not_exists', 'list_append']);

/**
 * An item action as IAM sees it: the partition key (dynamodb:LeadingKeys) and every attribute the
 * request names, written, read or compared in a condition (dynamodb:Attributes), key included.
 */
function itemRequest(action: string, input: Json): AwsRequest {
  const attributes = new Set<string>([...Object.keys(input.Item ?? input.Key), ...Object.values<string>(input.ExpressionAttributeNames ?? {})]);
  for (const expression of [input.UpdateExpression, input.ConditionExpression, input.ProjectionExpression]) {
    for (const word of (expression as string | undefined)?.match(/(?<![#:\w])[A-Za-z_]\w*/g) ?? []) if (!EXPRESSION_WORDS.has(word)) attributes.add(word);
  }
  const pk = (input.Item ?? input.Key).pk.S as string;
  const context: RequestContext = { 'dynamodb:LeadingKeys': [pk], 'dynamodb:Attributes': [...attributes].sort() };
  if (input.ReturnValues) context['dynamodb:ReturnValues'] = input.ReturnValues;
  return { action, target: { table: true }, context };
}

/** The item actions of a command the code sent (a transaction's are authorised item by item). */
function requestsOf(command: { constructor: { name: string }; input: Json }): AwsRequest[] {
  const name = command.constructor.name;
  if (name === 'TransactWriteItemsCommand') {
    return (command.input.TransactItems as Json[]).map((item) => {
      const [kind, input] = Object.entries(item)[0] as [string, Json];
      return itemRequest(TRANSACT_ITEM_ACTIONS[kind]!, input);
    });
  }
  const [action] = ACTIONS_OF_COMMAND[name]!;
  return [itemRequest(action!, command.input)];
}

/** A PutObject as IAM authorises it: s3:PutObject, and s3:PutObjectTagging for its tags. */
function putObjectRequests(input: Json): AwsRequest[] {
  const tags = [...new URLSearchParams((input.Tagging as string | undefined) ?? '')];
  const context: RequestContext = { 's3:RequestObjectTagKeys': tags.map(([key]) => key) };
  for (const [key, value] of tags) context[`s3:RequestObjectTag/${key}`] = value;
  if (input.IfNoneMatch !== undefined) context['s3:if-none-match'] = input.IfNoneMatch;
  const target = { objectKey: input.Key as string };
  return [{ action: 's3:PutObject', target, context }, ...(tags.length ? [{ action: 's3:PutObjectTagging', target, context }] : [])];
}

describe('the API function’s role holds what a decoder exploit could do to the table and the bucket', () => {
  const SUB = '0b5c5e3a-1c1d-4f4e-9c1b-6a8f7f0e2d11';
  // The contract's writable fields (openapi.yaml WritableField): text fields are stored under their
  // own names, the images as `<field>_key` (README, Data model), the username by a rename.
  const WRITABLE = (parseYaml(readFileSync(join(PROJECT_DIR, 'openapi.yaml'), 'utf8')) as Json).components.schemas.WritableField.enum as string[];
  const IMAGES = ['avatar', 'cover'];
  const TEXT = WRITABLE.filter((name) => name !== 'username' && !IMAGES.some((image) => name === image || name === `${image}_base64`));
  const IMAGE_KEYS = IMAGES.map((image) => `${image}_key`);
  const stored = { pk: 'USER#5', id: 5, sub: SUB, username: 'ada', version: 3, date_joined: '2024-01-01T00:00:00Z', avatar_key: 'avatar/5/a.png' };

  /** Every DynamoDB request the code sends on the paths of a PATCH: owner check, patch, rename, held keys, answer. */
  async function requestsTheCodeSends(): Promise<AwsRequest[]> {
    const { UsersTable } = await import('../../src/store/users-table.ts');
    type Preconditions = import('../../src/store/users-table.ts').Preconditions;
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    const sent: { constructor: { name: string }; input: Json }[] = [];
    // The caller's hidden users: none at first (a hide), then the one hidden (a show).
    let hiddenIds: number[] = [];
    const dynamo = {
      send: async (command: { constructor: { name: string }; input: Json }) => {
        sent.push(command);
        if (command.constructor.name !== 'GetItemCommand') return {};
        const pk = command.input.Key.pk.S as string;
        if (pk.startsWith('SUB#')) return { Item: marshall({ pk, user_id: 5 }) };
        if (pk.startsWith('HIDDEN#')) return { Item: marshall({ pk, ...(hiddenIds.length && { hidden: new Set(hiddenIds) }) }) };
        return { Item: marshall(stored) };
      },
    } as never;
    assert.ok(TEXT.includes('bio') && TEXT.includes('real_name'), `text fields of the contract: ${TEXT}`);
    const everyField = { set: Object.fromEntries([...TEXT, ...IMAGE_KEYS].map((name) => [name, 'value'])), remove: [] };
    const clearEverything = { set: {}, remove: [...TEXT, ...IMAGE_KEYS] };
    const users = new UsersTable(dynamo, 'users');
    const preconditions: Preconditions[] = [{}, { ifMatch: [3] }, { ifMatch: '*', ifNoneMatch: [2] }];
    // The avatar gallery's writes (src/functions/patch-user/avatar-routes.ts, and PATCH /{id}/ with
    // an avatar): the caller's id from its sub index, then one transaction worked out from the read.
    const { galleryAttributes, addAvatar, readGallery } = await import('../../src/users/avatar-gallery.ts');
    await users.userIdOfSub(SUB);
    const galleryRead = await users.getUserToRename(5, SUB);
    const added = galleryAttributes(addAvatar(readGallery(galleryRead), 'avatar/5/b.png', '2025-01-01T00:00:00Z', 20));
    await users.updateFrom(5, SUB, galleryRead, () => added);
    await users.updateFrom(5, SUB, galleryRead, () => ({ set: { ...added.set, bio: 'value' }, remove: ['avatar_key'] }), { ifMatch: [3] });
    for (const pre of preconditions) {
      const read = await users.getOwnedUser(5, SUB, pre);
      await users.heldImageKeys(5);
      await users.update(5, SUB, everyField, pre);
      await users.update(5, SUB, clearEverything, pre);
      await users.rename(5, SUB, 'grace', everyField, read, pre); // a new name: the transaction
      await users.rename(5, SUB, 'ADA', clearEverything, read, pre); // a case-only rename: the update's transaction
    }
    // Settings (src/store/user-settings.ts) and hiding a user (src/store/hidden-users.ts), as
    // src/functions/patch-user/settings-hidden.ts calls them.
    const { writeSettings } = await import('../../src/store/user-settings.ts');
    const { HiddenUsers, userExists } = await import('../../src/store/hidden-users.ts');
    const { userIdOfSub } = await import('../../src/store/sub-index.ts');
    const { SETTINGS } = await import('../../src/users/settings.ts');
    await writeSettings(dynamo, 'users', 5, SUB, Object.fromEntries(Object.keys(SETTINGS).map((name) => [name, 0])));
    await users.getOwnedUser(5, SUB);
    await userIdOfSub(dynamo, 'users', SUB);
    await userExists(dynamo, 'users', 6);
    const hidden = new HiddenUsers(dynamo, 'users');
    assert.equal(await hidden.toggle(5, 6, 1000), 'hidden');
    hiddenIds = [6];
    assert.equal(await hidden.toggle(5, 6, 1000), 'shown');
    const kinds = new Set(sent.map((c) => c.constructor.name));
    assert.deepEqual([...kinds].sort(), ['GetItemCommand', 'TransactWriteItemsCommand', 'UpdateItemCommand']);
    return sent.flatMap(requestsOf);
  }

  test('every table request of a PATCH, a settings write and a hide is allowed', async () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const requests = await requestsTheCodeSends();
    assert.deepEqual([...new Set(requests.map((r) => r.action))].sort(), [
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    for (const request of requests) assert.ok(decide(statements, request), `denied: ${JSON.stringify(request)}`);
    // Every write is checked against the caller's sub index, which it only reads.
    const writes = requests.filter((r) => r.action !== 'dynamodb:GetItem');
    for (const request of writes.filter((r) => (r.context['dynamodb:LeadingKeys'] as string[])[0]!.startsWith('SUB#'))) {
      assert.deepEqual(request, {
        action: 'dynamodb:ConditionCheckItem',
        target: { table: true },
        context: { 'dynamodb:LeadingKeys': [`SUB#${SUB}`], 'dynamodb:Attributes': ['pk', 'user_id'] },
      });
    }
  });

  test('no write names a user’s `sub`, and the role refuses any that does: an exploit cannot give itself a user', async () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const userWrites = (await requestsTheCodeSends()).filter(
      (r) => r.action !== 'dynamodb:GetItem' && (r.context['dynamodb:LeadingKeys'] as string[])[0]!.startsWith('USER#'),
    );
    assert.ok(userWrites.length > 0);
    for (const request of userWrites) {
      assert.ok(!(request.context['dynamodb:Attributes'] as string[]).includes('sub'), `names sub: ${JSON.stringify(request)}`);
      // The same request with `SET sub = :attacker` added, as an exploit would send it.
      const withSub = { ...request, context: { ...request.context, 'dynamodb:Attributes': [...(request.context['dynamodb:Attributes'] as string[]), 'sub'] } };
      assert.equal(decide(statements, withSub), false, `a compromised patchUser may write sub: ${JSON.stringify(withSub)}`);
    }
  });

  test('the e-mail the pool’s triggers mirror (email, email_verified): no API function writes it, nor may it', async () => {
    const userWrites = (await requestsTheCodeSends()).filter(
      (r) => r.action !== 'dynamodb:GetItem' && (r.context['dynamodb:LeadingKeys'] as string[])[0]!.startsWith('USER#'),
    );
    assert.ok(userWrites.length > 0);
    const patchUser = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const getUser = roleStatements(prod.template, 'GetUserLambdaFunction');
    for (const request of userWrites) {
      for (const attribute of ['email', 'email_verified']) {
        assert.ok(!(request.context['dynamodb:Attributes'] as string[]).includes(attribute), `names ${attribute}: ${JSON.stringify(request)}`);
        const withIt = { ...request, context: { ...request.context, 'dynamodb:Attributes': [...(request.context['dynamodb:Attributes'] as string[]), attribute] } };
        assert.equal(decide(patchUser, withIt), false, `a compromised patchUser may write ${attribute}: ${JSON.stringify(withIt)}`);
        assert.equal(decide(getUser, withIt), false, `getUser may write ${attribute}`);
      }
    }
  });

  test('the table: no user put or deleted whole, no sub index or counter touched, no attribute beyond a patch’s', () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const request = (action: string, pk: string, attributes: string[]): AwsRequest => ({
      action,
      target: { table: true },
      context: { 'dynamodb:LeadingKeys': [pk], 'dynamodb:Attributes': attributes },
    });
    for (const [what, denied] of [
      ['replace another user with the attacker’s sub', request('dynamodb:PutItem', 'USER#6', ['pk', 'id', 'sub', 'username', 'version'])],
      ['give another user the attacker’s sub', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'sub'])],
      ['give another user the attacker’s sub with a patch', request('dynamodb:UpdateItem', 'USER#6', ['bio', 'pk', 'sub', 'version'])],
      ['remove a user’s sub', request('dynamodb:UpdateItem', `USER#5`, ['pk', 'sub'])],
      ['condition-check a sub index on anything but its id', request('dynamodb:ConditionCheckItem', `SUB#${SUB}`, ['pk', 'sub', 'user_id'])],
      ['delete a user', request('dynamodb:DeleteItem', 'USER#6', ['pk'])],
      ['repoint a sub index item', request('dynamodb:UpdateItem', 'SUB#attacker', ['pk', 'user_id'])],
      ['put a sub index item', request('dynamodb:PutItem', 'SUB#attacker', ['pk', 'user_id'])],
      ['delete a sub index item', request('dynamodb:DeleteItem', `SUB#${SUB}`, ['pk'])],
      ['read a username claim', request('dynamodb:GetItem', 'USERNAME#admin', ['pk'])],
      ['write a hidden set on a user', request('dynamodb:UpdateItem', 'USER#6', ['hidden', 'pk'])],
      ['write a profile field on a hidden-users item', request('dynamodb:UpdateItem', 'HIDDEN#6', ['bio', 'pk'])],
      ['put a hidden-users item whole', request('dynamodb:PutItem', 'HIDDEN#6', ['hidden', 'pk'])],
      ['delete a hidden-users item', request('dynamodb:DeleteItem', 'HIDDEN#6', ['pk'])],
      ['write a sub index item as a hidden set', request('dynamodb:UpdateItem', `SUB#${SUB}`, ['hidden', 'pk'])],
      ['read the id counter', request('dynamodb:GetItem', 'COUNTER#user', ['pk'])],
      ['write a gallery onto a sub index item', request('dynamodb:UpdateItem', `SUB#${SUB}`, ['avatars', 'pk'])],
      ['move the id counter', request('dynamodb:UpdateItem', 'COUNTER#user', ['pk', 'last_id'])],
      ['approve a user', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'reg_approved'])],
      ['undelete a user', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'deleted'])],
      ['change a user’s id', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'id'])],
      ['change a sign-up date', request('dynamodb:UpdateItem', 'USER#6', ['pk', 'date_joined'])],
      ['add an attribute to a claim', request('dynamodb:PutItem', 'USERNAME#admin', ['pk', 'sub', 'user_id'])],
      ['update a claim in place', request('dynamodb:UpdateItem', 'USERNAME#admin', ['pk', 'user_id'])],
      ['scan the table', request('dynamodb:Scan', 'USER#6', [])],
      ['query the table', request('dynamodb:Query', 'USER#6', [])],
    ] as const) {
      assert.equal(decide(statements, denied), false, `a compromised patchUser may ${what}`);
    }
  });

  test('the bucket: new objects tagged pending only; no overwrite, no other tag, no re-tagging of a stored image', async () => {
    const statements = roleStatements(prod.template, 'PatchUserLambdaFunction');
    const { MediaStore } = await import('../../src/store/media-uploads.ts');
    const sent: { constructor: { name: string }; input: Json }[] = [];
    const s3 = { send: async (command: { constructor: { name: string }; input: Json }) => (sent.push(command), {}) } as never;
    const media = new MediaStore(s3, 'media');
    const key = media.newKey('avatar', 5, 'png');
    await media.putPending(key, Buffer.from('image'), 'image/png');
    await media.delete(key);
    assert.deepEqual(sent.map((c) => c.constructor.name), ['PutObjectCommand', 'DeleteObjectCommand']);
    const [upload, removal] = sent as [{ input: Json }, { input: Json }];
    for (const request of [...putObjectRequests(upload.input), { action: 's3:DeleteObject', target: { objectKey: removal.input.Key }, context: {} }]) {
      assert.ok(decide(statements, request), `the code's ${request.action} is denied: ${JSON.stringify(request)}`);
    }

    const base = upload.input;
    const live = 'avatar/6/2f1d0c3e-live.png';
    const denied: [string, AwsRequest[]][] = [
      ['overwrite another user’s image', putObjectRequests({ ...base, Key: live, IfNoneMatch: undefined })],
      ['upload a live image', putObjectRequests({ ...base, Tagging: 'state=live' })],
      ['upload an untagged image (never expired)', putObjectRequests({ ...base, Tagging: undefined }).slice(0, 1)],
      ['upload with a tag besides state', putObjectRequests({ ...base, Tagging: 'state=pending&keep=yes' })],
      ['upload outside the media prefixes', putObjectRequests({ ...base, Key: 'public/index.html' })],
      [
        'tag another user’s live image pending (the lifecycle rule would delete it)',
        [{ action: 's3:PutObjectTagging', target: { objectKey: live }, context: { 's3:ExistingObjectTag/state': 'live', 's3:RequestObjectTagKeys': ['state'], 's3:RequestObjectTag/state': 'pending' } }],
      ],
      [
        'tag another request’s pending upload',
        [{ action: 's3:PutObjectTagging', target: { objectKey: 'cover/7/9c.jpg' }, context: { 's3:ExistingObjectTag/state': 'pending', 's3:RequestObjectTagKeys': ['state'], 's3:RequestObjectTag/state': 'pending' } }],
      ],
      ['read an image', [{ action: 's3:GetObject', target: { objectKey: live }, context: {} }]],
    ];
    for (const [what, requests] of denied) {
      assert.ok(requests.length > 0);
      assert.equal(requests.every((request) => decide(statements, request)), false, `a compromised patchUser may ${what}`);
    }
  });
});
