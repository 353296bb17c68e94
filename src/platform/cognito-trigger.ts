// What the Cognito triggers (sign-up, sign-in) read of their event and context. A trigger answers
// Cognito with the event it received, so the rest of the event is passed back as is.

/** The fields every Cognito user-pool trigger event carries; `Request` adds a trigger's own. */
export interface CognitoTriggerEvent<Request extends object = object> {
  version?: string;
  triggerSource: string;
  region?: string;
  userPoolId?: string;
  userName?: string;
  callerContext?: { awsSdkVersion?: string; clientId?: string };
  request: { userAttributes: Record<string, string | undefined>; clientMetadata?: Record<string, string> } & Request;
  response: Record<string, unknown>;
}

export interface TriggerContext {
  awsRequestId?: string;
  functionName?: string;
}
