import { prunedBy, type ApplyOptions } from './apply-plan.ts';
import { MANAGED_ARG } from './desired-state.ts';
import { summarizePlan, type PlanStep, type TopologyPlan } from './plan-step.ts';

/** Options of {@link formatPlan}. */
export interface FormatPlanOptions extends Pick<ApplyOptions, 'prune' | 'pruneQueues'> {
  /** ANSI colours (only when writing to a TTY). @default false */
  color?: boolean;
  /** How the file is named in the summary. @default topology.yaml */
  file?: string;
}

const CODES = { green: 32, yellow: 33, red: 31, magenta: 35, dim: 2, bold: 1 } as const;
type Color = keyof typeof CODES;

function painter(enabled: boolean): (color: Color, text: string) => string {
  return (color, text) => (enabled ? `\u001b[${CODES[color]}m${text}\u001b[0m` : text);
}

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'string') return value === '' ? '""' : value;
  return JSON.stringify(value);
}

function settings(record: Record<string, unknown>, skip: ReadonlySet<string> = new Set()): string {
  return Object.entries(record)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(', ');
}

const QUEUE_ARGS_SHOWN_ELSEWHERE = new Set([MANAGED_ARG, 'x-queue-type']);

function detail(step: PlanStep, options: FormatPlanOptions): string {
  switch (step.kind) {
    case 'create':
      switch (step.object) {
        case 'vhost':
          return '';
        case 'exchange': {
          const e = step.exchange;
          const flags = [e.type, e.durable ? '' : 'transient', e.autoDelete ? 'auto-delete' : '', e.internal ? 'internal' : ''].filter((f) => f !== '');
          const ae = e.arguments['alternate-exchange'];
          if (typeof ae === 'string') flags.push(`alternate-exchange ${ae}`);
          return `(${flags.join(', ')})`;
        }
        case 'queue': {
          const q = step.queue;
          const extra = settings(q.arguments, QUEUE_ARGS_SHOWN_ELSEWHERE);
          const role = q.role === 'retry-wait' ? ', retry wait queue' : q.role === 'job-events' ? ', job events' : q.role === 'job-history' ? ', job-history checkpoints' : q.role === 'ordered-partition' ? `, partition of ordered queue ${q.orderedQueue ?? ''}` : q.role === 'order-blocks' ? `, blocked keys of ordered queue ${q.orderedQueue ?? ''}` : '';
          return `(${q.type}${q.durable ? '' : ', transient'}${q.autoDelete ? ', auto-delete' : ''}${role}${extra === '' ? '' : `, ${extra}`})`;
        }
        case 'binding':
          return '';
        case 'policy':
          return settings(step.policy.definition);
      }
      return '';
    case 'update':
      if (step.policy === null) return `remove: queue ${step.queue} no longer sets ${step.changes.map((c) => c.field).join(', ')}`;
      return step.changes.map((c) => `${c.field}: ${show(c.actual)} -> ${show(c.desired)}`).join(', ');
    case 'cannot-change':
      return '';
    case 'extra': {
      const messages = step.object === 'queue' && step.queue.messages !== undefined ? `${step.queue.messages} message${step.queue.messages === 1 ? '' : 's'}; ` : '';
      if (prunedBy(step, options)) return `(${messages}will be deleted)`;
      const flag = step.object === 'queue' || step.object === 'exchange' ? '--prune-queues' : '--prune';
      return `(${messages}not in the file; apply ${flag} deletes it)`;
    }
  }
}

const SIGN = { create: '+', update: '~', 'cannot-change': '!', extra: '-' } as const;
const COLOR: Record<PlanStep['kind'], Color> = { create: 'green', update: 'yellow', 'cannot-change': 'red', extra: 'magenta' };

/** Renders a plan as a readable diff: `+` create, `~` update in place, `!` can't change, `-` extra on the broker. */
export function formatPlan(plan: TopologyPlan, options: FormatPlanOptions = {}): string {
  const paint = painter(options.color === true);
  const file = options.file ?? 'topology.yaml';
  const lines: string[] = [];
  for (const step of plan.steps) {
    const sign = SIGN[step.kind];
    const name = step.object === 'binding' ? step.name : step.name === '' ? '(default)' : step.name;
    const d = detail(step, options);
    const kept = step.kind === 'extra' && !prunedBy(step, options);
    const head = `${sign} ${step.object} ${name}`;
    lines.push(`  ${paint(kept ? 'dim' : COLOR[step.kind], head)}${d === '' ? '' : `  ${kept ? paint('dim', d) : d}`}`);
    if (step.kind === 'cannot-change') lines.push(`      ${paint('red', step.message)}`);
  }
  for (const w of plan.warnings) lines.push(`  ${paint('yellow', `warning: ${w.message}`)}`);

  const s = summarizePlan(plan);
  const toDelete = plan.steps.filter((st) => st.kind === 'extra' && prunedBy(st, options)).length;
  if (s.create + s.update + s.cannotChange + s.extra === 0) {
    lines.push(`No changes: vhost '${plan.vhost}' matches ${file}.`);
  } else {
    const parts = [`${s.create} to create`, `${s.update} to update in place`];
    if (s.cannotChange > 0) parts.push(paint('red', `${s.cannotChange} can't change (apply refuses until fixed)`));
    if (s.extra > 0) parts.push(`${s.extra} extra on the broker (${toDelete} to delete)`);
    lines.push('', `${paint('bold', 'Plan:')} ${parts.join(', ')}.`);
  }
  return lines.join('\n');
}
