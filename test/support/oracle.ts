// The fuzz test's oracle for the request's syntax, written from the contract and the RFCs it
// rests on (RFC 9110 media types, RFC 8259 JSON), not from lib/: an oracle that shared the
// implementation's parser would share its mistakes.

/** The contract: the three body types, `charset` parameters of UTF-8 (or its ASCII subset) allowed. */
const ACCEPTED_TYPES = new Set(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']);
const ACCEPTED_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * What the contract says of a Content-Type for a non-empty body:
 *   'supported'   an accepted media type with acceptable parameters: never a 415;
 *   'unsupported' a well-formed media type the contract refuses (another type, another charset): a 415;
 *   'malformed'   not a media type by RFC 9110's grammar: the contract does not say which refusal.
 */
export function mediaTypeVerdict(header: string | undefined): 'supported' | 'unsupported' | 'malformed' {
  if (header === undefined) return 'malformed';
  const parsed = parseMediaType(header.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (!parsed) return 'malformed';
  if (!ACCEPTED_TYPES.has(`${parsed.type}/${parsed.subtype}`)) return 'unsupported';
  const charsets = parsed.parameters.filter(([name]) => name === 'charset').map(([, value]) => value.toLowerCase());
  // Two charsets contradict each other: the RFC leaves that to the recipient.
  if (charsets.length > 1) return new Set(charsets).size === 1 && ACCEPTED_CHARSETS.has(charsets[0]!) ? 'supported' : 'malformed';
  if (charsets.length === 1 && !ACCEPTED_CHARSETS.has(charsets[0]!)) return 'unsupported';
  return 'supported';
}

// RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const isTchar = (c: string) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(c);

/** media-type = type "/" subtype parameters (RFC 9110 8.3.1), names lower-cased. */
function parseMediaType(text: string): { type: string; subtype: string; parameters: Array<[string, string]> } | undefined {
  let i = 0;
  const token = (): string => {
    const start = i;
    while (i < text.length && isTchar(text[i]!)) i++;
    return text.slice(start, i);
  };
  const ows = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  const type = token();
  if (!type || text[i] !== '/') return undefined;
  i++;
  const subtype = token();
  if (!subtype) return undefined;
  const parameters: Array<[string, string]> = [];
  // parameters = *( OWS ";" OWS [ parameter ] )
  for (;;) {
    ows();
    if (i === text.length) break;
    if (text[i] !== ';') return undefined;
    i++;
    ows();
    if (i === text.length || text[i] === ';') continue;
    const name = token();
    if (!name || text[i] !== '=') return undefined;
    i++;
    let value: string;
    if (text[i] === '"') {
      // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
      i++;
      value = '';
      for (;;) {
        if (i >= text.length) return undefined;
        const c = text[i]!;
        if (c === '"') break;
        if (c === '\\') {
          if (i + 1 >= text.length) return undefined;
          value += text[i + 1];
          i += 2;
          continue;
        }
        if (c.charCodeAt(0) < 0x20 && c !== '\t') return undefined;
        value += c;
        i++;
      }
      i++;
    } else {
      value = token();
      if (!value) return undefined;
    }
    parameters.push([name.toLowerCase(), value]);
  }
  return { type: type.toLowerCase(), subtype: subtype.toLowerCase(), parameters };
}

/**
 * The member names of a JSON text's top-level object, in order, a name sent twice listed twice;
 * undefined when the text is not a JSON object. A recursive-descent reading of RFC 8259.
 */
export function jsonObjectNames(text: string): string[] | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new SyntaxError(`JSON: unexpected input at ${i}`);
  };
  const string = (): string => {
    if (text[i] !== '"') fail();
    const start = i++;
    while (text[i] !== '"') {
      if (i >= text.length) fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (names?: string[]): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const name = string();
        names?.push(name);
        ws();
        if (text[i++] !== ':') fail();
        value();
        ws();
        const next = text[i++];
        if (next === '}') return;
        if (next !== ',') fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        const next = text[i++];
        if (next === ']') return;
        if (next !== ',') fail();
      }
    }
    if (c === '"') return void string();
    const literal = /true|false|null|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    literal.lastIndex = i;
    const match = literal.exec(text);
    if (!match || match[0] === '') fail();
    i += match![0].length;
  };
  try {
    ws();
    if (text[i] !== '{') return undefined;
    const names: string[] = [];
    value(names);
    ws();
    return i === text.length ? names : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The user a path segment names: the contract's `{id}` is an integer, written in decimal digits.
 * Anything else is not an id (404). A number no user has is an unknown id (404 too).
 */
export function pathUserId(raw: string): number | undefined {
  return /^[0-9]+$/.test(raw) ? Number(raw) : undefined;
}

/**
 * The contract's names nobody may take ("Writable fields"). A name equal to one of them once
 * compatibility forms are folded (NFKC: full-width letters) and case is ignored is refused with
 * `unique`; lookalikes in other scripts are refused too (the hostile tests name them one by one).
 */
export const CONTRACT_RESERVED_USERNAMES = [
  'admin', 'administrator', 'root', 'system', 'support', 'help', 'security', 'staff', 'moderator',
  'selfcommunity', 'me', 'avatar', 'hidden_users', 'hidden_users_id',
] as const;
export const isReservedUsername = (name: string): boolean =>
  (CONTRACT_RESERVED_USERNAMES as readonly string[]).includes(name.normalize('NFKC').toLowerCase());

/** The contract's display text fields, which refuse control characters and bidi overrides and isolates. */
export const DISPLAY_TEXT_FIELDS = ['real_name', 'bio', 'location', 'description', 'company_name', 'company_role'] as const;

/**
 * Whether the contract lets `value` stand in display text field `field`: no control character
 * (Unicode general category Cc) and none of U+202A-202E, U+2066-2069; `bio` may hold line breaks
 * and tabs. Other fields: no rule here.
 */
export function displayTextAllowed(field: string, value: string): boolean {
  if (!(DISPLAY_TEXT_FIELDS as readonly string[]).includes(field)) return true;
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (field === 'bio' && (char === '\n' || char === '\r' || char === '\t')) continue;
    // Cc is exactly U+0000-001F and U+007F-009F.
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return false;
    if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) return false;
  }
  return true;
}

