import { characterEntities } from 'character-entities'
import tlds from 'tlds'
import confusables from 'unhomoglyph/data.json'
import { describe, expect, it } from 'vitest'
import { decodeEntities, decodeText, percentDecode } from '../../src/llm/decode'
import { foldText } from '../../src/llm/fold'
import * as data from '../../src/llm/unicode-data'
import { buildTables } from '../../tools/unicode-data'

const space = (s: string) => s.replace(/\s+/g, ' ')

describe('unicode data of the output guard', () => {
  it('matches the installed packages (run `npm run unicode-data` after updating tlds, unhomoglyph or character-entities)', () => {
    const built = buildTables({ tlds, confusables, entities: characterEntities })
    expect(built).toEqual({ ...data })
  })

  it('decodes every named reference it carries, or by rule, to what the reference means once folded', () => {
    let decoded = 0
    for (const [name, value] of Object.entries(characterEntities)) {
      const out = decodeEntities(`&${name};`)
      if (out === `&${name};`) continue // not one the leak check needs
      decoded++
      expect([name, space(foldText(out))]).toEqual([name, space(foldText(value))])
    }
    expect(decoded).toBeGreaterThan(500)
  })

  it.each([
    ['decimal, hex and semicolon-less numeric references', '&#72;&#x69;&#x21', 'Hi!'],
    ['leading zeros', '&#0000065;', 'A'],
    ['out-of-range and surrogate code points', '&#x110000;&#xD800;&#0;', '\uFFFD\uFFFD\uFFFD'],
    ['unknown names, left as written', '&bogus; &amp', '&bogus; &amp'],
    ['named references', '&lt;&Tab;&NewLine;&period;&nbsp;&eacute;&Aopf;&amp;', '<\t\n. éA&'],
  ])('decodeEntities: %s', (_kind, input, out) => {
    expect(decodeEntities(input)).toBe(out)
  })

  it.each([
    ['UTF-8 sequences', '%E2%82%AC%20ok', '€ ok'],
    ['invalid UTF-8 as U+FFFD', '%FF%41', '\uFFFDA'],
    ['a lone or broken percent sign', '100% %4 %zz', '100% %4 %zz'],
  ])('percentDecode: %s', (_kind, input, out) => {
    expect(percentDecode(input)).toBe(out)
  })

  it('decodeText undoes nesting three deep and stops there', () => {
    expect(decodeText('%26%2365%3B')).toBe('A')
    expect(decodeText('&amp;amp;amp;lt;')).toBe('&lt;')
  })
})
