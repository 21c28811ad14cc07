// Type-aware lint: no floating promises, no `any`, strict TS idioms.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const BROWSER_GLOBALS = Object.fromEntries(
  [
    "window",
    "document",
    "location",
    "navigator",
    "sessionStorage",
    "fetch",
    "console",
    "addEventListener",
    "removeEventListener",
    "setInterval",
    "clearInterval",
    "setTimeout",
    "clearTimeout",
    "URL",
    "URLSearchParams",
    "Event",
    "HTMLElement",
    "AbortController",
    "TextDecoderStream",
    "confirm",
  ].map((name) => [name, "readonly"]),
);

export default tseslint.config(
  {
    ignores: [
      "dist/",
      "node_modules/",
      "coverage/",
      "test/fixtures/",
      "bench/.cache/",
      "samples/",
      "*.js",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/it return promises the runner awaits itself.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unnecessary-condition": "off",
    },
  },
  // The dashboard's browser modules: plain ES modules outside the TypeScript
  // project, checked by js.configs.recommended and exercised by the browser tests.
  {
    files: ["src/web/assets/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: "module",
      globals: BROWSER_GLOBALS,
    },
  },
);
