// npm run seed -- FILE: loads the users of a JSON file (an array) into the running local stack.

import { readFile } from 'node:fs/promises';
import { createDocumentClient, readLocalStackConfig } from '../local/local-stack.ts';
import { SeedError, parseSeedUsers, seedUsers } from '../local/seed-users.ts';
import { readLocalUsers, rememberLocalUser } from '../local/local-users.ts';

const [file, ...rest] = process.argv.slice(2);
if (!file || rest.length > 0 || file.startsWith('-')) {
  console.error('usage: npm run seed -- FILE   (FILE: JSON array of users)');
  process.exit(2);
}

const config = readLocalStackConfig();
const doc = createDocumentClient(config);
try {
  let users: unknown;
  try {
    users = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new SeedError(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(users)) throw new SeedError(`${file} must hold a JSON array of users`);
  const count = await seedUsers(doc, config.tableName, users);
  // Their e-mail where `npm run token` finds it: a token for them is a sign-in that keeps it.
  const known = await readLocalUsers(config.stateDir);
  for (const user of parseSeedUsers(users, { warn: () => {} })) {
    if (user.email === undefined) continue;
    const { email, email_verified: emailVerified } = user;
    await rememberLocalUser(config.stateDir, user.sub, { email, ...(emailVerified === false && { emailVerified }), groups: known[user.sub]?.groups ?? [] });
  }
  console.log(`Loaded ${count} user${count === 1 ? '' : 's'} into ${config.tableName} (${config.dynamodbEndpoint})`);
} catch (error) {
  const err = error as Error & { code?: string };
  const unreachable =
    err.code === 'ECONNREFUSED' || (err instanceof AggregateError && /ECONNREFUSED/.test(String(err.errors)));
  if (err instanceof SeedError) {
    console.error(`seed: ${err.message}`);
  } else if (unreachable) {
    console.error(
      `seed: nothing answers at ${config.dynamodbEndpoint}; is the local stack running (npm start) ` +
        'with the same DYNAMODB_PORT?',
    );
  } else if (err.name === 'ResourceNotFoundException') {
    console.error(`seed: table ${config.tableName} does not exist at ${config.dynamodbEndpoint}`);
  } else {
    console.error('seed:', error);
  }
  process.exitCode = 1;
} finally {
  doc.destroy();
}
