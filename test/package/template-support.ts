// What the template tests share: reading templates (resources, conditions, Fn::If, policy
// statements), the IAM actions the code needs, and the roles of the functions.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { promisify } from 'node:util';
import { type Json, type Resource, type Template } from './packaging.ts';
import { PROJECT_DIR } from '../../tools/local/local-stack.ts';

export const run = promisify(execFile);
/** The function's handler module in the artifact (functions.patchUser.handler, with .mjs). */
export const ENTRY = 'src/functions/patch-user/handler.mjs';
/** The stream function's module, as serverless.yml names it (`<path>.handler`). */
export const MEDIA_EVENTS_MODULE = (
  parseYaml(await readFile(join(PROJECT_DIR, 'serverless.yml'), 'utf8')) as { functions: { mediaEvents: { handler: string } } }
).functions.mediaEvents.handler.replace(/\.handler$/, '');
export const MEDIA_EVENTS_ENTRY = `${MEDIA_EVENTS_MODULE}.mjs`;

// ---------------------------------------------------------------------------------------------
// Reading templates

export function resource(template: Template, logicalId: string, type: string): Resource {
  const found = template.Resources[logicalId];
  assert.ok(found, `no resource ${logicalId}`);
  assert.equal(found.Type, type);
  return found;
}

export const resourcesOfType = (template: Template, type: string): [string, Resource][] =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);

export const fnFunction = (template: Template) => resource(template, 'PatchUserLambdaFunction', 'AWS::Lambda::Function');
export const environmentOf = (template: Template): Record<string, Json> => fnFunction(template).Properties.Environment.Variables;

/** Evaluates a condition the way CloudFormation does, for the functions this template uses. */
export function condition(template: Template, name: string): boolean {
  const expression = template.Conditions?.[name];
  assert.ok(expression, `no condition ${name}`);
  return evaluate(template, expression);
}

export function evaluate(template: Template, expression: Json): boolean {
  const [fn, args] = Object.entries(expression)[0] as [string, Json[]];
  switch (fn) {
    case 'Fn::Equals': {
      for (const arg of args) assert.equal(typeof arg, 'string', `Fn::Equals compares strings, got ${JSON.stringify(arg)}`);
      return args[0] === args[1];
    }
    case 'Fn::Not':
      return !evaluate(template, args[0]);
    case 'Fn::And':
      return args.every((arg) => evaluate(template, arg));
    case 'Fn::Or':
      return args.some((arg) => evaluate(template, arg));
    case 'Condition':
      return condition(template, args as unknown as string);
    default:
      throw new Error(`condition function ${fn} not handled`);
  }
}

/** `value` with every Fn::If replaced by its chosen branch (AWS::NoValue drops the key). */
export function resolveIfs(template: Template, value: Json): Json {
  if (Array.isArray(value)) return value.map((item) => resolveIfs(template, item));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'Fn::If') {
    const [name, whenTrue, whenFalse] = value['Fn::If'];
    return resolveIfs(template, condition(template, name) ? whenTrue : whenFalse);
  }
  const result: Record<string, Json> = {};
  for (const [key, item] of Object.entries(value)) {
    const resolved = resolveIfs(template, item);
    if (resolved?.Ref !== 'AWS::NoValue') result[key] = resolved;
  }
  return result;
}

export const bucketObjects = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['MediaBucket', 'Arn'] }, `/${prefix}/*`]] });
export const distributionUrl = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': ['MediaDistribution', 'DomainName'] }]] };

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: Json | Json[];
  Principal?: Json;
  Condition?: Json;
  Sid?: string;
}
export const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every policy statement anywhere in the template (roles, bucket policies, …). */
export function allStatements(value: Json, found: Statement[] = []): Statement[] {
  if (Array.isArray(value)) for (const item of value) allStatements(item, found);
  else if (value && typeof value === 'object') {
    if (Array.isArray(value.Statement)) found.push(...(value.Statement as Statement[]));
    for (const item of Object.values(value)) allStatements(item, found);
  }
  return found;
}