/** The owner's private fields ("Reading a user" › Privacy): `""` for everyone else and in events. */
export const PRIVATE_USER_FIELDS = ['date_of_birth', 'position_lat_lng'] as const;

/**
 * The contract's User object of a stored user (the data model's attribute names): every field
 * present, "" for an unset text, the defaults the contract names, image URLs from the media base.
 * `public`: as anyone but the owner, and every event, sees it (the private fields `""`).
 */
export function expectedUser(item: Record<string, any>, mediaBaseUrl: string, view: 'owner' | 'public' = 'owner'): Record<string, unknown> {
  const hidden = (name: string) => view === 'public' && (PRIVATE_USER_FIELDS as readonly string[]).includes(name);
  const text = (name: string) => (typeof item[name] === 'string' && !hidden(name) ? item[name] : '');
  const url = (name: string) => (item[`${name}_key`] ? `${mediaBaseUrl}/${item[`${name}_key`]}` : null);
  const count = (name: string) => (typeof item[name] === 'number' ? item[name] : 0);
  const flag = (name: string) => item[name] === true;
  return {
    id: item.id, username: item.username, real_name: text('real_name'), avatar: url('avatar'), cover: url('cover'),
    ext_id: item.ext_id ?? null,
    followings_counter: count('followings_counter'), followers_counter: count('followers_counter'),
    posts_counter: count('posts_counter'), discussions_counter: count('discussions_counter'),
    polls_counter: count('polls_counter'), categories_counter: count('categories_counter'),
    connection_status: null, date_joined: item.date_joined,
    bio: text('bio'), location: text('location'), location_lat_lng: text('location_lat_lng'),
    position_lat_lng: text('position_lat_lng'), date_of_birth: text('date_of_birth'), description: text('description'),
    gender: text('gender') || 'Unspecified', website: text('website'), tags: item.tags ?? [],
    reputation: count('reputation'), community_badge: flag('community_badge'), reg_approved: flag('reg_approved'),
    deleted: flag('deleted'), company_name: text('company_name'), company_role: text('company_role'),
    language: text('language') || 'en',
  };
}
