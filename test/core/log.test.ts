/**
 * createLogger: one JSON object per line, and LOG_LEVEL (set through readConfig) decides which
 * levels are written at all: by default one summary line per DM, the stages only at debug.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { readConfig } from '../../src/core/config'
import { createLogger, setLogLevel } from '../../src/core/log'

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
