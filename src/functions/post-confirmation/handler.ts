// Cognito Post confirmation trigger: the user of a confirmed sign-up gets its user, username claim
// and sub index (src/functions/post-confirmation/sign-up.ts). A trigger answers Cognito with the event it received; a thrown
// error fails the confirmation, and Cognito may invoke again, which creates nothing more.
import { readSignUpConfig, type SignUpConfig } from '../../platform/config.ts';
import { createDynamoClient } from '../../store/dynamo-client.ts';
import type { CognitoTriggerEvent, TriggerContext } from '../../platform/cognito-trigger.ts';
import { lambdaEntry } from '../../platform/entry.ts';
import { invocationLogger } from '../../platform/log.ts';
import { SignUps } from './sign-up.ts';
import { poolEmail } from '../../users/pool-email.ts';

/** Cognito's Post confirmation event, as far as it is read. */
export type PostConfirmationEvent = CognitoTriggerEvent;
export type { TriggerContext };

export type Handler = (event: PostConfirmationEvent, context?: TriggerContext) => Promise<PostConfirmationEvent>;

/** The sign-up confirmation; `PostConfirmation_ConfirmForgotPassword` (a reset password) is not one. */
export const CONFIRM_SIGN_UP = 'PostConfirmation_ConfirmSignUp';

export function createHandler(config: SignUpConfig, signUps = new SignUps(createDynamoClient(config), config.tableName, undefined, config.reservedUsernames)): Handler {
  return async (event, context) => {
    const log = invocationLogger(context);
    if (event?.triggerSource !== CONFIRM_SIGN_UP) {
      log.info('trigger ignored', { triggerSource: String(event?.triggerSource) });
      return event;
    }
    const attributes = event.request?.userAttributes ?? {};
    const sub = attributes.sub;
    if (typeof sub !== 'string' || sub === '') {
      log.error('sign-up without a sub', { triggerSource: event.triggerSource });
      throw new Error('Post confirmation event without request.userAttributes.sub');
    }
    const started = performance.now();
    try {
      const result = await signUps.signUp({
        sub,
        email: attributes.email,
        // Mirrored on the user for /me/; the Post authentication trigger refreshes it.
        emailVerified: poolEmail(attributes).email_verified,
        preferredUsername: attributes.preferred_username,
      });
      // Ids and outcome only: no e-mail, name or sub in the log.
      log.info(result.restored ? 'user restored' : result.created ? 'user created' : 'user already created', {
        userId: result.userId,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      });
    } catch (error) {
      const failure = error as Error & { code?: string };
      log.error('sign-up failed', { error: failure?.name, code: failure?.code, detail: failure?.message });
      throw error;
    }
    return event;
  };
}

/** The Lambda entry: configuration and the client are made once per container, on first use. */
export const handler: Handler = lambdaEntry(() => createHandler(readSignUpConfig()));
