#!/usr/bin/env node
/**
 * npm run erase -- --user <IGSID> --url <worker>
 *
 * Erases everything the Worker stores about one Instagram user (POST /admin/erase). The operator
 * token is read from the ADMIN_TOKEN environment variable or typed at the prompt, never taken
 * from the command line (which `ps` and shell history show to others).
 */
import { createInterface } from 'node:readline'

function usage(message) {
  if (message) console.error(message)
  console.error('usage: npm run erase -- --user <IGSID> --url <https://your-worker.example>')
  console.error('The token comes from ADMIN_TOKEN in the environment, or is asked for.')
  process.exit(2)
}

function parseArgs(argv) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--token' || a.startsWith('--token=')) usage('Refusing --token: a secret on the command line is visible to other users. Set ADMIN_TOKEN or type it when asked.')
    if (a === '--user' || a === '--url') out[a.slice(2)] = argv[++i]
    else if (a.startsWith('--user=') || a.startsWith('--url=')) out[a.slice(2, a.indexOf('='))] = a.slice(a.indexOf('=') + 1)
    else usage(`unknown argument: ${a}`)
  }
  return out
}

/** Reads a line from the terminal without echoing it. */
function askHidden(question) {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
    rl._writeToOutput = (s) => {
      if (s.startsWith(question)) process.stdout.write(question)
    }
    rl.question(question, (answer) => {
      rl.close()
      process.stdout.write('\n')
      resolve(answer.trim())
    })
  })
}

const args = parseArgs(process.argv.slice(2))
if (!args.user || !/^[0-9]{1,32}$/.test(args.user)) usage('--user must be the Instagram-scoped id (digits) of the person to erase')
let url
try {
  url = new URL('/admin/erase', args.url)
} catch {
  usage('--url must be the Worker\'s address, for example https://my-bot.example.workers.dev')
}
if (url.protocol !== 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) usage('--url must use https (plain http only for localhost)')
const token = process.env.ADMIN_TOKEN?.trim() || (process.stdin.isTTY ? await askHidden('ADMIN_TOKEN: ') : '')
if (!token) usage('No ADMIN_TOKEN in the environment and no terminal to ask for it.')

const res = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify({ user: args.user }),
  signal: AbortSignal.timeout(30_000),
}).catch((err) => {
  console.error(`erase: request failed: ${err.message}`)
  process.exit(1)
})
if (res.status === 200) {
  const body = await res.json().catch(() => ({}))
  console.log(`erased: everything stored about that user is deleted (log id ${body.user ?? '?'})`)
} else {
  console.error(`erase: the Worker answered ${res.status} (${res.status === 401 ? 'wrong or unset ADMIN_TOKEN' : res.status === 400 ? 'bad user id' : 'see the Worker logs'})`)
  process.exit(1)
}
