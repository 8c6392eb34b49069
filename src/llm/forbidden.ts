/**
 * Executable or exfiltrating content in a reply. A DM is plain text: none of this has a
 * legitimate use in a reply. Checked after entity, percent and escape decoding, so "&lt;script"
 * and "\x3Cscript" are caught; URI schemes are also checked with all whitespace and control
 * characters removed ("java\tscript:"). Every pattern matches in time linear in the text: no
 * two unbounded quantifiers can share characters (the markdown-image test is a hand scan).
 */
import { decodeEntities, percentDecode } from './decode'

const SQUEEZED: Array<[string, RegExp]> = [
  ['script_uri', /(?:java|vb|live|ecma)script:/],
  ['data_uri', /data:[a-z]+\/[a-z0-9.+-]+[;,]/],
]
const DECODED: Array<[string, RegExp]> = [
  ['html', /<\/?[a-z!?][a-z0-9-]*(?=[\s/>"'`=]|$)|<!--/],
  ['event_handler', /\bon[a-z]{3,}\s*=/],
  ['script_call', /\b(?:alert|prompt|confirm|eval|settimeout|setinterval)\s*(?:`|\(\s*(?:[\d'"`)]|document|window|string|this))|document\.(?:cookie|domain|write|location)|fromcharcode|window\.(?:location|onerror|open)|\bexpression\s*\(|\bnew\s+function\b/],
]

/**
 * `![alt](` or `![alt][`: an image the client would fetch. `[^\]]*` cannot pass a `]`, so it is
 * enough to ask, for each `]` followed by `(` or `[`, whether `![` occurs since the previous `]`.
 */
function hasMarkdownImage(s: string): boolean {
  let segmentStart = 0
  for (let close = s.indexOf(']'); close >= 0; close = s.indexOf(']', close + 1)) {
    let k = close + 1
    while (k < s.length && /\s/.test(s[k]!)) k++
    const next = s[k]
    if ((next === '(' || next === '[') && s.slice(segmentStart, close).includes('![')) return true
    segmentStart = close + 1
  }
  return false
}

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
  if (hasMarkdownImage(decoded)) return 'markdown_image'
  return undefined
}
