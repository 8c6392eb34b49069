/**
 * Deterministic input screening for prompt-injection and jailbreak attempts. It matches
 * techniques (override phrasing, persona jailbreaks, prompt extraction, fake system turns,
 * encodings, spacing/leet/homoglyph/zero-width obfuscation, reversed text, a few languages), not
 * known strings. It is one signal among several layers: the output guard holds when this misses.
 */
import { MAX_USER_CHARS } from './prompt'

export interface ScreenResult {
  flagged: boolean
  rule?: string
  score?: number
}

interface Rule {
  name: string
  re: RegExp
  // Signals too weak alone (for example "developer mode", which some apps really have) add up.
  weight: number
}

const FLAG_AT = 2

// Zero-width, bidi controls, soft hyphen, variation selectors and tag characters.
const INVISIBLE = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]|\uDB40[\uDC00-\uDC7F]/g

// Latin look-alikes that NFKC does not fold (Cyrillic and Greek).
const HOMOGLYPHS: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y',
  х: 'x', і: 'i', ї: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ԛ: 'q', ԝ: 'w', ɡ: 'g', α: 'a', β: 'b', ε: 'e',
  η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ϲ: 'c', ı: 'i',
}
const LEET: Record<string, string> = {
  '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '@': 'a', $: 's', '!': 'i',
  '|': 'l', '+': 't',
}

const OVERRIDE_VERB = String.raw`(?:ignore|disregard|forget|overlook|skip|bypass|override|overwrite|neglect|abandon|drop|discard|dismiss|set aside|put aside|pay no attention to|stop following|do not follow|don'?t follow|no longer follow)`
const PRIOR = String.raw`(?:about|all|any|every|each|the|your|these|those|its|of|prior|previous|preceding|above|earlier|former|original|initial|old|existing|foregoing|system|given|current|and|following|other)`
const DIRECTIVE = String.raw`(?:instructions?|instructed|directives?|directions|rules|guidelines|guidance|prompts?|commands|orders|inputs|messages|programming|training|constraints|restrictions|limitations|polic(?:y|ies)|context|conversation|settings|safeguards|filters|ethics|morals|ever?y?thing|the above|above|what you(?:'ve| have)? (?:been|were) (?:told|given|instructed|taught))`

