/**
 * Structured logs: one JSON object per line, so Workers Logs and `wrangler tail --format json`
 * can filter on fields. Never pass message text, tokens or raw Instagram ids here; ids go through
 * `hashId` first.
 */
import { hmacHex } from './hmac'

export const LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type Level = (typeof LEVELS)[number]
export type Fields = Record<string, string | number | boolean | null | undefined | string[] | number[]>

export interface Logger {
  debug(event: string, fields?: Fields): void
  info(event: string, fields?: Fields): void
  warn(event: string, fields?: Fields): void
  error(event: string, fields?: Fields): void
  child(fields: Fields): Logger
}

const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 }
let threshold = RANK.info

/**
 * The lowest level written (LOG_LEVEL; info by default), for the whole isolate: one Worker has one
 * configuration, and readConfig sets it. Every line costs CPU twice, in the Worker and in the
 * runtime that ships it, so the default level writes no line per DM on the happy path (the
 * deliveries are rolled up, see rollUp) and keeps the details for debug.
 */
export function setLogLevel(level: Level): void {
  threshold = RANK[level]
}

export function createLogger(base: Fields = {}): Logger {
  const emit = (level: Level, event: string, fields?: Fields) => {
    if (RANK[level] < threshold) return
    const line = JSON.stringify({ level, event, ...base, ...fields })
    if (level === 'error') console.error(line)
    else if (level === 'warn') console.warn(line)
    else console.log(line)
  }
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (fields) => createLogger({ ...base, ...fields }),
  }
}

/**
 * A short keyed hash of an Instagram id for logs: stable within a deployment (so a sender's
 * lines can be correlated) but not reversible without the key, unlike a plain hash of a
 * 17-digit number, which can be brute-forced.
 */
export function hashId(id: string, key: string): Promise<string> {
  return hmacHex(`log-id:${key}`, id, 6)
}

/** Lines of one sampled event logged per isolate and window; the rest are only counted. */
export const SAMPLED_PER_WINDOW = 5
export const SAMPLE_WINDOW_MS = 60_000

/**
 * One event's current window in this isolate: how many lines it wrote, how many calls it held
 * back, and (for rolled-up events) the sums of what those held calls would have logged.
 */
interface Window {
  start: number
  logged: number
  held: number
  sums: Record<string, number>
}
const windows = new Map<string, Window>()

/** The event's window at `now`; a window a minute old is closed and returned beside the new one. */
function windowAt(event: string, now: number): { w: Window; closed: Window | undefined } {
  const open = windows.get(event)
  if (open && now - open.start < SAMPLE_WINDOW_MS) return { w: open, closed: undefined }
  const w: Window = { start: now, logged: 0, held: 0, sums: {} }
  windows.set(event, w)
  return { w, closed: open }
}

/**
 * For events anyone on the internet can cause without a secret (a rejected signature, an
 * oversized body, a wrong verify token): the first few per minute are logged, the rest counted,
 * and the count rides on the first line of the next window (`suppressed_before`). So a flood of
 * junk requests costs a handful of log lines a minute, not one each.
 */
export function sampledWarn(log: Logger, event: string, fields: Fields = {}, now = Date.now()): void {
  sampled(log, 'warn', event, fields, now)
}

/** As sampledWarn, at error level: a misconfigured Worker answers every request with one. */
export function sampledError(log: Logger, event: string, fields: Fields = {}, now = Date.now()): void {
  sampled(log, 'error', event, fields, now)
}

function sampled(log: Logger, level: 'warn' | 'error', event: string, fields: Fields, now: number): void {
  const { w, closed } = windowAt(event, now)
  if (w.logged >= SAMPLED_PER_WINDOW) {
    w.held++
    return
  }
  w.logged++
  const carried = closed?.held ?? 0
  log[level](event, carried ? { ...fields, suppressed_before: carried } : fields)
}

export interface RollUp {
  /** info is rolled up; warn and error are written at once, carrying what was held. */
  level: 'info' | 'warn' | 'error'
  /** The field that says how many calls the line stands for (itself and the held ones). */
  unit: string
  /** Summed over the calls the line stands for, so an operator can add lines up. */
  counts: Record<string, number>
  /** This call's own fields, not summed (a latency, say). */
  fields?: Fields
}

/**
 * For an info event every DM causes (a delivery received): one line a minute per isolate
 * instead of one per call, since every line costs CPU in the Worker and in the runtime that
 * ships it. The first call of a window is written at once, so a quiet bot still shows each DM;
 * later calls in the window only add their counts up, and the next line written (the first of a
 * later window, or a warning) carries them, with `unit` = how many calls it stands for. Summing
 * `unit` and the counts over all lines gives the totals, except what an isolate held when it
 * was evicted. With LOG_LEVEL=debug every call is written.
 */
export function rollUp(log: Logger, event: string, r: RollUp, now = Date.now()): void {
  const { w, closed } = windowAt(event, now)
  if (r.level === 'info' && w.logged > 0 && threshold > RANK.debug) {
    w.held++
    for (const [k, v] of Object.entries(r.counts)) w.sums[k] = (w.sums[k] ?? 0) + v
    return
  }
  w.logged++
  const sums: Record<string, number> = { [r.unit]: 1 + w.held + (closed?.held ?? 0) }
  for (const part of [r.counts, w.sums, closed?.sums ?? {}]) {
    for (const [k, v] of Object.entries(part)) sums[k] = (sums[k] ?? 0) + v
  }
  w.held = 0
  w.sums = {}
  log[r.level](event, { ...r.fields, ...sums })
}

/** Test seam: starts every sampled and rolled-up event's window afresh. */
export function resetLogSampling(): void {
  windows.clear()
}
