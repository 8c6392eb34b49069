/**
 * `npm run profile:workerd` (issue 12): where the CPU of a DM goes inside workerd. Starts the
 * product (or, with --yardstick, the bench's yardstick) under `wrangler dev --minify=false` with
 * the loopback stand-ins, warms it up, then sends n DMs at c concurrent from new senders and the
 * same n again from those (returning) senders, each phase profiled until its replies are in.
 *
 * With Linux `perf` (the default when it runs): `perf record -g` on the workerd process, with V8
 * writing its JIT map (--perf-basic-prof), so the samples are CPU time and name JS functions. Each
 * sample is charged to the innermost JS frame of our bundle (builtins and V8 runtime it called
 * included), to the workerd API that JS called (SQL, fetch, RPC, ...), to JS of wrangler's own
 * workers, or to the runtime with no JS on the stack (by what it was doing).
 * --v8: the V8 sampling profiler over the inspector instead. Its "self time" is wall time while
 * the isolate is entered: blocking system calls and work for other isolates of the thread show
 * up under whichever JS frame was current, so use it for JS hot spots only.
 *
 * Flags: --n 150 --c 5 --llm-ms 800 --top 25 --yardstick --v8 --trace-collector --out DIR
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { sleep, startE2E } from '../../test/e2e/harness.mjs'
import { ROOT } from '../sandbox/sandbox.mjs'
import { groupCpuByCommand } from './compare.mjs'
import { waitForReplies, webhookPhase } from './load.mjs'

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '150' },
    c: { type: 'string', default: '5' },
    'llm-ms': { type: 'string', default: '800' },
    top: { type: 'string', default: '25' },
    yardstick: { type: 'boolean', default: false },
    v8: { type: 'boolean', default: false },
    'trace-collector': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
})
const n = Number(flags.n)
const c = Number(flags.c)
const llmMs = Number(flags['llm-ms'])
const top = Number(flags.top)
const hasPerf = (() => {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()
const usePerf = !flags.v8 && hasPerf
if (!flags.v8 && !hasPerf) console.log('perf is not available: using the V8 sampling profiler (wall time, see --v8)')
const out = flags.out ?? mkdtempSync(join(tmpdir(), 'workerd-profile-'))

/** A Chrome DevTools Protocol session (the inspector proxy wants a known Origin). */
function cdpSession(url) {
  const ws = new WebSocket(url, { headers: { Origin: 'http://localhost' } })
  let next = 1
  const pending = new Map()
  const listeners = new Map()
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(ev.data)
    if (msg.method) listeners.get(msg.method)?.(msg.params)
    const p = msg.id && pending.get(msg.id)
    if (!p) return
    pending.delete(msg.id)
    if (msg.error) p.reject(new Error(msg.error.message))
    else p.resolve(msg.result)
  })
  const open = new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true })
    ws.addEventListener('error', reject, { once: true })
  })
  return {
    open,
    send(method, params = {}) {
      const id = next++
      ws.send(JSON.stringify({ id, method, params }))
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }))
    },
    on: (method, fn) => listeners.set(method, fn),
    close: () => ws.close(),
  }
}

/** Module of each bundle line: esbuild's unminified bundle starts every module with `// path`. */
function moduleIndex(source) {
  const starts = []
  source.split('\n').forEach((l, i) => {
    const m = /^\/\/ ((?:src|node_modules)\/\S+)$/.exec(l)
    if (m) starts.push([i + 1, m[1]])
  })
  return (line) => {
    let lo = 0
    let hi = starts.length - 1
    let found = '(bundle)'
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid][0] <= line) {
        found = starts[mid][1]
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }
}

const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v)
function table(title, m, total, dms, k = top) {
  const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, k)
  return [`-- ${title}`, ...rows.map(([name, ms]) => `${ms.toFixed(1).padStart(9)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}% ${(ms / dms).toFixed(3).padStart(7)} ms/DM  ${name}`)].join('\n')
}

