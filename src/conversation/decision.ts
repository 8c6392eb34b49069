/**
 * The typed handover between acceptance (per-sender Durable Object) and the reply pipeline.
 */
import type { Turn } from '../llm/prompt'
import type { InboundEvent } from '../meta/webhook'

/** What acceptance decided for one event. */
export type Decision =
  | 'new' // claimed; a reply job was created
  | 'burst' // claimed; joined the sender's waiting burst, whose one reply answers it too
  | 'duplicate' // seen before (the object's claim table)
  | 'rate_limited' // claimed; over the sender's token bucket, no LLM call
  | 'rate_limited_notice' // as above, and this one gets the single "please slow down" notice
  | 'paused' // claimed; a human took over this conversation
  | 'stale' // claimed; older than the 24-hour messaging window, never answered
  | 'opted_out' // claimed; the sender sent a stop word earlier
  | 'opt_out' // claimed; this message is a stop word (confirmed if the rate limit allows)
  | 'opt_in' // claimed; a start word after an opt-out (confirmed if the rate limit allows)
  | 'resumed' // claimed; a start word that ended a handoff pause (no reply)
  | 'handoff' // claimed; the sender asked for a person (handoff notice, bot paused)
  | 'own_echo' // the echo of one of the bot's own replies
  | 'human_echo' // an echo typed by a person in the Instagram app: pauses the bot
  | 'unsent' // the user unsent a message: removed from memory
  | 'edited' // the user edited a message: memory updated, no reply
  | 'self' // a message from the business to itself: never answered
  | 'ignored' // reactions, reads, referrals, unknown kinds: nothing to do

/** The events acceptance looks at (everything but `changes[]`), as sent over RPC. */
export type AcceptEvent = InboundEvent

/** One delivery's events for one sender, as the Worker hands them to its object (`accept`). */
export interface AcceptInput {
  accountId: string
  userId: string
  events: AcceptEvent[]
  now?: number
  /** Lease the first new job to the caller, who will run it at once. */
  leaseFirst?: boolean
  /**
   * The delivering Worker cannot afford this sender's replies (see ingest.ts, fan-out bounds):
   * the new jobs are due at once, so this object's alarm runs them instead.
   */
  handOff?: boolean
}

export interface Accepted {
  /** Dedup key: the message id, or a synthetic key for events without one. */
  key: string
  kind: InboundEvent['kind']
  decision: Decision
  /** Set when a reply job was created for this event. */
  job?: string
  /** The job, already leased to the caller (see `AcceptInput.leaseFirst`). */
  lease?: LeasedJob
  /** The job is a burst waiting for its quiet window: it may be leased from this time. */
  dueAt?: number
  /** This event opened a burst: show the typing indicator now, not when the model is asked. */
  typing?: boolean
}

/** One message of a burst (see burst.ts), as the model will see it. */
export interface BurstMessage {
  /** The message's dedup key (its id): how an unsend or an edit finds it. */
  mid: string
  ts: number
  text: string
  context?: LlmContext
}

export interface LlmContext {
  storyUrl?: string
  attachmentTypes?: string[]
  adTitle?: string
}

/** How the reply for a job is produced. */
export type JobKind =
  | {
      type: 'llm'
      /** The newest message (of the burst). */
      text: string
      context?: LlmContext
      /** Set when coalescing: every message of the burst, oldest first, the newest being `text`. */
      burst?: BurstMessage[]
      /** When the burst opened (its typing indicator went out then); set only when coalescing. */
      since?: number
    }
  | { type: 'fixed'; text: string; reason: string }
  | CommentJob

/**
 * A private reply to a comment (its fixed text, or null for the assistant), then optionally one
 * public reply under it. Part 0 is the private reply, part 1 the public one; both exactly once.
 */
export interface CommentJob {
  type: 'comment'
  commentId: string
  /** The rule's fixed private reply; null: the assistant answers the comment. */
  reply: string | null
  /** The comment as written (untrusted: screened and fenced like a DM when the assistant answers). */
  text: string
  publicReply?: string
  /** The rule that matched (its index in COMMENT_RULES), for logs. */
  rule: number
  context?: { mediaProductType?: string; adTitle?: string }
}

export type { Turn } from '../llm/prompt'

/**
 * What `partSent` answers when the part it recorded finished its job: whether a job nobody has
 * tried yet now heads one of the sender's queues (ready, or a burst in its quiet window), so a
 * runner with budget left asks for it (leaseNextFresh) only when there is one.
 */
export interface Finished {
  fresh: boolean
}

/** What a lease hands to whoever runs a job: all it needs, nothing it may not change. */
export interface LeasedJob {
  id: string
  leaseId: string
  userId: string
  accountId: string
  /** When the user's message was sent. */
  timestamp: number
  /** The user's latest message: the 24-hour messaging window is measured from here. */
  lastUserAt: number
  kind: JobKind
  /** Parts already generated (the LLM is never called twice for one job). */
  parts: string[] | null
  /** Index of the first part not yet confirmed as sent. */
  nextPart: number
  attempts: number
  memory: Turn[]
  /** Model calls made for this sender today (UTC), for the per-sender daily cap. */
  llmCallsToday: number
}

export type PartGate = 'go' | 'already_sent' | 'wait_for_echo' | 'lost_lease'

/** How a job ended when it did not end with every part sent. */
export interface JobOutcome {
  state: 'done' | 'failed'
  reason: string
}
