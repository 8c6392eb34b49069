/**
 * The leak check: does a reply carry the canary or a 40-character run of the system prompt?
 * Both sides are folded alike (look-alike letters, case, invisibles; src/llm/fold.ts), and the
 * reply is also read decoded (HTML entities, percent-encoding, base64/hex/binary runs), reversed
 * and in ROT13. Work is linear in the reply: a fixed number of passes, 40-character windows.
 */
import { decodeText } from './decode'
import { foldText } from './fold'
import { decodeRuns } from './guard'

export const LEAK_WINDOW = 40

const SPACES = /\s+/g
const NOT_ALNUM = /[^\p{L}\p{N}]+/gu

function flat(s: string): string {
  return foldText(s).replace(SPACES, ' ').trim()
}

// Letters and digits only: survives re-spacing, punctuation and line-wrapping of a leaked prompt.
function bareOfFlat(f: string): string {
  return f.replace(NOT_ALNUM, '')
}

// Rolling polynomial hash over UTF-16 units, mod 2^32 in integer arithmetic: one step per
// position, and a 40-unit comparison only where the hash matches a prompt window. A collision
// costs one extra comparison, never a false match.
const B = 0x01000193
let BPOW = 1
for (let i = 0; i < LEAK_WINDOW - 1; i++) BPOW = Math.imul(BPOW, B)

function firstHash(text: string): number {
  let h = 0
  for (let i = 0; i < LEAK_WINDOW; i++) h = (Math.imul(h, B) + text.charCodeAt(i)) | 0
  return h
}

/** The hash of the window starting at `start`, from the one before it. */
function rollHash(h: number, text: string, start: number): number {
  const out = text.charCodeAt(start - 1)
  const inn = text.charCodeAt(start + LEAK_WINDOW - 1)
  return (Math.imul((h - Math.imul(out, BPOW)) | 0, B) + inn) | 0
}

/** The distinct 40-unit windows of a text, by rolling hash. */
class Windows {
  private readonly byHash = new Map<number, string[]>()

  constructor(text: string) {
    if (text.length < LEAK_WINDOW) return
    let h = firstHash(text)
    for (let i = 0; ; ) {
      const w = text.slice(i, i + LEAK_WINDOW)
      const list = this.byHash.get(h)
      if (!list) this.byHash.set(h, [w])
      else if (!list.includes(w)) list.push(w)
      if (++i + LEAK_WINDOW > text.length) break
      h = rollHash(h, text, i)
    }
  }

  /** Does `text` contain any of the windows? */
  foundIn(text: string): boolean {
    if (this.byHash.size === 0 || text.length < LEAK_WINDOW) return false
    let h = firstHash(text)
    for (let i = 0; ; ) {
      const list = this.byHash.get(h)
      if (list !== undefined && list.includes(text.slice(i, i + LEAK_WINDOW))) return true
      if (++i + LEAK_WINDOW > text.length) return false
      h = rollHash(h, text, i)
    }
  }
}

const windowCache = new Map<string, { flat: Windows; bare: Windows }>()

function promptWindows(systemPrompt: string) {
  let hit = windowCache.get(systemPrompt)
  if (!hit) {
    const f = flat(systemPrompt)
    hit = { flat: new Windows(f), bare: new Windows(bareOfFlat(f)) }
    if (windowCache.size > 16) windowCache.clear()
    windowCache.set(systemPrompt, hit)
  }
  return hit
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
  const canaryBare = bareOfFlat(flat(canary))
  const decoded = decodeText(reply)
  const candidates: Array<[string, string]> = [['plain', reply]]
  if (decoded !== reply) candidates.push(['decoded', decoded])
  for (const d of decodeRuns(decoded)) candidates.push(['decoded', d])
  candidates.push(['reversed', [...decoded].reverse().join('')])
  candidates.push(['rot13', rot13(decoded)])
  for (const [kind, text] of candidates) {
    const f = flat(text)
    const b = bareOfFlat(f)
    if (canaryBare.length >= 8 && b.includes(canaryBare)) return `${kind}:canary`
    if (windows.flat.foundIn(f) || windows.bare.foundIn(b)) return `${kind}:prompt_overlap`
  }
  return undefined
}
