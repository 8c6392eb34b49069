/**
 * Meta's data-deletion and deauthorize callbacks (App Dashboard URLs), as a Hono sub-app. Both
 * carry a `signed_request` form field that is verified before anything else; the storage work
 * is injected so the Durable Objects and KV stay with the app. See meta-instagram.md §9.
 */
import { Hono } from 'hono/tiny'
import type { Context, Env as HonoEnv } from 'hono'
import type { BlankEnv } from 'hono/types'
import { readBodyCapped } from './body'
import { hashId, sampledWarn, type Logger } from '../core/log'
import { parseSignedRequest, type SignedRequestFailure } from '../meta/signed-request'
import type { DeletionRecord } from '../conversation/erase'

export type { DeletionRecord }

export interface MetaCallbackDeps {
  /** App secrets a signed_request may be made with (current first, previous, Instagram app). */
  secrets: string[]
  now(): number
  log: Logger
  /** Key for `hashId` so log lines can name the user without revealing the id. */
  hashKey: string
  /** Deletes everything stored about this app-scoped user id. Must be idempotent. */
  eraseUser(userId: string): Promise<void>
  /** Whether a user id is the account this Worker serves (the only one whose removal counts). */
  isServedAccount(userId: string): boolean
  /** The account owner removed the app: stop using its token. Must be idempotent. */
  deauthorize(userId: string): Promise<void>
  saveDeletion(code: string, rec: DeletionRecord): Promise<void>
  getDeletion(code: string): Promise<{ status: string; at: number } | null>
  /** Origin for the status URL (https://bot.example.com); defaults to the request's origin. */
  publicOrigin?: string
  maxAgeSeconds?: number
}

/** Real bodies are a few hundred bytes. */
export const MAX_CALLBACK_BYTES = 16 * 1024
export const CONFIRMATION_CODE_LENGTH = 22
const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const CODE_PATTERN = /^[A-Za-z0-9]{16,64}$/

/**
 * An alphanumeric confirmation code from the CSPRNG: 22 characters of 62 is about 131 bits, so
 * status URLs cannot be enumerated. Rejection sampling keeps every character equally likely.
 */
export function confirmationCode(length = CONFIRMATION_CODE_LENGTH): string {
  let code = ''
  const limit = 256 - (256 % CODE_ALPHABET.length)
  while (code.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < limit && code.length < length) code += CODE_ALPHABET[b % CODE_ALPHABET.length]
    }
  }
  return code
}

/**
 * Status codes: 400 for a request that is not a signed request at all (no field, bad encoding,
 * bad JSON, unsupported algorithm, no user); 401 when the signature does not verify or the
 * request is stale or from the future. Bodies are generic; the log line carries the reason.
 */
function statusFor(reason: SignedRequestFailure | 'missing_field'): 400 | 401 {
  return reason === 'bad_signature' || reason === 'expired' || reason === 'future' ? 401 : 400
}

type Resolver<E extends HonoEnv> = MetaCallbackDeps | ((c: Context<E>) => MetaCallbackDeps | null)

/**
 * Routes: POST /meta/data-deletion, GET /meta/data-deletion/status, POST /meta/deauthorize.
 * Mount with `app.route('/', createMetaCallbacks(resolve))`. `deps` may be a function of the
 * request context (to build them from env bindings); returning null answers 503.
 */
