import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first: lib, infra and db know nothing of auth, HTTP or features; auth/ decides
 * who may call (plain data) and knows nothing of HTTP or features; http/ renders and enforces it; modules/
 * are the features; app.ts, deps.ts, main.ts and cli.ts compose them. An import may only point down.
 * (File-level cycles are checked by madge in `npm run lint`.)
 */
const ROOT_FILES = ['**/app.js', '**/app-context.js', '**/deps.js', '**/main.js', '**/cli.js'];
/** The key store is the one writer of API keys (it keeps the caches and the digest filter exact): nothing else reaches their SQL. */
const KEY_REPO = { group: ['**/api-key-repo.js'], allowTypeImports: true, message: 'API keys are written only through the key store (api-key-store.ts).' };
const restrictImports = (files, patterns, ignores = []) => ({ files, ignores, rules: { 'no-restricted-imports': ['error', { patterns }] } });
const layer = (name, files, forbidden) =>
  restrictImports(files, [{ group: forbidden, message: `${name} may not import from a higher layer (see eslint.config.js).` }, KEY_REPO]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'src/sdk/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['src/main.ts', 'src/cli.ts', 'scripts/**', 'bin/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Every SQL statement lives in its module's repository (*-repo.ts), or in db/ (dialects, migrations, keyset).
    files: ['src/**/*.ts'],
    ignores: ['src/**/*-repo.ts', 'src/db/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.property.name=/^(selectFrom|selectNoFrom|insertInto|replaceInto|updateTable|deleteFrom|mergeInto|executeQuery)$/]',
          message: "SQL belongs in the module's *-repo.ts (or src/db/).",
        },
        { selector: "TaggedTemplateExpression[tag.name='sql']", message: "SQL belongs in the module's *-repo.ts (or src/db/)." },
        { selector: "MemberExpression[object.name='sql']", message: "SQL belongs in the module's *-repo.ts (or src/db/)." },
      ],
    },
  },
  layer('src/lib', ['src/lib/**'], ['**/config.js', '**/infra/**', '**/db/**', '**/auth/**', '**/http/**', '**/modules/**', ...ROOT_FILES]),
  layer('src/infra', ['src/infra/**'], ['**/db/**', '**/auth/**', '**/http/**', '**/modules/**', ...ROOT_FILES]),
  layer('src/db', ['src/db/**'], ['**/infra/**', '**/auth/**', '**/http/**', '**/modules/**', ...ROOT_FILES]),
  layer('src/auth', ['src/auth/**'], ['**/db/**', '**/infra/**', '**/http/**', '**/modules/**', ...ROOT_FILES]),
  layer('src/http', ['src/http/**'], ['**/infra/**', '**/modules/**', ...ROOT_FILES]),
  layer('src/modules', ['src/modules/**'], ROOT_FILES),
  restrictImports(['src/modules/api-keys/api-key-store.ts'], [{ group: ROOT_FILES, message: 'src/modules may not import from a higher layer (see eslint.config.js).' }]),
  restrictImports(['src/*.ts', 'test/**'], [KEY_REPO]),
  // The SDK is published on its own (skaledata-control-plane/sdk): it knows the API only through the
  // generated types. The CLI's client commands use the SDK, never the server's code.
  restrictImports(['src/sdk/**'], [{ group: ['../*', '!../sdk/**'], message: 'src/sdk stands alone: it may import only from src/sdk (and its dependencies).' }]),
  restrictImports(['src/cli/**'], [
    { group: ['**/lib/**', '**/config.js', '**/infra/**', '**/db/**', '**/auth/**', '**/http/**', '**/modules/**', ...ROOT_FILES], message: "The CLI's client commands talk to the API through src/sdk only." },
  ]),
);
