/**
 * The Worker's HTTP surface. Routes only wire: read, verify, parse, hand on, respond.
 * The order in POST /webhook is the security contract: size cap, raw bytes, signature,
 * then (and only then) JSON and schema parsing.
 */
// The tiny preset is the same Hono with PatternRouter instead of RegExpRouter + TrieRouter: 2.3 KiB
// gzip less bundle (the bench's budget), and matching our two dozen routes one regex each costs
// microseconds. Every module that builds routes uses it, or the default routers come back.
import { Hono } from 'hono/tiny'
import { MAX_WEBHOOK_BYTES, readBodyCapped } from './body'
import { safeEqual } from '../core/compare'
import { appSecrets, readConfig } from '../core/config'
import { createLogger, rollUp, sampledError, sampledWarn, type Logger } from '../core/log'
import { verifySignature } from '../meta/signature'
import { parseWebhook } from '../meta/webhook'
import { forgetCachedToken } from '../conversation/deps'
import { handleDelivery } from '../conversation/ingest'
import { eraseUser, getDeletion, saveDeletion } from '../conversation/erase'
import { createMetaCallbacks } from './meta-callbacks'
import { healthz } from './healthz'
import { createAdminRoutes } from './admin'
import { count } from '../core/metrics'
import { createOperatorRoutes } from './operator'
// The named import lets the bundler keep only the version, not all of package.json (2 KiB).
import { version } from '../../package.json'

export const VERSION: string = version

type AppEnv = { Bindings: Env; Variables: { log: Logger } }

export function createApp() {
  const app = new Hono<AppEnv>()

  app.use(async (c, next) => {
    const ray = c.req.header('cf-ray')
    c.set('log', createLogger(ray ? { request_id: ray } : {}))
    await next()
  })

  app.get('/webhook', async (c) => {
    const log = c.get('log')
    const cfg = readConfig(c.env)
    if (!cfg.ok) {
      sampledError(log, 'config_error', { message: cfg.message })
      return c.text('Service Unavailable', 503)
    }
    const mode = c.req.query('hub.mode')
    const token = c.req.query('hub.verify_token') ?? ''
    const challenge = c.req.query('hub.challenge')
    const tokenOk = await safeEqual(token, cfg.config.VERIFY_TOKEN)
    if (mode === 'subscribe' && tokenOk && challenge !== undefined && challenge.length <= 256) {
      log.info('subscription_verified')
      return c.text(challenge, 200)
    }
    sampledWarn(log, 'subscription_rejected', { mode_ok: mode === 'subscribe', token_ok: tokenOk })
    return c.text('Forbidden', 403)
  })

  app.post('/webhook', async (c) => {
    const started = Date.now()
    const log = c.get('log')
    const cfg = readConfig(c.env)
    if (!cfg.ok) {
      // 503 makes Meta redeliver later, so nothing is lost while the Worker is misconfigured.
      sampledError(log, 'config_error', { message: cfg.message })
      return c.text('Service Unavailable', 503)
    }
    const body = await readBodyCapped(c.req.raw, MAX_WEBHOOK_BYTES)
    if (!body.ok) {
      sampledWarn(log, 'webhook_too_large')
      return c.text('Payload Too Large', 413)
    }
    const header = c.req.header('x-hub-signature-256')
    if (!(await verifySignature(body.bytes, header, appSecrets(cfg.config)))) {
      count(c.env, 'signature_rejected')
      sampledWarn(log, 'signature_rejected', {
        reason: header ? 'mismatch_or_malformed' : 'missing_header',
        sha1_header_only: !header && c.req.header('x-hub-signature') !== undefined,
        bytes: body.bytes.byteLength,
      })
      return c.text('Unauthorized', 401)
    }
    let json: unknown
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body.bytes))
    } catch {
      log.warn('webhook_bad_json', { bytes: body.bytes.byteLength })
      return c.text('Bad Request', 400)
    }
    const parsed = parseWebhook(json)
    if (!parsed.ok) {
      log.warn('webhook_bad_shape', { reason: parsed.reason })
      return c.text('Bad Request', 400)
    }
    const { webhook } = parsed
    // A few examples are enough to debug a bad sender; a junk batch must not flood the logs.
    for (const s of webhook.skipped.slice(0, 5)) log.warn('webhook_item_skipped', { entry: s.entry, item: s.item, reason: s.reason })
    if (webhook.object !== 'instagram') {
      log.info('webhook_object_not_handled', { object: webhook.object.slice(0, 32) })
      return c.text('EVENT_RECEIVED', 200)
    }
    count(c.env, 'received', webhook.events.length)
    const outcome = await handleDelivery(
      { env: c.env, config: cfg.config, log, waitUntil: (p) => c.executionCtx.waitUntil(p) },
      webhook.events
    )
    // Under load one line a minute per isolate stands for many deliveries (their counts summed);
    // a delivery answered 503 is written at once, as a warning.
    rollUp(log, 'webhook_received', {
      level: outcome.ok ? 'info' : 'warn',
      unit: 'deliveries',
      counts: { events: webhook.events.length, skipped: webhook.skipped.length, bytes: body.bytes.byteLength, ...outcome.counts },
      fields: { ack_ms: Date.now() - started },
    })
    if (!outcome.ok) return c.text('Service Unavailable', 503)
    return c.text('EVENT_RECEIVED', 200)
  })

  app.get('/healthz', (c) => healthz(c, VERSION))

  app.route('/', createAdminRoutes<AppEnv>())

  app.route(
    '/',
    createMetaCallbacks<AppEnv>((c) => {
      const cfg = readConfig(c.env)
      if (!cfg.ok) {
        sampledError(c.get('log'), 'config_error', { message: cfg.message })
        return null
      }
      const env = c.env
      return {
        secrets: appSecrets(cfg.config),
        now: () => Date.now(),
        log: c.get('log'),
        hashKey: cfg.config.APP_SECRET,
        eraseUser: (userId) => eraseUser(env, cfg.config, userId),
        // Only the account this Worker serves; anyone else removing the app changes nothing here.
        isServedAccount: (userId) => userId === (cfg.config.OWNER_USER_ID ?? cfg.config.IG_ACCOUNT_ID),
        deauthorize: async () => {
          await env.ACCOUNT.getByName(cfg.config.IG_ACCOUNT_ID).deauthorize(Date.now(), cfg.config.IG_ACCESS_TOKEN)
          forgetCachedToken(cfg.config.IG_ACCOUNT_ID)
        },
        saveDeletion: (code, rec) => saveDeletion(env.DEDUP, code, rec),
        getDeletion: (code) => getDeletion(env.DEDUP, code),
      }
    })
  )

  app.route('/', createOperatorRoutes())

  app.notFound((c) => c.text('Not Found', 404))
  app.onError((err, c) => {
    // Generic body; the log line carries the class of error, never request content.
    createLogger().error('unhandled_error', { error: err instanceof Error ? err.name : 'unknown' })
    return c.text('Internal Server Error', 500)
  })
  return app
}
