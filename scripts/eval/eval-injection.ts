/**
 * CLI for the prompt-injection evaluation (tools/eval-injection.ts):
 *   npm run eval:injection -- [--attacks FILE] [--benign FILE] [--payloads FILE] [--json]
 *                             [--injection-action allow]
 * Files are JSON lines with a `text` field; defaults are the shared corpora next to the repo.
 * `--injection-action allow` lets flagged messages reach the model, to measure the prompt and
 * output layers without the input detector in front of them.
 */
import { existsSync, readFileSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// The Worker's sources import each other without extensions (bundler style); Node's type
// stripping needs them, so relative specifiers that fail to resolve are retried with ".ts".
registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context)
    } catch (err) {
      if (/^\.\.?\//.test(specifier) && !/\.[cm]?[jt]s$/.test(specifier)) {
        return next(`${specifier}.ts`, context)
      }
      throw err
    }
  },
})

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const corpora = resolve(root, '..', 'shared', 'corpora')
const args = process.argv.slice(2)

function option(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`)
  if (i === -1) return fallback
  const v = args[i + 1]
  if (!v || v.startsWith('--')) {
    console.error(`--${name} needs a file`)
    process.exit(2)
  }
  return resolve(process.cwd(), v)
}

function readLines(file: string): Array<{ text: string }> {
  let raw: string
  try {
    raw = readFileSync(file, 'utf8')
  } catch {
    console.error(`cannot read ${file} (pass --attacks/--benign/--payloads FILE)`)
    process.exit(2)
  }
  return raw
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      const rec = JSON.parse(l)
      if (typeof rec.text !== 'string') throw new Error(`${file}:${i + 1}: no "text" field`)
      return rec
    })
}

const attacksFile = option('attacks', resolve(corpora, 'injections.jsonl'))
const benignFile = option('benign', resolve(corpora, 'benign.jsonl'))
const payloadsFile = option('payloads', resolve(corpora, 'output-payloads.jsonl'))
// Payloads are optional: without the file the payload check is skipped and reported as 0 of 0.
const payloads = existsSync(payloadsFile) ? readLines(payloadsFile) : []

const { runInjectionEval, formatTable } = await import('../../tools/eval-injection.ts')
const report = await runInjectionEval({
  attacks: readLines(attacksFile),
  benign: readLines(benignFile),
  payloads,
  ...(args.includes('--injection-action')
    ? { env: { INJECTION_ACTION: args[args.indexOf('--injection-action') + 1] ?? '' } }
    : {}),
})
console.log(`attacks: ${attacksFile}\nbenign:  ${benignFile}\n`)
console.log(formatTable(report))
if (args.includes('--json')) console.log(JSON.stringify(report.summary))
