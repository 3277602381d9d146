import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { TopologyError, type TopologyIssue } from '../errors/index.ts';
import { interpolateEnv } from './env-interpolation.ts';
import { topologySchema, type Topology } from './topology-schema.ts';
import { validateTopology, type ValidateOptions } from './validate-topology.ts';

/** Where a loaded topology came from, kept for messages and for finding `consumers/`. */
export interface LoadedTopology {
  topology: Topology;
  /** Absolute path of the file. */
  file: string;
  /** Folder of handler modules (`consumers/` beside the file). */
  consumersDir: string;
}

/** Options for {@link loadTopology} and {@link parseTopology}. */
export interface LoadOptions {
  /** Environment used for `${VAR}` interpolation. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Folder of handler modules. @default `consumers/` beside the file */
  consumersDir?: string;
  /** Check that each consumer's handler file exists. @default true */
  checkHandlers?: boolean;
  /** Known payload schema names, checked against routes. */
  schemaNames?: readonly string[];
}

type PathKey = string | number;

function joinPath(path: readonly PathKey[]): string {
  return path.map(String).join('.');
}

/** Finds the deepest node of `path` present in the document and returns its 1-based position. */
function locate(doc: Document, lines: LineCounter, path: readonly PathKey[]): { line: number; column: number } | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : (doc.getIn(path.slice(0, depth), true) as Node | undefined);
    // For a key that exists but whose value is null, point at the key itself.
    const range = node?.range ?? (depth > 0 ? keyRange(doc, path.slice(0, depth)) : undefined);
    if (range) {
      const pos = lines.linePos(range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return undefined;
}

function keyRange(doc: Document, path: readonly PathKey[]): [number, number, number] | undefined {
  const parent = path.length === 1 ? doc.contents : (doc.getIn(path.slice(0, -1), true) as Node | undefined);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
  return isScalar(pair?.key) ? (pair.key.range ?? undefined) : undefined;
}

/** The value at `path` in the parsed YAML, or undefined when absent. */
function valueAt(raw: unknown, path: readonly PathKey[]): unknown {
  let cur: unknown = raw;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PathKey, unknown>)[key];
  }
  return cur;
}

function zodIssueToTopologyIssue(issue: z.core.$ZodIssue, file: string, doc: Document, lines: LineCounter, raw: unknown): TopologyIssue {
  const path = issue.path.filter((p): p is PathKey => typeof p !== 'symbol');
  let message = issue.message;
  let at = path;
  // zod 4 leaves `issue.input` out unless asked, so look at the document to tell "missing" from "wrong".
  const missing = valueAt(raw, path) === undefined;
  if (issue.code === 'unrecognized_keys') {
    // Point at the first unknown key, and name them all.
    at = [...path, issue.keys[0] as string];
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  } else if (issue.code === 'invalid_type' && missing) {
    message = `is required (expected ${issue.expected})`;
  } else if (issue.code === 'invalid_value' && 'values' in issue) {
    const expected = issue.values.map((v) => JSON.stringify(v)).join(', ');
    message = missing ? `is required (expected ${expected})` : issue.values.length === 1 ? `must be ${expected}` : `must be one of ${expected}`;
  }
  // An unknown key is reported at the key itself, not at its value.
  const keyAt = issue.code === 'unrecognized_keys' ? keyRange(doc, at) : undefined;
  const position = keyAt ? lines.linePos(keyAt[0]) : undefined;
  return { path: joinPath(at), message, file, ...(position ? { line: position.line, column: position.col } : locate(doc, lines, at)) };
}

/**
 * Parses topology YAML text: YAML syntax, `${VAR}` interpolation, schema, then
 * cross-references. Throws one {@link TopologyError} listing every problem with
 * file, line, column and YAML path.
 */
export function parseTopology(text: string, file: string, options: LoadOptions = {}): LoadedTopology {
  const env = options.env ?? process.env;
  const consumersDir = options.consumersDir ?? join(dirname(resolve(file)), 'consumers');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });

  if (doc.errors.length > 0) {
    throw new TopologyError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { path: '', message: `YAML syntax error: ${(e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '')}`, file, ...(pos ? { line: pos.line, column: pos.col } : {}) };
      }),
      { code: 'TOPOLOGY_SYNTAX' },
    );
  }

  const envIssues: TopologyIssue[] = [];
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const result = interpolateEnv(node.value, env);
      if (result.missing.length > 0) {
        // Pairs give map keys; a sequence gives the index of the next node down (e.g. connection.urls.0).
        const yamlPath: PathKey[] = [];
        const chain: unknown[] = [...path, node];
        path.forEach((step, i) => {
          if (isSeq(step)) yamlPath.push(step.items.indexOf(chain[i + 1] as never));
          else if (isPair(step) && isScalar(step.key)) yamlPath.push(step.key.value as PathKey);
        });
        const pos = node.range ? lines.linePos(node.range[0]) : undefined;
        envIssues.push({
          path: joinPath(yamlPath),
          message: `environment variable ${result.missing.map((m) => `'${m}'`).join(', ')} is not set and has no default (write \${${result.missing[0]}:-default} to give one)`,
          file,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        });
      }
      // Keep the `${VAR}` text when a variable is missing: the file is rejected anyway, and a non-empty
      // placeholder lets the schema and reference checks run, so every other problem is reported too.
      if (result.missing.length === 0) node.value = result.value;
    },
  });

  const raw: unknown = doc.toJS() ?? {};
  const parsed = topologySchema.safeParse(raw);
  const issues: TopologyIssue[] = [...envIssues];
  // A missing variable leaves an empty string behind; the schema's complaint about it would only repeat the env issue.
  const envPaths = envIssues.map((i) => i.path);
  const followsFromEnv = (p: string) => envPaths.some((e) => p === e || p.startsWith(`${e}.`));
  if (!parsed.success) {
    issues.push(...parsed.error.issues.map((i) => zodIssueToTopologyIssue(i, file, doc, lines, raw)).filter((i) => !followsFromEnv(i.path)));
    throw new TopologyError(issues);
  }
  const validateOptions: ValidateOptions = {};
  if (options.checkHandlers !== false) validateOptions.consumersDir = consumersDir;
  if (options.schemaNames !== undefined) validateOptions.schemaNames = options.schemaNames;
  for (const s of validateTopology(parsed.data, validateOptions)) {
    const path = joinPath(s.path);
    if (!followsFromEnv(path)) issues.push({ path, message: s.message, file, ...locate(doc, lines, s.path) });
  }
  if (issues.length > 0) throw new TopologyError(issues);
  return { topology: parsed.data, file: resolve(file), consumersDir };
}

/** Reads and parses a topology file; a missing file is a {@link TopologyError} naming it. */
export function loadTopology(file: string, options: LoadOptions = {}): LoadedTopology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyError([{ path: '', message: `can't read topology file: ${(err as Error).message}`, file }], {
      cause: err,
      code: 'TOPOLOGY_NOT_FOUND',
    });
  }
  return parseTopology(text, file, options);
}
