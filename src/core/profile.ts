/**
 * Conversation starters as configuration (ICE_BREAKERS, PERSISTENT_MENU) and the requests that
 * apply them with the messenger_profile edge (../shared/reference/meta-instagram.md §12). Pure:
 * validated here and by the Worker's configuration, sent by `npm run profile`. Imports nothing
 * but zod, so the Node script can load this file as it is.
 */
import * as z from 'zod'

const LOCALE = /^(default|[a-z]{2}_[A-Z]{2})$/
const MAX_ICE_BREAKERS = 4
const MAX_MENU_ITEMS = 20

const payload = z.string().trim().min(1, 'a payload must not be empty').max(1000, 'a payload has at most 1000 characters')

const iceBreaker = z.strictObject({
  question: z.string({ error: 'question is required' }).trim().min(1, 'a question must not be empty').max(80, 'a question has at most 80 characters'),
  payload,
})

const menuItem = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('postback'), title: z.string().trim().min(1).max(30, 'a title has at most 30 characters'), payload }),
    z.strictObject({
      type: z.literal('web_url'),
      title: z.string().trim().min(1).max(30, 'a title has at most 30 characters'),
      url: z.string().trim().url().refine((u) => u.startsWith('https://'), 'a menu link must be https'),
    }),
  ],
  { error: 'a menu item is {"type":"postback","title","payload"} or {"type":"web_url","title","url"}' }
)

/** Per locale (`default` required), so the account greets every customer in some language. */
function perLocale<T extends z.ZodType>(item: T, max: number, what: string) {
  return z
    .record(z.string().regex(LOCALE, 'locales are "default" or like "es_ES"'), z.array(item).min(1, `a locale lists at least one ${what}`).max(max, `at most ${max} ${what}s per locale`))
    .refine((r) => 'default' in r, 'a "default" locale is required')
}

export const iceBreakersSchema = perLocale(iceBreaker, MAX_ICE_BREAKERS, 'ice breaker')
export const persistentMenuSchema = perLocale(menuItem, MAX_MENU_ITEMS, 'menu item')

export type IceBreakers = z.infer<typeof iceBreakersSchema>
export type PersistentMenu = z.infer<typeof persistentMenuSchema>

export interface Profile {
  iceBreakers?: IceBreakers
  persistentMenu?: PersistentMenu
}

/** A JSON setting validated with `schema`; unset or empty is undefined. The message names the field, never a value. */
export function jsonSetting<T extends z.ZodType>(schema: T) {
  return z.unknown().transform((v, ctx): z.output<T> | undefined => {
    if (v === undefined || (typeof v === 'string' && v.trim() === '')) return undefined
    let value: unknown = v
    if (typeof v === 'string') {
      try {
        value = JSON.parse(v)
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' })
        return z.NEVER
      }
    }
    const r = schema.safeParse(value)
    if (!r.success) {
      const issue = r.error.issues[0]
      const at = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : ''
      ctx.addIssue({ code: 'custom', message: `${at}${issue?.message ?? 'invalid'}` })
      return z.NEVER
    }
    return r.data
  })
}

/** Meta's body for the ice breakers and the persistent menu, locales in a stable order. */
export function profileBody(profile: Profile): Record<string, unknown> {
  const locales = <T>(r: Record<string, T>) => Object.keys(r).sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)))
  const body: Record<string, unknown> = { platform: 'instagram' }
  if (profile.iceBreakers) {
    const ib = profile.iceBreakers
    body.ice_breakers = locales(ib).map((locale) => ({ locale, call_to_actions: ib[locale]!.map((q) => ({ question: q.question, payload: q.payload })) }))
  }
  if (profile.persistentMenu) {
    const pm = profile.persistentMenu
    body.persistent_menu = locales(pm).map((locale) => ({ locale, composer_input_disabled: false, call_to_actions: pm[locale]!.map((i) => ({ ...i })) }))
  }
  return body
}

export interface ProfileRequest {
  method: 'GET' | 'POST'
  url: string
  body?: Record<string, unknown>
}

/** The messenger_profile edge of the account: POST applies, GET reads back. */
export function profileRequests(profile: Profile, opts: { base: string; version: string; accountId: string }): { apply: ProfileRequest; read: ProfileRequest } {
  if (!/^v\d+\.\d+$/.test(opts.version)) throw new TypeError('version must look like v25.0')
  if (!/^(me|[0-9A-Za-z_-]{1,128})$/.test(opts.accountId)) throw new TypeError('account id is not a Graph id')
  const edge = `${opts.base.replace(/\/+$/, '')}/${opts.version}/${opts.accountId}/messenger_profile`
  return {
    apply: { method: 'POST', url: edge, body: profileBody(profile) },
    read: { method: 'GET', url: `${edge}?platform=instagram&fields=ice_breakers,persistent_menu` },
  }
}

/**
 * What differs between the configured profile and what Meta returned for GET (its `data[0]`),
 * one line per field and locale; empty when they agree.
 */
export function profileDiff(profile: Profile, returned: unknown): string[] {
  const want = profileBody(profile)
  const data = returned && typeof returned === 'object' ? (returned as { data?: unknown }).data : undefined
  const have = (Array.isArray(data) && data[0] && typeof data[0] === 'object' ? data[0] : {}) as Record<string, unknown>
  const out: string[] = []
  for (const field of ['ice_breakers', 'persistent_menu'] as const) {
    const w = byLocale(want[field])
    const h = byLocale(have[field])
    if (!want[field]) {
      if (h.size) out.push(`${field}: set at Meta (${[...h.keys()].join(', ')}) but not configured`)
      continue
    }
    for (const [locale, items] of w) {
      if (!h.has(locale)) out.push(`${field} ${locale}: configured, missing at Meta`)
      else if (JSON.stringify(items) !== JSON.stringify(h.get(locale))) out.push(`${field} ${locale}: differs`)
    }
    for (const locale of h.keys()) if (!w.has(locale)) out.push(`${field} ${locale}: at Meta, not configured`)
  }
  return out
}

function byLocale(v: unknown): Map<string, unknown> {
  const m = new Map<string, unknown>()
  if (!Array.isArray(v)) return m
  for (const entry of v) {
    if (!entry || typeof entry !== 'object') continue
    const e = entry as { locale?: unknown; call_to_actions?: unknown }
    const actions = Array.isArray(e.call_to_actions) ? e.call_to_actions.map((a) => sortKeys(a)) : []
    m.set(typeof e.locale === 'string' ? e.locale : 'default', actions)
  }
  return m
}

function sortKeys(v: unknown): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
}
