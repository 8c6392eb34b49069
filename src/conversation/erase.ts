/**
 * Data deletion and deauthorization behind Meta's callbacks: the storage side of
 * `meta-callbacks.ts`. A sender's data lives in its Durable Object (named account:user), and in
 * KV seen-keys written by versions before the object became the only dedup (they expire within
 * 48 hours); the accounts this Worker has seen are listed in KV so every object of a user can be
 * found from the callback's user id alone.
 */
import type { Config } from '../core/config'
import { knownAccountIds, seenKey, senderObjectName } from './names'

const DELETION_PREFIX = 'deletion:'
/** How long a deletion's status page answers (see PRIVACY.md). */
export const DELETION_STATUS_TTL_SECONDS = 90 * 86_400

/** What the status page of a data-deletion request shows (no personal data). */
export interface DeletionRecord {
  status: 'completed' | 'pending'
  /** When the status was last set (ms). */
  at: number
}

/** Erases everything stored about `userId` in every account's sender object and in KV. */
export async function eraseUser(env: Env, config: Config, userId: string): Promise<void> {
  for (const accountId of await knownAccountIds(env.DEDUP, config.IG_ACCOUNT_ID)) {
    const keys = await env.SENDER.getByName(senderObjectName(accountId, userId)).forget(accountId)
    await Promise.all(keys.map((k) => env.DEDUP.delete(seenKey(accountId, k))))
  }
}

export async function saveDeletion(kv: KVNamespace, code: string, rec: DeletionRecord): Promise<void> {
  await kv.put(`${DELETION_PREFIX}${code}`, JSON.stringify(rec), { expirationTtl: DELETION_STATUS_TTL_SECONDS })
}

export async function getDeletion(kv: KVNamespace, code: string): Promise<{ status: string; at: number } | null> {
  const v = await kv.get(`${DELETION_PREFIX}${code}`)
  return v ? (JSON.parse(v) as { status: string; at: number }) : null
}
