/**
 * Writes src/llm/unicode-data.ts from the installed packages tlds, unhomoglyph and
 * character-entities (see tools/unicode-data.ts). Run after updating any of them:
 * `npm run unicode-data`.
 */
import { writeFileSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { characterEntities } from 'character-entities'
import tlds from 'tlds/index.json' with { type: 'json' }
import confusables from 'unhomoglyph/data.json' with { type: 'json' }

// The Worker's sources import each other without extensions (bundler style); Node's type
// stripping needs them, so relative specifiers that fail to resolve are retried with ".ts".
registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context)
    } catch (err) {
      if (/^\.\.?\//.test(specifier) && !/\.[cm]?[jt]s$/.test(specifier)) return next(`${specifier}.ts`, context)
      throw err
    }
  },
})

const { renderTables } = await import('../tools/unicode-data.ts')
const out = new URL('../src/llm/unicode-data.ts', import.meta.url)
writeFileSync(out, renderTables({ tlds, confusables, entities: characterEntities }))
console.log(`wrote ${out.pathname}`)
