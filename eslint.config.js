// ESLint: typescript-eslint's recommended rules over the engine, its tests,
// benches and scripts. Import cycles and the direction of imports between
// the layers of src/ are checked by scripts/layers.ts
// (test/unit/layers.test.ts), which knows the layers.
//
// typescript-eslint parses with TypeScript's compiler API, which TypeScript 7
// does not ship: package.json installs TypeScript 6 as `typescript` (the API;
// its compiler is `tsc6`) and TypeScript 7 as `@typescript/native`, whose
// `tsc` builds and type-checks.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // bench/results/: a bench's scratch builds; .vigil-test/: the test runtimes' data (image layers) and caches; .vm/: the kernel matrix's guests.
  { ignores: ['dist/', 'node_modules/', 'bpf/', 'daemonset/', 'bench/results/', '.vigil-test/', '.vm/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks what is left unused on purpose (an argument an interface passes, a key split off with ...rest).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Kubernetes objects and manifests as parsed JSON and YAML, walked freely by the fake API server and the tests of the manifests.
    files: ['test/support/kubernetes/fake-api-server.ts', 'test/unit/k8s/manifests.test.ts', 'test/unit/k8s/admission-policy.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The console's page: browser modules, type-checked by tsc against the DOM (tsconfig.web.json), which knows the browser's globals.
    files: ['web/**/*.js'],
    rules: { 'no-undef': 'off' },
  },
);
