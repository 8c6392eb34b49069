// Sandbox inbox: plays a customer in an Instagram DM thread. Sending asks the sandbox server to
// post a signed webhook to the Worker; what the Worker sends back through the Graph API stand-in
// arrives here over SSE (messages, typing_on, mark_seen) and is drawn as the thread.

const PRESETS = [
  { id: '1234567890123456', name: 'Ana Souza' },
  { id: '2234567890123457', name: 'Ben Carter' },
  { id: '3234567890123458', name: 'Chloé Martin' },
]
const TYPING_MS = 20000

const threads = new Map()
/** Comments on the sandbox post, each with the public replies posted under it. */
const comments = []
let active = PRESETS[0].id
let info = { observesReplies: true, mode: {} }

const $ = (id) => document.getElementById(id)
const el = (tag, cls, text) => {
  const n = document.createElement(tag)
  if (cls) n.className = cls
  if (text !== undefined) n.textContent = text
  return n
}
const initials = (name) => name.split(/\s+/).map((w) => w[0] ?? '').join('').slice(0, 2).toUpperCase()
const FIRST = ['Maya', 'Noah', 'Lea', 'Omar', 'Ines', 'Jonas', 'Aiko', 'Luca', 'Zoe', 'Ravi', 'Elif', 'Sam', 'Nora', 'Theo', 'Amara', 'Felix']
const LAST = ['Lopez', 'Kim', 'Novak', 'Haddad', 'Silva', 'Berg', 'Tanaka', 'Rossi', 'Dubois', 'Patel', 'Demir', 'Okafor', 'Larsen', 'Weber', 'Mensah', 'Costa']
const hash = (id) => [...String(id)].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7)
/** A readable, stable name for a sender the simulator or New sender made up. */
const nameFor = (id) => `${FIRST[hash(id) % FIRST.length]} ${LAST[(hash(id) >>> 4) % LAST.length]}`
/** A stable avatar colour per sender. */
const avatar = (t, cls = 'avatar') => {
  const a = el('div', cls, initials(t.name))
  a.style.background = `hsl(${hash(t.id) % 360} 55% 55%)`
  a.style.color = '#fff'
  return a
}
const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })

function thread(id) {
  let t = threads.get(id)
  if (!t) {
    const preset = PRESETS.find((p) => p.id === id)
    t = { id, name: preset?.name ?? nameFor(id), items: [], typingUntil: 0, seenSeq: 0, state: null }
    threads.set(id, t)
  }
  return t
}
PRESETS.forEach((p) => thread(p.id))

