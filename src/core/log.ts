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
 * runtime that ships it, so per DM the default level writes one summary line and keeps the
 * details for debug.
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
const sampleWindows = new Map<string, { start: number; logged: number; suppressed: number }>()

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
  let w = sampleWindows.get(event)
  let carried = 0
  if (!w || now - w.start >= SAMPLE_WINDOW_MS) {
    carried = w?.suppressed ?? 0
    w = { start: now, logged: 0, suppressed: 0 }
    sampleWindows.set(event, w)
  }
  if (w.logged >= SAMPLED_PER_WINDOW) {
    w.suppressed++
    return
  }
  w.logged++
  log[level](event, carried ? { ...fields, suppressed_before: carried } : fields)
}

/** Test seam: starts every sampled event's window afresh. */
export function resetLogSampling(): void {
  sampleWindows.clear()
}
