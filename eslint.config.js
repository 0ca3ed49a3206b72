import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.stack/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // The bundle leaves out got's HTTP/2 transport (http2-wrapper, scripts/build/bundle-options.ts):
    // a request with got's `http2` option would find it missing at run time.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "Property[key.name='http2']",
          message: "the bundle leaves out got's HTTP/2 transport (scripts/build/bundle-options.ts)",
        },
      ],
    },
  },
  {
    // The engine tests test the agent as `npm run build` ships it: they take what
    // src/agent-entry.ts exports from the bundle (test/helpers/shipped-agent.ts). An import of one
    // of those modules from src/ would quietly test the sources instead. Types are fine.
    files: ['test/engine/**/*.ts', 'test/helpers/agent.ts', 'test/helpers/docker.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '/src/(agent/start-agent|agent/instance-lock|config/load|engine/docker-engine|engine/errors|host/trusted-dirs|util/errors|util/logger)\\.js$',
              allowTypeImports: true,
              message: 'engine tests take this from the bundle: test/helpers/shipped-agent.ts',
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard's files run in the browser (type-checked by tsconfig.dashboard.json).
    files: ['src/fleet/dashboard/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        window: 'readonly',
        location: 'readonly',
        sessionStorage: 'readonly',
        fetch: 'readonly',
        Response: 'readonly',
        TextDecoderStream: 'readonly',
        Event: 'readonly',
        EventListener: 'readonly',
        HTMLElement: 'readonly',
        HTMLInputElement: 'readonly',
        HTMLButtonElement: 'readonly',
        Node: 'readonly',
        performance: 'readonly',
      },
    },
  },
);
