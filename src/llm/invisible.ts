/**
 * What the customer sees must be what the guard checked: default-ignorable characters
 * (zero-width spaces and joiners, bidi controls that reorder text, Hangul fillers, variation
 * selectors, tag characters, soft hyphen …) are removed from model output. Kept only where an
 * emoji needs them: a joiner between two pictographs (👩‍💻), a variation selector after a
 * pictograph or keycap base (❤️, 1️⃣), and the tag sequence of a subdivision flag (🏴 England).
 */

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/u
const PICTO = /\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}/u
const KEYCAP_BASE = /[0-9#*]/
const BLACK_FLAG = '\u{1F3F4}'

/** The default-ignorable characters of `text` removed, emoji sequences kept whole. */
export function stripInvisible(text: string): string {
  if (!/[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8\uD82F\uD834\uDB40-\uDB43]/.test(text)) {
    return text
  }
  const chars = [...text]
  const out: string[] = []
  let lastKept = '' // the last visible character kept, for the emoji exceptions
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!
    if (!IGNORABLE.test(c)) {
      out.push(c)
      lastKept = c
      continue
    }
    const cp = c.codePointAt(0)!
    if ((cp === 0xfe0f || cp === 0xfe0e) && (PICTO.test(lastKept) || KEYCAP_BASE.test(lastKept)) && out[out.length - 1] === lastKept) {
      out.push(c)
    } else if (cp === 0x200d && PICTO.test(lastKept) && PICTO.test(chars[i + 1] ?? '')) {
      out.push(c)
    } else if (cp >= 0xe0020 && cp <= 0xe007f && lastKept === BLACK_FLAG) {
      // A flag's tag run (🏴 + tag letters + cancel tag): kept as a unit, at most 7 tags.
      let j = i
      while (j < chars.length && j - i < 7 && (chars[j]!.codePointAt(0)! & ~0x7f) === 0xe0000) j++
      if (chars[j - 1]!.codePointAt(0) === 0xe007f && j - i >= 3) out.push(...chars.slice(i, j))
      i = j - 1
      lastKept = ''
    }
  }
  return out.join('')
}

// Letters, digits, punctuation and symbols, minus the ones that draw nothing (Braille blank,
// Hangul fillers, which are letters by category).
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u
const BLANK = /[\u2800\u3164\u115F\u1160\uFFA0]/u

/** Does `text` draw anything? */
export function hasVisible(text: string): boolean {
  for (const c of text) if (VISIBLE.test(c) && !BLANK.test(c)) return true
  return false
}
