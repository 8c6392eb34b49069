/**
 * EXAMPLE rules that `npm start` runs with, so a newcomer sees keyword answers, the assistant and
 * comment automation in the first minute. They describe an imaginary shop: replace them (DM_RULES
 * and COMMENT_RULES in .dev.vars win over these) before showing the bot to anyone.
 */
export const EXAMPLE_DM_RULES = [
  { keywords: ['hours', 'opening hours', 'open'], private_reply: '[example rule] We are open Monday to Saturday, 9:00–18:00.' },
  { keywords: ['price', 'prices', 'price list', 'cost'], private_reply: '[example rule] Our price list: candles from €12, gift boxes from €25.' },
  { keywords: ['address', 'where are you', 'location'], private_reply: '[example rule] You find us at Example Street 1, 1000 Sampletown.' },
]

export const EXAMPLE_COMMENT_RULES = [
  {
    keywords: ['price', 'how much'],
    private_reply: '[example rule] Thanks for asking! Candles from €12, gift boxes from €25. Anything else?',
    public_replies: ['Sent you a DM! 📩', 'Check your DMs 💌', 'Just messaged you!'],
  },
]

/** The example settings, as `--var` values; settings already given (e.g. in .dev.vars) win. */
export function exampleVars(given = {}) {
  const vars = {}
  if (!given.DM_RULES) vars.DM_RULES = JSON.stringify(EXAMPLE_DM_RULES)
  if (!given.COMMENT_RULES) vars.COMMENT_RULES = JSON.stringify(EXAMPLE_COMMENT_RULES)
  return vars
}
