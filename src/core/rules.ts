/**
 * The automation rules as settings: COMMENT_RULES (comment → private reply, optional public reply)
 * and DM_RULES (DM keyword → fixed answer), each a JSON array. A bad rule is refused at startup
 * with a message naming the rule's index and field, like every other setting: a rule that
 * silently stopped working would look exactly like a quiet day.
 */
import * as z from 'zod'

/** More rules than this is a configuration mistake, not a shop. */
export const MAX_RULES = 100
const MAX_KEYWORDS = 50
/** Meta's limit for one message's text (bytes of UTF-8). */
const MAX_MESSAGE_BYTES = 1000
/** Instagram's limit for a comment. */
const MAX_COMMENT_CHARS = 2200

const utf8Bytes = (s: string) => new TextEncoder().encode(s).byteLength

/**
 * A keyword is matched as whole words with punctuation ignored, never as a pattern: one made only
 * of punctuation (".*", "???") could never match anything, so it is refused instead.
 */
const keyword = z
  .string()
  .max(100, 'a keyword has at most 100 characters')
  .refine((k) => /[\p{L}\p{N}]/u.test(k), 'every keyword needs a letter or a digit (keywords are words, not patterns)')

const keywords = z
  .array(keyword, { error: 'keywords must be a list of words' })
  .max(MAX_KEYWORDS, `at most ${MAX_KEYWORDS} keywords per rule`)
  .optional()

const messageText = (required: string) =>
  z
    .string({ error: required })
    .trim()
    .min(1, 'must not be empty')
    .refine((t) => utf8Bytes(t) <= MAX_MESSAGE_BYTES, `must fit one Instagram message (${MAX_MESSAGE_BYTES} bytes)`)

const mediaId = z.union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]).transform(String).pipe(z.string().regex(/^[0-9A-Za-z_-]{1,128}$/, 'media ids are Graph ids (digits)'))

export const commentRuleSchema = z.strictObject({
  keywords,
  media: z.array(mediaId, { error: 'media must be a list of media ids' }).min(1, 'media, when given, lists at least one id').max(MAX_RULES).optional(),
  private_reply: messageText('private_reply is required: a text, or null to let the assistant answer').nullable(),
  public_replies: z
    .array(z.string().trim().min(1, 'a public reply must not be empty').max(MAX_COMMENT_CHARS, `a public reply has at most ${MAX_COMMENT_CHARS} characters`), {
      error: 'public_replies must be a list of texts',
    })
    .max(20, 'at most 20 public replies per rule')
    .optional(),
})

export const dmRuleSchema = z.strictObject({
  keywords,
  private_reply: messageText('private_reply is required: the fixed answer'),
})

export type CommentRule = z.infer<typeof commentRuleSchema>
export type DmRule = z.infer<typeof dmRuleSchema>

/**
 * A rules setting: a JSON array (a string, as `--var` and `.dev.vars` give it, or already an
 * array in `[vars]`). Unset or empty means no rules. The first problem is reported with the
 * rule's index and field, never with the rule's text.
 */
export function rulesSetting<T extends z.ZodType>(rule: T) {
  return z.unknown().transform((v, ctx): z.output<T>[] => {
    let value: unknown = v
    if (v === undefined) return []
    if (typeof v === 'string') {
      if (v.trim() === '') return []
      try {
        value = JSON.parse(v)
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON (expected an array of rules)' })
        return z.NEVER
      }
    }
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of rules' })
      return z.NEVER
    }
    if (value.length > MAX_RULES) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_RULES} rules` })
      return z.NEVER
    }
    const out: z.output<T>[] = []
    for (let i = 0; i < value.length; i++) {
      const r = rule.safeParse(value[i])
      if (!r.success) {
        const issue = r.error.issues[0]
        const field = issue?.path.length ? `, field ${issue.path.map(String).join('.')}` : ''
        ctx.addIssue({ code: 'custom', message: `rule ${i}${field}: ${describe(issue)}` })
        return z.NEVER
      }
      out.push(r.data)
    }
    return out
  })
}

function describe(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid'
  // zod names unknown keys ("privat_reply"): a typo in a field name must be easy to find.
  if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`
  return issue.message
}
