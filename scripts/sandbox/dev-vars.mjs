/**
 * Which .dev.vars values the sandbox takes seriously. A copied example with `replace-me` style
 * values, or an obviously fake key, must not switch `npm start` to the real LLM or Graph API
 * (and then fail in confusing ways): such values are ignored, and the banner says which and why.
 */

const PLACEHOLDER_PATTERNS = [
  [/^(replace[-_ ]?me|change[-_ ]?me|todo|tbd|fixme|placeholder|dummy|fake|test|secret|token|key|none|null|undefined)$/i, 'looks like a placeholder'],
  [/replace[-_ ]?me|change[-_ ]?me|your[-_ ]|my[-_ ]|example|placeholder|insert[-_ ]|paste[-_ ]/i, 'looks like a placeholder'],
  [/^<.*>$|^\[.*\]$|^\{.*\}$/, 'is a <placeholder> in brackets'],
  [/^(x+|\.+|\*+|0+|1234\d*|abc\d*)$/i, 'is filler (xxx, ..., 000)'],
  [/^sk-(x+|\.+|\*+|your.*|proj-x+|test)$/i, 'is a fake OpenAI key'],
]

/** Real values are at least this long for these settings; shorter ones are typos or filler. */
const MIN_LENGTH = { OPENAI_API_KEY: 20, IG_ACCESS_TOKEN: 20 }

/** Only credentials are screened: plain settings such as LLM_DAILY_BUDGET=0 mean what they say. */
export const SCREENED = new Set([
  'APP_SECRET', 'APP_SECRET_PREVIOUS', 'VERIFY_TOKEN', 'IG_ACCESS_TOKEN', 'OPENAI_API_KEY',
  'ADMIN_TOKEN', 'HEALTHZ_TOKEN', 'INSTAGRAM_APP_ID', 'INSTAGRAM_APP_SECRET',
])

/** The reason a value is not to be used, or null when it looks real. */
export function placeholderReason(name, value) {
  const v = String(value ?? '').trim()
  if (!v || !SCREENED.has(name)) return null
  for (const [re, why] of PLACEHOLDER_PATTERNS) if (re.test(v)) return why
  if (MIN_LENGTH[name] && v.length < MIN_LENGTH[name]) return `is too short for a real ${name === 'OPENAI_API_KEY' ? 'API key' : 'access token'}`
  return null
}

/** Splits .dev.vars into the values to use and the ones ignored, with the reason. */
export function screenDevVars(vars) {
  const kept = {}
  const ignored = []
  for (const [name, value] of Object.entries(vars)) {
    const why = placeholderReason(name, value)
    if (why) ignored.push({ name, why })
    else kept[name] = value
  }
  return { kept, ignored }
}
