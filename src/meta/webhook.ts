/**
 * Parses Meta's Instagram webhook payloads into a typed, normalized list of events.
 *
 * Meta batches: every `entry[]` and every `messaging[]`, `standby[]` and `changes[]` item is
 * read (up to 1000 updates per delivery). A malformed item is reported and skipped; it never
 * fails the batch. Shapes follow ../shared/reference/meta-instagram.md §3.
 */
import * as z from 'zod'
import { COMMENT_FIELDS, parseCommentValue, type CommentFields } from './comments'

export type { CommentFields } from './comments'

/** Where the item came from: `messaging[]`, `standby[]` or (comments) `changes[]`. */
export type Source = 'messaging' | 'standby' | 'changes'

export interface Attachment {
  type: string
  url?: string
}

export type ReplyTo = { type: 'message'; mid: string } | { type: 'story'; id?: string; url?: string }

export interface AdReferral {
  ref?: string
  adId?: string
  source?: string
  adTitle?: string
}

interface Envelope {
  source: Source
  /** `entry.id`: the Instagram professional account the event belongs to. */
  accountId: string
  senderId: string
  recipientId: string
  /** Milliseconds since the epoch, whatever unit or type Meta used. */
  timestamp: number
  /**
   * Meta's own stamp, kept when `timestamp` was re-stamped for lying in the future: an event
   * without a message id is recognised by it, so a redelivery must see the same value.
   */
  stampedAt?: number
}

export type InboundEvent = Envelope &
  (
    | { kind: 'text'; mid: string; text: string; replyTo?: ReplyTo; referral?: AdReferral }
    | { kind: 'story_reply'; mid: string; text: string; story: { id?: string; url?: string } }
    | { kind: 'quick_reply'; mid: string; text: string; payload: string }
    | { kind: 'attachment'; mid: string; text?: string; attachments: Attachment[]; replyTo?: ReplyTo }
    | { kind: 'story_mention'; mid: string; url?: string }
    | { kind: 'unsupported'; mid: string }
    | { kind: 'echo'; mid: string; text?: string; hasAttachments: boolean }
    | { kind: 'unsend'; mid: string }
    | { kind: 'edit'; mid: string; text?: string; numEdit?: number }
    | { kind: 'reaction'; mid: string; action: 'react' | 'unreact'; reaction?: string; emoji?: string }
    | { kind: 'postback'; mid?: string; title?: string; payload?: string }
    | { kind: 'referral'; ref?: string; refSource?: string; type?: string }
    | { kind: 'read'; mid?: string }
    | { kind: 'unknown'; keys: string[] }
    | ({ kind: 'comment' } & CommentFields)
  )

export interface ChangeEvent {
  kind: 'change'
  accountId: string
  field: string
  timestamp: number
}

export type WebhookEvent = InboundEvent | ChangeEvent
export type EventKind = WebhookEvent['kind']

export interface Skipped {
  entry: number
  item: number
  reason: string
}

export interface ParsedWebhook {
  object: string
  events: WebhookEvent[]
  skipped: Skipped[]
}

const id = z.union([z.string().min(1).max(256), z.number().int().nonnegative()]).transform(String)
const text = z.string().max(100_000)
const url = z.string().max(8192)

/** Accepts seconds or milliseconds, as numbers, digit strings or ISO dates; see §3.1. */
const timestamp = z.union([z.number(), z.string()]).transform((v, ctx) => {
  let n: number
  if (typeof v === 'number') n = v
  else if (/^\d+$/.test(v.trim())) n = Number(v.trim())
  else n = Date.parse(v)
  if (!Number.isFinite(n) || n < 0) {
    ctx.addIssue({ code: 'custom', message: 'bad timestamp' })
    return z.NEVER
  }
  return n < 1e12 ? n * 1000 : n
})

const attachmentSchema = z.object({
  type: z.string().min(1).max(64),
  payload: z.object({ url: url.optional() }).passthrough().nullish(),
})

const replyToSchema = z.object({
  mid: z.string().max(512).optional(),
  story: z.object({ id: id.optional(), url: url.optional() }).passthrough().optional(),
})

const messageSchema = z.object({
  mid: z.string().min(1).max(512),
  text: text.optional(),
  attachments: z.array(attachmentSchema).max(100).optional(),
  is_echo: z.boolean().optional(),
  is_deleted: z.boolean().optional(),
  is_unsupported: z.boolean().optional(),
  is_self: z.boolean().optional(),
  quick_reply: z.object({ payload: z.string().max(4096) }).optional(),
  reply_to: replyToSchema.optional(),
  referral: z
    .object({
      ref: z.string().max(4096).optional(),
      ad_id: id.optional(),
      source: z.string().max(256).optional(),
      ads_context_data: z.object({ ad_title: z.string().max(4096).optional() }).passthrough().optional(),
    })
    .passthrough()
    .optional(),
})

