// Where the stream function parks a record that no retry can fix (an item out of shape, an unknown
// event name, a malformed record): with its whole content, so that nothing is lost and the batch,
// and every other user's records, go on. Deployed: the stream's SQS dead-letter queue, next to
// Lambda's own on-failure messages (which name only a range of sequence numbers). Locally: the
// local stack's dead-letter file, next to its poller's letters.
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ClientSettings } from '../../store/aws-clients.ts';
import { commonClientOptions } from '../../store/dynamo-client.ts';
import type { StreamRecord } from './records.ts';

/** One dead letter of the function: `records` as in the local poller's letters, so replay reads both alike. */
export interface RecordDeadLetter {
  condition: 'UnprocessableRecord';
  /** Why no retry can fix it (an error name and the attribute names; never a value). */
  reason: string;
  timestamp: string;
  sequenceNumber?: string;
  key?: string;
  eventSourceARN?: string;
  records: [StreamRecord];
}

export interface DeadLetters {
  send(letter: RecordDeadLetter): Promise<void>;
}

export function createSqsClient(settings: ClientSettings): SQSClient {
  return new SQSClient(commonClientOptions(settings));
}

export class QueueDeadLetters implements DeadLetters {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(letter: RecordDeadLetter): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(letter) }));
  }
}

/** Local stage: one JSON line per letter. */
export class FileDeadLetters implements DeadLetters {
  constructor(private readonly file: string) {}

  async send(letter: RecordDeadLetter): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, `${JSON.stringify(letter)}\n`);
  }
}
