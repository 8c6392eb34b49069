/**
 * readConfig: every problem reported at once, by name, never with a value; defaults applied;
 * APP_SECRET_PREVIOUS optional and only used when set.
 */
import { describe, expect, it } from 'vitest'
import { appSecrets, readConfig, SECRET_NAMES } from '../../src/core/config'

// readConfig caches per env object, so every test builds a fresh one.
const secrets = () => ({
  APP_SECRET: 'app-secret-value-1',
  VERIFY_TOKEN: 'verify-token-value-2',
  IG_ACCESS_TOKEN: 'ig-token-value-3',
  OPENAI_API_KEY: 'openai-key-value-4',
})

function failure(env: object) {
  const result = readConfig(env)
  if (result.ok) throw new Error('expected a configuration error')
  return result
}

function success(env: object) {
  const result = readConfig(env)
  if (!result.ok) throw new Error(result.message)
  return result.config
}

describe('readConfig', () => {
  it('reports every missing secret in one result and one message', () => {
    const result = failure({})
    expect(result.missing.sort()).toEqual([...SECRET_NAMES].sort())
    expect(result.invalid).toEqual([])
    for (const name of SECRET_NAMES) expect(result.message).toContain(name)
  })

  it('treats empty and whitespace-only secrets as missing', () => {
    const result = failure({ ...secrets(), APP_SECRET: '', VERIFY_TOKEN: '   \n' })
    expect(result.missing.sort()).toEqual(['APP_SECRET', 'VERIFY_TOKEN'])
  })

  it('treats a secret bound to a non-string value as missing', () => {
    const result = failure({ ...secrets(), OPENAI_API_KEY: { value: 'x' } })
    expect(result.missing).toEqual(['OPENAI_API_KEY'])
  })

  it('names invalid settings with their rule but never their value', () => {
    const bad = {
      GRAPH_API_BASE: 'ftp://bad-base-value.example',
      GRAPH_API_VERSION: 'twenty-five-bad-value',
      OPENAI_BASE_URL: 'not-a-url-bad-value',
      RATE_LIMIT_BURST: 'lots-bad-value',
      MARK_SEEN: 'perhaps-bad-value',
      INJECTION_ACTION: 'ignore-bad-value',
      LOG_LEVEL: 'verbose-bad-value',
    }
    const result = failure({ ...secrets(), ...bad })
    expect(result.missing).toEqual([])
    expect(result.invalid.sort()).toEqual(Object.keys(bad).sort())
    for (const name of Object.keys(bad)) expect(result.message).toContain(name)
    expect(result.message).toContain('must look like v25.0')
    expect(result.message).not.toContain('bad-value')
    for (const value of Object.values(secrets())) expect(result.message).not.toContain(value)
  })

  it('refuses an LLM timeout that could not fit the 30 s waitUntil window', () => {
    expect(failure({ ...secrets(), LLM_TIMEOUT_MS: '25000' }).invalid).toEqual(['LLM_TIMEOUT_MS'])
    expect(success({ ...secrets(), LLM_TIMEOUT_MS: '18000' }).LLM_TIMEOUT_MS).toBe(18000)
  })

  it('reports missing and invalid settings together', () => {
    const result = failure({ APP_SECRET: 'app-secret-value-1', GRAPH_API_VERSION: '25' })
    expect(result.missing.sort()).toEqual(['IG_ACCESS_TOKEN', 'OPENAI_API_KEY', 'VERIFY_TOKEN'])
    expect(result.invalid).toEqual(['GRAPH_API_VERSION'])
    expect(result.message).toMatch(/missing: .*VERIFY_TOKEN.*; invalid: GRAPH_API_VERSION/)
    expect(result.message).not.toContain('app-secret-value-1')
  })

  it('does not require OPENAI_API_KEY with LLM_PROVIDER=workers-ai and an AI binding', () => {
    const { OPENAI_API_KEY: _unused, ...rest } = secrets()
    const config = success({ ...rest, LLM_PROVIDER: 'workers-ai', AI: { run: async () => ({}) } })
    expect(config.LLM_PROVIDER).toBe('workers-ai')
    expect(config.OPENAI_API_KEY).toBeUndefined()
    expect(config.WORKERS_AI_MODEL).toMatch(/^@cf\//)
  })

  it('names OPENAI_API_KEY as missing only when the provider or MODERATION needs it', () => {
    const { OPENAI_API_KEY: _unused, ...rest } = secrets()
    const ai = { run: async () => ({}) }
    expect(failure(rest).missing).toEqual(['OPENAI_API_KEY'])
    expect(failure({ ...rest, LLM_PROVIDER: 'openai' }).missing).toEqual(['OPENAI_API_KEY'])
    expect(failure({ ...rest, LLM_PROVIDER: 'workers-ai', AI: ai, MODERATION: 'on' }).missing).toEqual(['OPENAI_API_KEY'])
  })

  it('reports a missing or fake AI binding with LLM_PROVIDER=workers-ai as a configuration error naming it', () => {
    for (const AI of [undefined, 'a string', { run: 'not a function' }, null]) {
      const result = failure({ ...secrets(), LLM_PROVIDER: 'workers-ai', AI })
      expect(result.missing).toEqual(['AI'])
      expect(result.message).toContain('[ai] binding')
      expect(result.message).toContain('LLM_PROVIDER=workers-ai')
    }
    // Not needed (and not looked at) by the default provider.
    expect(success(secrets()).LLM_PROVIDER).toBe('openai')
  })

  it('refuses hostile provider, model and gateway values by name, never echoing them', () => {
    const result = failure({
      ...secrets(),
      LLM_PROVIDER: 'evil-provider-value',
      WORKERS_AI_MODEL: 'https://evil.example/bad-model-value',
      WORKERS_AI_GATEWAY: '../bad gateway value',
    })
    expect(result.invalid.sort()).toEqual(['LLM_PROVIDER', 'WORKERS_AI_GATEWAY', 'WORKERS_AI_MODEL'])
    expect(result.message).not.toMatch(/evil|bad-model-value|bad gateway value/)
  })

  it('reads QUICK_REPLIES as a list of up to 13 distinct plain-text chips of at most 20 characters', () => {
    const config = success({ ...secrets(), QUICK_REPLIES: ' Opening hours , Talk to a person,👍👍 ' })
    expect(config.QUICK_REPLIES).toEqual(['Opening hours', 'Talk to a person', '👍👍'])
    expect(config.QUICK_REPLIES_ON).toEqual(['answers', 'handoff'])
    expect(success(secrets()).QUICK_REPLIES).toEqual([])
    expect(success({ ...secrets(), QUICK_REPLIES_ON: 'handoff' }).QUICK_REPLIES_ON).toEqual(['handoff'])
  })

  it.each([
    ['14 chips', Array.from({ length: 14 }, (_, i) => `c${i}`).join(',')],
    ['a 21-character chip', 'ok,abcdefghijklmnopqrstu'],
    ['a bidi override', 'ok,a\u202Eb'],
    ['a duplicate', 'Hours,hours'],
  ])('refuses QUICK_REPLIES with %s by name, without echoing it', (_name, value) => {
    const result = failure({ ...secrets(), QUICK_REPLIES: value })
    expect(result.invalid).toEqual(['QUICK_REPLIES'])
    expect(result.message).not.toContain(value)
  })

  it('refuses an unknown QUICK_REPLIES_ON place', () => {
    expect(failure({ ...secrets(), QUICK_REPLIES_ON: 'answers,everywhere' }).invalid).toEqual(['QUICK_REPLIES_ON'])
  })

  it('applies the documented defaults when only the secrets are set', () => {
    const config = success(secrets())
    expect(config).toMatchObject({
      ...secrets(),
      IG_ACCOUNT_ID: 'me',
      GRAPH_API_BASE: 'https://graph.instagram.com',
      GRAPH_API_VERSION: 'v25.0',
      OPENAI_MODEL: 'gpt-4o-mini',
    })
    expect(config.OPENAI_BASE_URL).toBeUndefined()
    expect(config.APP_SECRET_PREVIOUS).toBeUndefined()
  })

  it('uses the given settings over the defaults and strips a trailing slash from URLs', () => {
    const config = success({
      ...secrets(),
      IG_ACCOUNT_ID: '17841400000000001',
      GRAPH_API_BASE: 'https://graph.facebook.com/',
      GRAPH_API_VERSION: 'v24.0',
      OPENAI_MODEL: 'gpt-4.1-mini',
      OPENAI_BASE_URL: 'http://127.0.0.1:8788/v1/',
    })
    expect(config).toMatchObject({
      IG_ACCOUNT_ID: '17841400000000001',
      GRAPH_API_BASE: 'https://graph.facebook.com',
      GRAPH_API_VERSION: 'v24.0',
      OPENAI_MODEL: 'gpt-4.1-mini',
      OPENAI_BASE_URL: 'http://127.0.0.1:8788/v1',
    })
  })

  it('treats an empty OPENAI_BASE_URL as unset', () => {
    expect(success({ ...secrets(), OPENAI_BASE_URL: '' }).OPENAI_BASE_URL).toBeUndefined()
  })

  it('ignores bindings it does not know, such as KV and Durable Object namespaces', () => {
    expect(readConfig({ ...secrets(), DEDUP: {}, SENDER: {}, SOMETHING_ELSE: 'x' }).ok).toBe(true)
  })
})

describe('APP_SECRET_PREVIOUS', () => {
  it('is optional: without it only the current secret verifies', () => {
    expect(appSecrets(success(secrets()))).toEqual(['app-secret-value-1'])
  })

  it('adds the previous secret after the current one when set', () => {
    const config = success({ ...secrets(), APP_SECRET_PREVIOUS: 'previous-secret' })
    expect(appSecrets(config)).toEqual(['app-secret-value-1', 'previous-secret'])
  })

  it('is ignored when set to an empty or blank string', () => {
    expect(appSecrets(success({ ...secrets(), APP_SECRET_PREVIOUS: '' }))).toEqual(['app-secret-value-1'])
    expect(appSecrets(success({ ...secrets(), APP_SECRET_PREVIOUS: '  ' }))).toEqual(['app-secret-value-1'])
  })
})
