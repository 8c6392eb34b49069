/**
 * Rows written are billed per row, and a rowid table keyed by text writes two (the row and its
 * key's index): the objects' text-keyed tables are WITHOUT ROWID, so a claim or a state upsert
 * writes one row.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { AccountObject } from '../../src/conversation/account'
import type { SenderObject } from '../../src/conversation/sender'
import { migrate, SCHEMA } from '../../src/conversation/schema'
import { senderStub, newSender } from '../helpers/deliver'

const withoutRowid = (sql: SqlStorage) =>
  Object.fromEntries(
    sql
      .exec<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'")
      .toArray()
      .map((r) => [r.name, /WITHOUT ROWID\s*$/i.test(r.sql)])
  )

describe('rows written', () => {
  it('keeps the sender object\'s text-keyed tables without rowid, so a claim and a state upsert write one row each', async () => {
    await runInDurableObject(senderStub(newSender()), (_o: SenderObject, state) => {
      const sql = state.storage.sql
      expect(withoutRowid(sql)).toMatchObject({ claims: true, state: true, jobs: true, own: true, turns: false, parts: true })
      expect(sql.exec("INSERT OR IGNORE INTO claims (key, ts, claimed_at, decision) VALUES ('m1', 1, 1, 'pending')").rowsWritten).toBe(1)
      expect(sql.exec("INSERT INTO state (k, v) VALUES ('last_user_at', '1') ON CONFLICT (k) DO UPDATE SET v = excluded.v").rowsWritten).toBe(1)
      expect(sql.exec("INSERT INTO state (k, v) VALUES ('last_user_at', '2') ON CONFLICT (k) DO UPDATE SET v = excluded.v").rowsWritten).toBe(1)
    })
  })

  it('keeps the account object\'s budget and state without rowid', async () => {
    await runInDurableObject(env.ACCOUNT.getByName(`rows-${newSender()}`), (_o: AccountObject, state) => {
      expect(withoutRowid(state.storage.sql)).toMatchObject({ budget: true, state: true })
      expect(state.storage.sql.exec("INSERT INTO budget (day, used) VALUES ('2026-11-29', 1) ON CONFLICT (day) DO UPDATE SET used = used + 1").rowsWritten).toBe(1)
    })
  })

  it('writes one row per remembered turn (no sqlite_sequence) and two per reply part (the row and its hash index)', async () => {
    await runInDurableObject(senderStub(newSender()), (_o: SenderObject, state) => {
      const sql = state.storage.sql
      expect(sql.exec("INSERT INTO turns (mid, role, text, ts) VALUES ('m1', 'user', 'hi', 1)").rowsWritten).toBe(1)
      expect(sql.exec("INSERT INTO turns (mid, role, text, ts) VALUES ('m2', 'user', 'hi', 2)").rowsWritten).toBe(1)
      expect(sql.exec("INSERT OR REPLACE INTO parts (job, idx, state, hash, at) VALUES ('j', 0, 'sending', 'h', 1)").rowsWritten).toBe(2)
    })
  })

  it('brings tables made by earlier versions to the new shape, rows and all, and numbers later turns after them', async () => {
    await runInDurableObject(senderStub(newSender()), (_o: SenderObject, state) => {
      const sql = state.storage.sql
      // The tables as versions before this one made them.
      sql.exec('DROP TABLE turns')
      sql.exec('DROP TABLE parts')
      sql.exec('DROP TABLE jobs')
      sql.exec('CREATE TABLE turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, mid TEXT, role TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL)')
      sql.exec('CREATE TABLE parts (job TEXT NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, hash TEXT NOT NULL, out_mid TEXT, at INTEGER NOT NULL, PRIMARY KEY (job, idx))')
      sql.exec('CREATE INDEX parts_hash ON parts (hash)')
      sql.exec(
        'CREATE TABLE jobs (id TEXT PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, parts TEXT, next_part INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, lease_id TEXT, outcome TEXT, created_at INTEGER NOT NULL) WITHOUT ROWID'
      )
      sql.exec("INSERT INTO turns (mid, role, text, ts) VALUES ('m1', 'user', 'one', 1), ('m2', 'assistant', 'two', 2)")
      sql.exec("INSERT INTO parts (job, idx, state, hash, out_mid, at) VALUES ('j', 0, 'sent', 'h0', 'o0', 1), ('j', 1, 'sending', 'h1', NULL, 2)")
      sql.exec("INSERT INTO jobs (id, ts, kind, state, next_at, created_at) VALUES ('j', 1, 'null', 'generated', 1, 1)")
      state.storage.transactionSync(() => {
        sql.exec(SCHEMA)
        migrate(sql)
      })
      expect(withoutRowid(sql)).toMatchObject({ turns: false, parts: true, jobs: true })
      expect(sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'turns'").one().sql).not.toMatch(/AUTOINCREMENT/i)
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name LIKE '%_old'").toArray()).toEqual([])
      expect(sql.exec("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'parts_hash'").toArray()).toHaveLength(1)
      expect(sql.exec('SELECT seq, mid, role, text, ts FROM turns ORDER BY seq').toArray()).toEqual([
        { seq: 1, mid: 'm1', role: 'user', text: 'one', ts: 1 },
        { seq: 2, mid: 'm2', role: 'assistant', text: 'two', ts: 2 },
      ])
      expect(sql.exec('SELECT job, idx, state, hash, out_mid, at FROM parts ORDER BY idx').toArray()).toEqual([
        { job: 'j', idx: 0, state: 'sent', hash: 'h0', out_mid: 'o0', at: 1 },
        { job: 'j', idx: 1, state: 'sending', hash: 'h1', out_mid: null, at: 2 },
      ])
      expect(sql.exec<{ due_at: number }>("SELECT due_at FROM jobs WHERE id = 'j'").one().due_at).toBe(0)
      expect(sql.exec("INSERT INTO turns (mid, role, text, ts) VALUES ('m3', 'user', 'three', 3)").rowsWritten).toBe(1)
      expect(sql.exec<{ seq: number }>("SELECT seq FROM turns WHERE mid = 'm3'").one().seq).toBe(3)
      // Once migrated, starting again changes nothing.
      migrate(sql)
      expect(sql.exec('SELECT COUNT(*) AS n FROM turns').one().n).toBe(3)
    })
  })
})
