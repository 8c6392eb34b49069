/**
 * The sender object's SQLite schema, created (idempotently) when the object starts and after a
 * data deletion wipes its storage. Each store (claims, state, memory, jobs, sweep) owns its table.
 */
import { SWEEP_SCHEMA } from './sweep'

// Tables keyed by text are WITHOUT ROWID: a rowid table keeps its text key in a second b-tree,
// so every insert or upsert wrote (and was billed) two rows. Objects created before keep their
// tables; the statements work on both.
export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, ts INTEGER NOT NULL, claimed_at INTEGER NOT NULL, decision TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, mid TEXT, role TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
    parts TEXT, next_part INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, lease_id TEXT,
    outcome TEXT, created_at INTEGER NOT NULL, due_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS parts (job TEXT NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, hash TEXT NOT NULL, out_mid TEXT, at INTEGER NOT NULL, PRIMARY KEY (job, idx));
  CREATE INDEX IF NOT EXISTS parts_hash ON parts (hash);
  CREATE TABLE IF NOT EXISTS own (out_mid TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
  ${SWEEP_SCHEMA}
`
