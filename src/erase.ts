/**
 * Data deletion and deauthorization behind Meta's callbacks: the storage side of
 * `meta-callbacks.ts`. A sender's data lives in its Durable Object (named account:user) and in
 * KV dedup keys; the accounts this Worker has seen are listed in KV so every object of a user
 * can be found from the callback's user id alone.
 */
import type { Config } from './config'
import { senderObjectName } from './ingest'
import type { DeletionRecord } from './meta-callbacks'

const ACCOUNT_PREFIX = 'account:'
const DELETION_PREFIX = 'deletion:'
/** How long a deletion's status page answers (see PRIVACY.md). */
export const DELETION_STATUS_TTL_SECONDS = 90 * 86_400

const knownAccounts = new Set<string>()

/** Remembers an Instagram account id seen in a webhook (one KV write per isolate and account). */
export async function rememberAccount(kv: KVNamespace, accountId: string): Promise<void> {
  if (knownAccounts.has(accountId)) return
  knownAccounts.add(accountId)
  await kv.put(`${ACCOUNT_PREFIX}${accountId}`, '1').catch(() => knownAccounts.delete(accountId))
}

async function accountIds(kv: KVNamespace, config: Config): Promise<string[]> {
  const ids = new Set<string>([config.IG_ACCOUNT_ID])
  let cursor: string | undefined
  do {
    const page = await kv.list({ prefix: ACCOUNT_PREFIX, cursor })
    for (const k of page.keys) ids.add(k.name.slice(ACCOUNT_PREFIX.length))
    cursor = page.list_complete ? undefined : page.cursor
  } while (cursor)
  return [...ids]
}

/** Erases everything stored about `userId` in every account's sender object and in KV. */
export async function eraseUser(env: Env, config: Config, userId: string): Promise<void> {
  for (const accountId of await accountIds(env.DEDUP, config)) {
    const keys = await env.SENDER.getByName(senderObjectName(accountId, userId)).forget()
    await Promise.all(keys.map((k) => env.DEDUP.delete(`seen:${accountId}:${k}`)))
  }
}

export async function saveDeletion(kv: KVNamespace, code: string, rec: DeletionRecord): Promise<void> {
  await kv.put(`${DELETION_PREFIX}${code}`, JSON.stringify(rec), { expirationTtl: DELETION_STATUS_TTL_SECONDS })
}

export async function getDeletion(kv: KVNamespace, code: string): Promise<{ status: string; at: number } | null> {
  const v = await kv.get(`${DELETION_PREFIX}${code}`)
  return v ? (JSON.parse(v) as { status: string; at: number }) : null
}
