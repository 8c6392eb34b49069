/**
 * Comment notifications (§12): `comments` and `live_comments` changes become typed `comment`
 * events of their commenter; the account's own comments, replies and ad comments are recognised;
 * hostile values in any field are skipped alone and never throw.
 */
import { describe, expect, it } from 'vitest'
import { parseWebhook, type ParsedWebhook, type WebhookEvent } from '../../src/meta/webhook'
import { commentChange, commentDelivery, DEFAULT_ACCOUNT_ID as ACCOUNT, DEFAULT_SENDER_ID as SENDER } from '../../tools/payloads'

const TIME_S = 1732800000

function ok(json: unknown): ParsedWebhook {
  const result = parseWebhook(json)
  if (!result.ok) throw new Error(`expected a webhook, got: ${result.reason}`)
  return result.webhook
}

/** A delivery with the given raw change items, entry time in seconds as Meta sends it. */
const raw = (changes: unknown[], time: unknown = TIME_S) => ({ object: 'instagram', entry: [{ id: ACCOUNT, time, changes }] })

function single(change: unknown): WebhookEvent {
  const webhook = ok(raw([change]))
  expect(webhook.skipped).toEqual([])
  expect(webhook.events).toHaveLength(1)
  return webhook.events[0]!
}

describe('comment events', () => {
  it("normalizes Meta's reference comment payload into a comment of its commenter, timed by the entry (seconds)", () => {
    const event = single({
      field: 'comments',
      value: {
        from: { id: '232323232', username: 'test' },
        media: { id: '123123123', media_product_type: 'FEED' },
        id: '17865799348089039',
        text: 'This is an example.',
      },
    })
    expect(event).toEqual({
      source: 'changes',
      accountId: ACCOUNT,
      senderId: '232323232',
      recipientId: ACCOUNT,
      timestamp: TIME_S * 1000,
      kind: 'comment',
      commentId: '17865799348089039',
      text: 'This is an example.',
      username: 'test',
      mediaId: '123123123',
      mediaProductType: 'FEED',
      live: false,
      own: false,
    })
  })

  it('marks live_comments as live', () => {
    const event = single(commentChange({ live: true, text: 'price?' }))
    expect(event).toMatchObject({ kind: 'comment', live: true, text: 'price?' })
  })

  it('keeps the ad id and title of a comment on an ad', () => {
    const event = single(commentChange({ adId: '23850000000000001', adTitle: 'Summer sale' }))
    expect(event).toMatchObject({ kind: 'comment', adId: '23850000000000001', adTitle: 'Summer sale', mediaProductType: 'AD' })
  })

  it('keeps parent_id of a reply to another comment', () => {
    const event = single(commentChange({ parentId: '17865799348089000' }))
    expect(event).toMatchObject({ kind: 'comment', parentId: '17865799348089000' })
  })

  it("recognises the account's own comment by from.id === entry.id", () => {
    const event = single(commentChange({ senderId: ACCOUNT }))
    expect(event).toMatchObject({ kind: 'comment', own: true, senderId: ACCOUNT })
    expect(single(commentChange({ senderId: SENDER }))).toMatchObject({ own: false })
  })

  it('reads numeric ids as strings and a comment without text as empty text', () => {
    const event = single({ field: 'comments', value: { id: 1786579934808, from: { id: 232323232 } } })
    expect(event).toMatchObject({ kind: 'comment', commentId: '1786579934808', senderId: '232323232', text: '' })
  })

  it('the same comment delivered twice (once plain, once with its ad) yields the same comment id', () => {
    const webhook = ok(commentDelivery([{ commentId: '17865799348089039' }, { commentId: '17865799348089039', adId: '2385', adTitle: 'Ad' }]))
    expect(webhook.events.map((e) => (e.kind === 'comment' ? e.commentId : null))).toEqual(['17865799348089039', '17865799348089039'])
  })

  it('leaves other change fields as plain change events', () => {
    expect(single({ field: 'mentions', value: { media_id: '1', comment_id: '2' } })).toEqual({
      kind: 'change',
      accountId: ACCOUNT,
      field: 'mentions',
      timestamp: TIME_S * 1000,
    })
  })
})

describe('hostile comment values are skipped alone', () => {
  const good = commentChange({ commentId: '17800000000000001' })
  const withValue = (patch: Record<string, unknown>) => {
    const base = commentChange() as { field: string; value: Record<string, unknown> }
    return { field: base.field, value: { ...base.value, ...patch } }
  }

  it.each([
    ['a missing from', withValue({ from: undefined })],
    ['from without id', withValue({ from: { username: 'x' } })],
    ['a comment id with a path', withValue({ id: '../../me/messages' })],
    ['a comment id with a dot', withValue({ id: '1785.1' })],
    ['a comment id with a query', withValue({ id: '1785?access_token=x' })],
    ['an empty comment id', withValue({ id: '' })],
    ['a numeric comment id past 2^53 (digits already lost)', withValue({ id: 17865799348089039 })],
    ['a 300-character comment id', withValue({ id: '1'.repeat(300) })],
    ['a commenter id with a slash', withValue({ from: { id: '12/34' } })],
    ['a parent id with a slash', withValue({ parent_id: '12/34' })],
    ['text over 100 000 characters', withValue({ text: 'a'.repeat(100_001) })],
    ['text that is an object', withValue({ text: { a: 1 } })],
    ['a value that is a string', { field: 'comments', value: 'hello' }],
    ['no value at all', { field: 'live_comments' }],
  ])('skips %s and keeps the good comment next to it', (_, bad) => {
    const webhook = ok(raw([bad, good]))
    expect(webhook.skipped).toHaveLength(1)
    expect(webhook.skipped[0]).toMatchObject({ entry: 0, item: 0 })
    expect(webhook.events).toHaveLength(1)
    expect(webhook.events[0]).toMatchObject({ kind: 'comment', commentId: '17800000000000001' })
  })

  it('keeps a comment of exactly 100 000 characters (matching caps what is read)', () => {
    expect(single(withValue({ text: 'a'.repeat(100_000) }))).toMatchObject({ kind: 'comment' })
  })

  it('drops only the broken optional parts: a bad media object or username does not cost the comment', () => {
    const event = single(withValue({ media: { id: '../x', media_product_type: 5 }, from: { id: '42', username: { x: 1 } } }))
    expect(event).toMatchObject({ kind: 'comment', senderId: '42' })
    expect(event).not.toHaveProperty('mediaId')
    expect(event).not.toHaveProperty('username')
  })

  it('skips comments when the entry has no usable time (the 7-day limit needs one)', () => {
    for (const time of [null, 'yesterday', -1]) {
      const webhook = ok(raw([good], time))
      expect(webhook.events).toEqual([])
      expect(webhook.skipped).toHaveLength(1)
    }
  })
})
