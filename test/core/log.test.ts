/**
 * createLogger: one JSON object per line, and LOG_LEVEL (set through readConfig) decides which
 * levels are written at all: by default one summary line per DM, the stages only at debug.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { readConfig } from '../../src/core/config'
import { createLogger, resetLogSampling, rollUp, SAMPLE_WINDOW_MS, setLogLevel } from '../../src/core/log'

const secrets = () => ({
  APP_SECRET: 'app-secret-value-1',
  VERIFY_TOKEN: 'verify-token-value-2',
  IG_ACCESS_TOKEN: 'ig-token-value-3',
  OPENAI_API_KEY: 'openai-key-value-4',
})

function capture(): string[] {
  const lines: string[] = []
  for (const method of ['log', 'warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(String(args[0])))
  }
  return lines
}

function writeEveryLevel(): string[] {
  const lines = capture()
  const log = createLogger({ component: 'test' }).child({ sender: 'abc' })
  log.debug('d')
  log.info('i')
  log.warn('w')
  log.error('e')
  return lines.map((l) => (JSON.parse(l) as { level: string }).level)
}

afterEach(() => {
  vi.restoreAllMocks()
  setLogLevel('info')
  resetLogSampling()
})

describe('log level', () => {
  it('writes info and above by default, and drops debug lines', () => {
    expect(readConfig(secrets()).ok).toBe(true)
    expect(writeEveryLevel()).toEqual(['info', 'warn', 'error'])
  })

  it('writes every stage with LOG_LEVEL=debug', () => {
    expect(readConfig({ ...secrets(), LOG_LEVEL: 'debug' }).ok).toBe(true)
    expect(writeEveryLevel()).toEqual(['debug', 'info', 'warn', 'error'])
  })

  it('keeps only errors with LOG_LEVEL=error, in children too', () => {
    expect(readConfig({ ...secrets(), LOG_LEVEL: 'error' }).ok).toBe(true)
    expect(writeEveryLevel()).toEqual(['error'])
  })

  it('refuses an unknown level by name and leaves the current level alone', () => {
    setLogLevel('warn')
    const result = readConfig({ ...secrets(), LOG_LEVEL: 'verbose' })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.invalid).toEqual(['LOG_LEVEL'])
    expect(writeEveryLevel()).toEqual(['warn', 'error'])
  })

  it('writes each line as one JSON object carrying the child fields', () => {
    const lines = capture()
    createLogger({ request_id: 'r1' }).child({ sender: 'abc' }).info('reply_sent', { parts: 1 })
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ level: 'info', event: 'reply_sent', request_id: 'r1', sender: 'abc', parts: 1 }])
  })
})

describe('deliveries rolled up per isolate and minute', () => {
  const T0 = 1_700_000_000_000
  type Line = Record<string, unknown> & { level: string; event: string }
  const log = createLogger({ component: 'test' })
  /** One delivery of `events` events, each decided `decision`, received at `at`. */
  const deliver = (at: number, events = 1, decision = 'new', level: 'info' | 'warn' = 'info') =>
    rollUp(log, 'webhook_received', { level, unit: 'deliveries', counts: { events, [decision]: events }, fields: { ack_ms: 7 } }, at)
  const written = (lines: string[]) => lines.map((l) => JSON.parse(l) as Line)

  it('writes the first delivery of a minute at once, standing for itself', () => {
    const lines = capture()
    deliver(T0, 2)
    expect(written(lines)).toEqual([{ level: 'info', event: 'webhook_received', component: 'test', ack_ms: 7, deliveries: 1, events: 2, new: 2 }])
  })

  it('holds the later deliveries of that minute back', () => {
    const lines = capture()
    deliver(T0)
    for (let i = 1; i < 30; i++) deliver(T0 + i * 1000)
    deliver(T0 + SAMPLE_WINDOW_MS - 1)
    expect(written(lines)).toHaveLength(1)
  })

  it('carries the held deliveries\' sums, decision by decision, on the next line', () => {
    const lines = capture()
    deliver(T0)
    deliver(T0 + 1_000, 3, 'new')
    deliver(T0 + 2_000, 1, 'duplicate')
    deliver(T0 + 3_000, 2, 'rate_limited')
    deliver(T0 + SAMPLE_WINDOW_MS, 1, 'new')
    const out = written(lines)
    expect(out).toHaveLength(2)
    // The second line stands for itself and the three held ones; its ack_ms is its own.
    expect(out[1]).toEqual(expect.objectContaining({ deliveries: 4, events: 7, new: 4, duplicate: 1, rate_limited: 2, ack_ms: 7 }))
  })

  it('adds up over all lines to every delivery, event and decision written so far', () => {
    const lines = capture()
    let deliveries = 0
    let events = 0
    // 200 deliveries over five minutes, at uneven intervals: one line a minute at most.
    for (let i = 0, at = T0; i < 200; i++, at += 1_000 + ((i * 7919) % 1_000)) {
      deliver(at, 1 + (i % 3), i % 4 ? 'new' : 'duplicate')
      deliveries++
      events += 1 + (i % 3)
    }
    deliver(T0 + 10 * SAMPLE_WINDOW_MS, 1)
    deliveries++
    events++
    const out = written(lines)
    expect(out.length).toBeLessThanOrEqual(7)
    const sum = (k: string) => out.reduce((a, l) => a + (Number(l[k]) || 0), 0)
    expect(sum('deliveries')).toBe(deliveries)
    expect(sum('events')).toBe(events)
    expect(sum('new') + sum('duplicate')).toBe(events)
  })

  it('never holds a warning back, and the warning carries what was held so nothing is counted twice', () => {
    const lines = capture()
    deliver(T0)
    deliver(T0 + 1_000, 2, 'new')
    deliver(T0 + 2_000, 1, 'failed', 'warn')
    deliver(T0 + 3_000, 1, 'failed', 'warn')
    deliver(T0 + 4_000, 5, 'new')
    deliver(T0 + SAMPLE_WINDOW_MS + 4_000, 1, 'new')
    expect(written(lines).map((l) => [l.level, l.deliveries, l.events])).toEqual([
      ['info', 1, 1],
      ['warn', 2, 3],
      ['warn', 1, 1],
      // A warning is not the minute's first line: the info deliveries after it are still held.
      ['info', 2, 6],
    ])
  })

  it('writes every delivery with LOG_LEVEL=debug', () => {
    expect(readConfig({ ...secrets(), LOG_LEVEL: 'debug' }).ok).toBe(true)
    const lines = capture()
    for (let i = 0; i < 5; i++) deliver(T0 + i)
    expect(written(lines).map((l) => l.deliveries)).toEqual([1, 1, 1, 1, 1])
  })

  it('writes nothing of a delivery with LOG_LEVEL=warn, unless it is a warning', () => {
    expect(readConfig({ ...secrets(), LOG_LEVEL: 'warn' }).ok).toBe(true)
    const lines = capture()
    deliver(T0)
    deliver(T0 + SAMPLE_WINDOW_MS)
    deliver(T0 + SAMPLE_WINDOW_MS + 1, 1, 'failed', 'warn')
    expect(written(lines).map((l) => [l.level, l.deliveries])).toEqual([['warn', 1]])
  })
})
