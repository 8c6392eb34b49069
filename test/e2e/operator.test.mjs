/**
 * Issue 11 through the real `wrangler dev`: no secret on any command line of the stack, the
 * operator's erase helper, and the sandbox inbox server refusing other sites and hosts.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { startInboxServer } from '../../scripts/sandbox/inbox-server.mjs'
import { ROOT } from '../../scripts/sandbox/sandbox.mjs'
import { lifecycle, newSender, payloads, SANDBOX_SECRETS, settle, startE2E } from './harness.mjs'

const PREVIOUS = 'previous-app-secret-on-no-command-line'
const ADMIN_TOKEN = 'admin-token-on-no-command-line-0123456789'
const life = lifecycle(() => startE2E({ vars: { APP_SECRET_PREVIOUS: PREVIOUS, ADMIN_TOKEN } }))
let stack
before(async () => {
  stack = await life.start()
})
after(() => life.stop())

/** Command lines of every process in the stack's process group (wrangler, workerd, …). */
function commandLines(pgid) {
  const out = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) === pgid) out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '))
    } catch {
      // The process ended meanwhile.
    }
  }
  return out
}

describe('secrets and operator tools', () => {
  test('no secret appears on the command line of any process of the stack', { skip: process.platform !== 'linux' }, () => {
    const lines = commandLines(stack.child.pid)
    assert.ok(lines.length >= 1, 'found the stack processes')
    for (const secret of [PREVIOUS, ADMIN_TOKEN, ...Object.values(SANDBOX_SECRETS)]) {
      assert.ok(!lines.some((l) => l.includes(secret)), `a command line shows ${secret.slice(0, 12)}…`)
    }
  })

  test('npm run erase erases a DM sender, taking the token from the environment only', async () => {
    const sender = newSender()
    const res = await stack.post(payloads.metaJson(payloads.delivery([payloads.messagingItem({ senderId: sender, text: 'my address is 1 Main St' })])))
    assert.equal(res.status, 200)
    await settle(stack.graph)
    const run = (args, env) =>
      promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'ops', 'erase.mjs'), ...args], { env: { PATH: process.env.PATH, ...env } }).then(
        (r) => ({ code: 0, ...r }),
        (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr })
      )
    const refused = await run(['--user', sender, '--url', stack.workerUrl, '--token', ADMIN_TOKEN], {})
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /Refusing --token/)
    const wrong = await run(['--user', sender, '--url', stack.workerUrl], { ADMIN_TOKEN: `${ADMIN_TOKEN}x` })
    assert.equal(wrong.code, 1)
    const ok = await run(['--user', sender, '--url', stack.workerUrl], { ADMIN_TOKEN })
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /erased/)
    assert.ok(!ok.stdout.includes(sender))
  })
})

describe('sandbox inbox server', () => {
  let inbox
  before(async () => {
    inbox = await startInboxServer({ workerUrl: 'http://127.0.0.1:9', appSecret: 'x', accountId: payloads.DEFAULT_ACCOUNT_ID, graph: null })
  })
  after(() => inbox?.close())

  const ask = (path, headers, method = 'GET') =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: inbox.port, path, method, headers }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.end(method === 'POST' ? '{"kind":"text","text":"hi"}' : undefined)
    })

  test('answers its own page', async () => {
    assert.equal(await ask('/api/info', { host: `127.0.0.1:${inbox.port}` }), 200)
    assert.equal(await ask('/api/info', { host: `localhost:${inbox.port}`, origin: `http://localhost:${inbox.port}` }), 200)
  })

  test('refuses another site (Origin) and another name (Host, as in DNS rebinding)', async () => {
    const own = `127.0.0.1:${inbox.port}`
    for (const [headers, method] of [
      [{ host: own, origin: 'https://evil.example' }, 'POST'],
      [{ host: own, origin: 'null' }, 'POST'],
      [{ host: own, origin: `http://127.0.0.1:${inbox.port + 1}` }, 'POST'],
      [{ host: `evil.example:${inbox.port}` }, 'POST'],
      [{ host: `evil.example:${inbox.port}` }, 'GET'],
      [{ host: '127.0.0.1' }, 'GET'],
    ]) {
      assert.equal(await ask('/api/send', headers, method), 403, JSON.stringify(headers))
    }
  })
})
