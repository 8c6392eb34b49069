/**
 * HTML named references that spell a letter with an accent (`&eacute;`, `&Ccedil;`) or a
 * mathematical letter (`&Aopf;`, `&bfr;`, `&Cscr;`) are decoded by rule rather than stored: a few
 * hundred table entries fewer in the Worker bundle. The few names that match the pattern but mean
 * something else (`&odot;` ⊙) are listed in ENTITY_RULE_EXCEPTIONS by the generator.
 */
export const ENTITY_RULE = /^([A-Za-z])(acute|grave|circ|tilde|uml|ring|cedil|caron|macr|ogon|breve|dot|dblac|opf|fr|scr)$/

const ACCENTS: Record<string, string> = {
  acute: '\u0301', grave: '\u0300', circ: '\u0302', tilde: '\u0303', uml: '\u0308', ring: '\u030A',
  cedil: '\u0327', caron: '\u030C', macr: '\u0304', ogon: '\u0328', breve: '\u0306', dot: '\u0307',
  dblac: '\u030B',
}

/** What the rule decodes `name` to; a mathematical letter reads as the plain letter. */
export function ruleEntity(name: string): string | undefined {
  const m = ENTITY_RULE.exec(name)
  if (!m) return undefined
  const mark = ACCENTS[m[2]!]
  return mark ? (m[1]! + mark).normalize('NFC') : m[1]!
}