const itemSchema = z.object({
  sender: z.object({ id }),
  recipient: z.object({ id }),
  timestamp,
  message: messageSchema.optional(),
  message_edit: z
    .object({ mid: z.string().min(1).max(512), text: text.optional(), num_edit: z.number().optional() })
    .optional(),
  reaction: z
    .object({
      mid: z.string().min(1).max(512),
      action: z.enum(['react', 'unreact']),
      reaction: z.string().max(64).optional(),
      emoji: z.string().max(64).optional(),
    })
    .optional(),
  postback: z
    .object({ mid: z.string().max(512).optional(), title: text.optional(), payload: text.optional() })
    .optional(),
  referral: z
    .object({ ref: z.string().max(4096).optional(), source: z.string().max(256).optional(), type: z.string().max(64).optional() })
    .passthrough()
    .optional(),
  read: z.object({ mid: z.string().max(512).optional() }).passthrough().optional(),
})

const changeSchema = z.object({ field: z.string().min(1).max(128), value: z.unknown().optional() })

const entrySchema = z.object({
  id,
  // Only `changes[]` use the entry time; a bad one must not cost the entry's messages.
  time: timestamp.optional().catch(undefined),
  messaging: z.array(z.unknown()).optional(),
  standby: z.array(z.unknown()).optional(),
  changes: z.array(z.unknown()).optional(),
})

const envelopeSchema = z.object({ object: z.string().max(64), entry: z.array(z.unknown()).max(10_000) })


