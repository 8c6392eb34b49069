import { describe, expect, it } from 'vitest'
import { Memory, memoryText } from '../../src/conversation/memory'
import type { InboundEvent } from '../../src/meta/webhook'
import { testConfig } from '../helpers/deliver'
import { withStores } from './stores'

const base = { accountId: 'a', senderId: 'u', recipientId: 'a', timestamp: 1, source: 'messaging' } as const

describe('what a user event is remembered as', () => {
  it('keeps words, and describes what has no words', () => {
    expect(memoryText({ ...base, kind: 'text', mid: 'm', text: 'hi' } as InboundEvent)).toBe('hi')
    expect(memoryText({ ...base, kind: 'attachment', mid: 'm', attachments: [{ type: 'image' }, { type: 'video' }] } as InboundEvent)).toBe('[sent image, video]')
    expect(memoryText({ ...base, kind: 'story_mention', mid: 'm' } as InboundEvent)).toBe('[mentioned the business in their story]')
    expect(memoryText({ ...base, kind: 'read', mid: 'm' } as InboundEvent)).toBeNull()
  })
})

/** Runs `fn` and returns the SQL statements it made on `sql`. */
function statements(sql: SqlStorage, fn: () => void): string[] {
  const exec = sql.exec
  const seen: string[] = []
  sql.exec = ((q: string, ...b: SqlStorageValue[]) => (seen.push(q), exec.call(sql, q, ...b))) as SqlStorage['exec']
  try {
    fn()
  } finally {
    sql.exec = exec
  }
  return seen
}

describe('conversation memory', () => {
  it('stores a turn that keeps memory within its limits with one statement, and trims like a store that reads everything back', async () => {
    const config = { ...testConfig(), MEMORY_TURNS: 4, MEMORY_MAX_CHARS: 20 }
    await withStores(({ sql, memory }) => {
      // One object keeps the same store; a new store per step knows nothing and always trims.
      const steps: ((m: Memory) => void)[] = [
        (m) => m.remember('user', 'aaaa', 1, 'm1', config),
        (m) => m.remember('assistant', 'bbbb', 2, null, config),
        (m) => m.remember('user', 'cccc', 3, 'm3', config),
        (m) => m.edit('m1', 'a much longer text now', config),
        (m) => m.remember('user', 'dd', 4, 'm4', config),
        (m) => m.unsend('m4'),
        (m) => m.remember('user', 'ee', 5, 'm5', config),
        (m) => m.remember('user', 'ff', 6, 'm6', config),
        (m) => m.remember('user', 'gg', 7, 'm7', config),
        (m) => m.remember('user', 'hh', 8, 'm8', config),
        (m) => m.remember('user', 'ii', 9, 'm9', config),
      ]
      const kept: string[][] = []
      for (const step of steps) {
        step(memory)
        kept.push(memory.all().map((t) => t.text))
        expect(memory.newest()).toBe(sql.exec<{ t: number | null }>('SELECT MAX(ts) AS t FROM turns').one().t)
      }
      sql.exec('DELETE FROM turns')
      for (const [i, step] of steps.entries()) {
        step(new Memory(sql))
        expect(new Memory(sql).all().map((t) => t.text)).toEqual(kept[i])
      }
      expect(kept.at(-1)).toEqual(['ff', 'gg', 'hh', 'ii'])
    })
  })

  it('reads nothing back to store a turn while memory stays within its limits', async () => {
    const config = { ...testConfig(), MEMORY_TURNS: 10, MEMORY_MAX_CHARS: 1000 }
    await withStores(({ sql, memory }) => {
      memory.remember('user', 'first', 1, 'm1', config)
      expect(statements(sql, () => memory.remember('assistant', 'second', 2, null, config))).toEqual(['INSERT INTO turns (mid, role, text, ts) VALUES (?, ?, ?, ?)'])
      expect(statements(sql, () => memory.newest())).toEqual([])
    })
  })

  it('reads size and newest turn in one statement when it knows nothing, counting characters generously', async () => {
    // Two turns of four emoji: 8 UTF-16 units each, 16 UTF-8 bytes each.
    const config = { ...testConfig(), MEMORY_TURNS: 10, MEMORY_MAX_CHARS: 20 }
    await withStores(({ sql, memory }) => {
      memory.remember('user', '😀😀😀😀', 1, 'm1', config)
      const fresh = new Memory(sql)
      const made = statements(sql, () => fresh.remember('user', '😀😀😀😀', 2, 'm2', config))
      expect(made).toHaveLength(4)
      // Counted as 32 bytes, over 20: trimmed, and trim counts exactly (16 units, both kept).
      expect(fresh.all()).toHaveLength(2)
      expect(statements(sql, () => fresh.newest())).toEqual([])
      expect(fresh.newest()).toBe(2)
    })
  })

  it('keeps only the last MEMORY_TURNS turns, oldest first', async () => {
    const config = { ...testConfig(), MEMORY_TURNS: 3 }
    await withStores(({ memory }) => {
      for (let i = 1; i <= 5; i++) memory.remember(i % 2 ? 'user' : 'assistant', `t${i}`, i, `m${i}`, config)
      expect(memory.all().map((t) => t.text)).toEqual(['t3', 't4', 't5'])
    })
  })

  it('drops the oldest turns past MEMORY_MAX_CHARS and cuts one over-long turn', async () => {
    const config = { ...testConfig(), MEMORY_MAX_CHARS: 10 }
    await withStores(({ memory }) => {
      memory.remember('user', 'aaaaaa', 1, 'm1', config)
      memory.remember('user', 'bbbbbb', 2, 'm2', config)
      expect(memory.all().map((t) => t.text)).toEqual(['bbbbbb'])
      memory.remember('user', 'x'.repeat(50), 3, 'm3', config)
      expect(memory.all().map((t) => t.text)).toEqual(['x'.repeat(10)])
    })
  })

  it('remembers nothing when memory is turned off', async () => {
    await withStores(({ memory }) => {
      memory.remember('user', 'hello', 1, 'm1', { ...testConfig(), MEMORY_TURNS: 0 })
      expect(memory.count()).toBe(0)
    })
  })

  it('gives the turns before a message without the message itself', async () => {
    const config = testConfig()
    await withStores(({ memory }) => {
      memory.remember('user', 'first', 1, 'm1', config)
      memory.remember('assistant', 'answer', 2, null, config)
      memory.remember('user', 'second', 3, 'm3', config)
      memory.remember('user', 'later', 9, 'm9', config)
      expect(memory.before(3, ['m3'])).toEqual([
        { role: 'user', text: 'first' },
        { role: 'assistant', text: 'answer' },
      ])
    })
  })

  it('forgets an unsent message and follows an edit of a user turn only', async () => {
    const config = testConfig()
    await withStores(({ memory }) => {
      memory.remember('user', 'typo', 1, 'm1', config)
      memory.remember('assistant', 'bot', 2, 'm2', config)
      memory.edit('m1', 'fixed', config)
      memory.edit('m2', 'not mine to edit', config)
      expect(memory.all().map((t) => t.text)).toEqual(['fixed', 'bot'])
      memory.unsend('m1')
      expect(memory.all().map((t) => t.text)).toEqual(['bot'])
      expect(memory.newest()).toBe(2)
    })
  })
})
