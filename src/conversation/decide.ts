/**
 * What one claimed event means for its conversation: the state machine of the sender object.
 * Runs inside the object's transaction (synchronous SQL only), over the object's stores.
 *
 * Order matters and is part of the contract: echoes (own or a person's) first; then the 24-hour
 * window; opt-out and opt-in before anything else a user says (a person must always be able to
 * make the bot stop); nothing of an opted-out sender is remembered; a human takeover silences
 * the bot; a handoff request pauses it; only then the rate limit and a reply job.
 */
import type { Config } from '../core/config'
import type { InboundEvent } from '../meta/webhook'
import type { Decision, JobKind } from './decision'
import { burstDueAt, burstKind, type Bursts } from './burst'
import type { Jobs } from './jobs'
import { WINDOW_MS } from './jobs'
import { intentWords, matchIntent } from './keywords'
import type { Limits } from './limits'
import { memoryText, type Memory } from './memory'
import { matchDmRule } from './rules'
import { decideComment } from './comments'
import type { StateStore } from './state'

export interface ConversationStores {
  state: StateStore
  memory: Memory
  limits: Limits
  jobs: Jobs
  bursts: Bursts
}

/** The reply an event deserves, before any state is consulted; null for events not answered. */
export function jobFor(e: InboundEvent, config: Config): JobKind | null {
  switch (e.kind) {
    case 'text':
      return { type: 'llm', text: e.text, context: e.referral?.adTitle ? { adTitle: e.referral.adTitle } : undefined }
    case 'story_reply':
      return { type: 'llm', text: e.text, context: { storyUrl: e.story.url } }
    case 'quick_reply':
      return { type: 'llm', text: e.text || e.payload }
    case 'postback': {
      const words = e.title || e.payload
      return words ? { type: 'llm', text: words } : null
    }
    case 'attachment':
      if (e.text?.trim()) return { type: 'llm', text: e.text, context: { attachmentTypes: e.attachments.map((a) => a.type) } }
      return config.ATTACHMENT_REPLY ? { type: 'fixed', text: config.ATTACHMENT_REPLY, reason: 'attachment' } : null
    case 'unsupported':
      return config.ATTACHMENT_REPLY ? { type: 'fixed', text: config.ATTACHMENT_REPLY, reason: 'unsupported' } : null
    case 'story_mention':
      return config.STORY_MENTION_REPLY ? { type: 'fixed', text: config.STORY_MENTION_REPLY, reason: 'story_mention' } : null
    default:
      return null
  }
}

export interface DecideInput {
  e: InboundEvent
  /** The event's dedup key; a reply job takes it as its id. */
  key: string
  now: number
  config: Config
  /** Hash of an echo's text (computed before the transaction, which cannot await). */
  echoHash?: string
}

export interface Decided {
  decision: Decision
  job?: string
  /** The job is a burst that may be leased from this time. */
  dueAt?: number
}

