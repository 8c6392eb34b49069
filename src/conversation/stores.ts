/**
 * The sender object's stores over its SQLite tables, opened together. Some keep what they know of
 * their table in memory (state.ts), so whenever the tables change behind their back (a
 * transaction rolled back, storage wiped) the object opens a fresh set, as a new instance would.
 */
import { Bursts } from './burst'
import { Claims } from './claims'
import type { ConversationStores } from './decide'
import { Jobs } from './jobs'
import { Limits } from './limits'
import { Memory } from './memory'
import { StateStore } from './state'
import { KvSweep } from './sweep'

export interface SenderStores extends ConversationStores {
  claims: Claims
  sweep: KvSweep
}

/** @param wake called when the job queue changed in a way the alarm must hear about */
export function openStores(sql: SqlStorage, kv: KVNamespace, wake: (now: number) => void): SenderStores {
  const state = new StateStore(sql)
  const memory = new Memory(sql)
  return {
    claims: new Claims(sql),
    bursts: new Bursts(sql),
    state,
    memory,
    limits: new Limits(state),
    sweep: new KvSweep(sql, kv),
    jobs: new Jobs(sql, state, memory, wake),
  }
}
