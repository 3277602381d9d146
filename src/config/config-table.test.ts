import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_SETTINGS } from './env-settings.ts';
import { extractConfigTable, renderConfigTable } from './config-table.ts';

describe('the README configuration table', () => {
  it('is exactly what scripts/config-table.ts generates from the declaration (re-run it and paste when this fails)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(extractConfigTable(readme)).toBe(renderConfigTable());
  });

  it('has one row per declared setting, with its variable, default and doc', () => {
    const rows = renderConfigTable().split('\n').filter((l) => l.startsWith('| `'));
    expect(rows).toHaveLength(Object.keys(ENV_SETTINGS).length);
    expect(rows).toContain(`| \`WARREN_DLQ_MAX_REQUEUES\` | integer >= 0 | \`5\` | \`warren dlq\`, \`warren start\` (\`/v1/dlq\`) | ${ENV_SETTINGS.dlqMaxRequeues.doc} |`);
  });

  it('notices a README table that differs from the declaration', () => {
    const table = renderConfigTable();
    const edited = table.replace('| `8080` |', '| `8081` |');
    expect(edited).not.toBe(table);
    expect(extractConfigTable(`# warren\n\n${edited}\n`)).not.toBe(table);
    expect(extractConfigTable('# warren without the table\n')).toBeUndefined();
  });
});
