/**
 * Checks every candidate reply before it can be sent, assuming the model was fooled: blocks
 * system-prompt leaks (canary, long verbatim runs, also inside base64/hex/reversed/ROT13 text),
 * refuses executable or exfiltrating markup, strips links outside ALLOWED_LINK_DOMAINS and
 * enforces a byte limit. Pure and synchronous, so it costs microseconds per reply.
 */
import { decodeRuns } from './guard'

export interface ReplyCheckContext {
  canary: string
  /** Operator text that must never be echoed: persona and policy, not the business facts. */
  systemPrompt: string
  allowedDomains: string[]
  maxBytes?: number
}

export type ReplyCheck =
  | { ok: true; text: string; linksRemoved?: number; truncated?: boolean }
  | { ok: false; reason: 'leak' | 'forbidden' | 'empty'; rule: string; text?: string }

export const LEAK_WINDOW = 40
export const DEFAULT_MAX_REPLY_BYTES = 3000
export const LINK_REMOVED = '[link removed]'

const INVISIBLE = /[\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF]/g

function flat(s: string): string {
  return s.normalize('NFKC').replace(INVISIBLE, '').toLowerCase().replace(/\s+/g, ' ').trim()
}

// Letters and digits only: survives re-spacing, punctuation and line-wrapping of a leaked prompt.
function bare(s: string): string {
  return flat(s).replace(/[^\p{L}\p{N}]+/gu, '')
}

const windowCache = new Map<string, { flat: Set<string>; bare: Set<string> }>()

function windowsOf(text: string, n: number): Set<string> {
  const out = new Set<string>()
  for (let i = 0; i + n <= text.length; i++) out.add(text.slice(i, i + n))
  return out
}

function promptWindows(systemPrompt: string) {
  let hit = windowCache.get(systemPrompt)
  if (!hit) {
    hit = { flat: windowsOf(flat(systemPrompt), LEAK_WINDOW), bare: windowsOf(bare(systemPrompt), LEAK_WINDOW) }
    if (windowCache.size > 16) windowCache.clear()
    windowCache.set(systemPrompt, hit)
  }
  return hit
}

function containsWindow(text: string, windows: Set<string>): boolean {
  for (let i = 0; i + LEAK_WINDOW <= text.length; i++) {
    if (windows.has(text.slice(i, i + LEAK_WINDOW))) return true
  }
  return false
}

function rot13(s: string): string {
  return s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base)
  })
}

/** Which leak test fired, if any: the canary or a 40-character run of the prompt. */
export function findLeak(reply: string, canary: string, systemPrompt: string): string | undefined {
  const windows = promptWindows(systemPrompt)
  const canaryBare = bare(canary)
  const candidates: Array<[string, string]> = [['plain', reply]]
  for (const d of decodeRuns(reply)) candidates.push(['decoded', d])
  candidates.push(['reversed', [...reply].reverse().join('')])
  candidates.push(['rot13', rot13(reply)])
  for (const [kind, text] of candidates) {
    const b = bare(text)
    if (canaryBare.length >= 8 && b.includes(canaryBare)) return `${kind}:canary`
    if (containsWindow(flat(text), windows.flat) || containsWindow(b, windows.bare)) {
      return `${kind}:prompt_overlap`
    }
  }
  return undefined
}

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);?/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16) % 0x110000))
    .replace(/&#(\d+);?/g, (_, d: string) => String.fromCodePoint(Number(d) % 0x110000))
    .replace(/&(lt|gt|quot|apos|amp|colon|sol|lpar|rpar|tab|newline);/gi, (_, n: string) => {
      const map: Record<string, string> = {
        lt: '<', gt: '>', quot: '"', apos: "'", amp: '&', colon: ':', sol: '/', lpar: '(', rpar: ')',
        tab: '\t', newline: '\n',
      }
      return map[n.toLowerCase()] ?? ''
    })
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
  }
}

// Executable or exfiltrating content. Checked after entity, percent and escape decoding, so
// "&lt;script" and "\x3Cscript" are caught; URI schemes are also checked with all whitespace and
// control characters removed ("java\tscript:"). A DM is plain text: none of this has a
// legitimate use in a reply.
const SQUEEZED: Array<[string, RegExp]> = [
  ['script_uri', /(?:java|vb|live|ecma)script:/],
  ['data_uri', /data:[a-z]+\/[a-z0-9.+-]+[;,]/],
]
const DECODED: Array<[string, RegExp]> = [
  ['html', /<\/?[a-z!?][a-z0-9-]*(?=[\s/>"'`=]|$)|<!--/],
  ['event_handler', /\bon[a-z]{3,}\s*=/],
  ['script_call', /\b(?:alert|prompt|confirm|eval|settimeout|setinterval)\s*(?:`|\(\s*(?:[\d'"`)]|document|window|string|this))|document\.(?:cookie|domain|write|location)|fromcharcode|window\.(?:location|onerror|open)|\bexpression\s*\(|\bnew\s+function\b/],
  ['markdown_image', /!\[[^\]]*\]\s*[([]/],
]

function decodeAll(s: string): string {
  return percentDecode(decodeEntities(s.normalize('NFKC')))
    // Literal escape sequences as they appear in payload lists: \x3B, \u003c.
    .replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/\\u([0-9a-f]{4})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u200B-\u200F\u2060-\u206F\uFEFF]/g, '')
    .toLowerCase()
}

