/**
 * What a comment means for its commenter's conversation (runs inside the sender object's
 * transaction, like `decide.ts` for DMs), and the cheap check the Worker makes before waking the
 * object at all: the account's own comments, comments older than 7 days and comments no rule
 * matches cost no Durable Object request.
 */
import type { Config } from '../core/config'
import type { InboundEvent } from '../meta/webhook'
import { COMMENT_REPLY_MS } from './comment-job'
import type { CommentJob, Decision } from './decision'
import type { Jobs } from './jobs'
import type { Limits } from './limits'
import type { Memory } from './memory'
import type { StateStore } from './state'
import { matchCommentRule, pickPublicReply } from './rules'

type CommentEvent = Extract<InboundEvent, { kind: 'comment' }>

/** Why a comment gets nothing, decided without any state; null when it may deserve a reply. */
export function commentSkip(e: CommentEvent, config: Config, now: number): 'self' | 'stale' | 'ignored' | null {
  if (e.own || e.senderId === e.accountId) return 'self'
  if (now - e.timestamp >= COMMENT_REPLY_MS) return 'stale'
  if (!matchCommentRule(config.COMMENT_RULES, e.text, e.mediaId)) return 'ignored'
  return null
}

export function decideComment(
  s: { state: StateStore; memory: Memory; limits: Limits; jobs: Jobs },
  { e, key, now, config }: { e: CommentEvent; key: string; now: number; config: Config }
): { decision: Decision; job?: string } {
  const skip = commentSkip(e, config, now)
  if (skip) return { decision: skip }
  const match = matchCommentRule(config.COMMENT_RULES, e.text, e.mediaId)!
  // Never to a sender who opted out, nor while a person has the conversation.
  if (s.state.get('opted_out')) return { decision: 'opted_out' }
  if (s.state.num('paused_until') > now) return { decision: 'paused' }
  // The commenter's token bucket: a burst of comments gets one reply per token, no notice (the
  // private reply is the only message a comment may trigger).
  if (!s.limits.takeToken(config, now)) return { decision: 'rate_limited' }
  // Keyed by the comment, so the assistant's prompt does not see the comment twice. Not a DM:
  // the 24-hour messaging window stays closed until the commenter writes back.
  s.memory.remember('user', e.text, e.timestamp, key, config)
  const context: CommentJob['context'] = {
    ...(e.mediaProductType ? { mediaProductType: e.mediaProductType } : {}),
    ...(e.adTitle ? { adTitle: e.adTitle } : {}),
  }
  // Meta takes public replies on top-level comments only, and none on live video.
  const publicReply = e.parentId || e.live ? undefined : pickPublicReply(match.rule.public_replies, e.commentId)
  const job: CommentJob = {
    type: 'comment',
    commentId: e.commentId,
    reply: match.rule.private_reply,
    text: e.text,
    ...(publicReply ? { publicReply } : {}),
    rule: match.index,
    ...(Object.keys(context).length ? { context } : {}),
  }
  return { decision: 'new', job: s.jobs.create(key, e.timestamp, job, now) }
}
