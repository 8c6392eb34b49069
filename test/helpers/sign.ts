/** Test signer: produces the header Meta would send for these exact bytes. */
import { signBody } from '../../src/meta/signature'

export const APP_SECRET = 'test-app-secret'

export async function signedRequest(body: string | Uint8Array, init: { secret?: string; headers?: Record<string, string> } = {}): Promise<Request> {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body
  const signature = await signBody(bytes, init.secret ?? APP_SECRET)
  return new Request('https://worker.test/webhook', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature, ...init.headers },
    body: bytes,
  })
}
