const PATTERNS: readonly [RegExp, string][] = [
  // scheme://user:password@host -> scheme://user:***@host
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, '$1***@'],
  // Authorization: Bearer <token>
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***'],
  // OpenAI-style keys (sk-..., sk-proj-...), Anthropic (sk-ant-...), and similar prefixed keys.
  [/\b(sk|pk|rk)-[A-Za-z0-9_-]{12,}/g, '$1-***'],
  // api_key=..., apiKey: "...", "x-api-key": "..."
  [/((?:api[_-]?key|x-api-key|access[_-]?token|secret|password|token)["']?\s*[:=]\s*["']?)[^\s"',;&]{4,}/gi, '$1***'],
];

/**
 * Removes secrets from an error message before it is written into a header
 * that anyone with management UI access can read: URL passwords, bearer and
 * basic credentials, `sk-...` style API keys, `api_key=...` pairs, and any
 * exact value passed in `known` (the configured provider keys).
 */
export function scrubSecrets(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const secret of known) {
    if (secret.length >= 6) out = out.split(secret).join('***');
  }
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  return out;
}

/** Scrubs, then truncates to `max` characters (with an ellipsis when cut). */
export function safeErrorMessage(text: string, max: number, known: readonly string[] = []): string {
  const clean = scrubSecrets(text, known).replace(/\s+/g, ' ').trim();
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
