/**
 * `npm run profile` against the Graph API stand-in: --dry-run sends nothing, applying sets the ice
 * breakers and menu through messenger_profile with the bearer token, --check shows the difference.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { SANDBOX_IG_TOKEN, startGraphStandin } from '../../scripts/sandbox/standins.mjs'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..')
const ICE_BREAKERS = JSON.stringify({ default: [{ question: 'What are your opening hours?', payload: 'HOURS' }] })
const MENU = JSON.stringify({ default: [{ type: 'web_url', title: 'Shop', url: 'https://shop.example' }] })

let graph
let cwd
before(async () => {
  graph = await startGraphStandin({ latencyMs: 0 })
  // No .dev.vars there: only the settings given to each run count.
  cwd = mkdtempSync(join(tmpdir(), 'igbot-profile-'))
})
after(async () => {
  await graph.close()
  rmSync(cwd, { recursive: true, force: true })
})

function run(args, env = {}) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--experimental-strip-types', '--no-warnings=ExperimentalWarning', join(ROOT, 'scripts/profile/profile.ts'), ...args],
      { cwd, env: { PATH: process.env.PATH, IG_ACCOUNT_ID: '17841400000000001', ...env }, timeout: 30000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr })
    )
  })
}

describe('npm run profile', () => {
  test('--dry-run prints the request and sends nothing, without a token', async () => {
    const r = await run(['--url', graph.url, '--dry-run'], { ICE_BREAKERS })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^POST ${graph.url}/v25.0/17841400000000001/messenger_profile`))
    assert.match(r.stdout, /"question": "What are your opening hours\?"/)
    assert.equal(graph.calls.length, 0)
  })

  test('applies the configuration, then --check reports it in sync, and a change as a difference', async () => {
    const env = { ICE_BREAKERS, PERSISTENT_MENU: MENU, IG_ACCESS_TOKEN: SANDBOX_IG_TOKEN }
    const applied = await run(['--url', graph.url], env)
    assert.equal(applied.code, 0, applied.stderr)
    assert.match(applied.stdout, /Applied: ice breakers and persistent menu/)
    const call = graph.records.find((r) => r.kind === 'messenger_profile' && r.method === 'POST')
    assert.deepEqual(call.body.ice_breakers, [{ locale: 'default', call_to_actions: [{ question: 'What are your opening hours?', payload: 'HOURS' }] }])
    assert.equal((await run(['--url', graph.url, '--check'], env)).stdout.trim(), 'In sync: Meta has the configured ice breakers and menu.')
    const changed = await run(['--url', graph.url, '--check'], { ...env, ICE_BREAKERS: JSON.stringify({ default: [{ question: 'Do you ship?', payload: 'SHIP' }] }) })
    assert.equal(changed.code, 2)
    assert.match(changed.stdout, /ice_breakers default: differs/)
    assert.ok(!`${applied.stdout}${changed.stdout}${changed.stderr}`.includes(SANDBOX_IG_TOKEN), 'the token is never printed')
  })

  test('refuses an invalid configuration, naming it, and a wrong token with Meta\'s error', async () => {
    const bad = await run(['--url', graph.url, '--dry-run'], { ICE_BREAKERS: JSON.stringify({ default: Array(5).fill({ question: 'q', payload: 'p' }) }) })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /ICE_BREAKERS \(default: at most 4 ice breakers per locale\)/)
    const denied = await run(['--url', graph.url], { ICE_BREAKERS, IG_ACCESS_TOKEN: 'wrong-token' })
    assert.equal(denied.code, 1)
    assert.match(denied.stderr, /code 190/)
  })
})
