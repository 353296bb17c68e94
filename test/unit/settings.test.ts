// The settings' rules (contract, "User settings"): choices, defaults, partial patches, every error
// at once, and a stored value that is none of the choices refused rather than shown.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/http/errors.ts';
import type { RawFields, RawValue } from '../../src/http/request-body.ts';
import { buildSettingsPatch, readSettings } from '../../src/users/settings.ts';
import { UnreadableItemError } from '../../src/users/user-item.ts';

const json = (entries: Record<string, unknown>): RawFields =>
  new Map(Object.entries(entries).map(([name, value]): [string, RawValue] => [name, { kind: 'json', value }]));
const text = (entries: Record<string, string>): RawFields =>
  new Map(Object.entries(entries).map(([name, value]): [string, RawValue] => [name, { kind: 'text', value }]));

function fieldCodes(fields: RawFields): Record<string, string[]> {
  try {
    buildSettingsPatch(fields);
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    return Object.fromEntries(error.fields.map((f) => [f.field, f.messages.map((m) => m.code)]));
  }
  assert.fail('expected a 400');
}

describe('settings', () => {
  it('reads the contract’s defaults for an item without settings, the stored values otherwise', () => {
    const defaults = { qa_frequency: 1, email_notification_not_qa: 1, mobile_notifications_scmty: 1, show_toast_notifications: 1, toast_notifications_emit_sound: 1 };
    assert.deepEqual(readSettings({ pk: 'USER#1' }), defaults);
    assert.deepEqual(readSettings({ pk: 'USER#1', qa_frequency: -1, show_toast_notifications: 0 }), { ...defaults, qa_frequency: -1, show_toast_notifications: 0 });
  });

  it('refuses a stored value that is none of the choices, naming the item and the attributes', () => {
    assert.throws(() => readSettings({ pk: 'USER#1', qa_frequency: 2, email_notification_not_qa: '1' }), (error: unknown) => {
      assert.ok(error instanceof UnreadableItemError);
      assert.deepEqual([error.key, error.attributes], ['USER#1', ['qa_frequency', 'email_notification_not_qa']]);
      return true;
    });
  });

  it('patches any subset; integers and their decimal text', () => {
    assert.deepEqual(buildSettingsPatch(new Map()), {});
    assert.deepEqual(buildSettingsPatch(json({ qa_frequency: -1, mobile_notifications_scmty: '0' })), { qa_frequency: -1, mobile_notifications_scmty: 0 });
    assert.deepEqual(buildSettingsPatch(text({ qa_frequency: '0', toast_notifications_emit_sound: '1' })), { qa_frequency: 0, toast_notifications_emit_sound: 1 });
  });

  it('refuses another value with invalid_choice and an unknown name with unknown_field, all at once', () => {
    assert.deepEqual(
      fieldCodes(json({ qa_frequency: 2, email_notification_not_qa: -1, mobile_notifications_scmty: true, show_toast_notifications: null, toast_notifications_emit_sound: 0.5, theme: 1 })),
      {
        qa_frequency: ['invalid_choice'],
        email_notification_not_qa: ['invalid_choice'],
        mobile_notifications_scmty: ['invalid_choice'],
        show_toast_notifications: ['invalid_choice'],
        toast_notifications_emit_sound: ['invalid_choice'],
        theme: ['unknown_field'],
      },
    );
    assert.deepEqual(fieldCodes(text({ qa_frequency: '01', show_toast_notifications: '1.0' })), {
      qa_frequency: ['invalid_choice'],
      show_toast_notifications: ['invalid_choice'],
    });
    const withProto: RawFields = new Map([['__proto__', { kind: 'json', value: 1 }], ['constructor', { kind: 'text', value: '1' }]]);
    assert.deepEqual(Object.keys(fieldCodes(withProto)).sort(), ['__proto__', 'constructor']);
    const file: RawFields = new Map([['qa_frequency', { kind: 'file', filename: '1', mimeType: 'text/plain', bytes: Buffer.from('1'), tooLarge: false }]]);
    assert.deepEqual(fieldCodes(file), { qa_frequency: ['invalid_choice'] });
  });
});
