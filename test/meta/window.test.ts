import { describe, expect, it } from 'vitest'
import { MAX_CLOCK_SKEW_MS, REPLY_WINDOW_MS, replyPolicy } from '../../src/meta/window'

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0)
const HOUR = 60 * 60 * 1000

describe('replyPolicy', () => {
  it('uses a window of exactly 24 hours', () => {
    expect(REPLY_WINDOW_MS).toBe(86_400_000)
  })

  it('allows an automated reply right after the user writes', () => {
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW, kind: 'automated' })).toEqual({ allowed: true })
  })

  it('allows an automated reply 1 ms before the window closes', () => {
    const lastUserMessageAt = NOW - 24 * HOUR + 1
    expect(replyPolicy({ now: NOW, lastUserMessageAt, kind: 'automated' })).toEqual({ allowed: true })
  })

  it('refuses an automated reply at exactly 24 hours', () => {
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW - 24 * HOUR, kind: 'automated' })).toEqual({
      allowed: false,
      reason: 'outside_24h_window',
    })
  })

  it('refuses an automated reply 1 ms after the window closed', () => {
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW - 24 * HOUR - 1, kind: 'automated' })).toEqual({
      allowed: false,
      reason: 'outside_24h_window',
    })
  })

  it('never allows an automated reply days later (no HUMAN_AGENT tag for bots)', () => {
    for (const days of [2, 6, 7, 8, 30]) {
      expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW - days * 24 * HOUR, kind: 'automated' })).toEqual({
        allowed: false,
        reason: 'outside_24h_window',
      })
    }
  })

  it('gives a human sending through the Worker the same 24 hours, since it never sends with the tag', () => {
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW - 23 * HOUR, kind: 'human' })).toEqual({ allowed: true })
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW - 3 * 24 * HOUR, kind: 'human' })).toEqual({
      allowed: false,
      reason: 'outside_24h_window',
    })
  })

  it('refuses when the sender has never written', () => {
    for (const kind of ['automated', 'human'] as const) {
      expect(replyPolicy({ now: NOW, lastUserMessageAt: undefined, kind })).toEqual({
        allowed: false,
        reason: 'no_user_message',
      })
    }
  })

  it('refuses a timestamp that is not a number', () => {
    for (const lastUserMessageAt of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(replyPolicy({ now: NOW, lastUserMessageAt, kind: 'automated' })).toEqual({
        allowed: false,
        reason: 'no_user_message',
      })
    }
  })

  it('tolerates a last message stamped up to five minutes in the future (clock skew)', () => {
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW + 1, kind: 'automated' })).toEqual({ allowed: true })
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW + MAX_CLOCK_SKEW_MS, kind: 'automated' })).toEqual({
      allowed: true,
    })
  })

  it('does not treat a last message far in the future as proof of an open window', () => {
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW + MAX_CLOCK_SKEW_MS + 1, kind: 'automated' })).toEqual({
      allowed: false,
      reason: 'no_user_message',
    })
    // A seconds/milliseconds mix-up in the caller must not open the window either.
    expect(replyPolicy({ now: NOW / 1000, lastUserMessageAt: NOW, kind: 'automated' })).toEqual({
      allowed: false,
      reason: 'no_user_message',
    })
    expect(replyPolicy({ now: NOW, lastUserMessageAt: NOW / 1000, kind: 'automated' })).toEqual({
      allowed: false,
      reason: 'outside_24h_window',
    })
  })
})
