// The reads of a user's settings and of the users they hide (contract, "User settings", "Hidden
// users"): token required for all (the frame lets no anonymous caller in here). The caller's own
// id comes from its sub index item. Round trips: docs/settings-and-hidden-users.md.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { pathUserId } from '../../http/api-event.ts';
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

  /** `also`, read beside the check that user `id` exists (404 otherwise). */
  async function whileCheckingUser<T>(id: number, also: Promise<T>): Promise<T> {
    const [exists, value] = await Promise.all([userExists(dynamo, tableName, id), also]);
    if (!exists) throw new NotFoundError();
    return value;
  }

  /** The ids the caller hides; the request log names the caller, the user these lists are about. */
  async function callersHidden(request: ApiRequest): Promise<number[]> {
    request.userId = await callerId(request);
    return hidden.hiddenBy(request.userId);
  }

  return {
    settings: {
      // One consistent read: unknown 404, another user's 403 (existence before ownership).
      GET: async (request) => {
        const user = await new UsersTable(dynamo, tableName).getOwnedUser(pathUserId(request.pathId), request.sub);
        return answer(readSettings(user));
      },
    },
    is_hidden: {
      // The caller's set is keyed by the caller's id: read as soon as the sub index names it, not
      // after the existence check too (2 round trips, the second waiting for the first only).
      GET: async (request) => {
        const target = pathUserId(request.pathId);
        const hides = await whileCheckingUser(target, callerId(request).then((caller) => hidden.hiddenBy(caller)));
        return answer({ is_hidden: hides.includes(target) });
      },
    },
    is_hidden_by: {
      // Both reads need only the path's id and the caller's: all three at once.
      GET: async (request) => {
        const target = pathUserId(request.pathId);
        const [caller, hides] = await whileCheckingUser(target, Promise.all([callerId(request), hidden.hiddenBy(target)]));
        return answer({ is_hidden_by: hides.includes(caller) });
      },
    },
    hidden_users: {
      GET: async (request) => {
        const list = page(request.event, pageRequest(queryParameters(request.event)), await callersHidden(request));
        const users = await usersByIds(dynamo, tableName, list.results);
        return answer({ ...list, results: users.map((user) => renderUser(user, config.mediaBaseUrl, 'public')) });
      },
    },
    hidden_users_id: {
      GET: async (request) => answer(await callersHidden(request)),
    },
  };
}
