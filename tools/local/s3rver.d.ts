// s3rver ships no types; this covers the part the local stack uses.
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';
  import type { Server } from 'node:http';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** The part of a Koa context the local stack's middleware uses. */
  interface S3rverContext {
    method: string;
    path: string;
    status: number;
    query: Record<string, string | string[]>;
    get(header: string): string;
    store: {
      putSubresource(bucket: string, key: string, resource: unknown): Promise<void>;
      deleteSubresource(bucket: string, key: string, type: string): Promise<void>;
      existsObject(bucket: string, key: string): Promise<boolean>;
    };
  }
  export type S3rverMiddleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;

  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** Koa's middleware list, composed on run(). */
    middleware: S3rverMiddleware[];
    httpServer?: Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}

declare module 's3rver/lib/models/account.js' {
  class AWSAccount {
    constructor(accountId: number, displayName: string);
    static registry: Map<string, AWSAccount>;
    static DUMMY_ACCOUNT: AWSAccount;
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
  }
  export default AWSAccount;
}

declare module 's3rver/lib/controllers/object.js' {
  /** The query subresources of object requests (`?tagging`, `?uploadId`, ...). */
  export const METHODS: string[];
}

declare module 's3rver/lib/models/config.js' {
  export class TaggingConfiguration {
    /** From the XML of a Tagging document. */
    constructor(xml: string);
  }
}

declare module 's3rver/lib/models/error.js' {
  /** An S3 error response: s3rver renders a thrown one as S3's XML error with its status. */
  export default class S3Error extends Error {
    constructor(code: string, message?: string, detail?: Record<string, string>);
  }
}
