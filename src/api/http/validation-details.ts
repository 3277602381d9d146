import type { z } from 'zod';

/** One failing field of a request body. */
export interface FieldProblem {
  /** Dotted path into the body, e.g. `messages.0.role`; `(root)` for the body itself. */
  path: string;
  message: string;
  /** zod issue code, e.g. `invalid_type`, `unrecognized_keys`. */
  code: string;
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map((p) => String(p)).join('.');
}

/** zod says only "Invalid input" for a failed union; name the accepted types when every branch failed on the type. */
function unionMessage(issue: z.core.$ZodIssueInvalidUnion): string {
  const firsts = issue.errors.map((branch) => branch[0]);
  const expected = firsts.map((f) => (f?.code === 'invalid_type' && f.path.length === 0 ? f.expected : undefined));
  if (expected.length > 0 && expected.every((e) => e !== undefined)) {
    const received = firsts[0]?.message.match(/received (\w+)/)?.[1];
    return `Invalid input: expected ${[...new Set(expected)].join(' or ')}${received ? `, received ${received}` : ''}`;
  }
  return issue.message;
}

/** Every failing field of a zod error (unknown keys listed one by one), with an optional path prefix such as `jobs.3`. */
export function zodProblems(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    const base = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: joinPath([...base, key]), message: 'unknown field', code: issue.code });
    } else if (issue.code === 'invalid_union') {
      out.push({ path: joinPath(base), message: unionMessage(issue), code: issue.code });
    } else {
      out.push({ path: joinPath(base), message: issue.message, code: issue.code });
    }
  }
  return out;
}
