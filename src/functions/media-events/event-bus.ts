// Puts user events on EventBridge. Delivery is at least once: the stream retries a record whose
// event went out but whose batch failed later, and consumers deduplicate by `id` and `version`.
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { ClientSettings } from '../../store/aws-clients.ts';
import { commonClientOptions, LOCAL_CREDENTIALS } from '../../store/dynamo-client.ts';
import { EVENT_SOURCE, type UserEvent } from '../../users/user-events.ts';

/** `endpoint`: the local stage's PutEvents recorder; on AWS the regional endpoint. */
export function createEventBridgeClient(settings: ClientSettings, endpoint?: string): EventBridgeClient {
  return new EventBridgeClient({
    ...commonClientOptions(settings),
    ...(endpoint && { endpoint, credentials: LOCAL_CREDENTIALS }),
  });
}

export class EventPublishError extends Error {
  override name = 'EventPublishError';
  constructor(
    readonly errorCode: string | undefined,
    message: string | undefined,
  ) {
    super(`PutEvents refused the event: ${errorCode ?? 'unknown'} ${message ?? ''}`.trim());
  }
}

export class EventBus {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async put(event: UserEvent): Promise<void> {
    const { FailedEntryCount, Entries } = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
          },
        ],
      }),
    );
    // PutEvents answers 200 with per-entry failures (throttling, an internal error): the call
    // succeeded, the event did not go out.
    if (FailedEntryCount) {
      const failed = Entries?.find((entry) => entry.ErrorCode);
      throw new EventPublishError(failed?.ErrorCode, failed?.ErrorMessage);
    }
  }
}
