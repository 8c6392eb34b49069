/**
 * Where a conversation's state lives: the Durable Object name of an (account, user) pair, the
 * dedup key of an event, the KV keys of its seen ids, and the KV registry of Instagram accounts
 * this Worker has served. Both the delivery path (`ingest.ts`) and data deletion (`erase.ts`)
 * need these, so they live below both.
 */
import type { InboundEvent } from '../meta/webhook'

const ACCOUNT_PREFIX = 'account:'

export function senderObjectName(accountId: string, userId: string): string {
  return `${accountId}:${userId}`
}

export function seenKey(accountId: string, key: string): string {
  return `seen:${accountId}:${key}`
}

const knownAccounts = new Set<string>()

/** Remembers an Instagram account id seen in a webhook (one KV write per isolate and account). */
export async function rememberAccount(kv: KVNamespace, accountId: string): Promise<void> {
  if (knownAccounts.has(accountId)) return
  knownAccounts.add(accountId)
  await kv.put(`${ACCOUNT_PREFIX}${accountId}`, '1').catch(() => knownAccounts.delete(accountId))
}

/** Every account id this Worker has seen, plus the configured one. */
export async function knownAccountIds(kv: KVNamespace, configured: string): Promise<string[]> {
  const ids = new Set<string>([configured])
  let cursor: string | undefined
  do {
    const page = await kv.list({ prefix: ACCOUNT_PREFIX, cursor })
    for (const k of page.keys) ids.add(k.name.slice(ACCOUNT_PREFIX.length))
    cursor = page.list_complete ? undefined : page.cursor
  } while (cursor)
  return [...ids]
}

/** Stable dedup key for an event: Meta's message id, or the envelope for events without one. */
export function eventKey(e: InboundEvent): string {
  // Meta's stamp, not a re-stamped time of receipt: a redelivery must get the same key.
  const ts = e.stampedAt ?? e.timestamp
  // One key per comment, however often (and in how many shapes: ads arrive twice) Meta sends it.
  if (e.kind === 'comment') return `comment:${e.commentId}`
  if ('mid' in e && typeof e.mid === 'string' && e.mid) {
    // An unsend, edit or reaction carries the id of the message it changes, so it gets its own key.
    if (e.kind === 'unsend' || e.kind === 'edit' || e.kind === 'reaction' || e.kind === 'read') return `${e.kind}:${e.mid}:${ts}`
    return e.mid
  }
  return `${e.kind}:${e.senderId}:${ts}`
}
