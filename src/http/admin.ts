/**
 * Operator routes, closed unless ADMIN_TOKEN is set and sent as `Authorization: Bearer …`.
 *
 * POST /admin/erase {"user": "<IGSID>"}: erases everything stored about one Instagram user (a DM
 * sender asking the business to delete their data; Meta's deletion callback only reaches people
 * who authorized the app). The same erasure as the callback: every sender object of that user and
 * their KV keys, with the late-write sweep (see conversation/sweep.ts).
 */
import { Hono } from 'hono/tiny'
import { bearerMatches } from './auth'
import { readBodyCapped } from './body'
import { readConfig } from '../core/config'
import { hashId, sampledWarn, type Logger } from '../core/log'
import { eraseUser } from '../conversation/erase'

/** Instagram-scoped ids are decimal numbers; anything else is not a user this bot has seen. */
const USER_ID = /^[0-9]{1,32}$/
const MAX_BODY_BYTES = 1024

export function createAdminRoutes<E extends { Bindings: Env; Variables: { log: Logger } }>(): Hono<E> {
  const app = new Hono<E>()

  app.post('/admin/erase', async (c) => {
    const log = c.get('log')
    const cfg = readConfig(c.env)
    if (!cfg.ok) return c.text('Service Unavailable', 503)
    if (!(await bearerMatches(c.req.header('authorization'), cfg.config.ADMIN_TOKEN))) {
      sampledWarn(log, 'admin_erase', { outcome: 'rejected', reason: cfg.config.ADMIN_TOKEN ? 'bad_token' : 'not_configured' })
      return c.text('Unauthorized', 401)
    }
    const body = await readBodyCapped(c.req.raw, MAX_BODY_BYTES)
    let user: unknown
    try {
      user = body.ok ? (JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body.bytes)) as { user?: unknown }).user : undefined
    } catch {
      user = undefined
    }
    if (typeof user !== 'string' || !USER_ID.test(user)) {
      log.warn('admin_erase', { outcome: 'rejected', reason: 'bad_user' })
      return c.text('Bad Request', 400)
    }
    const hashed = await hashId(user, cfg.config.APP_SECRET)
    try {
      await eraseUser(c.env, cfg.config, user)
    } catch (err) {
      log.error('admin_erase', { outcome: 'failed', user: hashed, error: err instanceof Error ? err.name : 'unknown' })
      return c.text('Internal Server Error', 500)
    }
    log.info('admin_erase', { outcome: 'completed', user: hashed })
    return c.json({ erased: true, user: hashed })
  })

  return app
}
