/**
 * The architecture rule of src/, as code: each folder is a layer, and imports only point down.
 *
 *   http ─▶ conversation ─▶ meta, llm ─▶ core
 *
 * `index.ts` (the Worker's exports) may import anything; nothing may import `http` but `index.ts`;
 * `meta` and `llm` are siblings that do not know each other; `core` knows nothing of ours.
 * Used by test/architecture/layers.test.mjs; `node tools/layers.mjs` prints the violations.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** For each layer, the layers it may import (besides itself). */
export const ALLOWED = {
  core: [],
  meta: ['core'],
  llm: ['core'],
  conversation: ['meta', 'llm', 'core'],
  http: ['conversation', 'meta', 'llm', 'core'],
  '.': ['http', 'conversation', 'meta', 'llm', 'core'],
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

/** Relative imports of one source text. */
export function importsOf(text) {
  const out = []
  for (const m of text.matchAll(IMPORT)) out.push(m[1] ?? m[2])
  return out
}

function layerOf(file) {
  const parts = file.split('/')
  return parts.length === 1 ? '.' : parts[0]
}

function resolveIn(files, from, spec) {
  const base = normalize(join(dirname(from), spec))
  for (const cand of [base, `${base}.ts`, `${base}/index.ts`]) if (files.has(cand)) return cand
  return null
}

/**
 * Checks a set of modules given as { 'conversation/ingest.ts': source, … } (paths relative to
 * src/). Returns the broken rules, one sentence each; empty when the layering holds.
 */
export function checkLayers(sources) {
  const files = new Set(Object.keys(sources))
  const problems = []
  const graph = new Map()
  for (const [file, text] of Object.entries(sources)) {
    const edges = []
    for (const spec of importsOf(text)) {
      const target = resolveIn(files, file, spec)
      if (!target) {
        if (spec.startsWith('../') && normalize(join(dirname(file), spec)).startsWith('..')) continue // package.json
        problems.push(`${file} imports ${spec}, which is not a module under src/`)
        continue
      }
      edges.push(target)
      const from = layerOf(file)
      const to = layerOf(target)
      if (!(from in ALLOWED)) problems.push(`${file} is in an unknown folder '${from}'`)
      else if (to !== from && !ALLOWED[from].includes(to)) problems.push(`${file} (${from}) imports ${target} (${to}): ${from} may import only ${ALLOWED[from].join(', ') || 'nothing of ours'}`)
    }
    graph.set(file, edges)
  }
  for (const cycle of findCycles(graph)) problems.push(`import cycle: ${cycle.join(' → ')}`)
  return problems
}

function findCycles(graph) {
  const cycles = []
  const state = new Map()
  const stack = []
  const visit = (n) => {
    state.set(n, 'open')
    stack.push(n)
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m])
      else if (!state.has(m)) visit(m)
    }
    stack.pop()
    state.set(n, 'done')
  }
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n)
  return cycles
}

/** Reads every .ts module under `srcDir`. */
export function readSources(srcDir) {
  const out = {}
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts')) out[relative(srcDir, p).split('\\').join('/')] = readFileSync(p, 'utf8')
    }
  }
  walk(srcDir)
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = checkLayers(readSources(join(dirname(fileURLToPath(import.meta.url)), '..', 'src')))
  for (const p of problems) console.log(p)
  process.exitCode = problems.length ? 1 : 0
}
