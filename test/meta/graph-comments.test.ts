/**
 * The Graph client's comment calls (§12): a private reply is a Send API call with
 * recipient.comment_id and no messaging_type; a public reply is a form POST to
 * /<comment-id>/replies; a comment id that could change the path never reaches fetch.
 */
import { describe, expect, it } from 'vitest'
import { createGraph, GraphError } from '../../src/meta/graph'

function graph(answer: (url: string, init: RequestInit) => Response = () => Response.json({ recipient_id: '1', message_id: 'm_1' })) {
  const calls: { url: string; init: RequestInit }[] = []
  const g = createGraph({
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      calls.push({ url: String(input), init: init! })
      return answer(String(input), init!)
    }) as typeof fetch,
    base: 'https://graph.instagram.com/',
    version: 'v25.0',
    accountId: '17841400000000001',
    token: () => 'tok',
  })
  return { g, calls }
}

describe('private replies', () => {
  it('posts recipient.comment_id and the text to the account\'s messages edge', async () => {
    const { g, calls } = graph()
    expect(await g.privateReply('17865799348089039', 'Here is our price list')).toEqual({ messageId: 'm_1' })
    expect(calls[0]!.url).toBe('https://graph.instagram.com/v25.0/17841400000000001/messages')
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ recipient: { comment_id: '17865799348089039' }, message: { text: 'Here is our price list' } })
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer tok')
  })

  it('classifies Meta\'s refusal (a second private reply to one comment) as final', async () => {
    const { g } = graph(() => Response.json({ error: { code: 10, error_subcode: 2534023, message: 'already replied' } }, { status: 400 }))
    const err = await g.privateReply('1786', 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GraphError)
    expect((err as GraphError).retryable).toBe(false)
  })
})

describe('public replies', () => {
  it('posts message=<text> form-encoded to /<comment-id>/replies', async () => {
    const { g, calls } = graph(() => Response.json({ id: '17900000000000001' }))
    expect(await g.publicReply('17865799348089039', 'Sent you a DM! 📩')).toEqual({ id: '17900000000000001' })
    expect(calls[0]!.url).toBe('https://graph.instagram.com/v25.0/17865799348089039/replies')
    expect((calls[0]!.init.headers as Record<string, string>)['content-type']).toBe('application/x-www-form-urlencoded')
    expect(new URLSearchParams(String(calls[0]!.init.body)).get('message')).toBe('Sent you a DM! 📩')
  })
})

describe('hostile comment ids and texts never reach fetch', () => {
  it.each(['../me/messages', '1785/replies', '1785?x=1', '', 'a'.repeat(129), '17.85', '%2e%2e'])('refuses comment id %j', async (id) => {
    const { g, calls } = graph()
    await expect(g.privateReply(id, 'x')).rejects.toThrow(TypeError)
    await expect(g.publicReply(id, 'x')).rejects.toThrow(TypeError)
    expect(calls).toEqual([])
  })

  it('refuses an empty text, a private reply over 1000 bytes and a public one over 2200 characters', async () => {
    const { g, calls } = graph()
    await expect(g.privateReply('1785', '  ')).rejects.toThrow(TypeError)
    await expect(g.privateReply('1785', 'é'.repeat(501))).rejects.toThrow(TypeError)
    await expect(g.publicReply('1785', 'a'.repeat(2201))).rejects.toThrow(TypeError)
    expect(calls).toEqual([])
  })
})
