/** Layer rules for the source tree, checked by `npm run lint:deps` (part of `npm test`); see docs/architecture.md. */
// dependency-cruiser loads its configuration as CommonJS.
/* eslint-disable @typescript-eslint/no-require-imports */

/** The worker and child-process programs, from their one list (src/main/programs.json, read by programs.ts too). */
const PROGRAM_ENTRY_POINTS = Object.values(require('./src/main/programs.json')).map((file) => `^${file.replace(/[.]/g, '\\.')}$`);

/**
 * Where the product starts: the builds' entries (electron.vite.config.ts) and programs started on their own (a
 * worker or child process whose file is its entry). A new program goes in src/main/programs.json, which feeds
 * both the build (through PROGRAMS in programs.ts) and this list.
 */
const PRODUCT_ENTRY_POINTS = [
  '^src/main/(electron|headless)\\.ts$',
  '^src/client/(cli/main|index)\\.ts$',
  '^src/preload/index\\.ts$',
  '^src/renderer/src/main\\.tsx$',
  ...PROGRAM_ENTRY_POINTS,
];

/** Files nobody imports on purpose: the product's entry points, tests, benchmarks, scripts and config files. */
const ENTRY_POINTS = [
  ...PRODUCT_ENTRY_POINTS,
  '^(test|e2e|bench|scripts|bin)/',
  '(^|/)\\.[^/]+\\.(js|cjs|mjs|ts|json)$',
  '(^|/)[^/]+\\.config\\.(js|ts)$',
  '\\.d\\.(c|m)?ts$',
];

const COMPOSITION_ROOT = '^src/main/app(\\.ts$|/)';

module.exports = {
  forbidden: [
    {
      name: 'shared-imports-no-app-layer',
      comment: 'src/shared is the bottom layer: main, client, renderer and preload build on it, never the reverse.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/(main|client|renderer|preload)/' },
    },
    {
      name: 'client-imports-only-shared',
      comment: "src/client (the agents' library and the CLI) runs without the hub: it imports only src/shared.",
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|shared)/' },
    },
    {
      name: 'renderer-imports-only-shared',
      comment: 'The cockpit talks to the hub only through the contract in src/shared.',
      severity: 'error',
      from: { path: '^src/renderer/' },
      to: { path: '^src/', pathNot: '^src/(renderer|shared)/' },
    },
    {
      name: 'renderer-no-node',
      comment: 'The cockpit runs in a browser: no Node built-ins, and nothing from src/shared/node/.',
      severity: 'error',
      from: { path: '^src/renderer/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'renderer-no-node-shared',
      comment: 'src/shared/node/ holds Node-only helpers; the cockpit runs in a browser.',
      severity: 'error',
      from: { path: '^src/renderer/' },
      to: { path: '^src/shared/node/' },
    },
    {
      name: 'preload-imports-only-shared-and-electron',
      comment: 'The sandboxed preload bridges the contract to Electron IPC and nothing else.',
      severity: 'error',
      from: { path: '^src/preload/' },
      to: { pathNot: ['^src/(preload|shared)/', '^node_modules/electron/'] },
    },
    {
      name: 'vector-imports-no-memory',
      comment: 'Vector search is below the memory service: memory uses vector, never the reverse.',
      severity: 'error',
      from: { path: '^src/main/vector/' },
      to: { path: '^src/main/memory/' },
    },
    {
      name: 'extract-imports-only-shared',
      comment: 'Text extraction is pure text code: it imports only src/shared (and packages).',
      severity: 'error',
      from: { path: '^src/main/extract/' },
      to: { path: '^src/', pathNot: '^src/(main/extract|shared)/' },
    },
    {
      name: 'composition-root-only-from-entries',
      comment: 'app.ts and src/main/app/ wire the services together; only the entry points and tests import them.',
      severity: 'error',
      from: { pathNot: [COMPOSITION_ROOT, '^src/main/(electron|headless)\\.ts$', '^(test|e2e|bench)/'] },
      to: { path: COMPOSITION_ROOT },
    },
    {
      name: 'no-circular',
      comment: 'Import circles hide which module is the lower one; break them with a type in its own file.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A file with no imports in or out is dead code, unless it is an entry point, a test, a script or a config.',
      severity: 'error',
      from: { orphan: true, pathNot: ENTRY_POINTS },
      to: {},
    },
    {
      name: 'no-unreachable-source',
      comment:
        'Every file under src/ is reachable from an entry point of the product (tests do not count): ' +
        'a file only tests import is dead code, or an entry point missing from PRODUCT_ENTRY_POINTS.',
      severity: 'error',
      from: { path: PRODUCT_ENTRY_POINTS },
      to: { path: '^src/', pathNot: [...PRODUCT_ENTRY_POINTS, '\\.d\\.(c|m)?ts$'], reachable: false },
    },
    {
      name: 'not-to-dev-dep',
      comment:
        'Code that runs in the installed app (main, client, shared, preload, bin/ and the scripts npm start and the ' +
        'hub use) must not need devDependencies. The renderer is bundled at build time, so its packages are build inputs.',
      severity: 'error',
      from: {
        path: ['^src/', '^scripts/', '^bin/'],
        pathNot: [
          '^src/renderer/',
          // Used only when running from sources (vitest, tsx, bench): registers tsx; the built app starts its
          // programs from out/main/ (src/main/programs.ts).
          '^scripts/program-loader\\.mjs$',
          // Development tools: regenerate dots-wasm.ts from dots.wat (wabt).
          '^scripts/wasm/',
        ],
      },
      // Electron is the one exception: the Electron binary provides the module at run time, and packagers require
      // it among the devDependencies. Which files may import it is the next rule.
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: '^node_modules/electron/' },
    },
    {
      name: 'electron-only-in-the-shell',
      comment: 'Only the window shell (src/main/electron.ts) and the preload use Electron; the hub runs without it.',
      severity: 'error',
      from: { pathNot: ['^src/main/electron\\.ts$', '^src/preload/', '^(test|e2e|bench|scripts)/', '(^|/)[^/]+\\.config\\.(js|ts)$'] },
      to: { path: '^node_modules/electron/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve to a file or an installed package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      comment: 'Every package imported must be declared in package.json.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules may be a symlink (worktrees share one); keep its path so package rules match.
    preserveSymlinks: true,
    exclude: { path: '^(out|native/build|resources|test-results|playwright-report|bench/results)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
