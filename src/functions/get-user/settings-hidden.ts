// The reads of a user's settings and of the users they hide (contract, "User settings", "Hidden
// users"): token required for all (the frame lets no anonymous caller in here). The caller's own
// id comes from its sub index item. Round trips: docs/settings-and-hidden-users.md.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { userIdOf } from '../../http/api-event.ts';
import type { ApiRequest, RouteAnswer, Routes } from '../../http/frame.ts';
import { NotFoundError } from '../../http/errors.ts';
import { page, pageRequest, queryParameters } from '../../http/pagination.ts';
import { jsonResponse } from '../../http/response.ts';
import type { Config } from '../../platform/config.ts';
import { HiddenUsers, userExists } from '../../store/hidden-users.ts';
import { usersByIds } from '../../store/users-batch.ts';
import { userIdOfSub } from '../../store/sub-index.ts';
import { UsersTable } from '../../store/users-table.ts';
import { readSettings } from '../../users/settings.ts';
import { renderUser } from '../../users/user-record.ts';

export function settingsAndHiddenReads(config: Config, dynamo: DynamoDBClient): Routes {
  const { tableName } = config;
  const hidden = new HiddenUsers(dynamo, tableName);
  const answer = (body: unknown, outcome = 'read'): RouteAnswer => ({ response: jsonResponse(200, body), outcome });

  /** The caller's user id; a caller whose sub has no user is a 404, as its `/me/` is. */
  const callerId = async ({ sub }: ApiRequest): Promise<number> => {
    const id = await userIdOfSub(dynamo, tableName, sub);
    if (id === undefined) throw new NotFoundError();
    return id;
  };

  /** The path's `{id}`, a user that exists (404 otherwise), read beside `also`. */
  async function withPathUser<T>(request: ApiRequest, also: Promise<T>): Promise<[number, T]> {
    const id = userIdOf(request.pathId);
    if (id === undefined) throw new NotFoundError();
    const [exists, value] = await Promise.all([userExists(dynamo, tableName, id), also]);
    if (!exists) throw new NotFoundError();
    return [id, value];
  }

  return {
    settings: {
      // One consistent read: unknown 404, another user's 403 (existence before ownership).
      GET: async ({ pathId, sub }) => {
        const id = userIdOf(pathId);
        if (id === undefined) throw new NotFoundError();
        return answer(readSettings(await new UsersTable(dynamo, tableName).getOwnedUser(id, sub)));
      },
    },
    is_hidden: {
      GET: async (request) => {
        const [target, caller] = await withPathUser(request, callerId(request));
        return answer({ is_hidden: (await hidden.hiddenBy(caller)).includes(target) });
      },
    },
    is_hidden_by: {
      GET: async (request) => {
        // Both reads need only the path's id and the caller's: all three at once.
        const target = userIdOf(request.pathId);
        if (target === undefined) throw new NotFoundError();
        const [, [caller, hides]] = await withPathUser(request, Promise.all([callerId(request), hidden.hiddenBy(target)]));
        return answer({ is_hidden_by: hides.includes(caller) });
      },
    },
    hidden_users: {
      GET: async (request) => {
        const ids = await hidden.hiddenBy(await callerId(request));
        const list = page(request.event, pageRequest(queryParameters(request.event)), ids);
        const users = await usersByIds(dynamo, tableName, list.results);
        return answer({ ...list, results: users.map((user) => renderUser(user, config.mediaBaseUrl, 'public')) });
      },
    },
    hidden_users_id: {
      GET: async (request) => answer(await hidden.hiddenBy(await callerId(request))),
    },
  };
}
