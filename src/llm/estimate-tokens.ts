/**
 * A cheap upper-side guess of the tokens a chat request will use, made before
 * the call so the tokens-per-minute budget can be reserved; the real usage
 * replaces it afterwards. About 4 characters per token for the prompt, plus
 * `max_tokens` when the job caps the completion.
 */
export function estimateChatTokens(payload: unknown): number {
  if (typeof payload !== 'object' || payload === null) return 0;
  const p = payload as { messages?: unknown; max_tokens?: unknown; max_completion_tokens?: unknown };
  let chars = 0;
  if (Array.isArray(p.messages)) {
    for (const m of p.messages) {
      const content = (m as { content?: unknown } | null)?.content;
      if (typeof content === 'string') chars += content.length;
      else if (Array.isArray(content)) chars += JSON.stringify(content).length;
      // Role and framing cost a few tokens per message.
      chars += 16;
    }
  }
  const cap = typeof p.max_tokens === 'number' ? p.max_tokens : typeof p.max_completion_tokens === 'number' ? p.max_completion_tokens : 0;
  return Math.ceil(chars / 4) + cap;
}
