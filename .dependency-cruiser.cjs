/**
 * warren's layer rules, checked by `npm run lint:layers` (part of `npm test` and `npm run lint`).
 *
 *   composition roots  src/cli/ (every `warren` command), src/main.ts if it exists: may import anything;
 *                      nothing in src/ imports them.
 *   siblings           src/api/, src/worker/, src/dlq/: none imports another. What two of them share moves
 *                      down; what one needs from another is passed in by a composition root (e.g. the API's
 *                      /v1/dlq routes get src/dlq's operations from `warren start`, see src/api/dlq-operations.ts).
 *   lower layers       jobs, config, broker, errors, observability, llm, topology, util, consumer-modules:
 *                      never import a sibling or a composition root. errors and util import nothing else of warren.
 *   tools              fake-llm/ (top level): only src/cli may import it.
 *
 * The rules cover tests beside the code (*.test.ts) too: a test that reaches sideways couples the layers
 * just the same. A test of how two siblings fit together belongs with the composition root that joins them.
 */
const SIBLINGS = ['api', 'worker', 'dlq'];
const LOWER = ['jobs', 'config', 'broker', 'errors', 'observability', 'llm', 'topology', 'util', 'consumer-modules'];
const ROOTS = '^src/(cli/|main\\.ts$)';

const folder = (name) => `^src/${name}/`;
const anyOf = (names) => `^src/(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...SIBLINGS.map((name) => ({
      name: `${name}-not-to-siblings`,
      comment: `src/${name} imports another of api / worker / dlq. Move what they share down (jobs/, config/, broker/ ...) or have the composition root (src/cli) pass it in.`,
      severity: 'error',
      from: { path: folder(name) },
      to: { path: anyOf(SIBLINGS.filter((s) => s !== name)) },
    })),
    {
      name: 'nothing-to-composition-roots',
      comment: 'src/cli and src/main.ts wire everything together; nothing below them may import them.',
      severity: 'error',
      from: { path: '^src/', pathNot: ROOTS },
      to: { path: ROOTS },
    },
    {
      name: 'lower-not-to-upper',
      comment: `A lower layer (${LOWER.join(', ')}) imports api, worker, dlq or a composition root: the dependency must point down.`,
      severity: 'error',
      from: { path: anyOf(LOWER) },
      to: { path: `${anyOf(SIBLINGS)}|${ROOTS}` },
    },
    {
      name: 'errors-and-util-at-the-bottom',
      comment: 'src/errors and src/util are the bottom layer: they import nothing else of warren.',
      severity: 'error',
      from: { path: anyOf(['errors', 'util']) },
      to: { path: '^src/', pathNot: anyOf(['errors', 'util']) },
    },
    {
      name: 'fake-llm-only-from-cli',
      comment: 'The fake LLM (fake-llm/) is a tool for tests and demos; only `warren start` may start it in process.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^fake-llm/' },
    },
    {
      name: 'no-circular',
      comment: 'Modules that import each other, directly or through others: split out what both need.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: "An import that doesn't resolve: a typo, or a package that isn't installed.",
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports count: a type from a sibling couples the two just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
