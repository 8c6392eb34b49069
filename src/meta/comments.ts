/**
 * Comment notifications (`changes[]` items with field `comments` or `live_comments`), normalized
 * into the `comment` event. Shapes follow ../shared/reference/meta-instagram.md §12.
 *
 * Ids are held to the characters Meta uses (digits, letters, `_` and `-`): a comment id becomes
 * part of a Graph API path (`/<comment-id>/replies`), so a dot or a slash must never get there.
 */
import * as z from 'zod'

export const COMMENT_FIELDS = ['comments', 'live_comments'] as const

/** What a comment event carries besides the envelope. */
export interface CommentFields {
  commentId: string
  /** Empty when the comment has no text (a sticker or a GIF). */
  text: string
  username?: string
  mediaId?: string
  /** FEED, REELS, AD, … as Meta sends it. */
  mediaProductType?: string
  /** Set when the comment answers another comment. */
  parentId?: string
  adId?: string
  adTitle?: string
  /** Came from `live_comments`: a comment on a live broadcast. */
  live: boolean
  /** Written by the business account itself (`from.id` is the account). */
  own: boolean
}

/** A Graph object id: what may safely stand in a URL path segment. */
export const graphId = z
  // A number past 2^53 has already lost digits in JSON.parse: it would name another object.
  .union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .transform(String)
  .pipe(z.string().regex(/^[0-9A-Za-z_-]{1,128}$/, 'not a Graph id'))

const valueSchema = z.object({
  id: graphId,
  text: z.string().max(100_000).optional(),
  from: z.object({ id: graphId, username: z.string().max(64).optional().catch(undefined) }),
  media: z
    .object({
      id: graphId.optional().catch(undefined),
      media_product_type: z.string().max(32).optional().catch(undefined),
      ad_id: graphId.optional().catch(undefined),
      ad_title: z.string().max(1000).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  parent_id: graphId.optional(),
})

export type CommentParse = { ok: true; comment: CommentFields; commenterId: string } | { ok: false; reason: string }

/** Normalizes the `value` of a comments change received for account `accountId`. */
export function parseCommentValue(value: unknown, field: string, accountId: string): CommentParse {
  const parsed = valueSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: issue ? `${field}.${issue.path.join('.') || '(value)'}: ${issue.code}` : 'invalid' }
  }
  const v = parsed.data
  const comment: CommentFields = {
    commentId: v.id,
    text: v.text ?? '',
    live: field === 'live_comments',
    own: v.from.id === accountId,
  }
  if (v.from.username) comment.username = v.from.username
  if (v.media?.id) comment.mediaId = v.media.id
  if (v.media?.media_product_type) comment.mediaProductType = v.media.media_product_type
  if (v.media?.ad_id) comment.adId = v.media.ad_id
  if (v.media?.ad_title) comment.adTitle = v.media.ad_title
  if (v.parent_id) comment.parentId = v.parent_id
  return { ok: true, comment, commenterId: v.from.id }
}
