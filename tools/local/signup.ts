// Sign-up on the local stack as Cognito does it: a Post confirmation event, shaped exactly like
// the one a user pool sends (test/fixtures/events/cognito-post-confirmation.json), delivered to
// the postConfirmation function through serverless-offline's Lambda endpoint (the Lambda Invoke
// API on the stack's lambda port), so the same bundled code runs as on AWS.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { subKey } from '../../src/users/user-record.ts';

/** The serverless function name of the trigger (serverless.yml) and its name on the local stage. */
export const SIGN_UP_FUNCTION = 'postConfirmation';
export const localFunctionName = (fn: string) => `selfcommunity-user-patch-local-${fn}`;

export interface SignUpInput {
  email: string;
  preferredUsername?: string;
  /** The Cognito sub; a new one when absent, as Cognito gives every sign-up. */
  sub?: string;
}

export interface PoolSettings {
  region: string;
  userPoolId: string;
  clientId: string;
}

/** A Post confirmation event for a confirmed sign-up, field for field as Cognito sends it. */
export function postConfirmationEvent(pool: PoolSettings, input: SignUpInput & { sub: string }) {
  return {
    version: '1',
    region: pool.region,
    userPoolId: pool.userPoolId,
    // With e-mail as the sign-in name, Cognito's user name is the sub.
    userName: input.sub,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: pool.clientId },
    triggerSource: 'PostConfirmation_ConfirmSignUp',
    request: {
      userAttributes: {
        sub: input.sub,
        email_verified: 'true',
        'cognito:user_status': 'CONFIRMED',
        'cognito:email_alias': input.email,
        ...(input.preferredUsername !== undefined && { preferred_username: input.preferredUsername }),
        email: input.email,
      },
    },
    response: {},
  };
}

export interface SignInInput {
  sub: string;
  email: string;
  /** The pool's `email_verified`; default true. */
  emailVerified?: boolean;
}

/** The serverless function name of the sign-in trigger (serverless.yml). */
export const SIGN_IN_FUNCTION = 'postAuthentication';

/** A Post authentication event for a completed sign-in, field for field as Cognito sends it. */
export function postAuthenticationEvent(pool: PoolSettings, input: SignInInput) {
  return {
    version: '1',
    region: pool.region,
    userPoolId: pool.userPoolId,
    userName: input.sub,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: pool.clientId },
    triggerSource: 'PostAuthentication_Authentication',
    request: {
      userAttributes: {
        sub: input.sub,
        email_verified: String(input.emailVerified ?? true),
        'cognito:user_status': 'CONFIRMED',
        'cognito:email_alias': input.email,
        email: input.email,
      },
      newDeviceUsed: false,
    },
    response: {},
  };
}

export class SignUpFailedError extends Error {
  override name = 'SignUpFailedError';
}

/** Invokes a function of the local stack synchronously, as the Lambda Invoke API does. */
export async function invokeLocalFunction(lambdaPort: number, fn: string, event: unknown): Promise<unknown> {
  const response = await fetch(
    `http://localhost:${lambdaPort}/2015-03-31/functions/${localFunctionName(fn)}/invocations`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Amz-Invocation-Type': 'RequestResponse' },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(30_000),
    },
  );
  const text = await response.text();
  const payload = text ? (JSON.parse(text) as unknown) : undefined;
  // An error thrown by the function: 200 with X-Amz-Function-Error, as on AWS.
  if (!response.ok || response.headers.get('x-amz-function-error') || response.headers.get('x-amzn-errortype')) {
    const message = (payload as { errorMessage?: string; Message?: string } | undefined)?.errorMessage
      ?? (payload as { Message?: string } | undefined)?.Message ?? text;
    throw new SignUpFailedError(`${localFunctionName(fn)} failed (HTTP ${response.status}): ${message}`);
  }
  return payload;
}

/**
 * Signs a user up through the trigger and returns its id and sub, read back from the sub index
 * the trigger wrote. The trigger must answer with the event it received.
 */
export async function signUpLocally(
  lambdaPort: number,
  dynamo: DynamoDBClient,
  tableName: string,
  pool: PoolSettings,
  input: SignUpInput,
): Promise<{ id: number; sub: string; username: string }> {
  const sub = input.sub ?? randomUUID();
  const event = postConfirmationEvent(pool, { ...input, sub });
  const answer = await invokeLocalFunction(lambdaPort, SIGN_UP_FUNCTION, event);
  if (JSON.stringify(answer) !== JSON.stringify(event)) {
    throw new SignUpFailedError('the trigger did not answer with the event it received');
  }
  const index = await dynamo.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: subKey(sub) } }, ConsistentRead: true }),
  );
  const id = Number(index.Item?.user_id?.N);
  if (!Number.isSafeInteger(id)) throw new SignUpFailedError(`no sub index item for ${sub} after the trigger ran`);
  const user = await dynamo.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: `USER#${id}` } }, ConsistentRead: true }),
  );
  return { id, sub, username: user.Item?.username?.S ?? '' };
}

/**
 * A sign-in as Cognito completes it: the Post authentication trigger through the stack's Lambda
 * endpoint, which refreshes the e-mail the user mirrors for /me/. The trigger must answer with
 * the event it received.
 */
export async function signInLocally(lambdaPort: number, pool: PoolSettings, input: SignInInput): Promise<void> {
  const event = postAuthenticationEvent(pool, input);
  const answer = await invokeLocalFunction(lambdaPort, SIGN_IN_FUNCTION, event);
  if (JSON.stringify(answer) !== JSON.stringify(event)) {
    throw new SignUpFailedError('the sign-in trigger did not answer with the event it received');
  }
}

// ---------------------------------------------------------------------------------------------
// Where a running stack's lambda port is found: a file per API port in the state directory,
// written when the stack is ready and removed when it stops.

export const stackFile = (stateDir: string, port: number) => join(stateDir, `stack-${port}.json`);

export async function writeStackFile(stateDir: string, port: number, lambdaPort: number): Promise<() => Promise<void>> {
  await mkdir(stateDir, { recursive: true });
  const file = stackFile(stateDir, port);
  await writeFile(file, `${JSON.stringify({ lambdaPort, pid: process.pid })}\n`);
  return () => rm(file, { force: true });
}

export async function readLambdaPort(stateDir: string, port: number): Promise<number | undefined> {
  try {
    const { lambdaPort } = JSON.parse(await readFile(stackFile(stateDir, port), 'utf8')) as { lambdaPort?: unknown };
    return typeof lambdaPort === 'number' ? lambdaPort : undefined;
  } catch {
    return undefined;
  }
}