const RUNTIME = [
  ['SQLite (commits, opening databases)', /sqlite|Sqlite/],
  ['alarm scheduling', /AlarmScheduler|[Aa]larm/],
  ['object call (server side)', /JsRpcSession|JsRpcTarget/],
  ['fetch handler', /WorkerEntrypoint::request/],
  ['HTTP', /Http/],
  ['garbage collection', /Heap::|Scavenger|cppgc|MarkCompact/],
]

/** perf samples of one phase, charged as described at the top of this file. */
function perfReport(script, moduleOf, dms) {
  const what = new Map()
  const byModule = new Map()
  const byFunction = new Map()
  const byApi = new Map()
  let total = 0
  for (const block of script.split('\n\n')) {
    const lines = block.split('\n').filter(Boolean)
    if (lines.length < 2) continue
    const ms = Number(lines[0].trim().split(/\s+/)[1]) / 1e6
    if (!Number.isFinite(ms)) continue
    total += ms
    let api = null
    let charged = false
    for (const line of lines.slice(1)) {
      const sym = line.trim().replace(/^[0-9a-f]+\s+/, '')
      const js = /^JS:[~^+*]?(\S*) (\S+?):(\d+):\d+/.exec(sym)
      if (js) {
        const file = js[2].split('/').pop()
        const ours = file === 'index.js'
        const where = ours ? moduleOf(Number(js[3])) : file
        const fn = `${js[1] || '(anonymous)'}  ${where}:${js[3]}`
        if (api) {
          add(what, ours ? 'workerd API called by our JS' : "workerd API called by wrangler's JS", ms)
          if (ours) add(byApi, `${api} <- ${js[1] || '(anonymous)'} (${where})`, ms)
        } else {
          add(what, ours ? 'our JS (Worker and objects)' : `wrangler's JS (${file})`, ms)
          if (ours) {
            add(byModule, where, ms)
            add(byFunction, fn, ms)
          }
        }
        charged = true
        break
      }
      if (api === null) {
        const a = /workerd::api::((?:[A-Za-z_]\w*::)?[A-Za-z_~]\w*)/.exec(sym)
        if (a) api = a[1]
      }
    }
    if (charged) continue
    const all = lines.slice(1).join('\n')
    const kind = RUNTIME.find(([, re]) => re.test(all))
    add(what, `runtime, no JS: ${kind ? kind[0] : 'other (event loop, I/O, capnp)'}`, ms)
  }
  return [
    `workerd CPU sampled: ${total.toFixed(0)} ms, ${(total / dms).toFixed(2)} ms/DM`,
    table('what runs', what, total, dms, 20),
    table('our JS by module (self, with the builtins it called)', byModule, total, dms),
    table('our JS by function', byFunction, total, dms),
    table('workerd APIs our JS called', byApi, total, dms),
  ].join('\n')
}

/** V8 CPU profile of one phase: self time by module and function (wall time, see above). */
function v8Report(profile, moduleOf, dms) {
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]))
  const byModule = new Map()
  const byFunction = new Map()
  let total = 0
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    const cf = byId.get(id).callFrame
    const name = cf.functionName || '(anonymous)'
    if (name === '(idle)') return
    total += ms
    const where = cf.url.endsWith('index.js') ? moduleOf(cf.lineNumber + 1) : cf.url ? cf.url.split('/').pop() : name
    add(byModule, where, ms)
    add(byFunction, `${name}  ${where}:${cf.lineNumber + 1}`, ms)
  })
  return [`V8 samples, not idle: ${total.toFixed(0)} ms, ${(total / dms).toFixed(2)} ms/DM (wall time while the isolate is entered: blocking calls and other isolates' work land on whatever frame was current; trust JS leaf functions only)`, table('self by module', byModule, total, dms), table('self by function', byFunction, total, dms)].join('\n')
}

