/**
 * `npm run simulate -- --text "hi" [--sender ID] [--kind KIND] [--repeat N] [--duplicate N] [--url URL]`
 * Plays Meta: signs and posts a realistic webhook and prints each HTTP status. Against the local
 * sandbox it then waits for the bot's reply at the Graph API stand-in and prints it as `bot: …`.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildDelivery, payloads, postWebhook, REPLYING_KINDS } from './webhook-client.mjs'
import { parseDotVars, ROOT, SANDBOX_SECRETS } from './sandbox.mjs'

const KINDS = ['text', 'image', 'story_mention', 'reaction', 'postback', 'echo', 'unsend', 'share', 'story_reply', 'ice_breaker', 'quick_reply', 'read', 'edit', 'referral', 'comment']
const USAGE = `Usage: npm run simulate -- [--text "hi"] [--sender ID] [--kind ${KINDS.join('|')}]
                           [--repeat N] [--duplicate N] [--url URL] [--secret S] [--wait SECONDS]
  --repeat N      send N separate messages (each with its own mid)
  --duplicate N   deliver each message N times with the same mid, as Meta's redelivery does
  --kind comment  a comment on a post (COMMENT_RULES decide whether it gets a private reply)
  --url URL       webhook URL (default: the running sandbox, else http://127.0.0.1:8787/webhook)
  APP_SECRET comes from --secret, the environment or .dev.vars; the sandbox secret is used
  only for a local URL when none is set.`

function fail(message) {
  console.error(message)
  process.exit(1)
}

let args
try {
  args = parseArgs({
    options: {
      text: { type: 'string' },
      sender: { type: 'string' },
      kind: { type: 'string', default: 'text' },
      repeat: { type: 'string', default: '1' },
      duplicate: { type: 'string', default: '1' },
      url: { type: 'string' },
      secret: { type: 'string' },
      wait: { type: 'string', default: '20' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values
} catch (err) {
  fail(`${err.message}\n${USAGE}`)
}
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}
if (!KINDS.includes(args.kind)) fail(`Unknown --kind ${args.kind}.\n${USAGE}`)
const repeat = Number(args.repeat)
const duplicate = Number(args.duplicate)
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 1000) fail('--repeat must be 1..1000')
if (!Number.isInteger(duplicate) || duplicate < 1 || duplicate > 20) fail('--duplicate must be 1..20')
const sender = args.sender ?? payloads.DEFAULT_SENDER_ID
if (!/^\d{1,20}$/.test(sender)) fail('--sender must be a numeric Instagram-scoped id')

/** The running sandbox, if `npm start` wrote its state file and is still alive. */
function readSandboxState() {
  const p = join(ROOT, '.wrangler', 'sandbox.json')
  if (!existsSync(p)) return null
  try {
    const s = JSON.parse(readFileSync(p, 'utf8'))
    process.kill(s.pid, 0)
    return s
  } catch {
    return null
  }
}

const state = readSandboxState()
const url = args.url ?? (state ? `${state.workerUrl}/webhook` : 'http://127.0.0.1:8787/webhook')
const isLocal = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(url)
const devVars = existsSync(join(ROOT, '.dev.vars')) ? parseDotVars(readFileSync(join(ROOT, '.dev.vars'), 'utf8')) : {}
const secret = args.secret || process.env.APP_SECRET || devVars.APP_SECRET || (isLocal ? SANDBOX_SECRETS.APP_SECRET : '')
if (!secret) fail('No APP_SECRET: pass --secret, set APP_SECRET in the environment or in .dev.vars.')
const graphUrl = isLocal && state?.graphUrl && url.startsWith(state.workerUrl) ? state.graphUrl : null
const accountId = state?.accountId ?? devVars.IG_ACCOUNT_ID ?? payloads.DEFAULT_ACCOUNT_ID

async function graphSeq() {
  const r = await fetch(`${graphUrl}/__sandbox/messages?since=999999999`)
  return (await r.json()).next
}

