import type { ModelPrice } from '../config/openai-schema.ts';
import type { ProviderConfig } from '../config/topology-schema.ts';

/** Token counts of one call, as the provider reported them. */
export interface TokenCounts {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the provider's cache (part of promptTokens). */
  cachedTokens?: number;
}

/** Cost of one call by the price table (per million tokens); cached prompt tokens at `cachedInput` (default: `input`). */
export function costOf(price: ModelPrice, t: TokenCounts): number {
  const cached = Math.min(t.cachedTokens ?? 0, t.promptTokens);
  const cachedRate = price.cachedInput ?? price.input;
  const micro = (t.promptTokens - cached) * price.input + cached * cachedRate + t.completionTokens * price.output;
  // Rounded to 1e-9 so sums of many jobs don't show float noise.
  return Math.round(micro / 1e6 * 1e9) / 1e9;
}

/** Looks up the price of a provider's model (undefined: no price, no cost). */
export type PriceLookup = (provider: string, model: string) => ModelPrice | undefined;

/** The price lookup of a topology's providers. */
export function priceLookup(providers: Readonly<Record<string, ProviderConfig>>): PriceLookup {
  return (provider, model) => providers[provider]?.models[model]?.price;
}
