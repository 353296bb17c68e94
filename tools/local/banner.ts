// What `npm start` prints when the stack is ready, and the reader tests use to get it back.

import { DEMO_USERS } from './demo-users.ts';
import type { LocalStack } from './stack.ts';

/** The ready banner of tools/cli/start.ts; parseStartOutput() reads it back. */
export function formatReadyBanner(stack: LocalStack): string {
  const { config } = stack;
  const [demo] = DEMO_USERS;
  const lines = [
    `Local stack ready in ${(stack.startupMs / 1000).toFixed(1)} s`,
    `Base URL: ${config.baseUrl}`,
    ...(stack.page ? [`Page: ${stack.page.url}   (the stock SelfCommunity profile UI on this API, docs/stock-ui.md)`] : []),
  ];
  if (stack.demoToken) {
    lines.push(
      `Token: ${stack.demoToken}`,
      `  (access token of user ${demo.id} "${demo.username}", sub ${demo.sub}, valid 1 hour;`,
      `   another: npm run -s token -- --sub ${demo.sub} --username ${demo.username})`,
      'Example:',
      `  curl -i -X PATCH ${config.baseUrl}/api/v2/user/${demo.id}/ \\`,
      `    -H 'Authorization: Bearer ${stack.demoToken}' \\`,
      `    -H 'Content-Type: application/json' \\`,
      `    -d '{"real_name": "Demo User", "bio": "Edited locally"}'`,
    );
  } else {
    lines.push(
      `No ready token: COGNITO_JWKS_FILE (${config.jwksFile}) does not hold the local key ` +
        `${stack.keys.kid}; bring tokens signed by one of its keys.`,
    );
  }
  lines.push(
    `DynamoDB: ${config.dynamodbEndpoint} (table ${config.tableName})  ` +
      `S3: ${config.s3Endpoint} (bucket ${config.bucket})`,
    `Events: curl -s ${stack.events.endpoint}/events   (EventBridge recorder, bus ${config.eventBusName})`,
    `Stream: curl -s ${stack.events.endpoint}/stream   (poller status); dead letters: ${config.deadLetterFile}`,
    'Stop with Ctrl-C.',
  );
  return lines.join('\n');
}

/** Reads the base URL and token out of what tools/cli/start.ts printed so far. */
export function parseStartOutput(text: string): {
  baseUrl?: string;
  token?: string;
  eventsUrl?: string;
  deadLetterFile?: string;
  pageUrl?: string;
} {
  const baseUrl = /^Base URL: (\S+)$/m.exec(text)?.[1];
  const token = /^Token: (\S+)$/m.exec(text)?.[1];
  const eventsUrl = /^Events: curl -s (\S+)\/events\b/m.exec(text)?.[1];
  const deadLetterFile = /; dead letters: (.+)$/m.exec(text)?.[1];
  const pageUrl = /^Page: (\S+)/m.exec(text)?.[1];
  return {
    ...(baseUrl ? { baseUrl } : {}),
    ...(token ? { token } : {}),
    ...(eventsUrl ? { eventsUrl } : {}),
    ...(deadLetterFile ? { deadLetterFile } : {}),
    ...(pageUrl ? { pageUrl } : {}),
  };
}
