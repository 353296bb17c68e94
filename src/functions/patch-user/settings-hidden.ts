// The writes of a user's settings and of the users they hide (contract, "User settings", "Hidden
// users"): PATCH /api/v2/user/{id}/settings/ and POST /api/v2/user/{id}/hide/. Token required
// (the frame). Round trips: docs/settings-and-hidden-users.md.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { pathUserId } from '../../http/api-event.ts';
import type { ApiRequest, Routes } from '../../http/frame.ts';
import { InvalidRequestError, NotFoundError } from '../../http/errors.ts';
import { parseBody } from '../../http/request-body.ts';
import { jsonResponse } from '../../http/response.ts';
import type { Config } from '../../platform/config.ts';
import { HiddenUsers, userExists } from '../../store/hidden-users.ts';
import { userIdOfSub } from '../../store/sub-index.ts';
import { writeSettings } from '../../store/user-settings.ts';
import { UsersTable } from '../../store/users-table.ts';
import { buildSettingsPatch, readSettings } from '../../users/settings.ts';

/** No file belongs in a settings body: a file part is kept to no bytes, then refused as a value. */
const NO_FILE_BYTES = 0;

export function settingsAndHiddenWrites(config: Config, dynamo: DynamoDBClient): Routes {
  const { tableName } = config;

  /**
   * Partial, every error at once; an empty body answers the current settings (one consistent
   * read: 404, then 403). A write: one transaction (existence and owner), then one consistent read
   * of the settings to answer with.
   */
  async function patchSettings({ event, sub, pathId, header, deadline }: ApiRequest) {
    const id = pathUserId(pathId);
    const fields = await parseBody(
      { body: event.body, isBase64Encoded: event.isBase64Encoded, contentType: header('content-type') },
      { maxBodyBytes: config.maxBodyBytes, maxFileBytes: NO_FILE_BYTES },
    );
    const settings = buildSettingsPatch(fields);
    const sendOptions = { abortSignal: deadline() };
    const changed = Object.keys(settings).length > 0;
    if (changed) await writeSettings(dynamo, tableName, id, sub, settings, sendOptions);
    const user = await new UsersTable(dynamo, tableName, sendOptions).getOwnedUser(id, sub);
    return { response: jsonResponse(200, readSettings(user)), outcome: changed ? 'updated' : 'unchanged' };
  }

  /** Hides `{id}` from the caller, or shows them again: 204 either way. */
  async function toggleHidden(request: ApiRequest) {
    const target = pathUserId(request.pathId);
    const sendOptions = { abortSignal: request.deadline() };
    const hidden = new HiddenUsers(dynamo, tableName, sendOptions);
    // The caller's set, which the toggle decides from, is keyed by the caller's id: read as soon as
    // the sub index names it, beside the existence check rather than after it.
    const callersSet = async () => {
      const caller = await userIdOfSub(dynamo, tableName, request.sub, sendOptions);
      return { caller, hides: caller === undefined || caller === target ? undefined : await hidden.hiddenBy(caller) };
    };
    const [{ caller, hides }, exists] = await Promise.all([callersSet(), userExists(dynamo, tableName, target, sendOptions)]);
    if (!exists) throw new NotFoundError();
    // A caller whose sub has no user is a 404, as its `/me/` is.
    if (caller === undefined) throw new NotFoundError();
    if (caller === target) throw new InvalidRequestError('You cannot hide yourself.');
    const state = await hidden.toggle(caller, target, config.maxHiddenUsers, hides);
    return { response: { statusCode: 204, headers: { 'Cache-Control': 'no-store' }, body: '' }, outcome: state };
  }

  return { settings: { PATCH: patchSettings }, hide: { POST: toggleHidden } };
}
