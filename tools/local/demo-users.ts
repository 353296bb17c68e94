// The users every local stack starts with.

/**
 * Signed up, in this order, through the sign-up trigger when the stack starts: ids 1 and 2, with
 * the pool e-mail their users mirror for /me/ and the pool groups `npm run token` gives their
 * tokens (none: `npm run signup -- --group admin` makes an admin).
 */
export const DEMO_USERS = [
  { id: 1, sub: '00000000-0000-4000-8000-000000000001', username: 'demo', email: 'demo@example.org', groups: [] },
  { id: 2, sub: '00000000-0000-4000-8000-000000000002', username: 'alice', email: 'alice@example.org', groups: [] },
] as const;
