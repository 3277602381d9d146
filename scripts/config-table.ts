// Prints the README's configuration table, generated from src/config/env-settings.ts.
// Paste its output over the table in README.md (src/config/config-table.test.ts fails until they match).
import { renderConfigTable } from '../src/config/config-table.ts';

process.stdout.write(`${renderConfigTable()}\n`);
