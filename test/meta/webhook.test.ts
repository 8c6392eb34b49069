/**
 * parseWebhook on every shape in ../shared/reference/meta-instagram.md §3, built with the shared
 * payload builders. Batches must lose nothing and keep order; one bad item is skipped alone; no
 * input, however hostile, may throw.
 */
import { describe, expect, it } from 'vitest'
import { clampFutureTimestamps, MAX_FUTURE_SKEW_MS, parseWebhook, type ParsedWebhook, type WebhookEvent } from '../../src/meta/webhook'
import {
  DEFAULT_ACCOUNT_ID as ACCOUNT,
  DEFAULT_SENDER_ID as SENDER,
  delivery,
  messagingItem,
  type ItemOptions,
} from '../../tools/payloads'

const TS = 1569262485349
const MID = 'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMQ'
const TARGET = 'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMg'
const URL = 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1234567890&signature=abc'

function ok(json: unknown): ParsedWebhook {
  const result = parseWebhook(json)
  if (!result.ok) throw new Error(`expected a webhook, got: ${result.reason}`)
  return result.webhook
}

/** The single event of a one-item delivery, asserting nothing was skipped. */
function single(item: Record<string, unknown>): WebhookEvent {
  const webhook = ok(delivery([item]))
  expect(webhook.skipped).toEqual([])
  expect(webhook.events).toHaveLength(1)
  return webhook.events[0]!
}

const itemBase = () => ({ sender: { id: SENDER }, recipient: { id: ACCOUNT }, timestamp: TS })
const item = (opts: ItemOptions) => messagingItem({ timestamp: TS, mid: MID, targetMid: TARGET, ...opts })
const inbound = { source: 'messaging', accountId: ACCOUNT, senderId: SENDER, recipientId: ACCOUNT, timestamp: TS }

