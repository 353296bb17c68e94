// The reads of the community's configuration (src/community/community.ts): no table, no token
// needed. The module that holds the file's lists is loaded by import() on the first such request,
// so getUser's cold start for a user read stays as small as before.
import type { RouteAnswer, Routes } from '../../http/frame.ts';
import { jsonResponse } from '../../http/response.ts';

// The same for every caller (a token, if sent, is checked but changes nothing): a browser may
// keep it a minute; a new deploy's file is seen within that.
const COMMUNITY_CACHE_CONTROL = 'public, max-age=60';

export function communityReads(): Routes {
  const answer = (body: unknown): RouteAnswer => ({
    response: jsonResponse(200, body, { 'Cache-Control': COMMUNITY_CACHE_CONTROL }),
    outcome: 'read',
  });
  return {
    dynamic_preference: {
      GET: async ({ event }) => {
        const { communityConfig, preferencesAnswer } = await import('../../community/community.ts');
        return answer(preferencesAnswer(event, await communityConfig()));
      },
    },
    feature: {
      GET: async ({ event }) => {
        const { communityConfig, featuresAnswer } = await import('../../community/community.ts');
        return answer(featuresAnswer(event, await communityConfig()));
      },
    },
  };
}