const RULES: Rule[] = [
  // Instruction override: "ignore all previous instructions", "disregard prior directives".
  {
    name: 'instruction_override',
    re: new RegExp(String.raw`\b${OVERRIDE_VERB}\s+(?:${PRIOR}\s+){0,4}${DIRECTIVE}\b`),
    weight: 2,
  },
  {
    name: 'instruction_override',
    re: /\b(?:ignore|disregard|forget)\b[^.!?\n]{0,40}\b(?:you(?:'ve| have)? (?:been|were) (?:told|instructed|given|programmed)|instructions?|directives?)\b/,
    weight: 2,
  },
  {
    name: 'instruction_override',
    re: /\b(?:new|updated|revised|real|actual|true|secret|hidden|override|overriding|priority) (?:instructions?|directives?|rules|system prompt|orders)\s*(?::|are\b|follow\b|below\b)/,
    weight: 2,
  },
  {
    name: 'instruction_override',
    re: /\b(?:regardless of|instead of|rather than|in place of|notwithstanding)\s+(?:the\s+|your\s+|any\s+|all\s+)?(?:previous|prior|above|earlier|original|initial|given|preceding)\s+(?:tasks?|instructions?|directives?|rules|prompts?|requests?|context)\b/,
    weight: 2,
  },
  {
    name: 'instruction_override',
    re: /\b(?:stop everything|nevermind\W+ignore|instead,? (?:just )?(?:say|print|write|output))\b/,
    weight: 2,
  },
  // Persona / role-play jailbreaks (DAN and its descendants).
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:do anything now|jailbr(?:ea|o)k(?:en|s)?|developer mode (?:enabled|output|on)|dan mode|dude mode|evil (?:bot|assistant|confidant|mode)|unfiltered and amoral|amoral|no (?:ethical|moral) (?:guidelines|principles|restrictions|boundaries))\b/,
    weight: 2,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:without|no|free (?:of|from)|beyond|outside|broken free of|freed from|not bound by|do(?:es)? not (?:have to )?(?:abide|adhere|follow|care)(?: by| to| about)?)\s+(?:any |the |all |its |their |your )*(?:rules|restrictions|limits|limitations|filters|filtering|censorship|guidelines|polic(?:y|ies)|confines|ethics|morals|morality|constraints|boundaries)\b/,
    weight: 1,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:unfiltered|uncensored|unrestricted|unlimited|unbound|unethical|immoral|illegal|explicit|offensive|without (?:any )?warnings?)\b/,
    weight: 0.5,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:from now on|for the rest of (?:this|our) conversation|you are (?:now|going to|about to)|you will (?:now )?(?:act|pretend|play|be|become|respond)|(?:act|behave|respond|answer) (?:as|like) (?:if you (?:were|are) )?|pretend (?:to be|you(?: are|'re)|that you)|role-?play(?:ing)? as|play the (?:role|part) of|stay in character|in character as|immerse yourself|simulate (?:being|a|an)|you are no longer)\b/,
    weight: 1,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:chat ?gpt|gpt-?[345]|openai|open ai|anthropic|language model|llm|large language|ai model|ai assistant|as an ai)\b/,
    weight: 0.5,
  },
  {
    name: 'roleplay_jailbreak',
    re: /(?:🔓|\[\s*(?:dan|gpt|jailbreak|classic|🔒)\s*\]|\b(?:dan|stan|dude|aim|kevin|bob|ryx)\s*:)/,
    weight: 1,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:two|2|both) (?:different |separate |distinct )*(?:ways|responses|answers|paragraphs|characters|personalities)\b/,
    weight: 1,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\byou (?:must|have to|will|shall|are obliged to|need to) (?:always )?(?:answer|respond to|reply to|comply with|obey|follow) (?:all|every|any|each|my)\b/,
    weight: 1,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:stands for|short for|which means)\s+["'(]|\b(?:never|not|doesn't|does not|won't|will not|cannot|can't) (?:ever )?(?:refuse|decline|reject|deny|say no)|\bwithout (?:hesitation|refusal|refusing|question)/,
    weight: 1,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:content|usage|openai'?s?|ethical|safety|moral) (?:polic(?:y|ies)|filters?|guidelines|settings|restrictions|limitations)\b|\b(?:ethics|morals|morality|ethical|moral|legality)\b/,
    weight: 0.5,
  },
  {
    name: 'roleplay_jailbreak',
    re: /\b(?:persona|personas|personality|alter ego|in character|out of character|character named|fictional (?:ai|character|world)|a (?:character|chatbot|ai) (?:called|named))\b/,
    weight: 0.5,
  },
  // Prompt extraction: "what are your initial instructions", "print the text above".
  {
    name: 'prompt_extraction',
    re: /\b(?:system|initial|original|hidden|secret|internal|starting|pre|base|developer|meta|custom|first|full|previous|entire|above)[ _-]?(?:prompt|instructions?|directives?|configuration|config|message)\b/,
    weight: 1,
  },
  {
    name: 'prompt_extraction',
    re: /\b(?:system ?prompt|systemprompt|prompt (?:text|template|injection)|your (?:instructions|directives|programming|prompt|configuration|initial|system|hidden|secret|internal)|(?:those|these) instructions)\b/,
    weight: 1,
  },
  {
    name: 'prompt_extraction',
    re: /\b(?:show|reveal|print|display|output|repeat|recite|tell|give|share|write|list|dump|leak|disclose|expose|spell|paste|copy|echo|return|provide|summari[sz]e|translate|encode|what (?:are|is|were|was))\b[^.?!\n]{0,40}\b(?:prompt|instructions?|directives|programming|configuration|guidelines|rules|text (?:above|before|you were given)|everything (?:above|before)|words above|(?:message|text|content) above|above text|initial(?:ly)? given|were given)\b/,
    weight: 1,
  },
  {
    name: 'prompt_extraction',
    re: /\b(?:show|reveal|print|display|output|repeat|recite|tell|give|write|list|dump|paste|copy|echo|return|summari[sz]e|translate|encode)\b[^.?!\n]{0,30}\b(?:(?:the|all|any|this) (?:text|words|content|messages?|instructions|lines|everything|conversation|context)(?: you (?:see|received|got|were given))? (?:above|before (?:this|my)|preceding|so far)|(?:entire|whole|full|complete) (?:conversation|chat|context|transcript|prompt|history)|word for word|verbatim)/,
    weight: 2,
  },
  {
    name: 'prompt_extraction',
    re: /\b(?:console\.log|print|echo|printf|system\.out)\s*\(\s*['"]?[a-z_.]*(?:prompt|instruction|config|secret)/,
    weight: 2,
  },
  {
    name: 'prompt_extraction',
    re: /\b(?:start|begin|prefix|end|continue|complete)\b[^.?!\n]{0,30}\b(?:with|following|sentence|text)?[^.?!\n]{0,10}['"‘“]\s*(?:my|the|your) (?:system )?(?:instructions|prompt|rules|directives|guidelines)\b/,
    weight: 2,
  },
  // Fake privileged turns and modes: "<SYSTEM MODE>", "[system]", "admin override".
  {
    name: 'system_mode',
    re: /(?:<\s*\/?\s*(?:system|sys|admin|developer|instructions?|im_start|im_end)\b|<\|(?:im_start|im_end|system|endoftext)\|>|\[\/?\s*(?:system|inst|admin|sys)\s*\]|<<\s*sys\s*>>|(?:^|\n)\s*#{2,}\s*(?:system|instruction|new instruction)|(?:^|\n)\s*(?:system|developer)\s*:)/,
    weight: 2,
  },
  {
    name: 'system_mode',
    re: /\b(?:system|admin|administrator|root|sudo|god|developer|dev|debug|debugging|maintenance|override|security|law enforcement|emergency|diagnostic|test|testing|unrestricted|training|verification|superuser)\s+(?:mode|override|reset|access|privileges?|command|update|notice|check)\b/,
    weight: 1,
  },
  {
    name: 'system_mode',
    re: /\b(?:entering|enter|activate|activated|enable|enabled|initiating|switch(?:ing)? to|now in|engage|unlock(?:ed)?)\s+(?:the\s+)?(?:['"]?[a-z]+['"]?\s+){0,3}(?:mode|override)\b/,
    weight: 1,
  },
  {
    name: 'system_mode',
    re: /\b(?:i am|i'm|this is) (?:your|the|an?) (?:developer|administrator|admin|creator|owner|programmer|operator|system administrator|engineer at openai)\b|\b(?:i am|i'm) (?:god|openai)\b|\bas an ai developed by\b/,
    weight: 1,
  },
  // Hijacking: "just say \"...\"", "print exactly '...'".
  {
    name: 'output_hijack',
    re: /\b(?:just|only|simply|now|instead)\s+(?:say|print|write|output|type|respond with|reply with|answer with|repeat)\s*:?\s*["'“‘]/,
    weight: 2,
  },
  {
    name: 'output_hijack',
    re: /\b(?:ignore|disregard)\s+the\s+above\s+and\s+(?:say|print|write|give|tell|output)\b/,
    weight: 2,
  },
  {
    name: 'output_hijack',
    re: /\b(?:add|include|insert|append|integrate|incorporate|embed|inject|mention|put)\b[^.?!\n]{0,80}\b(?:in|into|to|within|at the end of)\s+(?:your|the|each|every)\s+(?:reply|replies|response|responses|answer|answers|output|message)\b[^?\n]{0,60}/,
    weight: 1,
  },
  {
    name: 'output_hijack',
    re: /\b(?:your|the)\s+(?:reply|response|answer|output)\b[^.?!\n]{0,40}\b(?:base ?64|base ?32|hex|rot ?13|caesar|cipher|reverse|backwards|invert|anagram|leet|emojis?|typos|vowels|without (?:any )?spaces)\b|\b(?:encode|encrypt|cipher|reverse|invert|anagram)\w*\b[^.?!\n]{0,30}\b(?:your|the)\s+(?:reply|response|answer|output|message)\b/,
    weight: 2,
  },
  {
    name: 'output_hijack',
    re: /\b(?:modify|enhance|augment|alter|rewrite|render|shift|substitute|convert|group|introduce|integrate|embed|inject|weave)\b[^.?!\n]{0,60}\b(?:in|into|to|within|of|with|throughout|at the (?:end|start|beginning) of)\s+(?:your|each|every)\s+(?:reply|replies|response|responses|answer|answers|output)\b|^\s*(?:in|throughout) your (?:reply|response|answer|output)\b|\b(?:modify|enhance|augment|alter|rewrite|render|translate|encode|reverse|invert) your (?:reply|response|answer|output)\b/,
    weight: 2,
  },
  {
    name: 'output_hijack',
    re: /\b(?:reply|respond|answer|write|speak)\s+(?:only\s+)?(?:in|using|with)\s+(?:reverse|reversed|backwards|base ?\d\d|hex|hexadecimal|rot ?-?13|binary|morse|a cipher|cipher|leet ?speak|l33t|(?:a )?caesar)\b/,
    weight: 2,
  },
  {
    name: 'output_hijack',
    re: /(?:https?:\/\/|www\.)[^\n]{1,280}?\b(?:your|the) (?:reply|response|answer)\b|\b(?:your|the) (?:reply|response|answer)\b[^\n]{0,80}(?:https?:\/\/|www\.|\b[a-z0-9-]+\.(?:com|xyz|net|org|io)\b)/,
    weight: 2,
  },
  // Credential and secret fishing, which a shop assistant never needs to answer.
  {
    name: 'secret_request',
    re: /\b(?:your|our|system'?s?|admin|database|secret|this system'?s?)\s+(?:password|passcode|pass ?phrase|passcode phrase|secret key|secret code|access code|api key|private key|credentials|master key|security code)\b|\b(?:passwords?|passcodes?|secret keys?|secret codes?|access codes?)\s+(?:for|to|of)\s+(?:the|our|this|your)\s+(?:system|database|server|admin|account|network)\b/,
    weight: 2,
  },
  {
    name: 'secret_request',
    re: /\b(?:print|dump|show|export|reveal|list)\b[^.?!\n]{0,20}\b(?:your|the|entire|whole|full) (?:database|user data|customer data|employee data|records|user list)\b/,
    weight: 2,
  },
  // Asking to decode smuggled content.
  {
    name: 'encoded_payload',
    re: /\b(?:decode|decipher|decrypt|deobfuscate|unscramble|convert|translate|interpret|read)\b[^.?!\n]{0,40}\b(?:base ?64|base ?32|hex(?:adecimal)?|rot ?-?13|binary|morse|cipher|ciphertext|encoded|encrypted|bytes)\b|\b(?:rot ?-?13|base ?64|hex)\s*[- ]?(?:encode|encrypt|decode)\b/,
    weight: 2,
  },
  // Conversation stuffing: faked multi-turn transcripts (few/many-shot).
  {
    name: 'fake_dialogue',
    re: /(?:(?:^|[\s.])(?:q|question|user|human|assistant|ai|a|answer|bot|system)\s*:[^\n]{1,400}){3,}/,
    weight: 2,
  },
  // Multilingual basics: override, prompt extraction and password fishing.
  {
    name: 'multilingual_override',
    re: /\b(?:ignora|ignore[zr]?|ignoriere|ignorier|ignorar|ignoreer|negeer|zignoruj|ignorera|ignorer|olvida|olvidar|oublie[zr]?|vergiss|dimentica|esque[çc]a|vergeet|zapomnij|glöm|glem|unutun?|abaikan|lupakan|bỏ qua|nevšímej)\b[^.?!\n]{0,60}\b(?:instrucci[oó]n(?:es)?|indicaciones|[óo]rdenes|instructions?|consignes|anweisungen|instruktionen|anordnungen|vorgaben|regeln|istruzioni|instru[çc](?:ões|ao|ão)|regras|instructies|aanwijzingen|instrukcje|polecenia|instruktioner|instruksjoner|talimatlar[ıi]?|instruksi|perintah|hướng dẫn|pokyny)\b/,
    weight: 2,
  },
  {
    name: 'multilingual_override',
    re: /talimat\S*[^.?!\n]{0,30}(?:unut|görmezden gel|yok say)|(?:игнорир\S*|забудь\S*|не обращай внимания)[^.?!\n]{0,40}(?:инструкци|указани|правил|команд)|(?:忽略|无视|無視|忘记|忘記|不要理会)[^。？！\n]{0,20}(?:指令|指示|说明|說明|规则|規則|提示|命令|之前|以上|上述)|(?:指示|命令|ルール)[^。？！\n]{0,10}(?:を)?(?:無視|忘れ)|이전\s*지시|지시사항을\s*무시|무시하십시오|무시하세요|تجاهل[^.?!\n]{0,30}(?:التعليمات|الأوامر)|अनदेखा/,
    weight: 2,
  },
  {
    name: 'multilingual_extraction',
    re: /\b(?:prompt (?:del )?sistema|prompt (?:du )?syst[èe]me|systemprompt|systemanweisung\w*|prompt di sistema|prompt do sistema|instrucciones (?:iniciales|originales|del sistema)|instructions (?:initiales|syst[èe]me)|anfangsanweisungen|istruzioni (?:iniziali|di sistema)|instru[çc][õo]es (?:iniciais|do sistema)|systeeminstructies|системн\S* (?:промпт|подсказк|инструкц)|系统提示|系統提示|システムプロンプト|시스템\s*프롬프트)\b/,
    weight: 2,
  },
  {
    name: 'multilingual_secret',
    re: /\b(?:(?:el|la|tu|su|le|votre|ton|das|dein|ihr|il|tua|sua|a|o|het|je|uw|twoje|ваш|твой)\s+)?(?:contraseña|mot de passe|passwort|kennwort|senha|wachtwoord|hasło|пароль|parola d'ordine|şifre|sifre|lösenord|adgangskode)\b|密码|密碼|パスワード|비밀번호|암호/,
    weight: 1,
  },
  {
    name: 'multilingual_roleplay',
    re: /\b(?:a partir de ahora|de ahora en adelante|désormais|à partir de maintenant|ab (?:sofort|jetzt)|von nun an|d'ora in poi|da ora in poi|a partir de agora|de agora em diante|vanaf nu)\b[^.?!\n]{0,60}\b(?:eres|serás|actúa|tu es|tu seras|agis|du bist|bist du|sei|sarai|você é|voc[eê] ser[aá]|je bent)\b|\b(?:sin (?:restricciones|reglas|filtros|límites)|sans (?:restrictions|règles|filtres|limites)|ohne (?:einschränkungen|regeln|filter|grenzen)|senza (?:restrizioni|regole|filtri|limiti)|sem (?:restrições|regras|filtros|limites))\b|(?:модо|modo|mode|modus) (?:desarrollador|développeur|entwickler|sviluppatore|desenvolvedor)/,
    weight: 2,
  },
]

// Core rules re-run on decoded/deobfuscated variants; weak signals only count on the plain text.
const STRONG = RULES.filter((r) => r.weight >= 2)

// Folds look-alikes only inside words that mix them with Latin letters (the spoofing case), so
// genuine Russian or Greek text keeps its letters and the multilingual rules still see it.
function foldChars(s: string): string {
  return s.replace(/[^\s]+/g, (w) => {
    if (!/[a-z]/i.test(w)) return w
    let out = ''
    for (const ch of w) out += HOMOGLYPHS[ch] ?? ch
    return out
  })
}

// Spaced-out words ("i g n o r e  a l l") joined, then checked for these compact forms.
const COMPACT: Rule[] = [
  { name: 'instruction_override', re: /(?:ignore|disregard|forget|bypass|override)(?:all|any|the|your|my)*(?:previous|prior|above|earlier|initial|original|system)*(?:instructions?|directives?|rules|prompts?|guidelines)/, weight: 2 },
  { name: 'prompt_extraction', re: /(?:reveal|print|show|display|output|repeat|tellme|give|what(?:is|are))(?:me)?(?:your|the)?(?:system|initial|original|hidden|secret)(?:prompt|instructions|rules|message)/, weight: 2 },
  { name: 'roleplay_jailbreak', re: /doanythingnow|developermode|jailbr(?:ea|o)k|(?:no|without)(?:any)?(?:rules|restrictions|filters)/, weight: 2 },
  { name: 'prompt_extraction', re: /systemprompt/, weight: 2 },
]

/** NFKC, invisible characters removed, look-alikes folded, lower case, curly quotes unified. */
export function normalise(text: string): string {
  return foldChars(text.normalize('NFKC').replace(INVISIBLE, ''))
    .toLowerCase()
    .replace(/[’‘`´]/g, "'")
    .replace(/[“”„«»]/g, '"')
}

function unleet(s: string): string {
  // Only inside words that mix letters and leet digits/symbols, so prices and dates stay intact.
  return s.replace(/\S*[a-z]\S*/g, (w) =>
    /[a-z]/.test(w) && /[0-9@$!|+]/.test(w) && /[a-z][0-9@$|+]|[0-9@$|+][a-z]/.test(w)
      ? w.replace(/[0-9@$!|+]/g, (c) => LEET[c] ?? c)
      : w
  )
}

// "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e": runs of at least 4 single letters joined.
function despace(s: string): string {
  return s.replace(/\b(?:[a-z][\s.\-_*,|/]{1,3}){3,}[a-z]\b/g, (m) => m.replace(/[^a-z]/g, ''))
}

const B64_RUN = /[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{24,}/g
const HEX_RUN = /(?:\b[0-9a-fA-F]{2}(?:[\s:,-]?[0-9a-fA-F]{2}){7,}\b)/g
const BIN_RUN = /(?:\b[01]{8}(?:\s+[01]{8}){3,}\b)/g

function printable(s: string): boolean {
  if (s.length < 6) return false
  let ok = 0
  for (const ch of s) {
    const c = ch.charCodeAt(0)
    if ((c >= 32 && c < 127) || c === 10 || c === 9 || c > 159) ok++
  }
  return ok / s.length > 0.9 && /[a-z]{3}/i.test(s)
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes)
}

/** Text hidden in base64, hex or binary runs, if any decodes to readable text. */
export function decodeRuns(text: string): string[] {
  const found: string[] = []
  for (const m of text.match(B64_RUN) ?? []) {
    // Plain words are not base64 worth decoding; real encodings mix cases or carry digits.
    if (!/[0-9+/=]/.test(m) && !(/[a-z]/.test(m) && /[A-Z]/.test(m))) continue
    try {
      const core = m.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '')
      if (core.length % 4 === 1) continue
      const bin = atob(core + '='.repeat((4 - (core.length % 4)) % 4))
      const s = utf8(Uint8Array.from(bin, (c) => c.charCodeAt(0)))
      if (printable(s)) found.push(s)
    } catch {
      // not base64
    }
  }
  for (const m of text.match(HEX_RUN) ?? []) {
    const hex = m.replace(/[^0-9a-fA-F]/g, '')
    const bytes = new Uint8Array(hex.length / 2)
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
    const s = utf8(bytes)
    if (printable(s)) found.push(s)
  }
  for (const m of text.match(BIN_RUN) ?? []) {
    const s = m
      .trim()
      .split(/\s+/)
      .map((b) => String.fromCharCode(parseInt(b, 2)))
      .join('')
    if (printable(s)) found.push(s)
  }
  return found
}

function rot13(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 13) % 26) + 97))
}

function firstStrong(s: string): Rule | undefined {
  for (const r of STRONG) if (r.re.test(s)) return r
  return undefined
}

/**
 * Screens one inbound message. `rule` names the first technique that fired; `score` is the
 * summed weight of the plain-text signals (2 or more flags). Obfuscated variants are checked
 * against the strong rules only, each prefixed in the rule name (`decoded:`, `reversed:`, ...).
 */
/**
 * How much of a text is screened. The model never sees more than MAX_USER_CHARS of one text
 * (prompt.ts cuts after removing control and bidi characters and composing to NFC, which joins at
 * most three code points into one), so this covers everything it can see, and it bounds the work
 * an attacker can make the rules do (the screen also runs inside the sender object, before the 200).
 */
export const MAX_SCREEN_CHARS = 4 * MAX_USER_CHARS
// What prompt.ts removes before it cuts, plus the invisible characters the screen ignores anyway.
const UNSEEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g

export function screenInput(raw: string): ScreenResult {
  if (!raw) return { flagged: false, score: 0 }
  const text = raw.replace(UNSEEN, '').replace(INVISIBLE, '').slice(0, MAX_SCREEN_CHARS)
  const plain = normalise(text)
  let score = 0
  let top: Rule | undefined
  for (const r of RULES) {
    // Each rule counts once however often it matches, so repeating one weak phrase adds nothing.
    if (r.re.test(plain)) {
      score += r.weight
      if (!top || r.weight > top.weight) top = r
    }
  }
  if (score >= FLAG_AT && top) return { flagged: true, rule: top.name, score }

  const variants: Array<[string, string]> = []
  const leet = unleet(plain)
  if (leet !== plain) variants.push(['leet', leet])
  const spaced = despace(leet)
  if (spaced !== leet) variants.push(['spaced', spaced])

  variants.push(['reversed', [...plain].reverse().join('')])
  for (const d of decodeRuns(text.normalize('NFKC').replace(INVISIBLE, ''))) variants.push(['decoded', normalise(d)])
  if (/\brot ?-?13\b/.test(plain)) variants.push(['rot13', rot13(plain)])
  // Many one-letter tokens in a row: letters spaced out to dodge word matching.
  if (/(?:^|\s)(?:\S[\s.\-_*]+){5}\S(?:\s|$)/.test(leet)) {
    const joined = leet.replace(/[\s.\-_*,|/]+/g, '')
    for (const r of COMPACT) {
      if (r.re.test(joined)) return { flagged: true, rule: `spaced:${r.name}`, score: Math.max(score, 2) }
    }
  }
  for (const [kind, v] of variants) {
    // Readable sentences hidden in an encoding are smuggling whatever they say.
    if (kind === 'decoded' && /[a-z]{2,}\s+[a-z]{2,}\s+[a-z]{2,}/.test(v)) {
      return { flagged: true, rule: 'encoded_payload', score: Math.max(score, 2) }
    }
    const r = firstStrong(v)
    if (r) return { flagged: true, rule: `${kind}:${r.name}`, score: Math.max(score, r.weight) }
  }
  // A token repeated many times in a row is a known way to derail a model (repeated-token attack).
  if (/(\b\S{2,40}\b(?:\s+\S{1,40}){0,3}?)(?:\s+\1){14,}/.test(plain)) {
    return { flagged: true, rule: 'repeated_token', score: Math.max(score, 2) }
  }
  return { flagged: false, score }
}
