/**
 * Runs the Instagram Login connection after the callback: code → short-lived token → long-lived
 * token → account id and username → webhook subscription. Every step must succeed before the
 * caller stores anything, so a failure leaves no half-connected account behind. I/O is injected.
 */
import {
  codeExchangeRequest,
  longLivedRequest,
  meRequest,
  parseLongLivedToken,
  parseMe,
  parseShortLivedToken,
  parseSubscribe,
  subscribeRequest,
  type HttpRequest,
  type OAuthFailure,
  type Parsed,
} from './oauth'

export interface ConnectDeps {
  fetch: typeof fetch
  now(): number
  appId: string
  appSecret: string
  redirectUri: string
  tokenUrl?: string
  graphBase: string
  version: string
  fields: string[]
  timeoutMs?: number
}

export interface ConnectedAccount {
  userId: string
  username: string
  token: string
  obtainedAt: number
  expiresAt: number
  permissions: string[]
  fields: string[]
}

export type ConnectStep = 'code_exchange' | 'long_lived' | 'me' | 'subscribe'
export type ConnectResult = { ok: true; account: ConnectedAccount } | { ok: false; step: ConnectStep; failure: OAuthFailure }

async function call<T>(deps: ConnectDeps, req: HttpRequest, parse: (status: number, body: unknown) => Parsed<T>): Promise<Parsed<T>> {
  let res: Response
  let text: string
  try {
    res = await deps.fetch(req.url, { ...req.init, signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000) })
    text = await res.text()
  } catch {
    return { ok: false, failure: 'network' }
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return { ok: false, failure: res.ok ? 'bad_response' : 'rejected' }
  }
  return parse(res.status, body)
}

export async function connectAccount(deps: ConnectDeps, code: string): Promise<ConnectResult> {
  const short = await call(deps, codeExchangeRequest({ tokenUrl: deps.tokenUrl, appId: deps.appId, appSecret: deps.appSecret, redirectUri: deps.redirectUri, code }), parseShortLivedToken)
  if (!short.ok) return { ok: false, step: 'code_exchange', failure: short.failure }
  const started = deps.now()
  const long = await call(deps, longLivedRequest({ graphBase: deps.graphBase, appSecret: deps.appSecret, shortToken: short.value.token }), parseLongLivedToken)
  if (!long.ok) return { ok: false, step: 'long_lived', failure: long.failure }
  const token = long.value.token
  const me = await call(deps, meRequest({ graphBase: deps.graphBase, version: deps.version, token }), parseMe)
  if (!me.ok) return { ok: false, step: 'me', failure: me.failure }
  const sub = await call(deps, subscribeRequest({ graphBase: deps.graphBase, version: deps.version, token, fields: deps.fields }), parseSubscribe)
  if (!sub.ok) return { ok: false, step: 'subscribe', failure: sub.failure }
  return {
    ok: true,
    account: {
      userId: me.value.userId,
      username: me.value.username,
      token,
      obtainedAt: deps.now(),
      // Counted from before the request, so the estimate errs on the early side.
      expiresAt: started + long.value.expiresInSeconds * 1000,
      permissions: short.value.permissions,
      fields: deps.fields,
    },
  }
}
