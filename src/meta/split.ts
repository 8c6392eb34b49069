/**
 * Splits a reply into Send API messages of at most 1000 UTF-8 bytes each (Meta's limit is bytes,
 * not characters: ../shared/reference/meta-instagram.md §0, §4.1). Cuts prefer sentence, then
 * word, then grapheme boundaries from Intl.Segmenter, so an emoji, a flag or an Arabic or
 * Devanagari cluster is never torn apart; a reply that needs too many parts ends with "…".
 */

export interface SplitOptions {
  /** Largest part in UTF-8 bytes; Meta's limit, 1000, by default. */
  maxBytes?: number
  /** Most parts to produce (MAX_REPLY_PARTS); the last one is truncated with an ellipsis. */
  maxParts?: number
}

const ELLIPSIS = '…'
const ELLIPSIS_BYTES = 3
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const ALL_WHITESPACE = /^\s+$/
const EDGE_BLANK = /\s/

type Granularity = 'grapheme' | 'word' | 'sentence'
const segmenters = new Map<Granularity, Intl.Segmenter>()
function segmenter(granularity: Granularity): Intl.Segmenter {
  let s = segmenters.get(granularity)
  if (!s) {
    s = new Intl.Segmenter(undefined, { granularity })
    segmenters.set(granularity, s)
  }
  return s
}

/**
 * Boundary offsets (UTF-16 indices) of one segmentation, read lazily from the segmenter so a
 * very long text is only segmented as far as the parts that are actually produced.
 */
class Breaks {
  private readonly iter: Iterator<Intl.SegmentData>
  private readonly offsets: number[] = [0]
  private readonly length: number
  private done = false

  constructor(granularity: Granularity, text: string) {
    this.iter = segmenter(granularity).segment(text)[Symbol.iterator]()
    this.length = text.length
  }

  /** Index in `offsets` of the largest boundary ≤ pos. */
  private index(pos: number): number {
    const o = this.offsets
    while (!this.done && o[o.length - 1]! <= pos) {
      const r = this.iter.next()
      if (r.done) this.done = true
      else o.push(r.value.index + r.value.segment.length)
    }
    let lo = 0
    let hi = o.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (o[mid]! <= pos) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** The largest boundary ≤ pos. */
  floor(pos: number): number {
    return this.offsets[this.index(pos)]!
  }

  /** The smallest boundary > pos, or the text's end. */
  next(pos: number): number {
    if (pos >= this.length) return this.length
    return this.offsets[this.index(pos) + 1] ?? this.length
  }

  has(pos: number): boolean {
    return this.floor(pos) === pos
  }
}

/** UTF-8 length of one UTF-16 code unit (a surrogate pair counts 2 + 2). */
function unitBytes(c: number): number {
  if (c < 0x80) return 1
  if (c < 0x800) return 2
  if (c >= 0xd800 && c <= 0xdfff) return 2
  return 3
}

/** UTF-8 byte length of a string; lone surrogates count as the 3 bytes of U+FFFD. */
export function utf8Length(text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4
        i++
        continue
      }
      n += 3
    } else if (c >= 0xdc00 && c <= 0xdfff) n += 3
    else n += unitBytes(c)
  }
  return n
}

/**
 * Splits `text` into at most `maxParts` parts of at most `maxBytes` UTF-8 bytes each.
 *
 * - A sentence that fits in a part is never split. A part ends at the last sentence end that
 *   fits, except when the next sentence is too long for any part anyway and the part would be
 *   less than half full: then it is filled up to a word boundary, so long sentences do not
 *   waste a whole part (MAX_REPLY_PARTS is small).
 * - Without a sentence end in reach, a word boundary; without one (a long URL or a run of
 *   CJK punctuation), a grapheme boundary.
 * - Whitespace-only graphemes are trimmed at part edges; empty parts are dropped.
 * - When more parts would be needed, the last part is cut at a word (else grapheme) boundary
 *   and ends with "…", still within maxBytes.
 * - Lone surrogates become U+FFFD, so the byte count is what is sent.
 * - A single grapheme longer than maxBytes (only possible with hundreds of stacked combining
 *   marks) cannot be sent whole: it is cut to what fits and the rest of it dropped.
 */