describe('message events', () => {
  it('normalizes a text message', () => {
    expect(single(item({ kind: 'text', text: 'Hi! Are you open on Sunday?' }))).toEqual({
      ...inbound,
      kind: 'text',
      mid: MID,
      text: 'Hi! Are you open on Sunday?',
    })
  })

  it.each(['image', 'video', 'audio', 'file', 'share', 'ig_reel', 'reel', 'ig_post', 'ig_story'] as const)(
    'normalizes a %s attachment with its CDN url',
    (kind) => {
      expect(single(item({ kind }))).toEqual({
        ...inbound,
        kind: 'attachment',
        mid: MID,
        attachments: [{ type: kind, url: URL }],
      })
    }
  )

  it('keeps an attachment type it does not know, so later code can answer it generically', () => {
    const raw = {
      sender: { id: SENDER },
      recipient: { id: ACCOUNT },
      timestamp: TS,
      message: { mid: MID, attachments: [{ type: 'fallback', payload: { title: 'x' } }] },
    }
    expect(single(raw)).toEqual({ ...inbound, kind: 'attachment', mid: MID, attachments: [{ type: 'fallback' }] })
  })

  it('keeps every attachment of a multi-attachment message in order, with or without payload', () => {
    const raw = {
      sender: { id: SENDER },
      recipient: { id: ACCOUNT },
      timestamp: TS,
      message: {
        mid: MID,
        text: 'look',
        attachments: [
          { type: 'image', payload: { url: `${URL}&n=1` } },
          { type: 'image', payload: null },
          { type: 'video' },
        ],
      },
    }
    expect(single(raw)).toMatchObject({
      kind: 'attachment',
      text: 'look',
      attachments: [{ type: 'image', url: `${URL}&n=1` }, { type: 'image' }, { type: 'video' }],
    })
  })

  it('normalizes a story mention', () => {
    expect(single(item({ kind: 'story_mention' }))).toEqual({ ...inbound, kind: 'story_mention', mid: MID, url: URL })
  })

  it('normalizes a reply to a story with the story id and url', () => {
    expect(single(item({ kind: 'story_reply', text: 'Love this!' }))).toEqual({
      ...inbound,
      kind: 'story_reply',
      mid: MID,
      text: 'Love this!',
      story: { id: '17890000000000001', url: URL },
    })
  })

  it('normalizes an inline reply to a message as text with replyTo', () => {
    expect(single(item({ kind: 'reply', text: 'Yes, that one' }))).toEqual({
      ...inbound,
      kind: 'text',
      mid: MID,
      text: 'Yes, that one',
      replyTo: { type: 'message', mid: TARGET },
    })
  })

  it('normalizes a quick reply tap with its payload', () => {
    expect(single(item({ kind: 'quick_reply', text: 'Opening hours', payload: 'OPENING_HOURS' }))).toEqual({
      ...inbound,
      kind: 'quick_reply',
      mid: MID,
      text: 'Opening hours',
      payload: 'OPENING_HOURS',
    })
  })

  it('normalizes an echo of the business own message, with sender and recipient swapped', () => {
    expect(single(item({ kind: 'echo', text: 'We open at 10' }))).toEqual({
      ...inbound,
      senderId: ACCOUNT,
      recipientId: SENDER,
      kind: 'echo',
      mid: MID,
      text: 'We open at 10',
      hasAttachments: false,
    })
  })

  it('marks an echo that carries attachments', () => {
    const raw = {
      sender: { id: ACCOUNT },
      recipient: { id: SENDER },
      timestamp: TS,
      message: { mid: MID, is_echo: true, attachments: [{ type: 'image', payload: { url: URL } }] },
    }
    expect(single(raw)).toMatchObject({ kind: 'echo', hasAttachments: true })
  })

  it('normalizes an unsend (is_deleted) for the deleted message id', () => {
    expect(single(item({ kind: 'unsend' }))).toEqual({ ...inbound, kind: 'unsend', mid: TARGET })
  })

  it('normalizes a message_edit with its new text and edit count', () => {
    expect(single(item({ kind: 'edit', text: 'Open on Saturday?' }))).toEqual({
      ...inbound,
      kind: 'edit',
      mid: TARGET,
      text: 'Open on Saturday?',
      numEdit: 1,
    })
  })

  it('normalizes unsupported media (is_unsupported)', () => {
    expect(single(item({ kind: 'unsupported' }))).toEqual({ ...inbound, kind: 'unsupported', mid: MID })
  })

  it('treats a message with neither text nor attachments as unsupported', () => {
    const raw = { sender: { id: SENDER }, recipient: { id: ACCOUNT }, timestamp: TS, message: { mid: MID } }
    expect(single(raw)).toEqual({ ...inbound, kind: 'unsupported', mid: MID })
  })

  it('turns numeric ids into strings', () => {
    const ids = { sender: { id: 1234567 }, recipient: { id: 7654321 } }
    const raw = { ...ids, timestamp: TS, message: { mid: MID, text: 'hi' } }
    expect(single(raw)).toMatchObject({ senderId: '1234567', recipientId: '7654321' })
  })

  it('keeps the click-to-DM ad referral on a text message', () => {
    const raw = {
      sender: { id: SENDER },
      recipient: { id: ACCOUNT },
      timestamp: TS,
      message: {
        mid: MID,
        text: 'Is this still available?',
        referral: {
          ref: 'spring',
          ad_id: '23851234567890123',
          source: 'ADS',
          type: 'OPEN_THREAD',
          ads_context_data: { ad_title: 'Spring sale', photo_url: URL },
        },
      },
    }
    expect(single(raw)).toEqual({
      ...inbound,
      kind: 'text',
      mid: MID,
      text: 'Is this still available?',
      referral: { ref: 'spring', adId: '23851234567890123', source: 'ADS', adTitle: 'Spring sale' },
    })
  })
})