/** Tags the notices the pipeline sends as ordinary text, so they stand out in the thread. */
function classify(text) {
  const t = (text ?? '').toLowerCase()
  if (/faster than i can answer|slow down|too many messages/.test(t)) return ['notice', 'slow-down notice']
  if (/resting for today|budget/.test(t)) return ['notice', 'daily budget notice']
  if (/person from our team|take over|handed over|human/.test(t)) return ['handoff', 'handoff']
  if (/can only help with questions|can't share|cannot share|blocked|not able to help with that/.test(t)) return ['blocked', 'blocked / refused']
  if (/automated replies are back/.test(t)) return ['opt-in', 'opt-in']
  if (/won't get automated replies/.test(t)) return ['notice', 'opt-out']
  if (/can't answer right now|try again in a little while/.test(t)) return ['notice', 'fallback reply']
  return null
}

function inboundText(item) {
  switch (item.kind) {
    case 'image': return '📷 Photo'
    case 'share': return '🔗 Shared a post'
    case 'story_mention': return '📣 Mentioned you in their story'
    case 'postback': return item.text ? `🔘 ${item.text}` : '🔘 Tapped a button'
    case 'quick_reply': return item.text ?? ''
    default: return item.text ?? ''
  }
}

function apply(item) {
  if (item.type === 'comment') {
    comments.push({ ...item, replies: [] })
    return
  }
  if (item.type === 'outbound' && item.record.kind === 'public_reply') {
    const c = comments.find((x) => x.commentId === item.record.commentId)
    if (c) c.replies.push(item.record)
    return
  }
  if (item.type === 'inbound') {
    const t = thread(item.senderId)
    t.items.push(item)
    if (item.kind === 'unsend') {
      const target = t.items.find((i) => i.type === 'inbound' && i.mid === item.targetMid)
      if (target) target.unsent = true
    }
  } else if (item.type === 'outbound') {
    const r = item.record
    const t = thread(r.recipientId)
    if (r.kind === 'sender_action') {
      if (r.action === 'typing_on') t.typingUntil = Date.now() + TYPING_MS
      else if (r.action === 'typing_off') t.typingUntil = 0
      else if (r.action === 'mark_seen') t.seenSeq = item.seq
    } else {
      t.typingUntil = 0
      t.items.push(item)
    }
  }
}

function renderList() {
  const list = $('thread-list')
  list.replaceChildren()
  for (const t of threads.values()) {
    const li = el('li', t.id === active ? 'active' : '')
    li.dataset.sender = t.id
    li.append(avatar(t))
    const body = el('div')
    body.append(el('div', 'who', t.name))
    // Reactions, unsends and redeliveries are not messages: the preview keeps the last one shown.
    const visible = t.items.filter((i) => i.type === 'outbound' || (!i.duplicate && !i.unsent && i.kind !== 'reaction' && i.kind !== 'unsend'))
    const last = visible[visible.length - 1]
    const preview = !last ? `id ${t.id}` : last.type === 'outbound' ? `sandbox_shop: ${last.record.text ?? ''}` : last.kind === 'echo' ? `sandbox_shop: ${last.text ?? ''}` : inboundText(last)
    body.append(el('div', 'preview', preview))
    li.append(body)
    li.addEventListener('click', () => {
      active = t.id
      render()
      refreshState(0)
    })
    list.append(li)
  }
}

function renderThread() {
  const t = thread(active)
  $('head-avatar').replaceWith(Object.assign(avatar(t), { id: 'head-avatar' }))
  $('head-name').textContent = t.name
  renderState(t)
  $('head-sub').textContent = `Instagram-scoped id ${t.id} · ${info.observesReplies ? 'replies shown as they reach the Graph API stand-in' : 'replies go to the real Graph API (not shown here)'}`
  const box = $('messages')
  box.replaceChildren()
  let lastMine = null
  t.items.forEach((item, idx) => {
    const next = t.items[idx + 1]
    if (item.type === 'inbound') {
      if (item.duplicate) {
        box.append(el('div', 'system', `Meta redelivered your last message (same mid) → HTTP ${item.statuses.join(', ')}`))
        return
      }
      if (item.kind === 'reaction') {
        box.append(el('div', 'system', `You reacted ❤️ to a message → HTTP ${item.statuses.join(', ')}`))
        return
      }
      if (item.kind === 'unsend') {
        box.append(el('div', 'system', `You unsent a message → HTTP ${item.statuses.join(', ')}`))
        return
      }
      if (item.kind === 'echo') {
        const row = el('div', 'row bot agent last')
        row.append(el('div', 'avatar small', 'SH'))
        row.append(el('div', 'bubble', item.text ?? ''))
        box.append(row)
        const meta = el('div', 'meta bot')
        meta.append(el('span', 'tag agent', 'human agent'), `sent from the Instagram app (echo) → HTTP ${item.statuses.join(', ')}`)
        box.append(meta)
        return
      }
      const row = el('div', 'row me')
      row.dataset.mid = item.mid
      const bubble = el('div', `bubble${item.kind !== 'text' ? ' media' : ''}${item.unsent ? ' unsent' : ''}`, item.unsent ? 'Message unsent' : inboundText(item))
      row.append(bubble)
      box.append(row)
      const ok = item.statuses.every((s) => s === 200)
      const meta = el('div', 'meta me')
      if (!ok) meta.append(el('span', 'tag error', 'not accepted'))
      meta.append(`${time(item.at)} · HTTP ${item.statuses.join(', ')}${item.via ? ` · ${item.via}` : ''}`)
      box.append(meta)
      lastMine = { item, meta }
    } else {
      const r = item.record
      const lastOfRun = !next || next.type !== 'outbound'
      const row = el('div', `row bot${lastOfRun ? ' last' : ''}`)
      row.append(el('div', 'avatar small', 'SH'))
      const bubble = el('div', 'bubble', r.text ?? '[attachment]')
      bubble.dataset.testid = 'bot-reply'
      row.append(bubble)
      box.append(row)
      const tag = r.kind === 'private_reply' ? ['notice', 'private reply to your comment'] : classify(r.text)
      const meta = el('div', 'meta bot')
      if (tag) meta.append(el('span', `tag ${tag[0]}`, tag[1]))
      // The stand-in model says how many messages it answered: a burst shows as one answer.
      const burst = /\((\d+) messages, one answer\)$/.exec(r.text ?? '')
      if (burst) meta.append(el('span', 'tag burst', `one answer to ${burst[1]} messages`))
      meta.append(`${time(r.at)} · ${r.messageId}`)
      box.append(meta)
      // Quick replies show under the newest message only, as in Instagram, and can be tapped.
      const chips = r.body?.message?.quick_replies
      if (!next && Array.isArray(chips) && chips.length) {
        const bar = el('div', 'chips')
        bar.dataset.testid = 'quick-replies'
        for (const c of chips) {
          const chip = el('button', 'chip', String(c.title ?? ''))
          chip.type = 'button'
          chip.addEventListener('click', () => send('quick_reply', { text: String(c.title ?? '') }))
          bar.append(chip)
        }
        box.append(bar)
      }
    }
  })
  if (lastMine && t.seenSeq > lastMine.item.seq) box.append(el('div', 'seen', 'Seen'))
  if (t.typingUntil > Date.now()) {
    const row = el('div', 'row bot typing last')
    row.dataset.testid = 'typing'
    row.append(el('div', 'avatar small', 'SH'))
    const b = el('div', 'bubble')
    b.append(el('span'), el('span'), el('span'))
    row.append(b)
    box.append(row)
  }
  box.scrollTop = box.scrollHeight
}

function renderComments() {
  const list = $('comments')
  list.replaceChildren()
  for (const c of comments) {
    const li = el('li')
    li.append(el('span', 'who', thread(c.senderId).name), c.text)
    if (!c.statuses.every((s) => s === 200)) li.append(el('span', 'tag error', ' not accepted'))
    list.append(li)
    for (const r of c.replies) {
      const reply = el('li', 'reply')
      reply.dataset.testid = 'public-reply'
      reply.append(el('span', 'who', 'sandbox_shop'), r.text)
      list.append(reply)
    }
  }
}

/** "14:32", or "tomorrow 14:32" / "Tue 3 Dec 14:32" for a later day. */
const clock = (ms) => {
  const d = new Date(ms)
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  const today = new Date()
  if (d.toDateString() === today.toDateString()) return hm
  const tomorrow = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1)
  if (d.toDateString() === tomorrow.toDateString()) return `tomorrow ${hm}`
  return `${d.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' })} ${hm}`
}

/** The conversation's state as the Worker keeps it: paused (and why), opted out. */
function renderState(t) {
  const box = $('convo-state')
  const s = t.state
  box.replaceChildren()
  if (!s || (!s.optedOut && !s.pausedUntil)) {
    box.hidden = true
    return
  }
  const text = s.optedOut
    ? 'Bot off for this customer: opted out (sent STOP). Only their START turns it back on.'
    : `Bot paused until ${clock(s.pausedUntil)} (${s.pauseReason === 'handoff' ? 'handoff requested' : 'a person answered'})`
  box.append(el('span', '', text))
  if (s.pausedUntil && info.canResume) {
    const b = el('button', '', 'Resume bot')
    b.type = 'button'
    b.id = 'resume'
    b.addEventListener('click', async () => {
      const res = await fetch(`/api/resume?sender=${t.id}`, { method: 'POST' })
      if (res.ok) t.state = await res.json()
      render()
    })
    box.append(b)
  }
  box.hidden = false
}

let stateTimer
/** Asks for the active conversation's state (debounced: events arrive in bursts). */
function refreshState(delay = 400) {
  clearTimeout(stateTimer)
  stateTimer = setTimeout(async () => {
    const t = thread(active)
    try {
      const res = await fetch(`/api/conversation?sender=${t.id}`)
      if (res.ok) {
        t.state = await res.json()
        renderThread()
      }
    } catch {
      /* the health strip reports it */
    }
  }, delay)
}

function render() {
  renderList()
  renderThread()
  renderComments()
}

async function send(kind, extra = {}) {
  const t = thread(active)
  const body = { kind, senderId: t.id, ...extra }
  const res = await fetch('/api/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) alert('The sandbox could not send that webhook.')
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $('text')
  const text = input.value.trim()
  if (!text) return
  input.value = ''
  send('text', { text })
})

$('actions').addEventListener('click', (e) => {
  const kind = e.target instanceof HTMLElement ? e.target.dataset.kind : undefined
  if (!kind) return
  const t = thread(active)
  const mine = t.items.filter((i) => i.type === 'inbound' && i.kind === 'text' && !i.duplicate)
  const lastMine = mine[mine.length - 1]
  const bots = t.items.filter((i) => i.type === 'outbound')
  const lastBot = bots[bots.length - 1]
  const typed = $('text').value.trim()
  switch (kind) {
    case 'reaction':
      if (!lastBot) return alert('No bot message to react to yet.')
      return send('reaction', { targetMid: lastBot.record.messageId })
    case 'unsend':
      if (!lastMine) return alert('Nothing to unsend yet.')
      return send('unsend', { targetMid: lastMine.mid })
    case 'duplicate':
      if (!lastMine) return alert('Send a message first.')
      return send('text', { text: lastMine.text, mid: lastMine.mid })
    case 'echo':
      $('text').value = ''
      return send('echo', { text: typed || "Hi, this is Maria from the shop. I'll take it from here!" })
    case 'postback':
      return send('postback', { text: 'What are your opening hours?' })
    case 'burst':
      // Three separate deliveries 300 ms apart, as a person types: one typing indicator, one answer.
      return (async () => {
        for (const [i, text] of ['hi', 'quick question', 'do you ship to Austria?'].entries()) {
          if (i) await new Promise((r) => setTimeout(r, 300))
          await send('text', { text })
        }
      })()
    default:
      return send(kind)
  }
})

$('comment-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const input = $('comment-text')
  const text = input.value.trim()
  if (!text) return
  input.value = ''
  const res = await fetch('/api/comment', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ senderId: active, text }) })
  if (!res.ok) alert('The sandbox could not send that comment.')
})

