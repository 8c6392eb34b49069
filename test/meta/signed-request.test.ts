import { describe, expect, it } from 'vitest'
import {
  decodeBase64Url,
  parseSignedRequest,
  signSignedRequest,
} from '../../src/meta/signed-request'

const SECRET = 'test-app-secret'
const ISSUED_AT = 1767225600 // 2026-01-01T00:00:00Z
const NOW = ISSUED_AT * 1000 + 60_000

// Computed outside the Worker with Node's crypto (createHmac(...).digest('base64url')), so the
// module is checked against an implementation it shares no code with.
const KNOWN_PAYLOAD = '{"algorithm":"HMAC-SHA256","issued_at":1767225600,"user_id":"17841400000000001"}'
const KNOWN_ENCODED_PAYLOAD =
  'eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsImlzc3VlZF9hdCI6MTc2NzIyNTYwMCwidXNlcl9pZCI6IjE3ODQxNDAwMDAwMDAwMDAxIn0'
const KNOWN_VALID = `WciDyXVddDds_dKMxPFlfBrbREfegJ5mQiYlgFtNeXU.${KNOWN_ENCODED_PAYLOAD}`
const KNOWN_OLD_SECRET = `XQMgskNA5Bkwmt8HCNRb8OafIHMEBdh6NOKovAvkBSY.${KNOWN_ENCODED_PAYLOAD}`

const enc = new TextEncoder()

function b64url(bytes: Uint8Array | string): string {
  const data = typeof bytes === 'string' ? enc.encode(bytes) : bytes
  let bin = ''
  for (const b of data) bin += String.fromCharCode(b)
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** An independent signer: WebCrypto directly, not the module under test. */
async function sign(encodedPayload: string, secret = SECRET): Promise<string> {
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(encodedPayload)))
  return `${b64url(mac)}.${encodedPayload}`
}

async function signJson(payload: unknown, secret = SECRET): Promise<string> {
  return sign(b64url(JSON.stringify(payload)), secret)
}

const claims = (extra: Record<string, unknown> = {}) => ({
  algorithm: 'HMAC-SHA256',
  issued_at: ISSUED_AT,
  user_id: '17841400000000001',
  ...extra,
})

const parse = (sr: string, secrets: string[] = [SECRET], now = NOW) => parseSignedRequest(sr, secrets, { now })

