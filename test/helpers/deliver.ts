/** Sends signed deliveries through the Worker's real fetch handler and waits for its waitUntil work. */
import { createExecutionContext, evictDurableObject, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { readConfig, type Config } from '../../src/core/config'
import worker from '../../src/index'
import type { SenderObject } from '../../src/conversation/sender'
import { delivery, messagingItem, metaJson, type ItemOptions } from '../../tools/payloads'
import { signedRequest } from './sign'

export async function post(body: unknown, envOverride: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext()
  const req = await signedRequest(typeof body === 'string' ? body : metaJson(body))
  const res = await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, { ...env, ...envOverride } as Env, ctx)
  await waitOnExecutionContext(ctx)
  return res
}

/** One delivery holding the given items. */
export function postItems(items: ItemOptions[], envOverride: Partial<Env> = {}): Promise<Response> {
  return post(delivery(items.map(messagingItem)), envOverride)
}

export function senderStub(userId: string, accountId = '17841400000000001') {
  return env.SENDER.getByName(`${accountId}:${userId}`)
}

let senderSeq = 0
/** A fresh Instagram-scoped id for each test, so tests in one file never share a sender object. */
export function newSender(): string {
  return `90${Date.now().toString().slice(-8)}${String(++senderSeq).padStart(6, '0')}`
}

/** The Worker's configuration as the tests' bindings define it. */
export function testConfig(): Config {
  const c = readConfig(env)
  if (!c.ok) throw new Error(c.message)
  return c.config
}

/**
 * Changes an object's tables behind its back (a test travelling in time), then restarts the
 * object, as Cloudflare does with an idle one: the next request meets a new instance that reads
 * the tables afresh instead of the old instance's copies in memory.
 */
export async function editStorage(stub: DurableObjectStub<SenderObject>, edit: (sql: SqlStorage) => void): Promise<DurableObjectStub<SenderObject>> {
  await runInDurableObject(stub, (_o: unknown, state) => edit(state.storage.sql))
  await evictDurableObject(stub)
  return env.SENDER.get(stub.id)
}
