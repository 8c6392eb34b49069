/**
 * The sender object's SQLite schema, created (idempotently) when the object starts and after a
 * data deletion wipes its storage. Each store (claims, state, memory, jobs, sweep) owns its table.
 */
import { SWEEP_SCHEMA } from './sweep'

const TURNS = 'CREATE TABLE IF NOT EXISTS turns (seq INTEGER PRIMARY KEY, mid TEXT, role TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL);'
const PARTS =
  'CREATE TABLE IF NOT EXISTS parts (job TEXT NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, hash TEXT NOT NULL, out_mid TEXT, at INTEGER NOT NULL, PRIMARY KEY (job, idx)) WITHOUT ROWID;'
const PARTS_INDEX = 'CREATE INDEX IF NOT EXISTS parts_hash ON parts (hash);'

// Rows written are billed per row, index entries included. Tables keyed by text (or by job and
// part) are WITHOUT ROWID: a rowid table keeps such a key in a second b-tree, so every insert or
// upsert wrote two rows. Turns are numbered by their rowid alone: AUTOINCREMENT also wrote
// sqlite_sequence with every turn. Objects made before are brought to this shape by migrate().
export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, ts INTEGER NOT NULL, claimed_at INTEGER NOT NULL, decision TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
  ${TURNS}
  CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
    parts TEXT, next_part INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, lease_id TEXT,
    outcome TEXT, created_at INTEGER NOT NULL, due_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
  ${PARTS}
  ${PARTS_INDEX}
  CREATE TABLE IF NOT EXISTS own (out_mid TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
  ${SWEEP_SCHEMA}
`

/**
 * Brings tables made by earlier versions to the current shape, keeping their rows; one read
 * once they have it. Run after SCHEMA, inside a transaction.
 */
export function migrate(sql: SqlStorage): void {
  const made = new Map(
    sql
      .exec<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('jobs', 'turns', 'parts')")
      .toArray()
      .map((r) => [r.name, r.sql])
  )
  // Burst coalescing added due_at (SQLite has no ADD COLUMN IF NOT EXISTS).
  if (!/\bdue_at\b/.test(made.get('jobs') ?? '')) sql.exec('ALTER TABLE jobs ADD COLUMN due_at INTEGER NOT NULL DEFAULT 0')
  if (/AUTOINCREMENT/i.test(made.get('turns') ?? '')) rebuild(sql, 'turns', TURNS)
  if (!/WITHOUT ROWID\s*$/i.test(made.get('parts') ?? '')) rebuild(sql, 'parts', PARTS, PARTS_INDEX)
}

/** Recreates `table` by `create` with the same columns in the same order, rows and all. */
function rebuild(sql: SqlStorage, table: string, create: string, index?: string): void {
  sql.exec(`ALTER TABLE ${table} RENAME TO ${table}_old`)
  sql.exec(create)
  sql.exec(`INSERT INTO ${table} SELECT * FROM ${table}_old`)
  // Dropping the old table drops its indexes, which kept their names through the rename.
  sql.exec(`DROP TABLE ${table}_old`)
  if (index) sql.exec(index)
}
