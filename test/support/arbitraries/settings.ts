// fast-check generators of PATCH /api/v2/user/{id}/settings/ requests, and the contract's answer
// to each (contract, "User settings"): plain data, so a failure shrinks and prints.
import fc from 'fast-check';

/** The contract's settings, their choices and defaults. */
export const SETTING_CHOICES: Record<string, readonly number[]> = {
  qa_frequency: [-1, 1, 0],
  email_notification_not_qa: [1, 0],
  mobile_notifications_scmty: [1, 0],
  show_toast_notifications: [1, 0],
  toast_notifications_emit_sound: [1, 0],
};
export const SETTING_DEFAULTS: Record<string, number> = Object.fromEntries(Object.keys(SETTING_CHOICES).map((name) => [name, 1]));

export type SettingsEncoding = 'json' | 'urlencoded' | 'multipart';

export interface SettingsRequest {
  /** Whose token: the target's owner, another pool user, a valid token of no user, or none. */
  caller: 'owner' | 'other' | 'stranger' | 'none';
  /** Index of the pool user whose settings are patched; or a path id that names no user. */
  target: number | 'unknown' | 'word';
  encoding: SettingsEncoding;
  pairs: Array<[string, unknown]>;
}

const nameArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...Object.keys(SETTING_CHOICES)) },
  { weight: 1, arbitrary: fc.constantFrom('theme', 'bio', 'username', '__proto__', 'constructor', 'toString', 'Qa_frequency', 'qa_frequency_') },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z_]{1,12}$/) },
);

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 4, arbitrary: fc.constantFrom('1', '0', '-1', '2', '01', '1.0', ' 1', '+1', '-0', '', 'one', '١', '1e0', 'true') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 2 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('a', 'value'), fc.integer({ min: 0, max: 1 }), { maxKeys: 1 }) },
);

export const settingsRequestArb: fc.Arbitrary<SettingsRequest> = fc.record({
  caller: fc.constantFrom('owner', 'owner', 'owner', 'other', 'stranger', 'none'),
  target: fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom('unknown' as const, 'word' as const) }),
  encoding: fc.constantFrom('json', 'urlencoded', 'multipart'),
  pairs: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 7 }),
});

/** What a form carries of a value: its text (a form has no other kind of value). */
const asText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** The values as the server receives them: JSON round-tripped, or form text. */
export function receivedValue(value: unknown, encoding: SettingsEncoding): unknown {
  return encoding === 'json' ? JSON.parse(JSON.stringify(value)) : asText(value);
}

export function formPairs(request: SettingsRequest): Array<[string, string]> {
  return request.pairs.map(([name, value]) => [name, asText(value)]);
}

export type SettingsVerdict =
  | { status: 401 | 403 | 404 }
  | { status: 400; fields: Record<string, string> }
  | { status: 200; settings: Record<string, number> };

/**
 * The contract's answer. The service authenticates first, reads the body before any DynamoDB call
 * (as its user PATCH does), then the write tells 404 from 403. A name sent twice is a
 * `duplicate_field` of its own; otherwise every bad field at once: `unknown_field` for a name that
 * is not a setting, `invalid_choice` for a value whose decimal text is none of the choices.
 */
export function settingsVerdict(
  request: SettingsRequest,
  current: Record<string, number>,
): SettingsVerdict {
  if (request.caller === 'none') return { status: 401 };
  if (request.target === 'word') return { status: 404 };
  const seen = new Map<string, number>();
  for (const [name] of request.pairs) seen.set(name, (seen.get(name) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([name]) => name);
  if (twice.length) return { status: 400, fields: Object.fromEntries(twice.map((name) => [name, 'duplicate_field'])) };
  // A Map: `__proto__` is a name like any other.
  const fields = new Map<string, string>();
  const next = { ...current };
  for (const [name, value] of request.pairs) {
    const choices = Object.hasOwn(SETTING_CHOICES, name) ? SETTING_CHOICES[name] : undefined;
    if (!choices) {
      fields.set(name, 'unknown_field');
      continue;
    }
    const received = receivedValue(value, request.encoding);
    const choice =
      typeof received === 'number' || typeof received === 'string' ? choices.find((c) => String(c) === String(received)) : undefined;
    if (choice === undefined) fields.set(name, 'invalid_choice');
    else next[name] = choice;
  }
  if (fields.size) return { status: 400, fields: Object.fromEntries(fields) };
  if (request.target === 'unknown') return { status: 404 };
  if (request.caller !== 'owner') return { status: 403 };
  return { status: 200, settings: next };
}
