// The user pool's e-mail attributes as the user item mirrors them (`email`, `email_verified`):
// one rule for the sign-up trigger, which writes them, and the sign-in trigger, which refreshes
// them. Cognito sends every attribute as a string, `email_verified` as "true" or "false".

export interface PoolEmail {
  /** '' when the pool has no e-mail for the person (a pool that signs in by phone). */
  email: string;
  email_verified: boolean;
}

export function poolEmail(attributes: Readonly<Record<string, unknown>>): PoolEmail {
  const email = attributes.email;
  return {
    email: typeof email === 'string' ? email : '',
    // The string Cognito sends, or a boolean from a caller that parsed it; nothing else is true.
    email_verified: attributes.email_verified === 'true' || attributes.email_verified === true,
  };
}