export function createMetaCallbacks<E extends HonoEnv = BlankEnv>(deps: Resolver<E>): Hono<E> {
  const app = new Hono<E>()
  const resolve = (c: Context<E>) => (typeof deps === 'function' ? deps(c) : deps)

  async function verified(
    c: Context<E>,
    d: MetaCallbackDeps,
    event: string
  ): Promise<{ userId: string } | Response> {
    const body = await readBodyCapped(c.req.raw, MAX_CALLBACK_BYTES)
    if (!body.ok) {
      sampledWarn(d.log, event, { outcome: 'rejected', reason: 'too_large' })
      return c.text('Payload Too Large', 413)
    }
    const signedRequest = await readSignedRequestField(c.req.header('content-type'), body.bytes)
    if (signedRequest === null) {
      sampledWarn(d.log, event, { outcome: 'rejected', reason: 'missing_field' })
      return c.text('Bad Request', 400)
    }
    const parsed = await parseSignedRequest(signedRequest, d.secrets, {
      now: d.now(),
      maxAgeSeconds: d.maxAgeSeconds,
    })
    if (!parsed.ok) {
      sampledWarn(d.log, event, { outcome: 'rejected', reason: parsed.reason })
      const status = statusFor(parsed.reason)
      return c.text(status === 401 ? 'Unauthorized' : 'Bad Request', status)
    }
    return { userId: parsed.payload.user_id }
  }

  app.post('/meta/data-deletion', async (c) => {
    const d = resolve(c)
    if (!d) return c.text('Service Unavailable', 503)
    const v = await verified(c, d, 'data_deletion')
    if (v instanceof Response) return v
    const user = await hashId(v.userId, d.hashKey)
    const code = confirmationCode()
    try {
      // Pending first, so the code answers even if erasure is interrupted half-way.
      await d.saveDeletion(code, { status: 'pending', at: d.now() })
      await d.eraseUser(v.userId)
      await d.saveDeletion(code, { status: 'completed', at: d.now() })
    } catch (err) {
      d.log.error('data_deletion', { outcome: 'failed', user, error: err instanceof Error ? err.name : 'unknown' })
      return c.text('Internal Server Error', 500)
    }
    d.log.info('data_deletion', { outcome: 'completed', user })
    const origin = (d.publicOrigin ?? new URL(c.req.url).origin).replace(/\/+$/, '')
    return c.json({ url: `${origin}/meta/data-deletion/status?code=${code}`, confirmation_code: code })
  })

  app.get('/meta/data-deletion/status', async (c) => {
    const d = resolve(c)
    if (!d) return c.text('Service Unavailable', 503)
    c.header('Cache-Control', 'no-store')
    c.header('X-Robots-Tag', 'noindex')
    const code = c.req.query('code') ?? ''
    // Malformed and unknown codes look the same from outside.
    const rec = CODE_PATTERN.test(code) ? await d.getDeletion(code) : null
    if (!rec) return c.text('Not Found', 404)
    const status = rec.status === 'completed' || rec.status === 'pending' ? rec.status : 'unknown'
    const updatedAt = new Date(rec.at).toISOString()
    if (prefersHtml(c.req.header('accept'))) {
      c.header('Content-Security-Policy', "default-src 'none'")
      return c.html(statusPage(code, status, updatedAt))
    }
    return c.json({ confirmation_code: code, status, updated_at: updatedAt })
  })

  app.post('/meta/deauthorize', async (c) => {
    const d = resolve(c)
    if (!d) return c.text('Service Unavailable', 503)
    const v = await verified(c, d, 'deauthorize')
    if (v instanceof Response) return v
    const user = await hashId(v.userId, d.hashKey)
    if (!d.isServedAccount(v.userId)) {
      // Someone else removed the app (a tester, another account that once logged in): their
      // removal is acknowledged, and the bot keeps serving its own account.
      d.log.info('deauthorize', { outcome: 'ignored_other_user', user })
      return c.text('OK', 200)
    }
    try {
      await d.deauthorize(v.userId)
    } catch (err) {
      d.log.error('deauthorize', { outcome: 'failed', user, error: err instanceof Error ? err.name : 'unknown' })
      return c.text('Internal Server Error', 500)
    }
    d.log.info('deauthorize', { outcome: 'completed', user })
    return c.text('OK', 200)
  })

  return app
}

/** Meta posts `application/x-www-form-urlencoded`; multipart is accepted too, like PHP's $_POST. */
async function readSignedRequestField(contentType: string | undefined, bytes: Uint8Array): Promise<string | null> {
  let value: unknown
  if (contentType?.toLowerCase().startsWith('multipart/form-data')) {
    try {
      const form = await new Request('https://callback.invalid/', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: bytes,
      }).formData()
      value = form.get('signed_request')
    } catch {
      return null
    }
  } else {
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
    } catch {
      return null
    }
    value = new URLSearchParams(text).get('signed_request')
  }
  return typeof value === 'string' && value !== '' ? value : null
}

function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/i.test(accept)
}

function statusPage(code: string, status: string, updatedAt: string): string {
  // `code` matched [A-Za-z0-9]+ and the other values are fixed strings, so nothing needs escaping.
  const text =
    status === 'completed'
      ? 'All data this bot stored about you has been deleted.'
      : status === 'pending'
        ? 'Your deletion request has been received and is being processed.'
        : 'The status of this request is unknown.'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data deletion status</title></head>
<body><h1>Data deletion status</h1>
<p>${text}</p>
<p>Confirmation code: <code>${code}</code><br>Status: ${status}<br>Last updated: ${updatedAt}</p>
</body></html>`
}