export function decideEvent(s: ConversationStores, { e, key, now, config, echoHash }: DecideInput): Decided {
  if (e.source === 'standby') return { decision: 'ignored' }
  if (e.kind === 'comment') return decideComment(s, { e, key, now, config })
  switch (e.kind) {
    case 'echo': {
      if (s.jobs.isOwn(e.mid)) return { decision: 'own_echo' }
      if (echoHash !== undefined && s.jobs.claimEcho(echoHash, e.mid, now)) return { decision: 'own_echo' }
      const until = now + config.HUMAN_TAKEOVER_MINUTES * 60_000
      if (until > s.state.num('paused_until')) {
        s.state.set('paused_until', until)
        // Why the bot is quiet, for the operator (a longer handoff pause keeps its own reason).
        s.state.set('pause_reason', 'person_answered')
      }
      s.bursts.cancelWaiting('paused', now)
      if (e.text) s.memory.remember('assistant', e.text, e.timestamp, e.mid, config)
      return { decision: 'human_echo' }
    }
    case 'unsend':
      s.memory.unsend(e.mid)
      if (!s.bursts.unsend(e.mid, now)) s.jobs.cancelUnsent(e.mid)
      return { decision: 'unsent' }
    case 'edit':
      if (e.text !== undefined) {
        s.memory.edit(e.mid, e.text, config)
        s.bursts.edit(e.mid, e.text, now)
      }
      return { decision: 'edited' }
    case 'reaction':
    case 'read':
    case 'referral':
    case 'unknown':
      return { decision: 'ignored' }
    default:
      break
  }
  if (e.senderId === e.accountId) return { decision: 'self' }
  const said = memoryText(e)
  const mid = 'mid' in e && typeof e.mid === 'string' ? e.mid : null
  const job = jobFor(e, config)
  if (now - e.timestamp > WINDOW_MS) return { decision: 'stale' }
  // Never later than now: a stamp from the future must not hold the window or memory open.
  s.state.set('last_user_at', Math.max(Math.min(s.state.num('last_user_at'), now), Math.min(e.timestamp, now)))
  const reply = (text: string, reason: string) => s.jobs.create(key, e.timestamp, { type: 'fixed', text, reason }, now)
  // A confirmation is a reply like any other: it needs a token from the sender's bucket, so a
  // burst of STOP/START/handoff messages cannot turn into a burst of replies. What the sender
  // asked for is done either way.
  const confirm = (text: string, reason: string) => (s.limits.takeToken(config, now) ? { job: reply(text, reason) } : {})
  // Opt-out and opt-in are honoured before anything else: a person must always be able to make
  // the bot stop.
  const intent = job?.type === 'llm' ? matchIntent(job.text, intentWords(config)) : null
  if (intent === 'stop') {
    s.state.set('opted_out', 1)
    s.memory.clear()
    s.bursts.cancelWaiting('opted_out', now)
    return { decision: 'opt_out', ...confirm(config.OPT_OUT_REPLY, 'opt_out') }
  }
  if (intent === 'start' && s.state.get('opted_out')) {
    s.state.delete('opted_out', 'paused_until', 'pause_reason')
    return { decision: 'opt_in', ...confirm(config.OPT_IN_REPLY, 'opt_in') }
  }
  if (intent === 'start' && s.state.num('paused_until') > now) {
    // START also ends a handoff pause (see HANDOFF_REPLY); only an opt-out is confirmed.
    s.state.delete('paused_until', 'pause_reason')
    return { decision: 'resumed' }
  }
  // Nothing of an opted-out sender is remembered.
  if (s.state.get('opted_out')) return { decision: 'opted_out' }
  if (said !== null) s.memory.remember('user', said, e.timestamp, mid, config)
  if (s.state.num('paused_until') > now) return { decision: 'paused' }
  if (intent === 'handoff') {
    // Meta requires a path to a person: the bot stays quiet for the rest of the messaging
    // window (or until START), and every reply from a person extends the pause.
    s.state.set('paused_until', now + WINDOW_MS)
    s.state.set('pause_reason', 'handoff')
    s.bursts.cancelWaiting('paused', now)
    return { decision: 'handoff', ...confirm(config.HANDOFF_REPLY, 'handoff') }
  }
  if (!job) return { decision: 'ignored' }
  // DM_RULES answer with their fixed text instead of the model: free, instant, deterministic.
  const ruled = job.type === 'llm' ? matchDmRule(config.DM_RULES, job.text) : null
  // Text for the model waits for the rest of its burst; fixed replies (rules too) are never delayed.
  const msg =
    config.COALESCE_WINDOW_MS > 0 && job.type === 'llm' && !ruled
      ? { mid: key, ts: e.timestamp, text: job.text, ...(job.context ? { context: job.context } : {}) }
      : null
  if (msg) {
    // A burst costs one rate-limit token, taken by the message that opened it.
    const joined = s.bursts.join(msg, now, config)
    if (joined) return { decision: 'burst', ...joined }
  }
  if (!s.limits.takeToken(config, now)) {
    if (!s.limits.takeNotice(config, now)) return { decision: 'rate_limited' }
    return { decision: 'rate_limited_notice', job: reply(config.SLOW_DOWN_REPLY, 'rate_limited') }
  }
  if (ruled) return { decision: 'new', job: reply(ruled.reply, 'dm_rule') }
  if (msg) {
    const dueAt = burstDueAt(now, now, config)
    return { decision: 'new', job: s.jobs.create(key, e.timestamp, burstKind([msg], now), now, dueAt), dueAt }
  }
  return { decision: 'new', job: s.jobs.create(key, e.timestamp, job, now) }
}
