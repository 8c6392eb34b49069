import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

// Test-only values; real secrets live in `.dev.vars` or `wrangler secret put`.
export const TEST_BINDINGS = {
  APP_SECRET: 'test-app-secret',
  VERIFY_TOKEN: 'test-verify-token',
  IG_ACCESS_TOKEN: 'test-ig-token',
  OPENAI_API_KEY: 'test-openai-key',
  GRAPH_API_BASE: 'https://graph.test',
  OPENAI_BASE_URL: 'https://llm.test/v1',
}

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      remoteBindings: false,
      miniflare: { bindings: TEST_BINDINGS },
    }),
  ],
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**'],
  },
})