const DEFAULT_TEXT = 'Hi! Are you open on Sunday?'

/** A comment delivery; the stand-in is told who wrote it, so its replies show up for that sender. */
async function buildComment(text) {
  const commentId = payloads.newCommentId()
  const body = payloads.metaJson(payloads.commentDelivery([{ text, senderId: sender, commentId }], accountId))
  if (graphUrl) {
    await fetch(`${graphUrl}/__sandbox/comments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: commentId, from: sender }) }).catch(() => {})
  }
  return { body, mid: commentId, item: { message: { text } } }
}
let since = graphUrl ? await graphSeq().catch(() => 0) : 0
let failed = false
for (let i = 0; i < repeat; i++) {
  const text =
    args.text ??
    (args.kind === 'echo' ? "Hi, this is Maria from the shop. I'll take it from here!" : args.kind === 'text' ? DEFAULT_TEXT : undefined)
  const d =
    args.kind === 'comment'
      ? await buildComment(repeat > 1 ? `${args.text ?? 'How much is this?'} (${i + 1})` : args.text ?? 'How much is this?')
      : buildDelivery({ kind: args.kind, text: repeat > 1 && text ? `${text} (${i + 1})` : text, senderId: sender, accountId })
  const statuses = []
  for (let k = 0; k < duplicate; k++) {
    try {
      const r = await postWebhook(url, d.body, secret)
      statuses.push(r.status)
      console.log(`POST ${url} ${args.kind}${duplicate > 1 ? ` copy ${k + 1}/${duplicate}` : ''} → ${r.status} ${r.text.slice(0, 60)} (${Math.round(r.ms)} ms)`)
      if (r.status !== 200) failed = true
    } catch (err) {
      statuses.push(0)
      failed = true
      console.log(`POST ${url} → network error: ${err.cause?.code ?? err.message}`)
    }
  }
  if (state?.inboxUrl && url.startsWith(state.workerUrl)) {
    fetch(`${state.inboxUrl}api/note`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: args.kind, senderId: sender, text: d.item.message?.text ?? d.item.postback?.title, mid: d.mid, statuses }),
    }).catch(() => {})
  }
}

if (failed) fail('Some deliveries were not accepted (expected 200).')
if (!graphUrl) {
  if (isLocal && !state) console.log('(No running sandbox found: start one with `npm start` to see the bot\'s replies here.)')
  else if (!isLocal) console.log('Delivered. Replies go to Instagram; watch them with `npx wrangler tail`.')
  process.exit(0)
}

// Sandbox: wait for replies at the Graph API stand-in.
const expectReply = REPLYING_KINDS.has(args.kind) || args.kind === 'comment'
const deadline = Date.now() + (expectReply ? Number(args.wait) * 1000 : 3000)
let replies = 0
let quietUntil = 0
while (Date.now() < deadline && (replies === 0 || Date.now() < quietUntil)) {
  const r = await fetch(`${graphUrl}/__sandbox/messages?since=${since}&recipient=${sender}`).then((x) => x.json())
  for (const item of r.items) {
    since = Math.max(since, item.seq)
    if (item.kind === 'message' || item.kind === 'private_reply' || item.kind === 'public_reply') {
      const label = item.kind === 'private_reply' ? 'bot (private reply)' : item.kind === 'public_reply' ? 'bot (public reply under the comment)' : 'bot'
      console.log(`${label}: ${item.text ?? '[attachment]'}`)
      replies++
      // Keep listening for further parts of a split reply or more replies (--repeat), which can
      // come a few seconds apart when a sender's messages queue behind each other.
      quietUntil = Date.now() + 4000
    } else {
      console.log(`     (${item.action})`)
    }
  }
  await new Promise((res) => setTimeout(res, 150))
}
if (expectReply && replies === 0) fail(`No reply from the bot within ${args.wait} s.`)
if (!expectReply && replies === 0) console.log(`(no reply, as expected for ${args.kind})`)
