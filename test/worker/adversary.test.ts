/**
 * Issue 11, "tried as an attacker": each case that was reproduced against the Worker, replayed
 * through its real routes (signed deliveries, the sender and account objects, the stand-in
 * network). SECURITY.md's "Tried as an attacker" table points here.
 */
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { postItems, senderStub, newSender, testConfig } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => net.restore())

const config = testConfig

describe('every reply goes through the rate limit (finding 5)', () => {
  it('answers a burst of STOP/START messages with at most the burst, and still honours the last STOP', async () => {
    const sender = newSender()
    const t = Date.now() - 60_000
    // Alternating, so every START follows an opt-out; the thirteenth and last is a STOP.
    for (let i = 0; i < 13; i++) await postItems([{ senderId: sender, text: i % 2 === 0 ? 'STOP' : 'START', timestamp: t + i }])
    expect(net.textsTo(sender).length).toBeLessThanOrEqual(config().RATE_LIMIT_BURST)
    expect((await senderStub(sender).snapshot()).state.opted_out).toBe('1')
  })

  it('sends no START confirmation to a sender who never opted out', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'START' }])
    expect(net.textsTo(sender)).not.toContain(config().OPT_IN_REPLY)
  })

  it('puts handoff notices through the rate limit too', async () => {
    const sender = newSender()
    const t = Date.now() - 60_000
    for (let i = 0; i < 12; i++) {
      await postItems([{ senderId: sender, text: i % 2 === 0 ? 'talk to a person' : 'start', timestamp: t + i }])
    }
    expect(net.textsTo(sender).length).toBeLessThanOrEqual(config().RATE_LIMIT_BURST)
  })
})

void env
