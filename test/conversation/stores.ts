/** Runs a test against the sender object's stores on a fresh object's real SQLite storage. */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { Bursts } from '../../src/conversation/burst'
import { Jobs } from '../../src/conversation/jobs'
import { Limits } from '../../src/conversation/limits'
import { Memory } from '../../src/conversation/memory'
import { StateStore } from '../../src/conversation/state'
import type { ConversationStores } from '../../src/conversation/decide'
import { newSender } from '../helpers/deliver'

export interface TestStores extends ConversationStores {
  sql: SqlStorage
  /** How often the jobs store asked for the alarm to be rescheduled. */
  wakes: number[]
}

export async function withStores<T>(fn: (s: TestStores) => T | Promise<T>): Promise<T> {
  // A new object per test: its constructor creates the schema.
  const stub = env.SENDER.getByName(`17841400000000001:${newSender()}`)
  return runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql
    const st = new StateStore(sql)
    const memory = new Memory(sql)
    const wakes: number[] = []
    const jobs = new Jobs(sql, st, memory, (now) => wakes.push(now))
    return fn({ sql, state: st, memory, limits: new Limits(st), jobs, bursts: new Bursts(sql), wakes })
  })
}

/** Counts the rows the statements on `sql` write while `fn` runs. */
export function rowsWritten(sql: SqlStorage, fn: () => void): number {
  const exec = sql.exec
  let rows = 0
  sql.exec = ((q: string, ...b: SqlStorageValue[]) => {
    const c = exec.call(sql, q, ...b)
    rows += c.rowsWritten
    return c
  }) as SqlStorage['exec']
  try {
    fn()
  } finally {
    sql.exec = exec
  }
  return rows
}
