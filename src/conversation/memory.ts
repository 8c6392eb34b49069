/**
 * What the bot remembers of a conversation (`turns` table): the last MEMORY_TURNS turns, at most
 * MEMORY_MAX_CHARS characters, forgotten after MEMORY_TTL_HOURS of silence. Turns are keyed by
 * Meta's message id so an unsend removes and an edit replaces exactly the turn it changes.
 *
 * Memory is replayed into every later prompt, so it is where screening must hold: a turn the
 * input screen flags (a refused attack, an edit into one, a reply or a person's echo that carries
 * an instruction) is stored as a neutral placeholder, never verbatim.
 */
import type { Config } from '../core/config'
import { screenInput } from '../llm/guard'
import type { Turn } from '../llm/prompt'
import type { InboundEvent } from '../meta/webhook'

/** What the user said, as remembered for the next LLM call; null for events that say nothing. */
export function memoryText(e: InboundEvent): string | null {
  switch (e.kind) {
    case 'text':
    case 'story_reply':
      return e.text
    case 'quick_reply':
      return e.text || e.payload
    case 'postback':
      return e.title || e.payload || null
    case 'attachment':
      return e.text?.trim() ? e.text : `[sent ${e.attachments.map((a) => a.type).join(', ')}]`
    case 'story_mention':
      return '[mentioned the business in their story]'
    case 'unsupported':
      return '[sent something the app cannot show]'
    default:
      return null
  }
}

/** What a flagged turn is remembered as: says that something was said, not what. */
export const WITHHELD_TURN = '[message withheld by the input screen]'

/** The text to store for a turn: itself, or the placeholder when the input screen flags it. */
export function rememberable(text: string): string {
  return screenInput(text).flagged ? WITHHELD_TURN : text
}

export class Memory {
  // What this store knows of its table, the object being its only writer (undefined: not known,
  // read when needed): the newest turn's time, for the alarm, and the size, so a turn that keeps
  // memory within its limits is stored without reading the others back to trim.
  private newestTs: number | null | undefined
  private size: { turns: number; chars: number } | undefined

  constructor(private readonly sql: SqlStorage) {}

  remember(role: Turn['role'], text: string, ts: number, mid: string | null, config: Config): void {
    if (config.MEMORY_TURNS === 0 || config.MEMORY_MAX_CHARS === 0) return
    const stored = rememberable(text).slice(0, config.MEMORY_MAX_CHARS)
    this.sql.exec('INSERT INTO turns (mid, role, text, ts) VALUES (?, ?, ?, ?)', mid, role, stored, ts)
    const size = this.size ? { turns: this.size.turns + 1, chars: this.size.chars + stored.length } : this.load()
    if (this.newestTs !== undefined) this.newestTs = Math.max(this.newestTs ?? ts, ts)
    if (size.turns <= config.MEMORY_TURNS && size.chars <= config.MEMORY_MAX_CHARS) this.size = size
    else this.trim(config)
  }

  /**
   * Reads the table's size and newest turn in one statement. Characters are counted as UTF-8
   * bytes, never fewer than the UTF-16 units trim() counts, so memory that looks within its
   * limits is.
   */
  private load(): { turns: number; chars: number } {
    const r = this.sql
      .exec<{ n: number; bytes: number; t: number | null }>('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) AS bytes, MAX(ts) AS t FROM turns')
      .one()
    this.newestTs = r.t
    return (this.size = { turns: r.n, chars: r.bytes })
  }

  private trim(config: Config): void {
    this.sql.exec('DELETE FROM turns WHERE seq NOT IN (SELECT seq FROM turns ORDER BY ts DESC, seq DESC LIMIT ?)', config.MEMORY_TURNS)
    let total = 0
    const kept = { turns: 0, chars: 0 }
    let newest: number | null = null
    for (const row of this.sql.exec<{ seq: number; text: string; ts: number }>('SELECT seq, text, ts FROM turns ORDER BY ts DESC, seq DESC')) {
      total += row.text.length
      if (total > config.MEMORY_MAX_CHARS) {
        this.sql.exec('DELETE FROM turns WHERE seq = ?', row.seq)
        continue
      }
      newest ??= row.ts
      kept.turns++
      kept.chars = total
    }
    this.size = kept
    this.newestTs = newest
  }

  /** The conversation up to message `ts`, without the messages being answered, oldest first. */
  before(ts: number, excludeMids: string[]): Turn[] {
    const marks = excludeMids.map(() => '?').join(', ')
    return this.sql
      .exec<{ role: string; text: string }>(`SELECT role, text FROM turns WHERE ts <= ? AND (mid IS NULL OR mid NOT IN (${marks})) ORDER BY ts, seq`, ts, ...excludeMids)
      .toArray()
      .map((r) => ({ role: r.role === 'assistant' ? 'assistant' : 'user', text: r.text }))
  }

  /** The user unsent a message: it is forgotten. */
  unsend(mid: string): void {
    if (this.sql.exec('DELETE FROM turns WHERE mid = ?', mid).rowsWritten > 0) this.newestTs = this.size = undefined
  }

  /** The user edited a message: the remembered text follows (screened like a new message). */
  edit(mid: string, text: string, config: Config): void {
    const edited = this.sql.exec("UPDATE turns SET text = ? WHERE mid = ? AND role = 'user'", rememberable(text).slice(0, config.MEMORY_MAX_CHARS), mid)
    if (edited.rowsWritten > 0) this.size = undefined
  }

  clear(): void {
    this.sql.exec('DELETE FROM turns')
    this.newestTs = null
    this.size = { turns: 0, chars: 0 }
  }

  /** Time of the newest turn, or null when nothing is remembered. */
  newest(): number | null {
    if (this.newestTs === undefined) this.load()
    return this.newestTs ?? null
  }

  count(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM turns').one().n
  }

  all(): Turn[] {
    return this.sql
      .exec<{ role: string; text: string }>('SELECT role, text FROM turns ORDER BY ts, seq')
      .toArray()
      .map((r) => ({ role: r.role as Turn['role'], text: r.text }))
  }
}
