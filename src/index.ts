import { createApp } from './app'
import { readConfig } from './config'
import { createLogger } from './log'
export { SenderObject } from './sender'
export { AccountObject } from './account'

const app = createApp()

export default {
  fetch: app.fetch,
  /** Daily Cron Trigger: refresh the Instagram Login token well before it expires. */
  async scheduled(_controller, env, _ctx) {
    const log = createLogger({ component: 'cron' })
    const cfg = readConfig(env)
    if (!cfg.ok) {
      log.error('config_error', { message: cfg.message })
      return
    }
    const result = await env.ACCOUNT.getByName(cfg.config.IG_ACCOUNT_ID).refresh()
    log.info('token_refresh', { outcome: result.outcome, ...(result.reason ? { reason: result.reason } : {}) })
  },
} satisfies ExportedHandler<Env>