export function splitMessage(text: string, opts: SplitOptions = {}): string[] {
  const maxBytes = opts.maxBytes ?? 1000
  const maxParts = opts.maxParts ?? 3
  if (!Number.isInteger(maxBytes) || maxBytes < 4 + ELLIPSIS_BYTES) {
    throw new RangeError('splitMessage: maxBytes must be an integer ≥ 7')
  }
  if (!Number.isInteger(maxParts) || maxParts < 1) {
    throw new RangeError('splitMessage: maxParts must be a positive integer')
  }
  const t = text.replace(LONE_SURROGATE, '\uFFFD')
  const n = t.length
  // Most replies fit in one part and start and end with a visible character (the output guard
  // trims them): then no grapheme at either end is blank and the whole text is the one part, and
  // segmenting it three ways would only confirm that.
  if (n > 0 && !EDGE_BLANK.test(t[0]!) && !EDGE_BLANK.test(t[n - 1]!) && utf8Length(t) <= maxBytes) return [t]
  const graphemes = new Breaks('grapheme', t)
  const words = new Breaks('word', t)
  const sentences = new Breaks('sentence', t)

  const isBlank = (a: number, b: number) => ALL_WHITESPACE.test(t.slice(a, b))
  /** From a grapheme boundary, skips whole whitespace graphemes. */
  const skipBlank = (pos: number) => {
    while (pos < n) {
      const e = graphemes.next(pos)
      if (!isBlank(pos, e)) break
      pos = e
    }
    return pos
  }
  /** From a grapheme boundary b > a, drops whole whitespace graphemes before b. */
  const trimEnd = (a: number, b: number) => {
    while (b > a) {
      const p = graphemes.floor(b - 1)
      if (p < a || !isBlank(p, b)) break
      b = p
    }
    return b
  }
  /** The furthest code-unit offset e with bytes(a, e) ≤ budget, never inside a surrogate pair. */
  const fitEnd = (a: number, budget: number) => {
    let used = 0
    let i = a
    while (i < n) {
      const c = t.charCodeAt(i)
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < n
      const size = pair ? 4 : unitBytes(c)
      if (used + size > budget) break
      used += size
      i += pair ? 2 : 1
    }
    return i
  }
  /**
   * The furthest boundary of `breaks` after `a` whose trimmed part fits: anything up to `ext`
   * (the last fitting grapheme boundary plus any whitespace after it). ICU word and sentence
   * breaks are checked against grapheme breaks so a rule quirk cannot cut a cluster.
   */
  const furthest = (breaks: Breaks, a: number, ext: number) => {
    let b = breaks.floor(ext)
    while (b > a && !graphemes.has(b)) b = breaks.floor(b - 1)
    return b > a ? b : -1
  }
  const reach = (a: number, budget: number) => skipBlank(graphemes.floor(fitEnd(a, budget)))

  const parts: string[] = []
  let pos = skipBlank(0)
  while (pos < n) {
    const a = pos
    const ext = reach(a, maxBytes)
    if (ext >= n) {
      parts.push(t.slice(a, trimEnd(a, n)))
      break
    }
    if (parts.length === maxParts - 1) {
      const short = reach(a, maxBytes - ELLIPSIS_BYTES)
      let b = furthest(words, a, short)
      if (b < 0) b = furthest(graphemes, a, short)
      parts.push((b > a ? t.slice(a, trimEnd(a, b)) : '') + ELLIPSIS)
      break
    }
    let b = furthest(sentences, a, ext)
    if (b > 0) {
      const w = furthest(words, a, ext)
      const used = utf8Length(t.slice(a, trimEnd(a, b)))
      if (w > b && used < maxBytes / 2 && !nextSentenceFits(b)) b = w
    } else {
      b = furthest(words, a, ext)
      if (b < 0) b = furthest(graphemes, a, ext)
    }
    if (b < 0) {
      // One grapheme larger than a whole part: send what fits, drop the rest of the cluster.
      parts.push(t.slice(a, fitEnd(a, maxBytes)))
      pos = skipBlank(graphemes.next(a))
      continue
    }
    parts.push(t.slice(a, trimEnd(a, b)))
    pos = skipBlank(b)
  }
  return parts

  function nextSentenceFits(from: number): boolean {
    const start = skipBlank(from)
    if (start >= n) return true
    let end = sentences.next(start)
    if (!graphemes.has(end)) end = graphemes.floor(end)
    return fitEnd(start, maxBytes) >= trimEnd(start, end)
  }
}
