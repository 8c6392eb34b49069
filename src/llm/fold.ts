/**
 * Folding for the leak check: two texts that look the same to a reader fold to the same string.
 * NFKC (full-width and mathematical letters), default-ignorable characters dropped (zero-width,
 * bidi controls, fillers), Unicode confusables whose prototype is ASCII (UTS #39 skeleton,
 * restricted to look-alikes of Latin letters and digits, see scripts/unicode-data.mjs), case, and
 * the ASCII look-alikes themselves (I l 1, O 0, m rn). One pass, linear in the text.
 */
import { CONFUSABLES } from './unicode-data'

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u

/** Lower case plus the ASCII rows of confusables.txt (0→O, 1→l, I→l, m→rn); i joins l so case cannot split them. */
const ASCII: string[] = Array.from({ length: 128 }, (_, i) => {
  const c = String.fromCharCode(i).toLowerCase()
  return ({ i: 'l', '1': 'l', '0': 'o', m: 'rn' } as Record<string, string>)[c] ?? c
})

let table: Map<string, string> | undefined

/** The confusables table: `prototype:d1,d2,…` groups, each d the base-36 step to the next code point. */
function confusables(): Map<string, string> {
  if (table) return table
  const map = new Map<string, string>()
  for (const group of CONFUSABLES.split(';')) {
    const colon = group.indexOf(':')
    const value = group.slice(0, colon)
    let cp = 0
    for (const d of group.slice(colon + 1).split(',')) {
      cp += parseInt(d, 36)
      map.set(String.fromCodePoint(cp), value)
    }
  }
  table = map
  return map
}

/** One code point of NFKC text, folded. */
function foldOne(c: string): string {
  const code = c.charCodeAt(0)
  if (code < 0x80) return ASCII[code]!
  return DEFAULT_IGNORABLE.test(c) ? '' : (confusables().get(c) ?? c.toLowerCase())
}

// The code points folding changes: upper-case ASCII, the ASCII look-alikes, anything not ASCII.
// Every other ASCII character folds to itself, so a native replace visits only these (the leak
// check folds the whole system message for every reply; a loop over every character cost ~5x).
const CHANGED = /[A-Zi10m]|[^\x00-\x7f]/gu

/** The skeleton used for leak matching; not for display. */
export function foldText(s: string): string {
  return s.normalize('NFKC').replace(CHANGED, foldOne)
}

// Exactly the code points that are neither letters nor digits, in two alternatives: the ASCII
// ones as a plain range (most of any text, matched ~3x faster than through the property
// classes), the rest by Unicode property.
const NOT_ALNUM = /[^a-zA-Z0-9\u0080-\u{10FFFF}]+|[^\p{L}\p{N}\x00-\x7f]+/gu

/** `s` with everything but letters and digits (\p{L}, \p{N}) removed. */
export function lettersAndDigits(s: string): string {
  return s.replace(NOT_ALNUM, '')
}
