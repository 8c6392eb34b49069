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
  // The example comment rule, and one the assistant answers (test/worker/comments.test.ts).
  COMMENT_RULES: JSON.stringify([
    { keywords: ['price'], private_reply: 'Here is our price list', public_replies: ['Sent you a DM!'] },
    { keywords: ['question', 'prompt', 'link'], private_reply: null },
  ]),
  // Most tests send several messages quickly and test something else than coalescing; the
  // coalescing tests turn it on for their own sender objects (test/conversation/burst.test.ts).
  COALESCE_WINDOW_MS: '0',
}

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      remoteBindings: false,
      miniflare: {
        bindings: TEST_BINDINGS,
        // A request no test stand-in answers (an alarm of an earlier test firing after that test
        // restored fetch, say) fails here like an unreachable host, instead of a DNS lookup of
        // graph.test that workerd reported as an uncaught "internal error" with a stack trace.
        outboundService: () => {
          throw new TypeError('no network in tests')
        },
      },
    }),
  ],
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**'],
    // The Worker's JSON log lines are shown for failing tests only: a passing run stays quiet.
    silent: 'passed-only',
  },
})
