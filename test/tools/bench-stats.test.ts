import { describe, expect, it } from 'vitest'
import { atMost, deliveryCounts, fmtMs, percentile, relativeChange, summarize } from '../../tools/bench-stats'

describe('bench statistics', () => {
  it('takes nearest-rank percentiles of unsorted samples', () => {
    const samples = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]
    expect(percentile(samples, 50)).toBe(5)
    expect(percentile(samples, 90)).toBe(9)
    expect(percentile(samples, 99)).toBe(10)
    expect(percentile(samples, 100)).toBe(10)
    expect(percentile(samples, 0)).toBe(1)
  })

  it('puts p99 of 200 samples on the 198th value, not the maximum', () => {
    const samples = Array.from({ length: 200 }, (_, i) => 200 - i)
    expect(percentile(samples, 99)).toBe(198)
    expect(summarize(samples)).toMatchObject({ n: 200, p50: 100, p99: 198, max: 200, mean: 100.5 })
  })

  it('reports NaN rather than zero for no samples, so an empty run cannot pass a budget', () => {
    expect(percentile([], 50)).toBeNaN()
    expect(summarize([]).max).toBeNaN()
    expect(atMost('empty', summarize([]).p50, 10, 'ms').pass).toBe(false)
  })

  it('passes a budget at the limit and fails just above it', () => {
    expect(atMost('x', 20, 20, 'ms').pass).toBe(true)
    expect(atMost('x', 20.01, 20, 'ms').pass).toBe(false)
  })

  it('measures relative change against the baseline in either direction', () => {
    expect(relativeChange(12, 10)).toBeCloseTo(0.2)
    expect(relativeChange(8, 10)).toBeCloseTo(0.2)
    expect(relativeChange(5, 0)).toBeNaN()
  })

  it('counts senders with exactly one, no, and several replies', () => {
    const replies = new Map([
      ['a', 1],
      ['b', 2],
      ['d', 1],
    ])
    expect(deliveryCounts(['a', 'b', 'c', 'd'], replies)).toEqual({ exactlyOnce: 2, missing: 1, duplicated: 1, late: 0 })
  })

  it('reports a reply that came after the phase stopped waiting as late, not missing', () => {
    const replies = new Map([
      ['a', 1],
      ['b', 1],
      ['d', 2],
    ])
    // 'c' was late too but never answered: it stays missing; 'd' came late and twice.
    const late = new Set(['b', 'c', 'd'])
    expect(deliveryCounts(['a', 'b', 'c', 'd'], replies, late)).toEqual({ exactlyOnce: 2, missing: 1, duplicated: 1, late: 2 })
  })

  it('formats milliseconds with precision that shrinks as they grow', () => {
    expect(fmtMs(3.14159)).toBe('3.14')
    expect(fmtMs(31.4159)).toBe('31.4')
    expect(fmtMs(314.159)).toBe('314')
    expect(fmtMs(NaN)).toBe('n/a')
  })
})