/** The first forbidden class present in `reply`, if any. */
export function findForbidden(reply: string): string | undefined {
  const decoded = decodeAll(reply)
  const squeezed = decoded.replace(/[\s\u0000-\u0020\u007F-\u00A0\\]/g, '')
  for (const [name, re] of SQUEEZED) if (re.test(squeezed)) return name
  for (const [name, re] of DECODED) if (re.test(decoded)) return name
  return undefined
}

// Common generic and country TLDs: enough to catch bare domains ("evil.xyz") in prose without
// flagging "e.g." or "file.txt".
const TLDS =
  'com|net|org|info|biz|io|co|app|dev|xyz|top|site|online|shop|store|live|link|click|club|me|ly|gl|gg|tv|ai|cc|ws|to|sh|su|ru|cn|uk|de|fr|es|it|nl|pl|br|in|jp|kr|au|ca|us|eu|ch|at|be|se|no|dk|fi|pt|ie|tk|ml|ga|cf|gq|zip|mov|page|win|bid|loan|work|icu|buzz|fun|space|website|tech|cloud|ly|ir|vn|id|tr|ua|mx|ar|cl|za'

const URL_RE = new RegExp(
  String.raw`\b(?:https?|ftp|file|wss?):\/\/[^\s<>"'\]\)]+|\bwww\.[^\s<>"'\]\)]+|[a-z0-9._%+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,24}\b|\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:${TLDS})\b(?:\/[^\s<>"'\]\)]*)?`,
  'gi'
)
const MD_LINK = /\[([^\]\n]{0,200})\]\(\s*([^)\s]+)[^)]*\)/g

function hostOf(link: string): string | undefined {
  const at = link.lastIndexOf('@')
  const noScheme = link.replace(/^[a-z]+:\/\//i, '')
  const hostPart = (at >= 0 && !/^[a-z]+:\/\//i.test(link) ? link.slice(at + 1) : noScheme)
    .split(/[/?#:]/)[0]
    ?.replace(/^[^@]*@/, '')
    .replace(/\.+$/, '')
    .toLowerCase()
  return hostPart || undefined
}

function allowed(link: string, domains: string[]): boolean {
  if (domains.length === 0) return false
  if (/^[a-z]+:\/\//i.test(link) && !/^https?:\/\//i.test(link)) return false
  const host = hostOf(link)
  if (!host) return false
  return domains.some((d) => {
    const dom = d.trim().toLowerCase().replace(/^\*?\./, '')
    return dom !== '' && (host === dom || host.endsWith(`.${dom}`))
  })
}

/**
 * Links outside the allow-list are removed, not refused: a reply that names a wrong domain is
 * usually otherwise useful, and removing the link is what stops phishing and exfiltration.
 */
function stripLinks(text: string, domains: string[]): { text: string; removed: number } {
  let removed = 0
  let out = text.replace(MD_LINK, (_, label: string, url: string) => {
    if (allowed(url, domains)) return `${label} ${url}`
    removed++
    return `${label} ${LINK_REMOVED}`
  })
  out = out.replace(URL_RE, (m) => {
    if (m === LINK_REMOVED) return m
    if (allowed(m, domains)) return m
    removed++
    return LINK_REMOVED
  })
  return { text: out, removed }
}

function truncateBytes(text: string, maxBytes: number): string {
  const enc = new TextEncoder()
  if (enc.encode(text).byteLength <= maxBytes) return text
  let out = ''
  let used = 0
  const budget = maxBytes - 3 // room for the ellipsis
  for (const ch of text) {
    const n = enc.encode(ch).byteLength
    if (used + n > budget) break
    out += ch
    used += n
  }
  const cut = out.search(/[.!?](?=[^.!?]*$)/)
  return (cut > out.length / 2 ? out.slice(0, cut + 1) : out.trimEnd()) + '…'
}

export function checkReply(reply: string, ctx: ReplyCheckContext): ReplyCheck {
  const leak = findLeak(reply, ctx.canary, ctx.systemPrompt)
  if (leak) return { ok: false, reason: 'leak', rule: leak }
  const forbidden = findForbidden(reply)
  if (forbidden) return { ok: false, reason: 'forbidden', rule: forbidden }
  const { text: linked, removed } = stripLinks(reply, ctx.allowedDomains)
  const text = linked.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '').trim()
  if (!text || text.replace(/\[link removed\]/g, '').trim() === '') {
    return { ok: false, reason: 'empty', rule: removed ? 'only_links' : 'blank' }
  }
  const max = ctx.maxBytes ?? DEFAULT_MAX_REPLY_BYTES
  const cut = truncateBytes(text, max)
  return {
    ok: true,
    text: cut,
    ...(removed ? { linksRemoved: removed } : {}),
    ...(cut !== text ? { truncated: true } : {}),
  }
}
