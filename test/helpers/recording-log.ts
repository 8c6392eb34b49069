import type { Fields, Logger } from '../../src/log'

export interface LogLine {
  level: string
  event: string
  fields: Fields
}

/** A Logger that keeps every line, so tests can assert what was (and was not) logged. */
export function recordingLogger(lines: LogLine[] = [], base: Fields = {}): Logger & { lines: LogLine[] } {
  const push = (level: string) => (event: string, fields: Fields = {}) => {
    lines.push({ level, event, fields: { ...base, ...fields } })
  }
  return {
    lines,
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  }
}

export type FlatLogLine = { level: string; event: string } & Fields

/** Like `recordingLogger`, but each line is flat (`{ level, event, ...fields }`). */
export function flatRecordingLogger(lines: FlatLogLine[] = [], base: Fields = {}): Logger & { lines: FlatLogLine[] } {
  const push = (level: string) => (event: string, fields: Fields = {}) => {
    lines.push({ level, event, ...base, ...fields })
  }
  return {
    lines,
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    child: (fields) => flatRecordingLogger(lines, { ...base, ...fields }),
  }
}
