import { describe, expect, it } from 'vitest'
import { StateStore, type StateKey } from '../../src/conversation/state'
import { rowsWritten, withStores } from './stores'

const KEYS: StateKey[] = ['account_id', 'user_id', 'bucket', 'bucket_tokens', 'bucket_at', 'notice_at', 'paused_until', 'pause_reason', 'opted_out', 'last_user_at', 'budget_notice_day', 'llm_day', 'llm_calls']
const answers = (s: StateStore) => Object.fromEntries(KEYS.map((k) => [k, s.get(k)]))

describe('sender state store', () => {
  it('answers from memory exactly what its table holds: a second store over the same table agrees after sets, deletes and a clear', async () => {
    await withStores(({ sql, state }) => {
      state.set('opted_out', 1)
      state.set('paused_until', 123)
      state.set('pause_reason', 'handoff')
      state.set('last_user_at', 5)
      expect(answers(new StateStore(sql))).toEqual(answers(state))
      state.delete('paused_until', 'pause_reason', 'notice_at')
      expect(answers(new StateStore(sql))).toEqual(answers(state))
      expect(state.get('paused_until')).toBeUndefined()
      state.clearAllButOptOut()
      expect(answers(new StateStore(sql))).toEqual(answers(state))
      expect(state.all()).toEqual({ opted_out: '1' })
    })
  })

  it('reads its table once, then answers every key without a statement', async () => {
    await withStores(({ sql, state }) => {
      state.set('last_user_at', 1)
      const fresh = new StateStore(sql)
      const exec = sql.exec
      const queries: string[] = []
      sql.exec = ((q: string, ...b: SqlStorageValue[]) => (queries.push(q), exec.call(sql, q, ...b))) as SqlStorage['exec']
      try {
        for (let i = 0; i < 3; i++) answers(fresh)
      } finally {
        sql.exec = exec
      }
      expect(queries).toEqual(['SELECT k, v FROM state'])
    })
  })

  it('writes no row for a value the key already has', async () => {
    await withStores(({ sql, state }) => {
      expect(rowsWritten(sql, () => state.set('llm_day', '2026-11-29'))).toBe(1)
      expect(rowsWritten(sql, () => state.set('llm_day', '2026-11-29'))).toBe(0)
      expect(rowsWritten(sql, () => state.delete('paused_until'))).toBe(0)
      expect(new StateStore(sql).get('llm_day')).toBe('2026-11-29')
    })
  })

  it('writes the values a batch sets in one statement, deletes included, and reads them back alike', async () => {
    await withStores(({ sql, state }) => {
      state.set('paused_until', 9)
      const exec = sql.exec
      const queries: string[] = []
      sql.exec = ((q: string, ...b: SqlStorageValue[]) => (queries.push(q), exec.call(sql, q, ...b))) as SqlStorage['exec']
      try {
        state.batch(() => {
          state.set('account_id', 'a')
          state.set('user_id', 'u')
          state.set('last_user_at', 5)
          // Set in the batch and deleted in it, and set before and deleted in it: neither stays.
          state.set('notice_at', 1)
          state.delete('notice_at')
          state.set('paused_until', 10)
          state.delete('paused_until')
          expect(state.get('user_id')).toBe('u')
        })
      } finally {
        sql.exec = exec
      }
      expect(queries.filter((q) => q.startsWith('INSERT'))).toHaveLength(1)
      expect(state.all()).toEqual({ account_id: 'a', user_id: 'u', last_user_at: '5' })
      expect(answers(new StateStore(sql))).toEqual(answers(state))
    })
  })

  it('writes nothing a throwing batch set, and answers what the table holds afterwards', async () => {
    await withStores(({ sql, state }) => {
      state.set('last_user_at', 1)
      expect(() =>
        state.batch(() => {
          state.set('last_user_at', 2)
          state.set('opted_out', 1)
          throw new Error('boom')
        })
      ).toThrow('boom')
      expect(state.all()).toEqual({ last_user_at: '1' })
      expect(answers(state)).toEqual(answers(new StateStore(sql)))
    })
  })
})
