/**
 * What one answered DM costs the sender object in requests, counted through the Worker's real
 * path: the runner asks the queue for more work only when the object said, as the reply
 * finished, that a job nobody has tried waits.
 */
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { counting } from '../helpers/counting'
import { newSender, postItems } from '../helpers/deliver'
import { installNetwork } from '../helpers/network'

let net: ReturnType<typeof installNetwork>
beforeEach(() => {
  net = installNetwork()
})
afterEach(() => net.restore())

const senderCalls = (calls: string[]) => calls.filter((c) => c.startsWith('sender.'))

describe('sender object requests per DM', () => {
  it('answers a DM with accept, saveReply and partSent only: no request for more work when none waits', async () => {
    const sender = newSender()
    await postItems([{ senderId: sender, text: 'hello' }])
    const calls: string[] = []
    await postItems([{ senderId: sender, text: 'and again' }], { SENDER: counting(env.SENDER, 'sender', calls) } as unknown as Partial<Env>)
    expect(net.textsTo(sender)).toHaveLength(2)
    expect(senderCalls(calls)).toEqual(['sender.accept', 'sender.saveReply', 'sender.partSent'])
  })

  it('takes the job that waited behind its reply, asking the queue once for it, and answers every DM once', async () => {
    const sender = newSender()
    const calls: string[] = []
    const counted = { SENDER: counting(env.SENDER, 'sender', calls) } as unknown as Partial<Env>
    const t = Date.now() - 1000
    // The second delivery's job waits behind the first reply in flight; the runner that finishes
    // the first is told so and takes it.
    await Promise.all([0, 1].map((i) => postItems([{ senderId: sender, text: `quick ${i}`, timestamp: t + i }], counted)))
    expect(net.textsTo(sender)).toHaveLength(2)
    expect(senderCalls(calls).filter((c) => c === 'sender.partSent')).toHaveLength(2)
    expect(senderCalls(calls).filter((c) => c === 'sender.leaseNextFresh').length).toBeLessThanOrEqual(1)
  })
})
