/**
 * The info record of deliveries through the Worker's routes: under load an isolate writes one
 * `webhook_received` line a minute, and the lines' counts add up to every delivery and decision.
 * The clock is Date, faked so that "a minute later" needs no waiting.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { resetLogSampling, SAMPLE_WINDOW_MS, setLogLevel } from '../../src/core/log'
import { delivery, messagingItem } from '../../tools/payloads'
import { newSender, post, postItems } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

type Line = Record<string, unknown> & { level: string; event: string }
let lines: Line[]
let net: ReturnType<typeof installNetwork>

beforeEach(() => {
  resetLogSampling()
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(Date.now())
  net = installNetwork()
  lines = []
  for (const method of ['log', 'warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(JSON.parse(String(args[0])) as Line))
  }
})

afterEach(() => {
  net.restore()
  vi.useRealTimers()
  vi.restoreAllMocks()
  setLogLevel('info')
})

const received = () => lines.filter((l) => l.event === 'webhook_received')
const sum = (list: Line[], k: string) => list.reduce((a, l) => a + (Number(l[k]) || 0), 0)

describe('webhook_received through the routes', () => {
  it('writes one line for many deliveries in a minute, and the next line carries their counts', async () => {
    const senders = Array.from({ length: 6 }, newSender)
    const first = messagingItem({ kind: 'text', senderId: senders[0], text: 'hi' })
    expect((await post(delivery([first]))).status).toBe(200)
    for (const senderId of senders.slice(1)) {
      vi.advanceTimersByTime(5_000)
      expect((await postItems([{ kind: 'text', senderId, text: 'hello' }])).status).toBe(200)
    }
    // Meta redelivers the first DM, and a read receipt arrives: a duplicate and an ignored event.
    expect((await post(delivery([first]))).status).toBe(200)
    expect((await postItems([{ kind: 'read', senderId: senders[1] }])).status).toBe(200)
    for (const s of senders) expect(net.textsTo(s)).toHaveLength(1)

    expect(received()).toEqual([expect.objectContaining({ level: 'info', deliveries: 1, events: 1, new: 1 })])

    vi.advanceTimersByTime(SAMPLE_WINDOW_MS)
    expect((await postItems([{ kind: 'text', senderId: newSender(), text: 'later' }])).status).toBe(200)
    const out = received()
    expect(out).toHaveLength(2)
    // The second line stands for the seven held deliveries and itself.
    expect(out[1]).toEqual(expect.objectContaining({ deliveries: 8, events: 8, new: 6, duplicate: 1, ignored: 1 }))
    expect(sum(out, 'deliveries')).toBe(9)
    expect(sum(out, 'new') + sum(out, 'duplicate') + sum(out, 'ignored')).toBe(sum(out, 'events'))
    // Replies write nothing at info; besides this line, only the isolate's cumulative counters,
    // once a minute as well (core/metrics.ts).
    expect(lines.filter((l) => l.level === 'info' && !['webhook_received', 'metrics_summary'].includes(l.event))).toEqual([])
  })

  it('writes each delivery with LOG_LEVEL=debug', async () => {
    const debug = { LOG_LEVEL: 'debug' } as Partial<Env>
    for (let i = 0; i < 3; i++) expect((await postItems([{ kind: 'read', senderId: newSender() }], debug)).status).toBe(200)
    expect(received().map((l) => [l.deliveries, l.ignored])).toEqual([[1, 1], [1, 1], [1, 1]])
  })
})