describe('non-message events', () => {
  it('normalizes a reaction with its reaction name and emoji', () => {
    expect(single(item({ kind: 'reaction' }))).toEqual({
      ...inbound,
      kind: 'reaction',
      mid: TARGET,
      action: 'react',
      reaction: 'love',
      emoji: '\u2764\ufe0f',
    })
  })

  it('normalizes an unreact, which carries no reaction or emoji', () => {
    expect(single(item({ kind: 'unreact' }))).toEqual({ ...inbound, kind: 'reaction', mid: TARGET, action: 'unreact' })
  })

  it('normalizes a postback with title and payload', () => {
    expect(single(item({ kind: 'postback', text: 'Prices', payload: 'MENU_PRICES' }))).toEqual({
      ...inbound,
      kind: 'postback',
      mid: MID,
      title: 'Prices',
      payload: 'MENU_PRICES',
    })
  })

  it('normalizes an ice breaker tap as a postback', () => {
    expect(single(item({ kind: 'ice_breaker', text: 'When are you open?' }))).toEqual({
      ...inbound,
      kind: 'postback',
      mid: MID,
      title: 'When are you open?',
      payload: 'ICE_BREAKER_HOURS',
    })
  })

  it('normalizes an ig.me referral', () => {
    expect(single(item({ kind: 'referral', payload: 'summer-sale' }))).toEqual({
      ...inbound,
      kind: 'referral',
      ref: 'summer-sale',
      refSource: 'IGME_SOURCE_LINK',
      type: 'OPEN_THREAD',
    })
  })

  it('normalizes a read (seen) receipt', () => {
    expect(single(item({ kind: 'read' }))).toEqual({ ...inbound, kind: 'read', mid: TARGET })
  })

  it('reports an unknown event kind by its key names only', () => {
    const raw = {
      sender: { id: SENDER },
      recipient: { id: ACCOUNT },
      timestamp: TS,
      optin: { type: 'notification_messages', payload: 'secret user text' },
    }
    expect(single(raw)).toEqual({ ...inbound, kind: 'unknown', keys: ['optin'] })
  })

  it('caps the key names of an unknown event in number and length', () => {
    const raw: Record<string, unknown> = { sender: { id: SENDER }, recipient: { id: ACCOUNT }, timestamp: TS }
    for (let i = 0; i < 20; i++) raw[`k${i}_${'x'.repeat(100)}`] = i
    const event = single(raw)
    expect(event.kind).toBe('unknown')
    if (event.kind !== 'unknown') return
    expect(event.keys).toHaveLength(8)
    for (const key of event.keys) expect(key.length).toBeLessThanOrEqual(40)
  })
})

describe('standby and changes', () => {
  it('normalizes standby items with source "standby"', () => {
    const webhook = ok({
      object: 'instagram',
      entry: [
        {
          id: ACCOUNT,
          time: TS,
          // Standby postbacks omit the payload (§3.2).
          standby: [
            item({ kind: 'text', text: 'hello?' }),
            { ...item({ kind: 'postback' }), postback: { mid: MID, title: 'Menu' } },
          ],
        },
      ],
    })
    expect(webhook.skipped).toEqual([])
    expect(webhook.events).toEqual([
      { ...inbound, source: 'standby', kind: 'text', mid: MID, text: 'hello?' },
      { ...inbound, source: 'standby', kind: 'postback', mid: MID, title: 'Menu' },
    ])
  })

  it('normalizes changes[] items (comments, mentions) with the entry time', () => {
    const webhook = ok({
      object: 'instagram',
      entry: [
        {
          id: ACCOUNT,
          time: 1520622968,
          changes: [
            { field: 'comments', value: { id: '17865799348089039', text: 'Nice!', from: { id: SENDER } } },
            { field: 'mentions', value: { media_id: '17887498072083520', comment_id: '17887498072083521' } },
          ],
        },
      ],
    })
    expect(webhook.skipped).toEqual([])
    expect(webhook.events).toEqual([
      {
        source: 'changes',
        accountId: ACCOUNT,
        senderId: SENDER,
        recipientId: ACCOUNT,
        timestamp: 1520622968000,
        kind: 'comment',
        commentId: '17865799348089039',
        text: 'Nice!',
        live: false,
        own: false,
      },
      { kind: 'change', accountId: ACCOUNT, field: 'mentions', timestamp: 1520622968000 },
    ])
  })

  it('skips a change item without a field and keeps the others', () => {
    const webhook = ok({
      object: 'instagram',
      entry: [{ id: ACCOUNT, time: TS, changes: [{ value: {} }, { field: 'mentions', value: {} }] }],
    })
    expect(webhook.events).toEqual([{ kind: 'change', accountId: ACCOUNT, field: 'mentions', timestamp: TS }])
    expect(webhook.skipped).toHaveLength(1)
    expect(webhook.skipped[0]).toMatchObject({ entry: 0, item: 0 })
  })
})

