// The Lambda entry of every function: configuration and clients are made once per container, on
// first use. A configuration that fails is logged with its reason and made again on the next
// invocation (a fixed deployment heals without a cold start); what the caller gets is the
// function's own kind of failure.
import { invocationLogger, invocationStarted, type InvocationContext } from './log.ts';

export type LambdaHandler<E, C, R> = (event: E, context?: C) => Promise<R>;

/**
 * `create` makes the function's handler; `failed` answers an invocation when `create` throws.
 * Without it the error is thrown: a stream batch is then retried and a trigger fails, and either
 * shows in the function's error metric rather than records or sign-ups being dropped.
 */
export function lambdaEntry<E, C extends InvocationContext, R>(
  create: () => LambdaHandler<E, C, R>,
  failed?: (error: unknown) => R,
): LambdaHandler<E, C, R> {
  let cached: LambdaHandler<E, C, R> | undefined;
  return async (event, context) => {
    invocationStarted();
    try {
      cached ??= create();
    } catch (error) {
      invocationLogger(context).error('configuration failed', { error: (error as Error).message });
      if (failed) return failed(error);
      throw error;
    }
    return cached(event, context);
  };
}