/** The statements of a function's own role (serverless.yml gives each function one). */
export function roleStatements(template: Template, functionId: string): Statement[] {
  const fn = resource(template, functionId, 'AWS::Lambda::Function');
  const [roleId] = fn.Properties.Role['Fn::GetAtt'] as [string, string];
  const role = resource(template, roleId, 'AWS::IAM::Role');
  assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  assert.equal(role.Properties.ManagedPolicyArns, undefined, `${roleId} has no managed policies`);
  return role.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement as Statement[]);
}

// ---------------------------------------------------------------------------------------------
// The IAM actions the code needs, derived from the AWS SDK commands it sends

// Both the plain client's commands and the document client's (@aws-sdk/lib-dynamodb) wrappers.
export const ACTIONS_OF_COMMAND: Record<string, string[]> = {
  GetItemCommand: ['dynamodb:GetItem'],
  BatchGetItemCommand: ['dynamodb:BatchGetItem'],
  GetCommand: ['dynamodb:GetItem'],
  UpdateItemCommand: ['dynamodb:UpdateItem'],
  UpdateCommand: ['dynamodb:UpdateItem'],
  PutItemCommand: ['dynamodb:PutItem'],
  PutCommand: ['dynamodb:PutItem'],
  DeleteItemCommand: ['dynamodb:DeleteItem'],
  DeleteCommand: ['dynamodb:DeleteItem'],
  // Authorised item by item: see TRANSACT_ITEM_ACTIONS.
  TransactWriteItemsCommand: [],
  TransactWriteCommand: [],
  // A PutObject with a Tagging parameter (src/store/media-uploads.ts) needs both.
  PutObjectCommand: ['s3:PutObject', 's3:PutObjectTagging'],
  PutObjectTaggingCommand: ['s3:PutObjectTagging'],
  DeleteObjectCommand: ['s3:DeleteObject'],
  PutEventsCommand: ['events:PutEvents'],
  SendMessageCommand: ['sqs:SendMessage'],
  CreateInvalidationCommand: ['cloudfront:CreateInvalidation'],
};
export const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Delete: 'dynamodb:DeleteItem',
  Update: 'dynamodb:UpdateItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/** The project's modules a handler module loads (its own file and every relative import, transitively). */
export async function moduleClosure(entry: string): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = await readFile(join(PROJECT_DIR, file), 'utf8');
    // Type-only imports load nothing at run time.
    for (const [, typeOnly, target] of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;]*?from\s+'(\.{1,2}\/[^']+\.ts)'/gm)) {
      if (!typeOnly) await visit(relative(PROJECT_DIR, join(PROJECT_DIR, dirname(file), target!)));
    }
  };
  await visit(entry);
  return [...seen].sort();
}

