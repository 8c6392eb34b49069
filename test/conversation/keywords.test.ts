import { describe, expect, it } from 'vitest'
import { readConfig } from '../../src/core/config'
import { intentWords, matchIntent, normalizeForMatch, type IntentWords } from '../../src/conversation/keywords'

const cfg = readConfig({ APP_SECRET: 's', VERIFY_TOKEN: 'v', IG_ACCESS_TOKEN: 't', OPENAI_API_KEY: 'k' })
if (!cfg.ok) throw new Error(cfg.message)
const DEFAULTS = intentWords(cfg.config)

const intent = (text: string, list: IntentWords = DEFAULTS) => matchIntent(text, list)

describe('matchIntent with the default word lists', () => {
  it('reads the lists from the configuration', () => {
    expect(DEFAULTS.stop).toContain('stop')
    expect(DEFAULTS.start).toContain('start')
    expect(DEFAULTS.handoff).toContain('talk to a person')
  })

  it('opts out when the whole message is a stop word, whatever the case', () => {
    for (const text of ['STOP', 'stop', 'Stop', 'sToP', 'UNSUBSCRIBE', 'Unsubscribe']) expect(intent(text)).toBe('stop')
  })

  it('ignores surrounding whitespace, punctuation and emoji', () => {
    for (const text of ['  stop  ', 'STOP!', 'stop.', 'Stop!!!', 'stop 🙏', '🛑 STOP 🛑', '"stop"', 'stop\n', 'stop 👍🏽', 'stop ❤️']) {
      expect(intent(text)).toBe('stop')
    }
  })

  it('folds full-width and compatibility characters (NFKC)', () => {
    expect(intent('ＳＴＯＰ')).toBe('stop')
    expect(intent('ｓｔａｒｔ！')).toBe('start')
  })

  it('does not opt out when stop is part of a sentence', () => {
    for (const text of [
      "don't stop the music",
      'can I stop my order?',
      'stop it, I love this shop',
      'please stop',
      'stopped',
      'stops',
      'nonstop',
      'bus stop',
      's t o p',
    ]) {
      expect(intent(text)).toBeNull()
    }
  })

  it('opts out in the other configured languages', () => {
    for (const text of ['Stopp', 'arrêt', 'ARRÊT !', 'arret', '¡Alto!', 'parar', 'Basta!!']) expect(intent(text)).toBe('stop')
  })

  it('opts back in only on a whole start word', () => {
    for (const text of ['START', 'start', 'Start 😊', 'unstop', 'SUBSCRIBE']) expect(intent(text)).toBe('start')
    for (const text of ['when do you start shipping?', 'starting', 'start over']) expect(intent(text)).toBeNull()
  })

  it('hands off on the configured words and phrases in short messages', () => {
    for (const text of [
      'HUMAN',
      'human',
      'agent?',
      'Agent please',
      'can I talk to a person please',
      'Can I TALK TO A PERSON?',
      'I want a real person',
      'operator!!',
      'are you a human?',
      'human 🙏',
    ]) {
      expect(intent(text)).toBe('handoff')
    }
  })

  it('does not hand off on words that merely contain a handoff word', () => {
    for (const text of ['humanity', 'humans are great', 'inhuman', 'agents of shield', 'agency', 'operators', 'personal']) {
      expect(intent(text)).toBeNull()
    }
  })

  it('ignores a single handoff word in a long message about something else', () => {
    const text = "Hi! I'm a travel agent and I would like to book your venue for a group of twelve in May"
    expect(text.split(' ').length).toBeGreaterThan(10)
    expect(intent(text)).toBeNull()
  })

  it('honours a multi-word handoff phrase even in a long message', () => {
    const text = 'My parcel was supposed to arrive last week and the tracking page says delivered but it is not here, can I talk to a person about it'
    expect(intent(text)).toBe('handoff')
  })

  it('counts ten words as short and eleven as long for single words', () => {
    expect(intent('one two three four five six seven eight nine human')).toBe('handoff')
    expect(intent('one two three four five six seven eight nine ten human')).toBeNull()
  })

  it('ignores empty and symbol-only messages', () => {
    for (const text of ['', '   ', '!!!', '👍', '\u200d']) expect(intent(text)).toBeNull()
  })
})

describe('matchIntent with custom word lists', () => {
  const list: IntentWords = {
    stop: ['stopp', 'стоп', 'ストップ', 'रुको', 'توقف', 'HALT'],
    start: ['start', 'weiter', 'старт'],
    handoff: ['mensch', 'mit einem menschen sprechen', 'hablar con una persona', 'parler à un humain', 'оператор', '人工客服', '担当者'],
  }

  it('opts out in German, Russian, Japanese, Hindi and Arabic', () => {
    for (const text of ['STOPP', 'Стоп!', '«стоп»', 'ストップ', 'रुको', 'توقف', 'halt.']) expect(intent(text, list)).toBe('stop')
  })

  it('keeps combining vowel signs intact, so Hindi words still compare whole', () => {
    expect(normalizeForMatch('रुको!')).toBe('रुको')
    expect(intent('रुक', list)).toBeNull()
  })

  it('does not opt out when the word is part of a sentence in another language', () => {
    for (const text of ['Halt die Bestellung bitte an', 'стоп-кран сломан', 'ストップウォッチはありますか']) {
      expect(intent(text, list)).toBeNull()
    }
  })

  it('hands off on phrases in several languages', () => {
    for (const text of [
      'Kann ich mit einem Menschen sprechen?',
      'MENSCH!',
      '¿Puedo hablar con una persona, por favor?',
      'Je voudrais parler à un humain',
      'Оператор, пожалуйста',
      '我想找人工客服',
      '担当者をお願いします',
    ]) {
      expect(intent(text, list)).toBe('handoff')
    }
  })

  it('does not hand off inside words or long texts in scripts without spaces', () => {
    expect(intent('Menschenrechte', list)).toBeNull()
    expect(intent('операторы', list)).toBeNull()
    const long = '我们的人工客服工作时间是周一到周五，请问你们的产品在周末发货吗？谢谢你们的帮助和耐心'
    expect(long.length).toBeGreaterThan(30)
    expect(intent(long, list)).toBeNull()
  })

  it('prefers stop when a word is configured as both stop and start', () => {
    expect(intent('stop', { stop: ['stop'], start: ['stop'], handoff: ['stop'] })).toBe('stop')
  })

  it('prefers a whole-message start over a handoff phrase', () => {
    expect(intent('start', { stop: [], start: ['start'], handoff: ['start'] })).toBe('start')
  })

  it('ignores empty or symbol-only entries in the lists', () => {
    expect(intent('!', { stop: ['', '!'], start: [' '], handoff: ['?'] })).toBeNull()
    expect(intent('anything', { stop: [''], start: [], handoff: [''] })).toBeNull()
  })
})
