// The community's configuration every stock SelfCommunity front end loads before anything else
// (react-core's SCPreferencesProvider renders nothing until both lists answer): the dynamic
// preferences (`GET /api/v2/dynamic_preference/`) and the features (`GET /api/v2/feature/`), read-only,
// from the stage's file config/community.json (docs/stock-ui.md, "The community configuration").
// The file is loaded by import() on the first request for it, so getUser's cold start never reads it.
import { page, pageRequest, queryParameters } from '../http/pagination.ts';
import type { ApiEvent } from '../http/api-event.ts';

/** A dynamic preference as the reference answers it (schemas/dynamic_preference). */
export interface DynamicPreference {
  id: number;
  section: string;
  name: string;
  /**
   * As the reference's values come: text (a URL, or JSON that the client parses), a number, or a
   * boolean for a switch (react-core tests `.value` for truth: the string "false" would be on).
   */
  value: string | number | boolean;
}

/** A feature as the reference answers it (schemas/feature). */
export interface Feature {
  id: number;
  name: string;
  enabled: boolean;
}

export interface CommunityConfig {
  preferences: DynamicPreference[];
  features: Feature[];
}

export class CommunityConfigError extends Error {
  override name = 'CommunityConfigError';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The file's lists, checked, with ids: the reference's ids are read-only integers; here they are
 * the 1-based position in the file, so an entry keeps its id as long as none is inserted before it.
 */
export function parseCommunityConfig(raw: unknown): CommunityConfig {
  if (!isObject(raw) || !Array.isArray(raw.preferences) || !Array.isArray(raw.features)) {
    throw new CommunityConfigError('community configuration: needs a "preferences" and a "features" list');
  }
  const seen = new Set<string>();
  const preferences = raw.preferences.map((entry: unknown, index): DynamicPreference => {
    if (!isObject(entry) || typeof entry.section !== 'string' || typeof entry.name !== 'string' || !['string', 'number', 'boolean'].includes(typeof entry.value) || !entry.section || !entry.name) {
      throw new CommunityConfigError(`community configuration: preferences[${index}] needs a non-empty "section" and "name" and a string, number or boolean "value"`);
    }
    const key = `${entry.section}.${entry.name}`;
    if (seen.has(key)) throw new CommunityConfigError(`community configuration: preference ${key} is listed twice`);
    seen.add(key);
    return { id: index + 1, section: entry.section, name: entry.name, value: entry.value as DynamicPreference['value'] };
  });
  const names = new Set<string>();
  const features = raw.features.map((entry: unknown, index): Feature => {
    if (!isObject(entry) || typeof entry.name !== 'string' || !entry.name || typeof entry.enabled !== 'boolean') {
      throw new CommunityConfigError(`community configuration: features[${index}] needs a non-empty "name" and a boolean "enabled"`);
    }
    if (names.has(entry.name)) throw new CommunityConfigError(`community configuration: feature ${entry.name} is listed twice`);
    names.add(entry.name);
    return { id: index + 1, name: entry.name, enabled: entry.enabled };
  });
  return { preferences, features };
}

let loaded: Promise<CommunityConfig> | undefined;

/** The stage's configuration, read and checked once per container. */
export function communityConfig(): Promise<CommunityConfig> {
  loaded ??= import('../../config/community.json', { with: { type: 'json' } }).then(
    (module) => parseCommunityConfig(module.default),
    (error: unknown) => {
      loaded = undefined;
      throw error;
    },
  );
  return loaded;
}

/**
 * The list answer: the reference's `{count, next, previous, results}`. Without `limit` every entry
 * is in it (SCPreferencesProvider asks once, with no limit, and keeps only `results`); with one,
 * DRF's limit and offset apply.
 */
function listAnswer<T>(event: ApiEvent, query: Record<string, string>, all: readonly T[]) {
  const request = pageRequest(query);
  const limit = query.limit === undefined ? Math.max(all.length, 1) : request.limit;
  return page(event, { limit, offset: request.offset }, all);
}

const contains = (text: string, term: string) => text.toLowerCase().includes(term.toLowerCase());

/**
 * `GET /api/v2/dynamic_preference/`: filters `section` (exact), `keys` (comma-separated
 * `section.name`, what api-services' `searchPreferences` sends) and `search` (in section or name).
 */
export function preferencesAnswer(event: ApiEvent, config: CommunityConfig) {
  const query = queryParameters(event);
  const keys = query.keys?.split(',').map((key) => key.trim()).filter(Boolean);
  const matching = config.preferences.filter(
    (p) =>
      (query.section === undefined || p.section === query.section) &&
      (keys === undefined || keys.includes(`${p.section}.${p.name}`)) &&
      (query.search === undefined || contains(p.section, query.search) || contains(p.name, query.search)),
  );
  return listAnswer(event, query, matching);
}

/** `GET /api/v2/feature/`: filters `name` (exact) and `search` (in the name). */
export function featuresAnswer(event: ApiEvent, config: CommunityConfig) {
  const query = queryParameters(event);
  const matching = config.features.filter(
    (f) => (query.name === undefined || f.name === query.name) && (query.search === undefined || contains(f.name, query.search)),
  );
  return listAnswer(event, query, matching);
}
