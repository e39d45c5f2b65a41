// Lint: type-aware safety rules, plus the layering rule from design.md enforced by
// eslint-plugin-boundaries (imports point down the layer table; `core` imports nothing internal).
// test/lint/layers.test.ts lints fixtures with forbidden imports and expects this rule to fire.
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';

/** Every layer below the composition layers (runtime, demo, cli), which may compose all of them. */
const CAPABILITIES = [
  'core',
  'audit',
  'sandbox',
  'egress',
  'policy',
  'scan',
  'gateway',
  'identity',
  'registry',
  'secrets',
];

/**
 * Layers, lowest first. A layer may import only from layers listed in `mayImport`: the capability
 * layers list what their code needs, the composition layers (runtime, demo, cli) what they compose.
 * docs/architecture.md shows this table; change both together.
 */
const layers = [
  { type: 'core', mayImport: [] },
  { type: 'audit', mayImport: ['core'] },
  { type: 'sandbox', mayImport: ['core'] },
  { type: 'egress', mayImport: ['core'] },
  { type: 'policy', mayImport: ['core'] },
  // The scanners are pure functions over values (no I/O, like core), so any layer can run them.
  { type: 'scan', mayImport: ['core'] },
  // The signing key comes from the caller (runtime/signing-keys.ts), not from the audit key file.
  { type: 'identity', mayImport: ['core'] },
  // Sandboxes, proxies and the audit log reach the gateway through core interfaces, composed by runtime.
  { type: 'gateway', mayImport: ['core', 'policy', 'scan'] },
  // The catalog, the package store and the typosquat check: files and npm, nothing of the others.
  { type: 'registry', mayImport: ['core'] },
  // The secret store and its providers: files, the environment, Vault over HTTP.
  { type: 'secrets', mayImport: ['core'] },
  { type: 'runtime', mayImport: CAPABILITIES },
  { type: 'demo', mayImport: [...CAPABILITIES, 'runtime'] },
  { type: 'cli', mayImport: [...CAPABILITIES, 'runtime', 'demo'] },
];

/** Node modules that do I/O, which `core` may not import. */
const coreForbiddenModules = [
  'fs',
  'fs/promises',
  'child_process',
  'net',
  'dgram',
  'dns',
  'http',
  'https',
  'http2',
  'tls',
  'readline',
  'tty',
  'worker_threads',
  'cluster',
];
const coreNoIo =
  'core does no I/O (design.md), nor does scan: do it in the layer that calls them, and pass them the result.';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/.work/**', 'eslint.config.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { boundaries },
    settings: {
      'boundaries/elements': layers.map((l) => ({ type: l.type, pattern: `src/${l.type}/**` })),
      'boundaries/include': ['src/**/*.ts'],
      // Every way one module reaches another: static imports, lazy import() (the runtime loads the
      // gateway that way) and re-exports (each layer's index.ts). The default checks only the first.
      'boundaries/dependency-nodes': ['import', 'dynamic-import', 'export'],
      // The code imports `./x.js` where the file is `x.ts` (NodeNext): only a TypeScript-aware
      // resolver maps that, and a dependency it cannot resolve is one the boundaries rule never checks.
      'import/resolver': { typescript: { project: 'tsconfig.json' } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only (design.md convention 2).' },
      ],
      // The zod schema costs ~10 ms to build: only the lazily loaded parser may load it at run time.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/core/config.js', './config.js'],
              allowTypeImports: true,
              message: 'Import values from core/config-defaults.js; the schema loads lazily (start-up time).',
            },
          ],
        },
      ],
      'boundaries/element-types': [
        'error',
        {
          default: 'disallow',
          rules: layers.map((l) => ({ from: l.type, allow: [l.type, ...l.mayImport] })),
        },
      ],
      // A folder missing from the table would escape the rule: every file under src/ must be in a layer,
      // and library code may not import files outside src/ (test kits, fixtures, scripts).
      'boundaries/no-unknown-files': 'error',
      'boundaries/no-unknown': 'error',
      'boundaries/no-ignored': 'error',
    },
  },
  {
    // core is pure (design.md): no file, process, network or terminal I/O. It may compute (crypto,
    // path and URL helpers); whatever it produces is written by the layers above.
    // scan likewise: the gateway runs it on every listing and result.
    files: ['src/core/**/*.ts', 'src/scan/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: coreForbiddenModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: coreNoIo })),
        },
      ],
      'no-restricted-properties': [
        'error',
        ...['stdin', 'stdout', 'stderr', 'exit', 'kill', 'on', 'once', 'chdir'].map((property) => ({
          object: 'process',
          property,
          message: coreNoIo,
        })),
      ],
    },
  },
  {
    // Plain JavaScript entry points and build scripts: not in the TypeScript project.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // CommonJS entry points (bin/warden.cjs: a CommonJS entry starts faster than an ES module).
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The lazily loaded config parser and the schema's own module may use the schema.
    files: ['src/runtime/config-parse.ts', 'src/core/config.ts', 'src/core/config-defaults.ts', 'src/cli/main.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': 'off' },
  },
  {
    // Tools' config files must default-export.
    files: ['vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Tests, benchmarks and scripts compose freely; they are not part of the layered library.
    files: ['test/**', 'bench/**', 'scripts/**', '**/*.test.ts', 'vitest.config.ts'],
    rules: {
      'boundaries/element-types': 'off',
      'boundaries/no-ignored': 'off',
      '@typescript-eslint/no-restricted-imports': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