describe('parseSignedRequest', () => {
  describe('known-answer vectors', () => {
    it('accepts the vector computed with Node crypto', async () => {
      expect(b64url(KNOWN_PAYLOAD)).toBe(KNOWN_ENCODED_PAYLOAD)
      const result = await parse(KNOWN_VALID)
      expect(result).toEqual({
        ok: true,
        payload: { algorithm: 'HMAC-SHA256', issued_at: ISSUED_AT, user_id: '17841400000000001' },
      })
    })

    it('accepts a request signed with the previous secret during rotation', async () => {
      expect(await parse(KNOWN_OLD_SECRET, [SECRET, 'old-secret'])).toMatchObject({ ok: true })
      expect(await parse(KNOWN_OLD_SECRET, [SECRET])).toEqual({ ok: false, reason: 'bad_signature' })
    })

    it("verifies the signature of the sample from Meta's signed_request docs, then rejects its claims", async () => {
      // Sample payload {"algorithm":"HMAC-SHA256","0":"payload"} signed with the secret "secret".
      // It has no issued_at, so it must fail on claims (malformed), not on the signature.
      const sample = 'vlXgu64BQGFSQrY0ZcJBZASMvYvTHu9GQ0YM9rjPSso.eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsIjAiOiJwYXlsb2FkIn0'
      expect(await parse(sample, ['secret'])).toEqual({ ok: false, reason: 'malformed' })
      expect(await parse(sample, ['other'])).toEqual({ ok: false, reason: 'bad_signature' })
    })

    it('produces requests with signSignedRequest that the independent signer agrees with', async () => {
      const payload = claims({ user: { country: 'de', locale: 'de_DE' } })
      expect(await signSignedRequest(payload, SECRET)).toBe(await signJson(payload))
    })
  })

  describe('valid requests', () => {
    it('returns every claim, including optional ones', async () => {
      const result = await parse(await signJson(claims({ profile_id: '42', user: { country: 'de' } })))
      expect(result).toEqual({ ok: true, payload: claims({ profile_id: '42', user: { country: 'de' } }) })
    })

    it('accepts a numeric user_id only while it is an exact integer', async () => {
      expect(await parse(await signJson(claims({ user_id: 12345 })))).toMatchObject({ ok: true, payload: { user_id: '12345' } })
      // 17841400000000001 is not representable as a double.
      const unsafe = b64url('{"algorithm":"HMAC-SHA256","issued_at":1767225600,"user_id":17841400000000001}')
      expect(await parse(await sign(unsafe))).toEqual({ ok: false, reason: 'no_user' })
    })

    it('accepts a lower-case algorithm name, as Meta\'s sample does', async () => {
      expect(await parse(await signJson(claims({ algorithm: 'hmac-sha256' })))).toMatchObject({
        ok: true,
        payload: { algorithm: 'HMAC-SHA256' },
      })
    })
  })

  describe('forged requests', () => {
    it('rejects a request signed with another secret', async () => {
      expect(await parse(await signJson(claims(), 'attacker-secret'))).toEqual({ ok: false, reason: 'bad_signature' })
    })

    it('rejects a payload swapped under a valid signature', async () => {
      const [sig] = KNOWN_VALID.split('.')
      const other = b64url(JSON.stringify(claims({ user_id: '999' })))
      expect(await parse(`${sig}.${other}`)).toEqual({ ok: false, reason: 'bad_signature' })
    })

    it('rejects a signature with one bit flipped', async () => {
      const [sig, payload] = KNOWN_VALID.split('.') as [string, string]
      const bytes = decodeBase64Url(sig)!
      bytes[0] = bytes[0]! ^ 1
      expect(await parse(`${b64url(bytes)}.${payload}`)).toEqual({ ok: false, reason: 'bad_signature' })
    })

    it('rejects a truncated signature', async () => {
      const [sig, payload] = KNOWN_VALID.split('.') as [string, string]
      const bytes = decodeBase64Url(sig)!.slice(0, 16)
      expect(await parse(`${b64url(bytes)}.${payload}`)).toEqual({ ok: false, reason: 'bad_signature' })
    })

    it('does not trust claims before the signature: an unsigned bad algorithm is a bad signature', async () => {
      const forged = await signJson(claims({ algorithm: 'none' }), 'attacker-secret')
      expect(await parse(forged)).toEqual({ ok: false, reason: 'bad_signature' })
    })

    it('throws when no secret is configured instead of skipping verification', async () => {
      await expect(parse(KNOWN_VALID, [])).rejects.toThrow(TypeError)
      await expect(parse(KNOWN_VALID, [''])).rejects.toThrow(TypeError)
    })
  })

  describe('claims', () => {
    it('rejects a signed request whose algorithm is not HMAC-SHA256', async () => {
      for (const algorithm of ['HMAC-SHA1', 'none', '', 42, null]) {
        expect(await parse(await signJson(claims({ algorithm })))).toEqual({ ok: false, reason: 'bad_algorithm' })
      }
      expect(await parse(await signJson({ issued_at: ISSUED_AT, user_id: '1' }))).toEqual({
        ok: false,
        reason: 'bad_algorithm',
      })
    })

    it('accepts issued_at up to one hour old and rejects anything older', async () => {
      const sr = await signJson(claims())
      expect(await parse(sr, [SECRET], ISSUED_AT * 1000 + 3600_000)).toMatchObject({ ok: true })
      expect(await parse(sr, [SECRET], ISSUED_AT * 1000 + 3600_001)).toEqual({ ok: false, reason: 'expired' })
    })

    it('honours a custom maximum age', async () => {
      const sr = await signJson(claims())
      expect(await parseSignedRequest(sr, [SECRET], { now: NOW, maxAgeSeconds: 30 })).toEqual({
        ok: false,
        reason: 'expired',
      })
    })

    it('accepts issued_at up to five minutes ahead and rejects more', async () => {
      const sr = await signJson(claims())
      expect(await parse(sr, [SECRET], (ISSUED_AT - 300) * 1000)).toMatchObject({ ok: true })
      expect(await parse(sr, [SECRET], (ISSUED_AT - 300) * 1000 - 1)).toEqual({ ok: false, reason: 'future' })
    })

    it('rejects a missing or non-numeric issued_at as malformed', async () => {
      for (const issued_at of [undefined, '1767225600', null, 0, -5]) {
        expect(await parse(await signJson(claims({ issued_at })))).toEqual({ ok: false, reason: 'malformed' })
      }
    })

    it('rejects a request without a usable user_id', async () => {
      for (const user_id of [undefined, '', '   ', null, {}, ['1'], 1.5, -3, 'a\nb']) {
        expect(await parse(await signJson(claims({ user_id })))).toEqual({ ok: false, reason: 'no_user' })
      }
    })
  })

  describe('malformed input', () => {
    const malformed = async (sr: string) => expect(await parse(sr)).toEqual({ ok: false, reason: 'malformed' })

    it('rejects base64 padding', async () => {
      const [sig, payload] = KNOWN_VALID.split('.') as [string, string]
      await malformed(`${sig}=.${payload}`)
      await malformed(`${sig}.${payload}==`)
    })

    it("rejects standard base64's '+' and '/'", async () => {
      const [sig, payload] = KNOWN_VALID.split('.') as [string, string]
      await malformed(`${sig.replace(/_/g, '/')}.${payload}`)
      await malformed(`${sig.replace(/-/g, '+').replace(/_/g, '+')}.${payload}`)
      await malformed(`${sig}.${payload}+`)
    })

    it('rejects other characters, whitespace included', async () => {
      const [sig, payload] = KNOWN_VALID.split('.') as [string, string]
      await malformed(` ${KNOWN_VALID}`)
      await malformed(`${sig}.${payload}\n`)
      await malformed(`${sig}.${payload.slice(0, 10)}%${payload.slice(10)}`)
    })

    it('rejects a missing dot, extra dots and empty parts', async () => {
      const [sig, payload] = KNOWN_VALID.split('.') as [string, string]
      await malformed(`${sig}${payload}`)
      await malformed(`${KNOWN_VALID}.`)
      await malformed(`${sig}..${payload}`)
      await malformed(`${sig}.${payload}.${sig}`)
      await malformed(`.${payload}`)
      await malformed(`${sig}.`)
      await malformed('.')
      await malformed('')
    })

    it('rejects an impossible length and non-canonical trailing bits', async () => {
      const [sig, payload] = KNOWN_VALID.split('.') as [string, string]
      expect(sig).toHaveLength(43)
      await malformed(`${sig}AA.${payload}`) // 45 chars: length % 4 === 1 cannot encode bytes
      // "...XU" ends in a character whose low bits are unused; changing them keeps the bytes.
      expect(sig.at(-1)).toBe('U')
      const sibling = 'V'
      expect(decodeBase64Url(sig.slice(0, -1) + sibling)).toBeNull()
      await malformed(`${sig.slice(0, -1)}${sibling}.${payload}`)
    })

    it('rejects a correctly signed payload that is not JSON', async () => {
      await malformed(await sign(b64url('not json')))
      await malformed(await sign(b64url(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])))) // invalid UTF-8
    })

    it('rejects a correctly signed payload that is not an object', async () => {
      for (const value of [[claims()], 'text', 42, null, true]) await malformed(await signJson(value))
    })

    it('rejects an oversized request before hashing it', async () => {
      await malformed(await signJson(claims({ filler: 'x'.repeat(8192) })))
    })
  })
})

describe('decodeBase64Url', () => {
  it('round-trips every length modulo three', () => {
    for (const text of ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar']) {
      const encoded = b64url(text)
      if (encoded === '') continue
      expect(new TextDecoder().decode(decodeBase64Url(encoded)!)).toBe(text)
    }
  })
})
