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
      expect(withoutRowid(sql)).toMatchObject({ claims: true, state: true, jobs: true, own: true, turns: false, parts: false })
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
})
