import type { Fields, Logger } from '../../src/core/log'

export interface LogLine {
  level: string
  event: string
  fields: Fields
}

export type FlatLogLine = { level: string; event: string } & Fields

/** A Logger whose lines (child fields merged in) go to `sink`. */
function sinkLogger(sink: (level: string, event: string, fields: Fields) => void, base: Fields = {}): Logger {
  const push = (level: string) => (event: string, fields: Fields = {}) => sink(level, event, { ...base, ...fields })
  return {
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    child: (fields) => sinkLogger(sink, { ...base, ...fields }),
  }
}

/** A Logger that keeps every line, so tests can assert what was (and was not) logged. */
export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  return Object.assign(sinkLogger((level, event, fields) => lines.push({ level, event, fields })), { lines })
}

/** Like `recordingLogger`, but each line is flat (`{ level, event, ...fields }`). */
export function flatRecordingLogger(lines: FlatLogLine[] = []): Logger & { lines: FlatLogLine[] } {
  return Object.assign(sinkLogger((level, event, fields) => lines.push({ level, event, ...fields })), { lines })
}
