/**
 * The rules of reply jobs that need no storage: their times (lease, retries, window, retention),
 * the SQL predicates that pick them, and the pure helpers on a job's row and kind (jobs.ts).
 */
import type { JobKind } from './decision'

const HOUR = 3_600_000
export const DAY = 24 * HOUR
/** The messaging window: automated replies are allowed for 24 hours after the user's message. */
export const WINDOW_MS = 24 * HOUR
/** How long a runner owns a job: inside the 30 s that `waitUntil` gets after the response. */
export const LEASE_MS = 28_000
/** How long a runner gets to take the next job of a sender before the alarm does. */
export const UNBLOCK_GRACE_MS = 3_000
/**
 * A job is taken at most this often (leases, not releases, are counted). With the retry delays
 * below that is about three hours of retries for a Send API outage, far more than a model that
 * never finishes needs to be given up on.
 */
export const MAX_ATTEMPTS = 20
/** First alarm retry after a runner gave a job back; doubles per attempt, capped. */
const RETRY_BASE_MS = 5_000
const RETRY_MAX_MS = 15 * 60_000
/** Finished jobs and the bot's own message ids are kept as long as claims. */
export const FINISHED_RETENTION_MS = 48 * HOUR

export const OPEN = "state IN ('pending', 'generated')"
/** A burst still waiting for its quiet window (burst.ts): it holds back no later message. */
export const WAITING_BURST = 'due_at > ? AND lease_until <= ? AND parts IS NULL'
/** A comment reply may wait an hour for a private-reply slot: DMs (and STOP) never wait behind it. */
export const COMMENT = `kind LIKE '{"type":"comment"%'`
export const queueOf = (comment: boolean) => (comment ? COMMENT : `NOT ${COMMENT}`)
/** The job (id, lease id, now bound in that order) is held under a lease that has not run out. */
export const HELD = 'id = ? AND lease_id = ? AND lease_until > ?'

/** The first unfinished job of a queue. */
export interface Head {
  id: string
  attempts: number
  t: number
  [k: string]: SqlStorageValue
}

export interface JobRow {
  id: string
  ts: number
  kind: string
  state: string
  parts: string | null
  next_part: number
  attempts: number
  next_at: number
  lease_until: number
  lease_id: string | null
  due_at: number
  [k: string]: SqlStorageValue
}

/** Short hash of a reply part's text: how an echo that overtook the Send API response is matched. */
export async function textHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text.trim()))
  return [...new Uint8Array(digest).slice(0, 12)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** Retry delay after `attempts` failed attempts: 5 s doubling, at most 15 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(Math.max(attempts, 1) - 1, 20))
}

export function isCommentRow(row: JobRow): boolean {
  return row.kind.startsWith('{"type":"comment"')
}

/** The message ids a job answers: a burst's, or the job's own. */
export function answeredMids(jobId: string, kind: JobKind): string[] {
  return kind.type === 'llm' && kind.burst ? kind.burst.map((m) => m.mid) : [jobId]
}

/** Confirmations of what the sender asked for go out even while the bot is paused or opted out. */
export function isConfirmation(kind: JobKind): boolean {
  return kind.type === 'fixed' && ['opt_out', 'opt_in', 'handoff'].includes(kind.reason)
}
