// The layering of src/ (tools/layers.mjs): imports only point down, no cycles.
import assert from 'node:assert/strict'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { checkLayers, importsOf, readSources } from '../../tools/layers.mjs'

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src')

test('src/ has only downward imports and no cycles', () => {
  const sources = readSources(SRC)
  assert.ok(Object.keys(sources).length > 20, 'the check reads the real tree')
  assert.deepEqual(checkLayers(sources), [])
})

test('every folder of src/ is a known layer', () => {
  const folders = new Set(Object.keys(readSources(SRC)).filter((f) => f.includes('/')).map((f) => f.split('/')[0]))
  assert.deepEqual([...folders].sort(), ['conversation', 'core', 'http', 'llm', 'meta'])
})

test('an upward import is reported with both files and the rule', () => {
  const sources = readSources(SRC)
  sources['core/log.ts'] += "\nimport { parseWebhook } from '../meta/webhook'\n"
  const problems = checkLayers(sources)
  assert.equal(problems.length, 1)
  assert.match(problems[0], /core\/log\.ts \(core\) imports meta\/webhook\.ts \(meta\): core may import only nothing of ours/)
})

test('meta and llm do not know each other; only index.ts imports http', () => {
  const sources = readSources(SRC)
  sources['llm/reply.ts'] += "\nimport type { InboundEvent } from '../meta/webhook'\n"
  sources['conversation/ingest.ts'] += "\nimport { createApp } from '../http/app'\n"
  const problems = checkLayers(sources)
  assert.deepEqual(problems, [
    'conversation/ingest.ts (conversation) imports http/app.ts (http): conversation may import only meta, llm, core',
    'llm/reply.ts (llm) imports meta/webhook.ts (meta): llm may import only core',
    'import cycle: conversation/ingest.ts → http/app.ts → conversation/ingest.ts',
  ])
})

test('a cycle inside one layer is reported', () => {
  const problems = checkLayers({
    'conversation/a.ts': "import { b } from './b'\n",
    'conversation/b.ts': "export { a } from './a'\n",
  })
  assert.deepEqual(problems, ['import cycle: conversation/a.ts → conversation/b.ts → conversation/a.ts'])
})

test('import forms: static, type-only, re-export and dynamic imports are all read', () => {
  assert.deepEqual(
    importsOf("import { a } from './a'\nimport type { B } from '../b'\nexport * from './c'\nconst d = await import('./d')\nimport x from 'hono'\n"),
    ['./a', '../b', './c', './d'],
  )
})
