// A user's settings (contract, "User settings"): what each one may be, its default, how a body
// patches them and how they are read from the user item. They are stored in the user item, one
// attribute each under its own name, but they are not part of the User object: renderUser never
// shows them, and their writes leave `version` alone (src/store/user-settings.ts).
import { echoed, FieldErrors } from '../http/errors.ts';
import type { RawFields, RawValue } from '../http/request-body.ts';
import { UnreadableItemError } from './user-item.ts';

/** The choices of each setting and its default (the contract's table). */
export const SETTINGS = {
  /** E-mail digest of interactions: -1 immediately, 1 daily, 0 never. */
  qa_frequency: { choices: [-1, 1, 0], default: 1 },
  email_notification_not_qa: { choices: [1, 0], default: 1 },
  mobile_notifications_scmty: { choices: [1, 0], default: 1 },
  show_toast_notifications: { choices: [1, 0], default: 1 },
  toast_notifications_emit_sound: { choices: [1, 0], default: 1 },
} as const satisfies Record<string, { choices: readonly number[]; default: number }>;

export type SettingName = keyof typeof SETTINGS;
export type Settings = Record<SettingName, number>;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

const isSetting = (name: string): name is SettingName => Object.hasOwn(SETTINGS, name);

/**
 * The settings of a stored user item (as readUserItem leaves unknown attributes: plain values),
 * each its default when unset. A stored value that is not one of its choices makes the item
 * unreadable, as an out-of-shape user attribute does: an answer never shows a value not stored.
 */
export function readSettings(item: object): Settings {
  const stored = item as Record<string, unknown>;
  const wrong: string[] = [];
  const settings = {} as Settings;
  for (const name of SETTING_NAMES) {
    const value = stored[name];
    if (value === undefined) settings[name] = SETTINGS[name].default;
    else if (typeof value === 'number' && (SETTINGS[name].choices as readonly number[]).includes(value)) settings[name] = value;
    else wrong.push(name);
  }
  if (wrong.length) throw new UnreadableItemError(typeof stored.pk === 'string' ? stored.pk : '(no pk)', wrong);
  return settings;
}

const MSG = {
  unknown: 'This field is not a setting and cannot be written.',
};

/**
 * The settings a body sets, every error at once: an unknown name is `unknown_field`, a value that
 * is not one of the setting's choices `invalid_choice`. A value is an integer, or its decimal
 * text as a form sends it (Django REST Framework's ChoiceField compares the text: `"1"` is 1,
 * `"01"`, `"1.0"`, `true` and `null` are none of the choices).
 */
export function buildSettingsPatch(fields: RawFields): Partial<Settings> {
  const errors = new FieldErrors();
  const patch: Partial<Settings> = {};
  for (const [name, raw] of fields) {
    if (!isSetting(name)) {
      errors.add(name, 'unknown_field', MSG.unknown);
      continue;
    }
    const choice = choiceOf(raw, SETTINGS[name].choices);
    if (choice === undefined) errors.add(name, 'invalid_choice', `"${echoed(shown(raw))}" is not a valid choice.`);
    else patch[name] = choice;
  }
  errors.throwIfAny();
  return patch;
}

function choiceOf(raw: RawValue, choices: readonly number[]): number | undefined {
  if (raw.kind === 'file') return undefined;
  const { value } = raw;
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  return choices.find((choice) => String(choice) === String(value));
}

/** The value as the error message repeats it. */
function shown(raw: RawValue): string {
  if (raw.kind === 'file') return raw.filename;
  if (typeof raw.value === 'string') return raw.value;
  return JSON.stringify(raw.value) ?? String(raw.value);
}
