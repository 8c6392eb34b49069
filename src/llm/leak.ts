/**
 * The leak check: does a reply carry the canary or a 40-character run of the system prompt?
 * Both sides are folded alike (look-alike letters, case, invisibles; src/llm/fold.ts), and the
 * reply is also read decoded (HTML entities, percent-encoding, base64/hex/binary runs), reversed
 * and in ROT13. Work is linear in the reply and the reference: a fixed number of passes over the
 * reply, one over the reference, 40-character windows.
 */
import { decodeText } from './decode'
import { foldText, lettersAndDigits } from './fold'
import { decodeRuns } from './guard'

export const LEAK_WINDOW = 40

const SPACES = /\s+/g

function flat(s: string): string {
  return foldText(s).replace(SPACES, ' ').trim()
}

// Letters and digits only: survives re-spacing, punctuation and line-wrapping of a leaked prompt.
function bareOfFlat(f: string): string {
  return lettersAndDigits(f)
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

/** Do the 40 units of `a` from `i` equal those of `b` from `j`? No substring is made. */
function sameWindow(a: string, i: number, b: string, j: number): boolean {
  for (let k = 0; k < LEAK_WINDOW; k++) if (a.charCodeAt(i + k) !== b.charCodeAt(j + k)) return false
  return true
}

/**
 * The 40-unit windows of one text, as (hash, start) pairs in an open-addressing table of typed
 * arrays that is reused from call to call. The reference text differs in every call (the fence
 * boundary in the system message is fresh per request), so a cache of window strings per
 * reference never hit, and it held up to 17 maps of ~1,500 strings each alive until the old
 * generation collected them: most of a delivery's garbage-collection time.
 */
class WindowIndex {
  private hashes = new Int32Array(0)
  /** Window start + 1; 0 marks an empty slot. */
  private starts = new Int32Array(0)
  private mask = 0
  private shift = 32
  private text = ''

  /** Indexes `text`, forgetting the text indexed before. */
  build(text: string): this {
    this.text = text
    const count = text.length - LEAK_WINDOW + 1
    if (count <= 0) {
      this.mask = 0
      return this
    }
    let size = 64
    let bits = 6
    while (size < 2 * count) {
      size *= 2
      bits++
    }
    if (this.starts.length < size) {
      this.hashes = new Int32Array(size)
      this.starts = new Int32Array(size)
    } else this.starts.fill(0, 0, size)
    this.mask = size - 1
    this.shift = 32 - bits
    let h = firstHash(text)
    for (let i = 0; ; ) {
      let slot = this.slotOf(h)
      while (this.starts[slot] !== 0) slot = (slot + 1) & this.mask
      this.hashes[slot] = h
      this.starts[slot] = i + 1
      if (++i >= count) break
      h = rollHash(h, text, i)
    }
    return this
  }

  private slotOf(h: number): number {
    // The polynomial hash's low bits mix poorly: take the top bits of a multiplicative step.
    return Math.imul(h, 0x9e3779b1) >>> this.shift
  }

  /** Does `text` contain any window of the indexed text? */
  foundIn(text: string): boolean {
    if (this.mask === 0 || text.length < LEAK_WINDOW) return false
    let h = firstHash(text)
    for (let i = 0; ; ) {
      for (let slot = this.slotOf(h); this.starts[slot] !== 0; slot = (slot + 1) & this.mask) {
        if (this.hashes[slot] === h && sameWindow(this.text, this.starts[slot]! - 1, text, i)) return true
      }
      if (++i + LEAK_WINDOW > text.length) return false
      h = rollHash(h, text, i)
    }
  }
}

// findLeak is synchronous, so one pair of tables serves every call in the isolate.
const flatIndex = new WindowIndex()
const bareIndex = new WindowIndex()

function rot13(s: string): string {
  return s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base)
  })
}

const ASCII_ALNUM = /^[0-9A-Za-z]+$/
const pieceCache = new Map<string, { flat: string[]; bare: string[] }>()

/**
 * The folded forms of `text` when its only per-request part is `volatile` (the fence boundary,
 * fresh in every prompt): the text around it is folded once per isolate, only `volatile` per call.
 * Exact when folding cannot reach across a seam: `volatile` is ASCII letters and digits (no
 * whitespace, and NFKC never joins a character to one of them), and every piece after it is empty
 * or starts with an ASCII character (which NFKC never joins to what precedes it). Otherwise
 * undefined, and the caller folds the whole text.
 */
function foldedAround(text: string, volatile: string): { flat: string; bare: string } | undefined {
  if (!ASCII_ALNUM.test(volatile)) return undefined
  const pieces = text.split(volatile)
  if (pieces.length < 2) return undefined
  for (let i = 1; i < pieces.length; i++) if (pieces[i]!.charCodeAt(0) >= 0x80) return undefined
  const key = JSON.stringify(pieces)
  let hit = pieceCache.get(key)
  if (!hit) {
    // Untrimmed: trimming applies to the whole text, after the pieces are joined.
    const flats = pieces.map((p) => foldText(p).replace(SPACES, ' '))
    hit = { flat: flats, bare: flats.map(bareOfFlat) }
    if (pieceCache.size >= 16) pieceCache.clear()
    pieceCache.set(key, hit)
  }
  const v = foldText(volatile)
  return { flat: hit.flat.join(v).trim(), bare: hit.bare.join(bareOfFlat(v)) }
}

let lastCanary: { canary: string; bare: string } | undefined

/**
 * Which leak test fired, if any: the canary or a 40-character run of the prompt. `volatile`, when
 * given, is the one part of `systemPrompt` that changes from call to call (see foldedAround).
 */
export function findLeak(reply: string, canary: string, systemPrompt: string, volatile?: string): string | undefined {
  const folded = volatile ? foldedAround(systemPrompt, volatile) : undefined
  const flatPrompt = folded?.flat ?? flat(systemPrompt)
  const windows = { flat: flatIndex.build(flatPrompt), bare: bareIndex.build(folded?.bare ?? bareOfFlat(flatPrompt)) }
  if (lastCanary?.canary !== canary) lastCanary = { canary, bare: bareOfFlat(flat(canary)) }
  const canaryBare = lastCanary.bare
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
