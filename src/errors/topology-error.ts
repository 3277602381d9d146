import { WarrenError } from './warren-error.ts';

/** One problem found in a topology file, located as precisely as we can. */
export interface TopologyIssue {
  /** YAML path joined with dots, e.g. `queues.llm.realtime.deadLetter.exchange`. */
  path: string;
  message: string;
  file?: string;
  /** 1-based line, when the node exists in the file. */
  line?: number;
  /** 1-based column. */
  column?: number;
}

/** Formats one issue as `file:line:col: path: message`. */
export function formatTopologyIssue(issue: TopologyIssue): string {
  const where = [issue.file, issue.line, issue.column].filter((x) => x !== undefined).join(':');
  const path = issue.path === '' ? '' : `${issue.path}: `;
  return `${where === '' ? '' : `${where}: `}${path}${issue.message}`;
}

/** The topology file is unreadable or invalid; carries every issue found at once. */
export class TopologyError extends WarrenError {
  override readonly name = 'TopologyError';
  readonly issues: TopologyIssue[];

  constructor(issues: TopologyIssue[], options: { cause?: unknown; code?: string } = {}) {
    const head = issues.length === 1 ? 'topology is invalid' : `topology is invalid (${issues.length} problems)`;
    super(options.code ?? 'TOPOLOGY_INVALID', `${head}:\n${issues.map((i) => `  - ${formatTopologyIssue(i)}`).join('\n')}`, {
      cause: options.cause,
      details: issues,
    });
    this.issues = issues;
  }
}