/** The IAM actions of the AWS SDK commands that the code of one handler module sends. */
export async function actionsTheCodeNeeds(entry: string): Promise<string[]> {
  const actions = new Set<string>();
  {
    for (const file of await moduleClosure(entry)) {
      const source = await readFile(join(PROJECT_DIR, file), 'utf8');
      for (const [, command] of source.matchAll(/new (\w+Command)\(/g)) {
        const mapped = ACTIONS_OF_COMMAND[command!];
        assert.ok(mapped, `${file} sends ${command}: give the role its IAM action in infra/roles/ and map it here`);
        for (const action of mapped) actions.add(action);
      }
      if (/new TransactWrite(Items)?Command\(/.test(source)) {
        for (const [, kind] of source.matchAll(/^\s*(Put|Delete|Update|ConditionCheck): \{/gm)) {
          actions.add(TRANSACT_ITEM_ACTIONS[kind!]!);
        }
      }
    }
  }
  return [...actions].sort();
}

/**
 * The zip's sharp is built for arm64; a test importing the bundle on this machine gets this
 * machine's build of the same version instead, as `node_modules/sharp` next to the bundle.
 */
export async function linkHostSharp(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  await symlink(join(PROJECT_DIR, 'node_modules', 'sharp'), join(dir, 'node_modules', 'sharp'), 'dir');
}


// ---------------------------------------------------------------------------------------------
// The read function and the sign-up trigger

/** The IAM actions of the AWS commands `files` send (TransactWrite* as their item actions). */
export async function actionsOf(files: string[]): Promise<string[]> {
  const actions = new Set<string>();
  for (const file of files) {
    const source = await readFile(join(PROJECT_DIR, file), 'utf8');
    for (const [, command] of source.matchAll(/new (\w+Command)\(/g)) for (const action of ACTIONS_OF_COMMAND[command!] ?? []) actions.add(action);
    if (/new TransactWrite(Items)?Command\(/.test(source)) {
      for (const [, kind] of source.matchAll(/^\s*(Put|Delete|Update|ConditionCheck): \{/gm)) actions.add(TRANSACT_ITEM_ACTIONS[kind!]!);
    }
  }
  return [...actions].sort();
}

export function functionRole(template: Template, functionId: string, roleId: string): Statement[] {
  const fn = resource(template, functionId, 'AWS::Lambda::Function');
  assert.deepEqual(fn.Properties.Role, { 'Fn::GetAtt': [roleId, 'Arn'] });
  const role = resource(template, roleId, 'AWS::IAM::Role');
  assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  return role.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement as Statement[]);
}

/** Table statements as `action: leading keys`, and the log statements' resources. */
export function splitStatements(statements: Statement[]) {
  const logs = statements.filter((s) => list(s.Action).every((a) => a.startsWith('logs:')));
  // Denies narrow the grants (mayCall evaluates both); the grants are the Allow statements.
  const table = statements.filter((s) => !logs.includes(s) && s.Effect === 'Allow');
  for (const s of table) assert.deepEqual(list(s.Resource), [{ 'Fn::GetAtt': ['UsersTable', 'Arn'] }]);
  const keys = Object.fromEntries(
    table.flatMap((s) => {
      const condition = s.Condition?.['ForAllValues:StringLike'] ?? s.Condition?.['ForAllValues:StringEquals'];
      assert.ok(condition, `a leading-key condition on ${JSON.stringify(s)}`);
      return list(s.Action).map((action) => [action, [...condition['dynamodb:LeadingKeys']].sort()]);
    }),
  );
  return { logs, keys };
}

export const ENTRIES = {
  getUser: 'src/functions/get-user/handler.mjs',
  postConfirmation: 'src/functions/post-confirmation/handler.mjs',
  postAuthentication: 'src/functions/post-authentication/handler.mjs',
};

/** IAM's `StringLike`: `*` any run of characters, `?` any one, case-sensitive. */
export const stringLike = (pattern: string, value: string) =>
  new RegExp('^' + pattern.replace(/[.+^$(){}|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$').test(value);

/**
 * How IAM decides a DynamoDB item action on the table for one partition key, from a role's
 * statements: an explicit Deny wins, else an Allow must match, else it is denied.
 */
export function mayCall(statements: Statement[], action: string, leadingKey: string): boolean {
  const applies = (s: Statement) => {
    if (!list(s.Action).includes(action)) return false;
    if (!list(s.Resource).some((r) => JSON.stringify(r) === JSON.stringify({ 'Fn::GetAtt': ['UsersTable', 'Arn'] }))) return false;
    for (const [operator, all] of Object.entries(s.Condition ?? {}) as [string, Record<string, string[]>][]) {
      const [qualifier, test] = operator.split(':') as [string, string];
      // Only the key is modelled: a ForAllValues condition on the attributes a request names
      // holds for a request that names none (IAM's rule for a set operator on a missing key).
      const { 'dynamodb:Attributes': attributes, ...values } = all;
      if (attributes) assert.equal(qualifier, 'ForAllValues', `condition on attributes of ${JSON.stringify(s)}`);
      if (Object.keys(values).length === 0) continue;
      assert.deepEqual(Object.keys(values), ['dynamodb:LeadingKeys'], `condition keys of ${JSON.stringify(s)}`);
      assert.ok(['ForAllValues', 'ForAnyValue'].includes(qualifier), operator);
      const patterns = list(values['dynamodb:LeadingKeys']!);
      // One key per item action: ForAllValues and ForAnyValue agree on a one-value set.
      const match = test === 'StringLike' ? patterns.some((p) => stringLike(p, leadingKey)) : test === 'StringEquals' && patterns.includes(leadingKey);
      assert.ok(test === 'StringLike' || test === 'StringEquals', operator);
      if (!match) return false;
    }
    return true;
  };
  if (statements.some((s) => s.Effect === 'Deny' && applies(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && applies(s));
}
