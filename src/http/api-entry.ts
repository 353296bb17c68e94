// The Lambda entry of an API function: configuration and clients are made once per container, on
// first use; a misconfigured deployment says why in the log and answers like any other server error.
import type { ApiEvent, LambdaContext } from './api-event.ts';
import { errorResponse, type HttpResponse } from './response.ts';
import { createLogger } from '../platform/log.ts';

export type ApiHandler = (event: ApiEvent, context?: LambdaContext) => Promise<HttpResponse>;

export function lambdaEntry(create: () => ApiHandler): ApiHandler {
  let cached: ApiHandler | undefined;
  return async (event, context) => {
    try {
      cached ??= create();
    } catch (error) {
      createLogger().error('configuration failed', { error: (error as Error).message });
      return errorResponse(error);
    }
    return cached(event, context);
  };
}