$('new-sender').addEventListener('click', () => {
  const id = `9${String(Math.floor(Math.random() * 1e15)).padStart(15, '0')}`
  const t = thread(id)
  active = id
  render()
})

async function health() {
  try {
    const h = await (await fetch('/api/health')).json()
    const ok = h.reachable && h.body?.status === 'ok'
    $('health-dot').className = `dot ${ok ? 'ok' : 'bad'}`
    $('health-text').textContent = !h.reachable
      ? 'Worker not reachable'
      : ok
        ? `Worker ${h.body.status} · v${h.body.version}`
        : `Worker ${h.body?.status ?? h.status}${h.body?.missing?.length ? ` · missing: ${h.body.missing.join(', ')}` : ''}`
  } catch {
    $('health-dot').className = 'dot bad'
    $('health-text').textContent = 'Sandbox server not reachable'
  }
}

async function start() {
  try {
    info = await (await fetch('/api/info')).json()
    $('mode-text').textContent = `${info.workerUrl} · LLM: ${info.mode.realLlm ? 'real (from .dev.vars)' : 'sandbox stand-in'} · Graph API: ${info.mode.realGraph ? 'real (from .dev.vars)' : 'sandbox stand-in'}`
    // One click into the Worker's operator page: the sandbox's own admin token signs in there.
    const form = $('connect-form')
    form.action = `${info.workerUrl}/admin/login`
    if (info.adminToken) $('connect-token').value = info.adminToken
    else form.addEventListener('submit', (e) => {
      e.preventDefault()
      window.open(`${info.workerUrl}/admin`, '_blank')
    })
    form.hidden = false
    if (info.canReset) {
      const reset = $('reset-sandbox')
      reset.hidden = false
      reset.addEventListener('click', async () => {
        if (!confirm('Delete the sandbox\'s local state (conversations, pauses, opt-outs, connected account) and restart the Worker?')) return
        reset.disabled = true
        reset.textContent = 'Resetting…'
        await fetch('/api/reset', { method: 'POST' }).catch(() => {})
        location.reload()
      })
    }
    const notes = []
    if (info.stateReused) notes.push('State from an earlier run is reused: paused or opted-out senders stay so. Start empty with npm start -- --fresh or Reset sandbox.')
    for (const i of info.ignoredDevVars ?? []) notes.push(`Ignored ${i.name} from .dev.vars: it ${i.why}, so the sandbox stand-in is used.`)
    if (notes.length) {
      $('state-notice').textContent = notes.join(' ')
      $('state-notice').hidden = false
    }
  } catch {
    /* the health strip reports it */
  }
  render()
  const events = new EventSource('/api/events')
  events.onmessage = (e) => {
    const item = JSON.parse(e.data)
    if (item.type === 'reset') {
      location.reload()
      return
    }
    apply(item)
    render()
    // Only events of the open conversation can change its state.
    const who = item.type === 'inbound' ? item.senderId : item.record?.recipientId
    if (who === active) refreshState()
  }
  refreshState(0)
  health()
  setInterval(health, 5000)
  // Typing indicators expire like Instagram's (20 s without a message).
  setInterval(() => {
    if ([...threads.values()].some((t) => t.typingUntil && t.typingUntil < Date.now())) {
      for (const t of threads.values()) if (t.typingUntil < Date.now()) t.typingUntil = 0
      render()
    }
  }, 1000)
  document.body.dataset.ready = 'true'
}

start()
