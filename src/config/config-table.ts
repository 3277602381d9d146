import { ENV_SETTINGS, type EnvSetting } from './env-settings.ts';

/** The README's markers around the generated table. */
export const CONFIG_TABLE_BEGIN = '<!-- config-table: generated from src/config/env-settings.ts by `npx tsx scripts/config-table.ts`; do not edit by hand -->';
/** Closes the generated table. */
export const CONFIG_TABLE_END = '<!-- /config-table -->';

function defaultCell(s: EnvSetting<unknown>): string {
  if (s.defaultText !== undefined) return s.defaultText;
  return s.default === undefined ? 'unset' : `\`${String(s.default)}\``;
}

/** The markdown table of every setting in {@link ENV_SETTINGS}, in declaration order, between the README markers. */
export function renderConfigTable(): string {
  const rows = Object.values(ENV_SETTINGS).map((s: EnvSetting<unknown>) => `| \`${s.env}\` | ${s.type} | ${defaultCell(s)} | ${s.usedBy} | ${s.doc} |`);
  return [CONFIG_TABLE_BEGIN, '| variable | type | default | read by | meaning |', '|---|---|---|---|---|', ...rows, CONFIG_TABLE_END].join('\n');
}

/** The generated table as it stands in `readme` (markers included), or undefined when the markers are missing. */
export function extractConfigTable(readme: string): string | undefined {
  const start = readme.indexOf(CONFIG_TABLE_BEGIN);
  const end = readme.indexOf(CONFIG_TABLE_END, start);
  return start < 0 || end < 0 ? undefined : readme.slice(start, end + CONFIG_TABLE_END.length);
}
