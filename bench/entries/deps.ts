// The bare dependencies of the handler, for the floor of the bundle size and of the cold import:
// every package import of src/ that the PATCH handler bundles (keep the two in step; the bench's
// bundles part warns when the handler bundle contains a package this one does not), loaded as the
// handler loads it (the confusables and the HEIC decoder only by import()), and
// `createClients` making what the
// handler makes at start: both AWS clients with the same options and the token verifier.
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { FetchError, JwtBaseError } from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import busboy from 'busboy';
import * as v from 'valibot';

export const used = {
  ConditionalCheckFailedException,
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  marshall,
  unmarshall,
  FetchError,
  JwtBaseError,
  SimpleJwksCache,
  busboy,
  valibot: [v.pipe, v.string, v.trim, v.check, v.nonEmpty, v.safeParse],
  confusables: () => import('unhomoglyph/data.json', { with: { type: 'json' } }),
  // The HEIC decoder, which the image pipeline loads by import() for a HEIC only.
  heic: () => import('libheif-js/libheif-wasm/libheif-bundle.mjs'),
};

export interface DepsConfig {
  region: string;
  cognitoUserPoolId: string;
  cognitoClientId: string;
  cognitoTokenUse: 'access' | 'id';
  awsRequestTimeoutMs: number;
  awsMaxAttempts: number;
}

export function createClients(config: DepsConfig) {
  const common = {
    region: config.region,
    maxAttempts: config.awsMaxAttempts,
    requestHandler: {
      connectionTimeout: config.awsRequestTimeoutMs,
      requestTimeout: config.awsRequestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  };
  return {
    dynamo: new DynamoDBClient(common),
    s3: new S3Client(common),
    verifier: CognitoJwtVerifier.create({
      userPoolId: config.cognitoUserPoolId,
      clientId: config.cognitoClientId,
      tokenUse: config.cognitoTokenUse,
    }),
  };
}
