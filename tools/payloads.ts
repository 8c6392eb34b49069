/**
 * Realistic Instagram webhook payloads, shaped like Meta's examples
 * (../shared/reference/meta-instagram.md §3). Shared by the tests, the simulator and the sandbox,
 * so every tool plays Meta the same way. Plain TypeScript: runs in Node, workerd and the browser.
 */

export const DEFAULT_ACCOUNT_ID = '17841400000000001'
export const DEFAULT_SENDER_ID = '1234567890123456'

export type Kind =
  | 'text'
  | 'image'
  | 'video'
  | 'audio'
  | 'file'
  | 'share'
  | 'ig_reel'
  | 'reel'
  | 'ig_post'
  | 'ig_story'
  | 'story_mention'
  | 'story_reply'
  | 'reply'
  | 'quick_reply'
  | 'unsupported'
  | 'reaction'
  | 'unreact'
  | 'postback'
  | 'ice_breaker'
  | 'referral'
  | 'read'
  | 'echo'
  | 'unsend'
  | 'edit'

export interface ItemOptions {
  kind?: Kind
  text?: string
  senderId?: string
  accountId?: string
  /** Milliseconds; defaults to now. */
  timestamp?: number
  mid?: string
  /** For reaction, unsend, reply, read and edit: the message they refer to. */
  targetMid?: string
  payload?: string
  url?: string
}

let counter = 0

/** A message id in Meta's style (base64-ish, unique within the process). */
export function newMid(): string {
  counter++
  const rand = Math.random().toString(36).slice(2, 12)
  return `aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj${Date.now().toString(36)}${counter.toString(36)}${rand}`
}

/** One `messaging[]` item. Echoes swap sender and recipient, as Meta does. */
export function messagingItem(opts: ItemOptions = {}): Record<string, unknown> {
  const kind = opts.kind ?? 'text'
  const account = opts.accountId ?? DEFAULT_ACCOUNT_ID
  const sender = opts.senderId ?? DEFAULT_SENDER_ID
  const timestamp = opts.timestamp ?? Date.now()
  const mid = opts.mid ?? newMid()
  const target = opts.targetMid ?? newMid()
  const text = opts.text ?? 'Hi! Are you open on Sunday?'
  const url = opts.url ?? 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1234567890&signature=abc'
  const base = { sender: { id: sender }, recipient: { id: account }, timestamp }
  const attachment = (type: string) => ({ ...base, message: { mid, attachments: [{ type, payload: { url } }] } })
  switch (kind) {
    case 'text':
      return { ...base, message: { mid, text } }
    case 'image':
    case 'video':
    case 'audio':
    case 'file':
    case 'share':
    case 'ig_reel':
    case 'reel':
    case 'ig_post':
    case 'ig_story':
    case 'story_mention':
      return attachment(kind)
    case 'story_reply':
      return { ...base, message: { mid, text, reply_to: { story: { id: '17890000000000001', url } } } }
    case 'reply':
      return { ...base, message: { mid, text, reply_to: { mid: target } } }
    case 'quick_reply':
      return { ...base, message: { mid, text, quick_reply: { payload: opts.payload ?? 'OPENING_HOURS' } } }
    case 'unsupported':
      return { ...base, message: { mid, is_unsupported: true } }
    case 'reaction':
      return { ...base, reaction: { mid: target, action: 'react', reaction: 'love', emoji: '\u2764\ufe0f' } }
    case 'unreact':
      return { ...base, reaction: { mid: target, action: 'unreact' } }
    case 'postback':
      return { ...base, postback: { mid, title: text, payload: opts.payload ?? 'MENU_PRICES' } }
    case 'ice_breaker':
      return { ...base, postback: { mid, title: text, payload: opts.payload ?? 'ICE_BREAKER_HOURS' } }
    case 'referral':
      return { ...base, referral: { ref: opts.payload ?? 'summer-sale', source: 'IGME_SOURCE_LINK', type: 'OPEN_THREAD' } }
    case 'read':
      return { ...base, read: { mid: target } }
    case 'echo':
      return { sender: { id: account }, recipient: { id: sender }, timestamp, message: { mid, text, is_echo: true } }
    case 'unsend':
      return { ...base, message: { mid: target, is_deleted: true } }
    case 'edit':
      return { ...base, message_edit: { mid: target, text, num_edit: 1 } }
  }
}

/** A whole delivery: `{ object: 'instagram', entry: [...] }`, one entry per account id. */
export function delivery(items: Record<string, unknown>[], accountId = DEFAULT_ACCOUNT_ID): Record<string, unknown> {
  return { object: 'instagram', entry: [{ id: accountId, time: Date.now(), messaging: items }] }
}

/** Serialises like Meta: non-ASCII as lowercase `\uXXXX` escapes and `/` as `\/`. */
export function metaJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/\//g, '\\/')
}

export interface CommentOptions {
  text?: string
  /** The commenter; the account id makes it the account's own comment. */
  senderId?: string
  username?: string
  accountId?: string
  commentId?: string
  mediaId?: string
  mediaProductType?: string
  parentId?: string
  adId?: string
  adTitle?: string
  /** `live_comments` instead of `comments`. */
  live?: boolean
  /** Milliseconds; sent as the entry time in seconds, as Meta does for changes. Defaults to now. */
  timestamp?: number
}

let commentCounter = 0

/** A comment id in Meta's style (17–18 digits, unique within the process). */
export function newCommentId(): string {
  commentCounter++
  return `178${String(Date.now() % 1e10).padStart(10, '0')}${String(commentCounter % 1e5).padStart(5, '0')}`
}

/** One `changes[]` item for a comment (§12). */
export function commentChange(opts: CommentOptions = {}): Record<string, unknown> {
  const media: Record<string, unknown> = {
    id: opts.mediaId ?? '17990000000000001',
    media_product_type: opts.mediaProductType ?? (opts.adId ? 'AD' : 'FEED'),
  }
  if (opts.adId) media.ad_id = opts.adId
  if (opts.adTitle) media.ad_title = opts.adTitle
  const value: Record<string, unknown> = {
    from: { id: opts.senderId ?? DEFAULT_SENDER_ID, username: opts.username ?? 'customer.one' },
    media,
    id: opts.commentId ?? newCommentId(),
    text: opts.text ?? 'How much is this?',
  }
  if (opts.parentId) value.parent_id = opts.parentId
  return { field: opts.live ? 'live_comments' : 'comments', value }
}

/** A delivery of comment changes; the entry time (seconds) is the comment's time. */
export function commentDelivery(changes: CommentOptions[], accountId = DEFAULT_ACCOUNT_ID): Record<string, unknown> {
  const timestamp = changes[0]?.timestamp ?? Date.now()
  return {
    object: 'instagram',
    entry: [{ id: accountId, time: Math.floor(timestamp / 1000), changes: changes.map((c) => commentChange({ accountId, ...c })) }],
  }
}
