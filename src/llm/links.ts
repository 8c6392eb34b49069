/**
 * Link removal with allow-list semantics: whatever a messaging client would turn into a link is
 * replaced by LINK_REMOVED unless its host is (a subdomain of) an ALLOWED_LINK_DOMAINS entry.
 * That is: any `scheme://…`, `www.…`, a domain on any IANA top-level domain (ASCII, IDN or
 * punycode), also written with full-width or ideographic dots, IPv4 and IPv6 addresses, and
 * `user@host`, each with its port and path. Markdown links keep their label.
 *
 * Hand-written scans in linear time: the text is cut into words at spaces and quotes, each word
 * into host-like runs, and every character is visited a bounded number of times. (A regex here
 * once backtracked cubically on `[a](` repeated.)
 */
import { TLDS } from './unicode-data'

export const LINK_REMOVED = '[link removed]'

let tldSet: Set<string> | undefined

/** Every IANA TLD, internationalised ones in punycode (package `tlds`, front-coded in unicode-data.ts). */
function topLevelDomains(): Set<string> {
  if (tldSet) return tldSet
  const set = new Set<string>()
  let prev = ''
  for (const entry of TLDS.split(' ')) {
    prev = prev.slice(0, entry.charCodeAt(0) - 48) + entry.slice(1)
    set.add(prev)
  }
  tldSet = set
  return set
}