describe('timestamps', () => {
  const at = (timestamp: unknown) => ({ ...item({ kind: 'text' }), timestamp })

  it.each([
    ['milliseconds', 1569262485349, 1569262485349],
    ['seconds', 1520622968, 1520622968000],
    ['a digit string in seconds', '1527459824', 1527459824000],
    ['a digit string in milliseconds', '1569262485349', 1569262485349],
    ['an ISO date with +0000', '2021-09-08T06:34:04+0000', Date.UTC(2021, 8, 8, 6, 34, 4)],
    ['an ISO date with Z and ms', '2021-09-08T06:34:04.250Z', Date.UTC(2021, 8, 8, 6, 34, 4, 250)],
  ])('reads %s as epoch milliseconds', (_, raw, expected) => {
    expect(single(at(raw)).timestamp).toBe(expected)
  })

  it.each([
    ['a word', 'yesterday'],
    ['a negative number', -5],
    ['an object', { seconds: 1 }],
    ['null', null],
    ['a boolean', true],
  ])('skips an item whose timestamp is %s', (_, raw) => {
    const webhook = ok(delivery([at(raw)]))
    expect(webhook.events).toEqual([])
    expect(webhook.skipped).toHaveLength(1)
  })
})

describe('batches', () => {
  it('keeps every item of several entries, in delivery order', () => {
    const accounts = ['17841400000000001', '17841400000000002', '17841400000000003']
    const kinds = ['text', 'image', 'reaction', 'postback', 'read', 'echo', 'story_mention'] as const
    const expectedMids: string[] = []
    const entry = accounts.map((accountId, e) => {
      const messaging = kinds.map((kind, i) => {
        const mid = `mid_${e}_${i}`
        expectedMids.push(mid)
        return messagingItem({ kind, accountId, mid, targetMid: mid, timestamp: TS + i })
      })
      const standbyMid = `mid_${e}_standby`
      expectedMids.push(standbyMid)
      const standby = [messagingItem({ kind: 'text', accountId, mid: standbyMid, timestamp: TS })]
      return { id: accountId, time: TS, messaging, standby, changes: [{ field: 'mentions', value: {} }] }
    })
    const webhook = ok({ object: 'instagram', entry })
    expect(webhook.skipped).toEqual([])
    expect(webhook.events).toHaveLength(accounts.length * (kinds.length + 2))
    const mids = webhook.events.flatMap((e) => ('mid' in e && e.mid ? [e.mid] : []))
    expect(mids).toEqual(expectedMids)
    expect(webhook.events.map((e) => e.accountId)).toEqual(accounts.flatMap((a) => Array(kinds.length + 2).fill(a)))
    expect(webhook.events.filter((e) => e.kind === 'change')).toHaveLength(3)
  })

  it('reads a 300-entry batch of 1000+ items without losing one', () => {
    const entry = Array.from({ length: 300 }, (_, e) => ({
      id: `1784140000${String(e).padStart(7, '0')}`,
      time: TS,
      messaging: Array.from({ length: 4 }, (_, i) =>
        messagingItem({ kind: 'text', mid: `m_${e}_${i}`, timestamp: TS })
      ),
    }))
    const webhook = ok({ object: 'instagram', entry })
    expect(webhook.skipped).toEqual([])
    expect(webhook.events).toHaveLength(1200)
    expect(webhook.events[0]).toMatchObject({ mid: 'm_0_0' })
    expect(webhook.events[1199]).toMatchObject({ mid: 'm_299_3' })
  })

  it('skips one malformed item and keeps the items around it', () => {
    const good1 = item({ kind: 'text', mid: 'm_good_1' })
    const good2 = item({ kind: 'text', mid: 'm_good_2' })
    const bad = { sender: null, recipient: { id: ACCOUNT }, timestamp: TS, message: { mid: 'm_bad', text: 'x' } }
    const webhook = ok(delivery([good1, bad, good2]))
    expect(webhook.events.map((e) => ('mid' in e ? e.mid : undefined))).toEqual(['m_good_1', 'm_good_2'])
    expect(webhook.skipped).toEqual([{ entry: 0, item: 1, reason: expect.stringContaining('sender') }])
  })

  it('skips a malformed entry and keeps the next one', () => {
    const webhook = ok({
      object: 'instagram',
      entry: [null, { id: ACCOUNT, time: TS, messaging: [item({ kind: 'text', mid: 'm_after' })] }],
    })
    expect(webhook.events).toHaveLength(1)
    expect(webhook.events[0]).toMatchObject({ mid: 'm_after' })
    expect(webhook.skipped).toEqual([{ entry: 0, item: -1, reason: expect.any(String) }])
  })

  it('never puts message content in a skip reason', () => {
    const bad = { ...itemBase(), message: { mid: 42, text: 'my secret' } }
    const webhook = ok(delivery([bad]))
    expect(webhook.skipped).toHaveLength(1)
    expect(JSON.stringify(webhook.skipped)).not.toContain('my secret')
  })
})