function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.code}` : 'invalid'
}

function toMessageEvent(env: Envelope, m: z.infer<typeof messageSchema>): InboundEvent {
  const mid = m.mid
  if (m.is_echo) return { ...env, kind: 'echo', mid, text: m.text, hasAttachments: !!m.attachments?.length }
  if (m.is_deleted) return { ...env, kind: 'unsend', mid }
  if (m.is_unsupported) return { ...env, kind: 'unsupported', mid }
  const attachments: Attachment[] = (m.attachments ?? []).map((a) => ({
    type: a.type,
    ...(a.payload?.url ? { url: a.payload.url } : {}),
  }))
  const mention = attachments.find((a) => a.type === 'story_mention')
  if (mention) return { ...env, kind: 'story_mention', mid, url: mention.url }
  const replyTo: ReplyTo | undefined = m.reply_to?.story
    ? { type: 'story', id: m.reply_to.story.id, url: m.reply_to.story.url }
    : m.reply_to?.mid
      ? { type: 'message', mid: m.reply_to.mid }
      : undefined
  if (attachments.length) return { ...env, kind: 'attachment', mid, text: m.text, attachments, replyTo }
  if (m.quick_reply) return { ...env, kind: 'quick_reply', mid, text: m.text ?? '', payload: m.quick_reply.payload }
  if (typeof m.text === 'string') {
    if (replyTo?.type === 'story') return { ...env, kind: 'story_reply', mid, text: m.text, story: { id: replyTo.id, url: replyTo.url } }
    const referral: AdReferral | undefined = m.referral
      ? { ref: m.referral.ref, adId: m.referral.ad_id, source: m.referral.source, adTitle: m.referral.ads_context_data?.ad_title }
      : undefined
    return { ...env, kind: 'text', mid, text: m.text, replyTo, referral }
  }
  return { ...env, kind: 'unsupported', mid }
}

/** Normalizes one `messaging[]` or `standby[]` item. */
export function parseItem(
  raw: unknown,
  source: Source,
  accountId: string
): { ok: true; event: InboundEvent } | { ok: false; reason: string } {
  const parsed = itemSchema.safeParse(raw)
  if (!parsed.success) return { ok: false, reason: firstIssue(parsed.error) }
  const it = parsed.data
  const env: Envelope = {
    source,
    accountId,
    senderId: it.sender.id,
    recipientId: it.recipient.id,
    timestamp: it.timestamp,
  }
  if (it.message) return { ok: true, event: toMessageEvent(env, it.message) }
  if (it.message_edit)
    return { ok: true, event: { ...env, kind: 'edit', mid: it.message_edit.mid, text: it.message_edit.text, numEdit: it.message_edit.num_edit } }
  if (it.reaction) {
    const r = it.reaction
    return { ok: true, event: { ...env, kind: 'reaction', mid: r.mid, action: r.action, reaction: r.reaction, emoji: r.emoji } }
  }
  if (it.postback)
    return { ok: true, event: { ...env, kind: 'postback', mid: it.postback.mid, title: it.postback.title, payload: it.postback.payload } }
  if (it.referral)
    return { ok: true, event: { ...env, kind: 'referral', ref: it.referral.ref, refSource: it.referral.source, type: it.referral.type } }
  if (it.read) return { ok: true, event: { ...env, kind: 'read', mid: it.read.mid } }
  const keys = Object.keys(raw as object).filter((k) => !['sender', 'recipient', 'timestamp'].includes(k))
  // Key names only, capped: they are Meta's field names, never user content.
  return { ok: true, event: { ...env, kind: 'unknown', keys: keys.slice(0, 8).map((k) => k.slice(0, 40)) } }
}

/**
 * A comment becomes an event of its commenter (the sender), stamped with the entry time: the
 * payload carries no time of its own, and the 7-day private-reply limit is measured from it, so a
 * comment without a usable time is skipped rather than guessed.
 */
function toCommentEvent(
  field: string,
  value: unknown,
  accountId: string,
  time: number | undefined
): { ok: true; event: InboundEvent } | { ok: false; reason: string } {
  if (time === undefined) return { ok: false, reason: `${field}: no entry time` }
  const parsed = parseCommentValue(value, field, accountId)
  if (!parsed.ok) return parsed
  const env: Envelope = { source: 'changes', accountId, senderId: parsed.commenterId, recipientId: accountId, timestamp: time }
  return { ok: true, event: { ...env, kind: 'comment', ...parsed.comment } }
}

/** A message stamped further ahead of its receipt than this is not believed (clock skew allowance). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000

/**
 * A timestamp far in the future (a clock or platform bug: signed bodies cannot be forged) would,
 * once stored, shut the messaging window and hold memory for good. Events
 * stamped more than MAX_FUTURE_SKEW_MS after `now` (the time of receipt) are re-stamped `now`.
 * Returns new event objects; `clamped` counts them and `maxAheadMs` says by how much at most.
 */
export function clampFutureTimestamps<T extends { timestamp: number; stampedAt?: number }>(
  events: readonly T[],
  now: number
): { events: T[]; clamped: number; maxAheadMs: number } {
  let clamped = 0
  let maxAheadMs = 0
  const out = events.map((e) => {
    const ahead = e.timestamp - now
    if (!(ahead > MAX_FUTURE_SKEW_MS)) return e
    clamped++
    maxAheadMs = Math.max(maxAheadMs, ahead)
    return { ...e, timestamp: now, stampedAt: e.stampedAt ?? e.timestamp }
  })
  return { events: out, clamped, maxAheadMs }
}

export type ParseResult = { ok: true; webhook: ParsedWebhook } | { ok: false; reason: string }

/**
 * Normalizes a parsed JSON body. Returns `ok: false` only when the envelope itself is not a
 * webhook (no `object` or `entry`); problems inside single items are collected in `skipped`.
 */
export function parseWebhook(json: unknown): ParseResult {
  const envelope = envelopeSchema.safeParse(json)
  if (!envelope.success) return { ok: false, reason: firstIssue(envelope.error) }
  const { object, entry } = envelope.data
  const events: WebhookEvent[] = []
  const skipped: Skipped[] = []
  if (object !== 'instagram') return { ok: true, webhook: { object, events, skipped } }
  entry.forEach((rawEntry, e) => {
    const parsedEntry = entrySchema.safeParse(rawEntry)
    if (!parsedEntry.success) {
      skipped.push({ entry: e, item: -1, reason: firstIssue(parsedEntry.error) })
      return
    }
    const en = parsedEntry.data
    let item = 0
    for (const [list, source] of [
      [en.messaging, 'messaging'],
      [en.standby, 'standby'],
    ] as const) {
      for (const raw of list ?? []) {
        const result = parseItem(raw, source, en.id)
        if (result.ok) events.push(result.event)
        else skipped.push({ entry: e, item, reason: result.reason })
        item++
      }
    }
    for (const raw of en.changes ?? []) {
      const change = changeSchema.safeParse(raw)
      if (!change.success) skipped.push({ entry: e, item, reason: firstIssue(change.error) })
      else if ((COMMENT_FIELDS as readonly string[]).includes(change.data.field)) {
        const result = toCommentEvent(change.data.field, change.data.value, en.id, en.time)
        if (result.ok) events.push(result.event)
        else skipped.push({ entry: e, item, reason: result.reason })
      } else events.push({ kind: 'change', accountId: en.id, field: change.data.field, timestamp: en.time ?? 0 })
      item++
    }
  })
  return { ok: true, webhook: { object, events, skipped } }
}

