/**
 * Meta's messaging window as one pure decision: a reply may be sent only within 24 hours of the
 * user's last message. This Worker only ever sends automated replies and never uses the
 * HUMAN_AGENT tag (humans only, 7 days, App Review), so no kind of send here outlives 24 hours.
 * See ../shared/reference/meta-instagram.md §7.
 */

export const REPLY_WINDOW_MS = 24 * 60 * 60 * 1000
/**
 * A user message stamped slightly ahead of our clock (Meta's timestamp, another isolate's clock)
 * still counts; one far in the future is not evidence of a real message and is refused.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

export interface ReplyPolicyInput {
  now: number
  /** Time (ms) of the sender's last message to the account; echoes and our sends do not count. */
  lastUserMessageAt: number | undefined
  /**
   * 'automated': the bot. 'human': a person sending through this Worker's Send API client, which
   * has no HUMAN_AGENT path either, so the same 24 h applies; humans past the window answer from
   * the Instagram app. The bot must never pass 'human' to get around the window.
   */
  kind: 'automated' | 'human'
}

export type ReplyPolicy =
  | { allowed: true }
  | { allowed: false; reason: 'no_user_message' | 'outside_24h_window' }

export function replyPolicy(input: ReplyPolicyInput): ReplyPolicy {
  const { now, lastUserMessageAt } = input
  if (lastUserMessageAt === undefined || !Number.isFinite(lastUserMessageAt) || !Number.isFinite(now)) {
    return { allowed: false, reason: 'no_user_message' }
  }
  const elapsed = now - lastUserMessageAt
  if (elapsed < -MAX_CLOCK_SKEW_MS) return { allowed: false, reason: 'no_user_message' }
  // The window is half-open: at exactly 24 h Meta may already refuse (code 10 / 2534022).
  if (elapsed >= REPLY_WINDOW_MS) return { allowed: false, reason: 'outside_24h_window' }
  return { allowed: true }
}