describe('envelope', () => {
  it('yields no events for object "page", even when it carries messaging items', () => {
    const webhook = ok({ ...delivery([item({ kind: 'text' })]), object: 'page' })
    expect(webhook).toEqual({ object: 'page', events: [], skipped: [] })
  })

  it('accepts an instagram delivery with an empty entry list', () => {
    expect(ok({ object: 'instagram', entry: [] })).toEqual({ object: 'instagram', events: [], skipped: [] })
  })

  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'instagram'],
    ['a number', 42],
    ['an empty object', {}],
    ['no entry', { object: 'instagram' }],
    ['no object', { entry: [] }],
    ['a numeric object', { object: 1, entry: [] }],
    ['entry as an object', { object: 'instagram', entry: {} }],
    ['entry as a string', { object: 'instagram', entry: 'x' }],
    ['entry null', { object: 'instagram', entry: null }],
  ])('refuses %s as not a webhook, without throwing', (_, json) => {
    const result = parseWebhook(json)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toEqual(expect.any(String))
  })
})

describe('hostile shapes inside a valid envelope', () => {
  const base = itemBase()
  const hostileEntries: [string, unknown][] = [
    ['entry items of every JSON type', [null, 1, 'x', true, [], {}]],
    ['messaging null', [{ id: ACCOUNT, messaging: null }]],
    ['messaging an object', [{ id: ACCOUNT, messaging: {} }]],
    ['standby a string', [{ id: ACCOUNT, standby: 'x' }]],
    ['changes a number', [{ id: ACCOUNT, changes: 5 }]],
    ['id an object', [{ id: {}, messaging: [] }]],
    ['id empty', [{ id: '', messaging: [] }]],
  ]

  it.each(hostileEntries)('skips %s without throwing', (_, entry) => {
    const webhook = ok({ object: 'instagram', entry })
    expect(webhook.events).toEqual([])
    expect(webhook.skipped.length).toBeGreaterThan(0)
  })

  const hostileItems: [string, unknown][] = [
    ['null', null],
    ['a number', 1],
    ['a string', 'message'],
    ['an array', [base]],
    ['an empty object', {}],
    ['sender a string', { ...base, sender: SENDER }],
    ['sender id null', { ...base, sender: { id: null } }],
    ['sender id negative', { ...base, sender: { id: -1 } }],
    ['sender id a float', { ...base, sender: { id: 1.5 } }],
    ['recipient missing', { sender: { id: SENDER }, timestamp: TS, message: { mid: MID } }],
    ['message a string', { ...base, message: 'hi' }],
    ['message mid a number', { ...base, message: { mid: 7, text: 'hi' } }],
    ['message mid empty', { ...base, message: { mid: '', text: 'hi' } }],
    ['message text a number', { ...base, message: { mid: MID, text: 5 } }],
    ['attachments a string', { ...base, message: { mid: MID, attachments: 'image' } }],
    ['attachments [null]', { ...base, message: { mid: MID, attachments: [null] } }],
    ['attachment payload a string', { ...base, message: { mid: MID, attachments: [{ type: 'image', payload: 'x' }] } }],
    ['is_echo a string', { ...base, message: { mid: MID, is_echo: 'true' } }],
    ['reaction action unknown', { ...base, reaction: { mid: MID, action: 'like' } }],
    ['reaction null', { ...base, reaction: null }],
    ['postback a string', { ...base, postback: 'GET_STARTED' }],
    ['read an array', { ...base, read: [] }],
    ['message_edit without mid', { ...base, message_edit: { text: 'x' } }],
    ['quick_reply without payload', { ...base, message: { mid: MID, text: 'x', quick_reply: {} } }],
    ['reply_to a string', { ...base, message: { mid: MID, text: 'x', reply_to: 'mid' } }],
    ['an oversized text', { ...base, message: { mid: MID, text: 'x'.repeat(100_001) } }],
  ]

  it.each(hostileItems)('skips an item that is %s and keeps its neighbour', (_, bad) => {
    const webhook = ok(delivery([bad as Record<string, unknown>, item({ kind: 'text', mid: 'm_ok' })]))
    expect(webhook.events).toHaveLength(1)
    expect(webhook.events[0]).toMatchObject({ kind: 'text', mid: 'm_ok' })
    expect(webhook.skipped).toEqual([{ entry: 0, item: 0, reason: expect.any(String) }])
  })

  it('does not let __proto__ or constructor keys leak into events', () => {
    const hostile = '"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}'
    const itemJson = `{"sender":{"id":"${SENDER}"},"recipient":{"id":"${ACCOUNT}"},"timestamp":${TS},${hostile}}`
    // JSON.parse (unlike an object literal) makes __proto__ an own key, as a real body would.
    const raw = JSON.parse(`{"object":"instagram","entry":[{"id":"${ACCOUNT}","messaging":[${itemJson}]}]}`)
    const webhook = ok(raw)
    expect(webhook.events).toHaveLength(1)
    expect(webhook.events[0]).toMatchObject({ kind: 'unknown', keys: ['__proto__', 'constructor'] })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('entry time', () => {
  it('keeps the messages of an entry whose time is malformed', () => {
    const result = parseWebhook({
      object: 'instagram',
      entry: [{ id: '1', time: 'not a time', messaging: [{ sender: { id: '2' }, recipient: { id: '1' }, timestamp: 1569262485349, message: { mid: 'm', text: 'hi' } }] }],
    })
    expect(result.ok && result.webhook.events.map((e) => e.kind)).toEqual(['text'])
  })
})

describe('timestamps from the future', () => {
  const NOW = 1_780_000_000_000
  const at = (timestamp: number) => ({ kind: 'text', mid: 'm', timestamp })

  it('re-stamps an event more than five minutes ahead with the time of receipt, and counts it', () => {
    const r = clampFutureTimestamps([at(NOW + 10 * 60_000), at(NOW - 1000)], NOW)
    expect(r.events.map((e) => e.timestamp)).toEqual([NOW, NOW - 1000])
    expect(r.clamped).toBe(1)
    expect(r.maxAheadMs).toBe(10 * 60_000)
  })

  it('keeps a stamp within the clock-skew allowance, and clamps one just past it', () => {
    expect(clampFutureTimestamps([at(NOW + MAX_FUTURE_SKEW_MS)], NOW).events[0]!.timestamp).toBe(NOW + MAX_FUTURE_SKEW_MS)
    expect(clampFutureTimestamps([at(NOW + MAX_FUTURE_SKEW_MS + 1)], NOW).events[0]!.timestamp).toBe(NOW)
  })

  it('clamps hostile stamps (years ahead, the largest safe integer) and leaves the input untouched', () => {
    const input = [at(Number.MAX_SAFE_INTEGER), at(NOW + 50 * 365 * 86_400_000)]
    const r = clampFutureTimestamps(input, NOW)
    expect(r.events.every((e) => e.timestamp === NOW)).toBe(true)
    expect(r.clamped).toBe(2)
    expect(input[0]!.timestamp).toBe(Number.MAX_SAFE_INTEGER)
  })
})

