// Lint: type-aware safety rules, plus the layering rule from design.md enforced by
// eslint-plugin-boundaries (imports point down the layer table; `core` imports nothing internal).
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';

/** Layers, lowest first. A layer may import only from layers listed in `mayImport`. */
const layers = [
  { type: 'core', mayImport: [] },
  { type: 'audit', mayImport: ['core'] },
  { type: 'sandbox', mayImport: ['core'] },
  { type: 'egress', mayImport: ['core'] },
  { type: 'policy', mayImport: ['core'] },
  { type: 'identity', mayImport: ['core', 'audit'] },
  { type: 'gateway', mayImport: ['core', 'audit', 'sandbox', 'egress', 'policy'] },
  { type: 'runtime', mayImport: ['core', 'audit', 'sandbox', 'egress', 'policy', 'gateway', 'identity'] },
  { type: 'demo', mayImport: ['core', 'audit', 'sandbox', 'egress', 'policy', 'gateway', 'identity', 'runtime'] },
  {
    type: 'cli',
    mayImport: ['core', 'audit', 'sandbox', 'egress', 'policy', 'gateway', 'identity', 'runtime', 'demo'],
  },
];

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
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
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
      '@typescript-eslint/no-restricted-imports': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
