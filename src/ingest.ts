/**
 * What happens to an authentic, parsed delivery before Meta gets its 200.
 */
import type { Config } from './config'
import { hashId, type Logger } from './log'
import type { WebhookEvent } from './webhook'

export interface DeliveryDeps {
  env: Env
  config: Config
  log: Logger
  waitUntil(promise: Promise<unknown>): void
}

export interface DeliveryOutcome {
  ok: boolean
  counts: Record<string, number>
}

export async function handleDelivery(deps: DeliveryDeps, events: WebhookEvent[]): Promise<DeliveryOutcome> {
  const counts: Record<string, number> = {}
  for (const e of events) counts[`kind_${e.kind}`] = (counts[`kind_${e.kind}`] ?? 0) + 1
  deps.waitUntil(logEvents(deps, events))
  return { ok: true, counts }
}

async function logEvents(deps: DeliveryDeps, events: WebhookEvent[]): Promise<void> {
  for (const e of events) {
    const fields: Record<string, string | number | boolean | undefined> = { kind: e.kind, account: await hashId(e.accountId, deps.config.APP_SECRET) }
    if (e.kind !== 'change') {
      fields.sender = await hashId(e.senderId, deps.config.APP_SECRET)
      fields.source = e.source
      if ('text' in e && typeof e.text === 'string') fields.text_bytes = new TextEncoder().encode(e.text).byteLength
    }
    deps.log.info('event', fields)
  }
}
