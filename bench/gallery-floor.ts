// Floors of the avatar writes and reads since the gallery (docs/avatars.md, "Round trips of each
// request"): the AWS calls src/functions/patch-user (write-path.ts, avatar-routes.ts) and
// src/store/users-table.ts (updateFrom) make, issued directly with the same clients, in the same
// rounds. The gallery is worked out here as plainly as possible: the floor is the calls.
import { randomUUID } from 'node:crypto';
import { GetItemCommand, TransactWriteItemsCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

export interface FloorUser {
  id: number;
  sub: string;
}

export interface FloorImage {
  bytes: Buffer;
  mime: string;
  ext: string;
}

interface Entry {
  id: number;
  key: string;
  uploaded: string;
}

interface StoredUser {
  version: number;
  date_joined: string;
  avatar_key?: string;
  avatars?: Entry[];
  avatar_seq?: number;
}

export function galleryFloor(dynamo: DynamoDBClient, s3: S3Client, tableName: string, bucket: string) {
  const S = (value: string) => ({ S: value });

  const readUser = async (id: number): Promise<StoredUser> => {
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: tableName, Key: { pk: S(`USER#${id}`) }, ConsistentRead: true }));
    return unmarshall(Item!) as StoredUser;
  };

  const idOfSub = async (sub: string): Promise<number> => {
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: tableName, Key: { pk: S(`SUB#${sub}`) }, ConsistentRead: true }));
    return Number(Item!.user_id!.N);
  };

  const put = (key: string, image: FloorImage) =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: image.bytes,
        ContentType: image.mime,
        ContentLength: image.bytes.length,
        CacheControl: 'public, max-age=31536000, immutable',
        Tagging: 'state=pending',
        IfNoneMatch: '*',
      }),
    );

  /** A user from before the gallery reads as a gallery of one. */
  const entriesOf = (user: StoredUser): Entry[] =>
    user.avatars ?? (user.avatar_key ? [{ id: 1, key: user.avatar_key, uploaded: user.date_joined }] : []);
  const seqOf = (user: StoredUser) => user.avatar_seq ?? Math.max(0, ...entriesOf(user).map((e) => e.id));

  /** The gallery write: the whole gallery and the primary's key, on the version read, with the owner check. */
  const write = (user: FloorUser, read: StoredUser, avatars: Entry[], seq: number, primary: string | undefined) => {
    const names: Record<string, string> = { '#version': 'version', '#a0': 'avatars', '#a1': 'avatar_seq', '#a2': 'avatar_key' };
    const values: Record<string, unknown> = { ':one': 1, ':v0': avatars, ':v1': seq, ':readVersion': read.version };
    if (primary !== undefined) values[':v2'] = primary;
    const update =
      primary === undefined
        ? 'SET #a0 = :v0, #a1 = :v1 ADD #version :one REMOVE #a2'
        : 'SET #a0 = :v0, #a1 = :v1, #a2 = :v2 ADD #version :one';
    return dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName: tableName,
              Key: { pk: S(`USER#${user.id}`) },
              UpdateExpression: update,
              ConditionExpression: 'attribute_exists(pk) AND #version = :readVersion',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: marshall(values),
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          {
            ConditionCheck: {
              TableName: tableName,
              Key: { pk: S(`SUB#${user.sub}`) },
              ConditionExpression: 'user_id = :id',
              ExpressionAttributeValues: { ':id': { N: String(user.id) } },
            },
          },
        ],
      }),
    );
  };

  return {
    /** PATCH /{id}/ with a new avatar: the put ∥ the user's read, then the primary replaced; no read after. */
    async replacePrimary(user: FloorUser, image: FloorImage) {
      const key = `avatar/${user.id}/${randomUUID()}.${image.ext}`;
      const [, read] = await Promise.all([put(key, image), readUser(user.id)]);
      const seq = seqOf(read) + 1;
      const avatars = [...entriesOf(read).filter((e) => e.key !== read.avatar_key), { id: seq, key, uploaded: new Date().toISOString() }];
      await write(user, read, avatars, seq, key);
    },

    /** POST /avatar/: the caller's id while the image is made, the put ∥ the read, one entry more. */
    async add(user: FloorUser, image: () => Promise<FloorImage>) {
      const [id, made] = await Promise.all([idOfSub(user.sub), image()]);
      const key = `avatar/${id}/${randomUUID()}.${made.ext}`;
      const [, read] = await Promise.all([put(key, made), readUser(id)]);
      const seq = seqOf(read) + 1;
      const avatars = [...entriesOf(read), { id: seq, key, uploaded: new Date().toISOString() }];
      await write(user, read, avatars, seq, read.avatar_key ?? key);
    },

    /** PATCH /avatar/: the caller's id, the user, the primary's key moved. */
    async makePrimary(user: FloorUser, avatarId: number) {
      const read = await readUser(await idOfSub(user.sub));
      const entries = entriesOf(read);
      await write(user, read, entries, seqOf(read), entries.find((e) => e.id === avatarId)!.key);
    },

    /** DELETE /avatar/: the caller's id, the user, one entry fewer. */
    async remove(user: FloorUser, avatarId: number) {
      const read = await readUser(await idOfSub(user.sub));
      const entries = entriesOf(read);
      const removed = entries.find((e) => e.id === avatarId)!;
      const primary = read.avatar_key === removed.key ? undefined : read.avatar_key;
      await write(user, read, entries.filter((e) => e !== removed), seqOf(read), primary);
    },

    /** GET /avatar/: the caller's id, then the user (the page is cut from the item). */
    async page(user: FloorUser) {
      return readUser(await idOfSub(user.sub));
    },
  };
}
