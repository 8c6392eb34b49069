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
    const home = env.ACCOUNT.getByName(cfg.config.IG_ACCOUNT_ID)
    const result = await home.refresh()
    log.info('token_refresh', { outcome: result.outcome, ...(result.reason ? { reason: result.reason } : {}) })
    // Accounts connected on the operator page keep their own tokens; refresh those as well.
    for (const { userId } of await home.connections()) {
      if (userId === cfg.config.IG_ACCOUNT_ID) continue
      const r = await env.ACCOUNT.getByName(userId).refresh()
      log.info('token_refresh', { outcome: r.outcome, connected: true, ...(r.reason ? { reason: r.reason } : {}) })
    }
  },
} satisfies ExportedHandler<Env>