// Full stop look-alikes that IDNA (UTS #46) and NFKC map to '.': ideographic, full-width,
// half-width ideographic, one dot leader, small full stop.
const DOTS = new Set(['.', '\u3002', '\uFF0E', '\uFF61', '\u2024', '\uFE52'])
const HOST_CHAR = /[\p{L}\p{N}\p{M}_-]/u
// Where a client stops a link: spaces, controls, quotes and angle brackets.
const BREAK = /[\s\p{Cc}<>"'`\u00AB\u00BB\u201C\u201D\u2018\u2019\u300C\u300D]/u
// Punctuation that ends a sentence rather than a link.
const TRAILING = /[.,;:!?)\]}\u3002\uFF0E\uFF61\uFF0C\u3001\uFF01\uFF1F\u2026*_~-]/u
const SCHEME_CHAR = /[A-Za-z0-9+.-]/
const LOCAL_CHAR = /[\p{L}\p{N}\p{M}._%+!#$&*/=?^{|}~-]/u

const isHostChar = (c: string) => DOTS.has(c) || HOST_CHAR.test(c)

/** Lower-case, NFKC, dots unified, trailing dots dropped: `ＥＶＩＬ。com.` → `evil.com`. */
function normHost(raw: string): string {
  let out = ''
  for (const c of raw) out += DOTS.has(c) ? '.' : c
  return out.normalize('NFKC').toLowerCase().replace(/^\.+|\.+$/g, '')
}

/** The ASCII (punycode) form a browser would resolve, or the input when it is not a valid host. */
function asciiHost(host: string): string {
  try {
    return new URL(`http://${host}/`).hostname.replace(/\.$/, '')
  } catch {
    return host
  }
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/

/** Would a client link this host-like run on its own (no scheme)? */
function looksLikeHost(host: string): boolean {
  if (IPV4.test(host)) return true
  const labels = host.split('.')
  if (labels.length < 2 || labels.some((l) => l === '')) return false
  if (labels[0] === 'www') return true
  const tld = labels[labels.length - 1]!
  return isTld(tld)
}

/** Is `label` (any case, Unicode or punycode) an IANA top-level domain? */
export function isTld(label: string): boolean {
  const lower = label.toLowerCase()
  return topLevelDomains().has(/^[\x00-\x7f]*$/.test(lower) ? lower : asciiHost(lower))
}

/** `::1`, `fe80::1`, `2001:db8:0:0:0:0:0:1`, `::ffff:1.2.3.4`: at least one digit, so times and `a::b` stay text. */
function looksLikeIpv6(run: string): boolean {
  if (!/\d/.test(run) || (run.match(/:/g)?.length ?? 0) < 2) return false
  const parts = run.split(':')
  const last = parts[parts.length - 1]!
  const v4 = IPV4.test(last)
  const groups = parts.length + (v4 ? 1 : 0)
  const double = run.indexOf('::')
  if (double !== run.lastIndexOf('::')) return false
  if (double < 0 ? groups !== 8 : groups > 9) return false
  return parts.every((p, i) => p === '' || /^[0-9a-f]{1,4}$/i.test(p) || (i === parts.length - 1 && v4))
}

export function hostAllowed(host: string, domains: string[]): boolean {
  const h = asciiHost(normHost(host))
  if (!h) return false
  return domains.some((d) => {
    const dom = asciiHost(normHost(d.trim().replace(/^\*\./, '')))
    return dom !== '' && (h === dom || h.endsWith(`.${dom}`))
  })
}

/** The host of a `scheme://user@host:port/path` link; for an opaque scheme, '' (never allowed). */
function urlHost(url: string): string {
  const sep = url.indexOf('://')
  const rest = url.slice(sep + 3)
  const end = rest.search(/[/?#\\]/)
  const authority = end < 0 ? rest : rest.slice(0, end)
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1)
  if (hostPort.startsWith('[')) return hostPort.slice(0, hostPort.indexOf(']') + 1)
  return hostPort.replace(/:\d*$/, '')
}

interface Found {
  start: number
  end: number
  keep: boolean
}

/** Extends a link from the end of its host over `:port` and a path, query or fragment, to the word's end. */
function linkEnd(word: string, from: number): number {
  let j = from
  if (word[j] === ':' && /\d/.test(word[j + 1] ?? '')) {
    j++
    while (/\d/.test(word[j] ?? '')) j++
  }
  if (j < word.length && '/?#'.includes(word[j]!)) j = word.length
  return j
}

function trimEnd(word: string, start: number, end: number): number {
  while (end > start + 1 && TRAILING.test(word[end - 1]!)) end--
  return end
}

/** The links in one word (no spaces or quotes), left to right, each with its verdict. */
function linksInWord(word: string, domains: string[]): Found[] {
  const found: Found[] = []
  let floor = 0 // nothing before this index can belong to a new link
  let v6Until = 0 // IPv6 candidates before this index were already looked at
  let i = 0
  while (i < word.length) {
    const c = word[i]!
    if (c === ':' && word.startsWith('://', i)) {
      let s = i
      while (s > floor && SCHEME_CHAR.test(word[s - 1]!)) s--
      if (s < i) {
        // A scheme link takes the rest of the word, whatever its host: any scheme is a link.
        const end = trimEnd(word, s, word.length)
        const url = word.slice(s, end)
        found.push({ start: s, end, keep: /^https?:\/\//i.test(url) && hostAllowed(urlHost(url), domains) })
        floor = i = end
        continue
      }
    }
    if (!isHostChar(c)) {
      i++
      continue
    }
    let j = i
    while (j < word.length && isHostChar(word[j]!)) j++
    if (word.startsWith('://', j)) {
      i = j // a scheme's name: the branch above takes it
      continue
    }
    if (i >= v6Until && (word[j] === ':' || word[i - 1] === ':')) {
      const v6 = ipv6At(word, i, j, floor)
      v6Until = v6.region
      if (v6.start >= 0) {
        found.push({ start: v6.start, end: v6.end, keep: false })
        floor = i = v6.end
        continue
      }
    }
    const host = normHost(word.slice(i, j))
    if (host && looksLikeHost(host)) {
      let start = i
      // `user@host`: the local part belongs to the link.
      if (word[i - 1] === '@') {
        start = i - 1
        while (start > floor && LOCAL_CHAR.test(word[start - 1]!)) start--
      }
      const end = trimEnd(word, start, linkEnd(word, j))
      found.push({ start, end, keep: hostAllowed(host, domains) })
      floor = i = end
      continue
    }
    // Text without spaces (Chinese, Japanese, Thai) runs straight into a domain: `访问evil.com获取`
    // is one host-like run, but a client links the Latin part.
    const inner = latinHostsIn(word, i, j, domains)
    if (inner.length > 0) {
      found.push(...inner)
      floor = i = Math.max(j, inner[inner.length - 1]!.end)
      continue
    }
    i = j
  }
  return found
}

// Letters, digits, hyphen and underscore of ASCII and their full-width forms, and the dots.
const LATIN_HOST = /[A-Za-z0-9_\-\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A\uFF0D]/
const isLatinHostChar = (c: string) => DOTS.has(c) || LATIN_HOST.test(c)

/** The Latin stretches inside the host-like run [i, j) that are hosts on their own, in one pass. */
function latinHostsIn(word: string, i: number, j: number, domains: string[]): Found[] {
  const out: Found[] = []
  for (let a = i; a < j; ) {
    if (!isLatinHostChar(word[a]!)) {
      a++
      continue
    }
    let b = a
    while (b < j && isLatinHostChar(word[b]!)) b++
    const host = b - a < j - i ? normHost(word.slice(a, b)) : ''
    if (host && looksLikeHost(host)) {
      out.push({ start: a, end: trimEnd(word, a, b === j ? linkEnd(word, j) : b), keep: hostAllowed(host, domains) })
    }
    a = b
  }
  return out
}

const MAX_IPV6_TEXT = 47 // "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]"
const IPV6_CHAR = /[0-9a-fA-F:.]/

/**
 * An IPv6 address around the hex run [i, j): the maximal stretch of hex digits, colons and dots
 * containing it, optionally in brackets, with port and path. `region` is where that stretch ends,
 * so the caller never looks at the same stretch twice.
 */
function ipv6At(word: string, i: number, j: number, floor: number): { start: number; end: number; region: number } {
  let a = i
  while (a > floor && IPV6_CHAR.test(word[a - 1]!)) a--
  let b = j
  while (b < word.length && IPV6_CHAR.test(word[b]!)) b++
  const none = { start: -1, end: -1, region: b }
  if (b - a > MAX_IPV6_TEXT || !/^[0-9a-fA-F.]+$/.test(word.slice(i, j))) return none
  if (!looksLikeIpv6(word.slice(a, b))) return none
  const start = a > floor && word[a - 1] === '[' ? a - 1 : a
  const end = trimEnd(word, start, linkEnd(word, word[b] === ']' ? b + 1 : b))
  return { start, end, region: b }
}

/** Replaces every non-allowed link in plain text; returns the text and how many were removed. */
export function stripBareLinks(text: string, domains: string[]): { text: string; removed: number } {
  let out = ''
  let removed = 0
  let last = 0
  let i = 0
  while (i < text.length) {
    if (BREAK.test(text[i]!)) {
      i++
      continue
    }
    let j = i
    while (j < text.length && !BREAK.test(text[j]!)) j++
    const word = text.slice(i, j)
    for (const f of linksInWord(word, domains)) {
      if (f.keep) continue
      out += text.slice(last, i + f.start) + LINK_REMOVED
      last = i + f.end
      removed++
    }
    i = j
  }
  return { text: out + text.slice(last), removed }
}

/** For each index, the next index holding `ch` (or the length): one backward pass. */
function nextIndex(s: string, test: (c: string) => boolean): Int32Array {
  const next = new Int32Array(s.length + 1)
  next[s.length] = s.length
  for (let i = s.length - 1; i >= 0; i--) next[i] = test(s[i]!) ? i : next[i + 1]!
  return next
}

const MD_LABEL_MAX = 200

/**
 * `[label](url …)` becomes `label url` when the url is allowed, `label [link removed]` when not:
 * the same result as /\[([^\]\n]{0,200})\]\(\s*([^)\s]+)[^)]*\)/g, found with precomputed
 * next-character tables instead of backtracking.
 */
function stripMarkdownLinks(text: string, domains: string[]): { text: string; removed: number } {
  if (!text.includes('](')) return { text, removed: 0 }
  const nextClose = nextIndex(text, (c) => c === ']')
  const nextNewline = nextIndex(text, (c) => c === '\n')
  const nextParen = nextIndex(text, (c) => c === ')')
  const nextSpace = nextIndex(text, (c) => /\s/.test(c))
  let out = ''
  let removed = 0
  let last = 0
  for (let i = text.indexOf('['); i >= 0; i = text.indexOf('[', i + 1)) {
    const close = nextClose[i + 1]!
    if (close >= text.length || close - i - 1 > MD_LABEL_MAX || nextNewline[i + 1]! < close) continue
    if (text[close + 1] !== '(') continue
    let k = close + 2
    while (k < text.length && /\s/.test(text[k]!)) k++
    const paren = nextParen[k]!
    if (paren >= text.length || paren === k) continue
    const url = text.slice(k, Math.min(paren, nextSpace[k]!))
    const label = text.slice(i + 1, close)
    const keep = hostAllowedUrl(url, domains)
    if (!keep) removed++
    out += `${text.slice(last, i)}${label} ${keep ? url : LINK_REMOVED}`
    last = paren + 1
    i = paren
  }
  return { text: out + text.slice(last), removed }
}

/** A markdown target: kept only when it is an http(s) link or a bare host on the allow-list. */
function hostAllowedUrl(url: string, domains: string[]): boolean {
  if (url.includes('://')) return /^https?:\/\//i.test(url) && hostAllowed(urlHost(url), domains)
  const at = url.lastIndexOf('@')
  const host = url.slice(at + 1).split(/[/?#:]/)[0] ?? ''
  return hostAllowed(host, domains)
}

/**
 * Links outside the allow-list are removed, not refused: a reply that names a wrong domain is
 * usually otherwise useful, and removing the link is what stops phishing and exfiltration.
 */
export function stripLinks(text: string, domains: string[]): { text: string; removed: number } {
  const md = stripMarkdownLinks(text, domains)
  const bare = stripBareLinks(md.text, domains)
  return { text: bare.text, removed: md.removed + bare.removed }
}
