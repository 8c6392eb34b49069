import { createApp } from './http/app'
import { readConfig } from './core/config'
import { createLogger } from './core/log'
export { SenderObject } from './conversation/sender'
export { AccountObject } from './conversation/account'

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
