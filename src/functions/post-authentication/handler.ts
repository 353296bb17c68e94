// Cognito Post authentication trigger: after each sign-in, the user item's mirror of the pool's
// `email` and `email_verified` is brought up to date (refresh-email.ts), so /me/ answers them
// without a Cognito call (contract, "Reading a user"). A trigger answers Cognito with the event
// it received. A thrown error would fail the person's sign-in, and a stale e-mail is no reason
// for that: every failure is logged at error level (the function's refresh-failed alarm counts
// those lines) and the event is answered; the next sign-in refreshes again.
import { readSignUpConfig, type SignUpConfig } from '../../platform/config.ts';
import { createDynamoClient } from '../../store/dynamo-client.ts';
import type { CognitoTriggerEvent, TriggerContext } from '../../platform/cognito-trigger.ts';
import { lambdaEntry } from '../../platform/entry.ts';
import { invocationLogger } from '../../platform/log.ts';
import { poolEmail } from '../../users/pool-email.ts';
import { refreshPoolEmail } from './refresh-email.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Cognito's Post confirmation event, as far as it is read. */
export type PostAuthenticationEvent = CognitoTriggerEvent<{ newDeviceUsed?: boolean }>;
export type { TriggerContext };

export type Handler = (event: PostAuthenticationEvent, context?: TriggerContext) => Promise<PostAuthenticationEvent>;

/** The one trigger source of Post authentication (Cognito's name for a completed sign-in). */
export const SIGN_IN = 'PostAuthentication_Authentication';

export function createHandler(config: SignUpConfig, dynamo: DynamoDBClient = createDynamoClient(config)): Handler {
  return async (event, context) => {
    const log = invocationLogger(context);
    if (event?.triggerSource !== SIGN_IN) {
      log.info('trigger ignored', { triggerSource: String(event?.triggerSource) });
      return event;
    }
    const attributes = event.request?.userAttributes ?? {};
    const sub = attributes.sub;
    if (typeof sub !== 'string' || sub === '') {
      log.error('sign-in without a sub', { triggerSource: event.triggerSource });
      return event;
    }
    const started = performance.now();
    try {
      const { outcome, userId } = await refreshPoolEmail(dynamo, config.tableName, sub, poolEmail(attributes));
      // Ids and outcome only: never the e-mail or the sub.
      const fields = { outcome, userId: userId ?? null, durationMs: Math.round((performance.now() - started) * 10) / 10 };
      if (outcome === 'user_missing') log.warn('e-mail refresh found no user at the sub index', fields);
      else log.info('e-mail refresh', fields);
    } catch (error) {
      const failure = error as Error & { code?: string };
      log.error('e-mail refresh failed', { error: failure?.name, code: failure?.code });
    }
    return event;
  };
}

const entry = lambdaEntry(() => createHandler(readSignUpConfig()));

/**
 * The Lambda entry: configuration and the client are made once per container, on first use. A
 * configuration that fails is logged by lambdaEntry and the sign-in still goes through.
 */
export const handler: Handler = (event, context) => entry(event, context).catch(() => event);