if (usePerf) process.env.MINIFLARE_WORKERD_V8_FLAGS = '--perf-basic-prof --interpreted-frames-native-stack'
const stack = await startE2E({
  vars: { LLM_DAILY_BUDGET: '10000000' },
  graph: { latencyMs: 50 },
  llm: { latencyMs: llmMs },
  args: ['--minify=false'],
  traceCollector: flags['trace-collector'],
  ...(flags.yardstick ? { config: join(ROOT, 'scripts', 'bench', 'yardstick', 'wrangler.toml') } : {}),
})
const pgid = stack.child.pid
// V8 leaves its JIT maps (/tmp/perf-<pid>.map) behind; they go when the stack does.
const maps = new Set()
const workerdPids = () =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8')
        return st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')) === 'workerd' && Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[2]) === pgid
      } catch {
        return false
      }
    })
try {
  const targets = await (await fetch(`http://127.0.0.1:${stack.inspectorPort}/json`)).json()
  const cdp = cdpSession(targets[0].webSocketDebuggerUrl)
  await cdp.open
  const warm = await webhookPhase(stack, 30, c, 'warm-up')
  await waitForReplies(stack, warm.results.map((r) => r.senderId), llmMs + 30_000)
  // The bundle, to name the module of each line (scriptParsed arrives on Debugger.enable).
  const scripts = []
  cdp.on('Debugger.scriptParsed', (p) => scripts.push(p))
  await cdp.send('Debugger.enable')
  await sleep(300)
  const bundle = scripts.find((sc) => /(^|\/)index\.js$/.test(sc.url))
  const moduleOf = bundle ? moduleIndex((await cdp.send('Debugger.getScriptSource', { scriptId: bundle.scriptId })).scriptSource) : () => '(bundle)'
  await cdp.send('Debugger.disable')
  if (!usePerf) {
    await cdp.send('Profiler.enable')
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 })
  }
  const reports = []
  let senders = null
  for (const label of ['new senders', 'returning senders']) {
    const cpu0 = groupCpuByCommand(pgid)
    const data = join(out, `${label.replace(' ', '-')}.perf.data`)
    let perf
    if (usePerf) {
      const pids = workerdPids()
      for (const pid of pids) maps.add(`/tmp/perf-${pid}.map`)
      perf = spawn('perf', ['record', '-q', '-F', '999', '-g', '-o', data, '-p', pids.join(',')], { stdio: 'ignore' })
      await sleep(500)
    } else await cdp.send('Profiler.start')
    const w = await webhookPhase(stack, n, c, label, senders)
    const ok = w.results.filter((r) => r.status === 200).map((r) => r.senderId)
    await waitForReplies(stack, ok, llmMs + 30_000)
    let report
    if (perf) {
      perf.kill('SIGINT')
      await new Promise((r) => perf.once('exit', r))
      const script = execFileSync('perf', ['script', '-i', data, '-F', 'tid,period,ip,sym'], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      report = () => perfReport(script, moduleOf, ok.length)
    } else {
      const { profile } = await cdp.send('Profiler.stop')
      report = () => v8Report(profile, moduleOf, ok.length)
    }
    const cpu1 = groupCpuByCommand(pgid)
    const cpu = Object.keys(cpu1).map((k) => `${k} ${(((cpu1[k] - (cpu0[k] ?? 0)) * 1000) / ok.length).toFixed(2)}`).join(', ')
    reports.push({ label, dms: ok.length, cpu, report })
    senders = ok
  }
  cdp.close()
  for (const r of reports) console.log(`\n== ${flags.yardstick ? 'yardstick' : 'product'}, ${r.label}: ${r.dms}/${n} DMs at ${c} concurrent; CPU ms/DM by process (/proc): ${r.cpu}\n${r.report()}`)
  if (!flags.out) rmSync(out, { recursive: true, force: true })
} finally {
  await stack.stop()
  for (const m of maps) rmSync(m, { force: true })
}
