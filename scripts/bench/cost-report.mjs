/**
 * The cost half of BENCHMARKS.md (issue 12): product against the yardstick, billed units per DM,
 * what a million answered DMs cost on Workers Paid, the Free-plan limits, the account object's
 * ceiling and the invocation CPU. Every number comes from the run's measurements and the price
 * table below (each price with its source and the date it was read).
 */

/** Marginal prices (beyond the monthly allowances), US dollars. */
export const PRICES = {
  asOf: 'Cloudflare docs as of October 2026, via the project fact sheet shared/reference/cloudflare-workers.md',
  workersRequestPerM: { usd: 0.3, source: 'Workers Paid, Standard: 10 M requests/month included, then $0.30/M (Workers limits/pricing; quoted on the Workflows pricing page)' },
  workersCpuMsPerM: { usd: 0.02, source: 'Workers Paid, Standard: 30 M CPU-ms/month included, then $0.02 per million CPU-ms (same page)' },
  doRequestPerM: { usd: 0.15, source: 'Durable Objects pricing: 1 M requests/month included, then $0.15/M; every RPC call is a request' },
  doGbSecondPerM: { usd: 12.5, source: 'Durable Objects pricing: 400,000 GB-s/month included, then $12.50 per million GB-s (128 MB per object)' },
  sqliteRowWrittenPerM: { usd: 1.0, source: 'Durable Objects SQLite storage: $1.00 per million rows written beyond 50 M/month (billing on since January 2026; the fact sheet marks the row price UNVERIFIED)' },
  kvReadPerM: { usd: 0.5, source: 'Workers KV, Paid: 10 M reads/month included, then $0.50/M' },
  kvWritePerM: { usd: 5.0, source: 'Workers KV, Paid: 1 M writes/month included, then $5.00/M' },
  logEventPerM: { usd: 0.6, source: 'Workers Logs, Paid: 20 M events/month included, then $0.60/M (moves to "Cloudflare Observability pricing" on 2026-12-01)' },
  llmInputPerMTokens: { usd: 0.15, source: 'OpenAI list price of gpt-4o-mini (the default OPENAI_MODEL): $0.15 per million input tokens (since its launch, July 2024; not in the project fact sheet)' },
  llmOutputPerMTokens: { usd: 0.6, source: 'OpenAI list price of gpt-4o-mini: $0.60 per million output tokens (same)' },
}

export const FREE = {
  workerRequestsPerDay: 100_000,
  cpuMsPerInvocation: 10,
  subrequestsPerInvocation: 50,
  doRequestsPerDay: 100_000,
  kvReadsPerDay: 100_000,
  kvWritesPerDay: 1_000,
  sqliteRowsWrittenPerDay: 100_000,
  source: 'Workers limits, KV pricing and Durable Objects pricing pages (fact sheet §1, §2, §3); the SQLite 100,000 rows written/day Free allowance is UNVERIFIED there',
}

/** Cloudflare's guidance for one object: about 1,000 simple requests/s, 200–500 with storage writes. */
const OBJECT_SOFT_LIMIT_RPS = 1000
const OBJECT_WRITE_LIMIT_RPS = 200
/** Meta's Send API limit per Instagram professional account (Instagram Login; 300/s with Facebook Login). */
const SEND_API_CALLS_PER_SECOND = 100

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a')
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN)
const usd = (x) => (x < 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`)

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/** The two ratios issue 12 sets (≤ 1.5×) and the invocation budget, as bench budgets. */
export function costBudgets(r, atMost) {
  const out = []
  const c = r.compare
  if (c) {
    out.push(atMost(`CPU per answered DM, product / yardstick (wrangler dev process group, c=5): ${fmt(c.product.c5.cpuMsPerDm, 1)} / ${fmt(c.yardstick.c5.cpuMsPerDm, 1)} ms`, ratio(c.product.c5.cpuMsPerDm, c.yardstick.c5.cpuMsPerDm), 1.5, '×'))
    out.push(atMost(`ack p50 at 5 concurrent, product / yardstick: ${fmt(c.product.c5.ackP50Median, 1)} / ${fmt(c.yardstick.c5.ackP50Median, 1)} ms`, ratio(c.product.c5.ackP50Median, c.yardstick.c5.ackP50Median), 1.5, '×'))
    for (const side of ['product', 'yardstick']) {
      const all = c[side].c1.rounds.concat(c[side].c5.rounds, c[side].again?.rounds ?? [])
      const off = all.reduce((a, p) => a + (p.n - p.answered), 0)
      out.push({ name: `${side}: every DM of the comparison answered exactly once`, measured: off, limit: 0, unit: 'DMs off', pass: off === 0 })
    }
  }
  if (r.invocation) out.push(atMost('Free-plan invocation CPU, one-DM delivery (fetch + waitUntil, warm mean)', r.invocation.warm.mean, 5, 'ms'))
  return out
}

/**
 * What one unit costs on this machine (the yardstick's probes) and, from the product's measured
 * units per DM, how much of the CPU gap each kind of unit explains; the rest is our own JS.
 */
function renderGap(c, u) {
  if (!c.unitPrices?.length || !u) return []
  const p = c.product.c5
  const y = c.yardstick.c5
  // The comparison's DMs each come from a new sender, like the count phase's first DMs. The
  // yardstick's SQL per new sender: its CREATE, the claim and the sent mark.
  const extra = {
    doRequest: u.doRequests - 2,
    fetch: p.fetchesPerDm - y.fetchesPerDm,
    sqlStatement: u.sqlStatements - 3,
    logLine: u.logLines,
  }
  const gap = p.cpuMsPerDm - y.cpuMsPerDm
  // A price at or below zero means k units did not rise above the run's noise: shown as such.
  const priced = (v) => (v > 0 ? fmt(v, 3) : 'below noise')
  const rows = c.unitPrices.map((x) => [x.label, priced(x.msPerUnit), x.perRound.map((v) => fmt(v, 3)).join(' · '), fmt(extra[x.unit], 2), fmt(extra[x.unit] * Math.max(0, x.msPerUnit), 2)])
  const explained = c.unitPrices.reduce((a, x) => a + extra[x.unit] * Math.max(0, x.msPerUnit), 0)
  return [
    'What one unit costs here, and where the product\'s extra CPU goes. Each probe is the yardstick with k more units',
    'of one kind per DM (`PROBE_*` in `scripts/bench/yardstick/worker.js`), run at 5 concurrent in the same rounds;',
    '(probe − yardstick) / k in each round prices one unit, the median of the rounds is used. The product\'s extra units',
    'per DM are its measured counts (below) less the yardstick\'s; what they do not explain is the product\'s own',
    'JavaScript (signature and schema checks, screening, prompt, the openai SDK, the output guard, the reply bookkeeping).',
    '',
    table(
      ['Unit', 'CPU ms per unit', 'per round', 'product\'s extra units per DM', 'CPU ms per DM'],
      [
        ...rows.map((r) => r.map(String)),
        ['rest: the product\'s own JavaScript and the runtime work it causes beyond these units (SQLite writes and commits, the two alarms, larger payloads; `npm run profile:workerd` splits it)', '', '', '', fmt(gap - explained, 2)],
        ['**product − yardstick**', '', '', '', `**${fmt(gap, 2)}**`],
      ]
    ),
    '',
    `Outbound fetches per DM: product ${fmt(p.fetchesPerDm, 2)}, yardstick ${fmt(y.fetchesPerDm, 2)}. Alarms set per DM (storage calls, priced with the request that sets them): ${fmt(u.alarmsSet, 2)}.`,
    '',
  ]
}

/** Product / yardstick with wrangler's trace collector on, when both variants ran. */
function traceCollectorLine(variants) {
  const on = (side) => variants.find((v) => v.name.startsWith(side) && v.name.includes('trace collector on'))?.c5
  const p = on('product')
  const y = on('yardstick')
  if (!p || !y) return []
  return [
    `With the trace collector on, product / yardstick at 5 concurrent: CPU ${fmt(ratio(p.cpuMsPerDm, y.cpuMsPerDm))}× (${fmt(p.cpuMsPerDm, 1)} / ${fmt(y.cpuMsPerDm, 1)} ms), ack p50 ${fmt(ratio(p.ackP50Median, y.ackP50Median))}×.`,
    '',
  ]
}

export function renderCost(r) {
  const lines = []
  const c = r.compare
  const u = c?.counts
  const inv = r.invocation
  if (c) {
    const p = c.product
    const y = c.yardstick
    const row = (label, a, b, d = 1) => [label, fmt(a, d), fmt(b, d), `${fmt(ratio(a, b))}×`]
    const cmd = (side, cc) => Object.entries(side[`c${cc}`].cpuByCommand).map(([k, v]) => `${k} ${fmt((v * 1000) / side[`c${cc}`].answered, 1)}`).join(', ')
    lines.push(
      '## Cost per DM against a yardstick',
      '',
      'The yardstick (`scripts/bench/yardstick/`, not part of the product) does only what answering a DM needs:',
      'raw-byte HMAC with a cached key, JSON parse, one `INSERT OR IGNORE` claim in the sender\'s SQLite Durable Object',
      'before the 200, then in `waitUntil` one LLM call, one Send API call and one durable "sent" mark. No logs, no',
      'configuration checks, no defences. Both Workers ran in this run under their own `wrangler dev` (local mode) with',
      `their own loopback stand-ins (LLM ${c.llmMs} ms, Graph ${c.graphMs} ms), started together and measured in alternating phases,`,
      `${c.rounds} rounds; per side and concurrency the round with the median CPU per DM is shown (ack p50/p99: the medians of the rounds).`,
      'Every DM of a phase comes from a new sender, so each wakes a new Durable Object (the shape the targets are set on);',
      'at 5 concurrent each side then also gets the same senders\' next DM (warm objects: a conversation\'s later messages).',
      '',
      'CPU is that of the whole `wrangler dev` process group (the wrangler Node process, workerd and wrangler\'s esbuild',
      `service): utime + stime of every process in the group, read from \`/proc/<pid>/stat\` (clock tick 1/${c.clkTck} s) before`,
      'the phase and after its last reply, divided by the DMs answered exactly once. The product\'s replies also include',
      'typing_on and mark_seen, which the yardstick skips. Both run without wrangler\'s local trace collector',
      '(`X_LOCAL_OBSERVABILITY=false`): it writes every span (fetch, object call, SQL statement) to its own SQLite object in',
      'the same workerd, which is no CPU of the Worker on Cloudflare and grows with every unit used.',
      '',
      'Command: `npm run bench -- --skip-load --skip-cpu --skip-bundle`.',
      '',
      table(
        ['Per answered DM', 'product', 'yardstick', 'product / yardstick'],
        [
          row('CPU ms, 1 concurrent', p.c1.cpuMsPerDm, y.c1.cpuMsPerDm),
          row('CPU ms, 5 concurrent', p.c5.cpuMsPerDm, y.c5.cpuMsPerDm),
          row('ack p50 ms, 1 concurrent', p.c1.ackP50Median, y.c1.ackP50Median),
          row('ack p99 ms, 1 concurrent', p.c1.ackP99Median, y.c1.ackP99Median),
          row('ack p50 ms, 5 concurrent', p.c5.ackP50Median, y.c5.ackP50Median),
          row('ack p99 ms, 5 concurrent', p.c5.ackP99Median, y.c5.ackP99Median),
          ...(p.again && y.again
            ? [
                row('CPU ms, 5 concurrent, the same senders\' next DM', p.again.cpuMsPerDm, y.again.cpuMsPerDm),
                row('ack p50 ms, 5 concurrent, the same senders\' next DM', p.again.ackP50Median, y.again.ackP50Median),
              ]
            : []),
          ...(u ? [row('Durable Object requests', u.doRequests, 2, 2), row('SQLite rows written (warm object)', u.rowsWrittenWarm, 2, 2)] : []),
        ]
      ),
      '',
      `CPU by process, ms per DM at 5 concurrent: product ${cmd(p, 5)}; yardstick ${cmd(y, 5)}.`,
      '',
      ...renderGap(c, u),
      ...(c.variants?.length
        ? [
            'Variants, measured in the same rounds at 5 concurrent (each a separate `wrangler dev`): a product feature the',
            'yardstick lacks switched off, and both sides with wrangler\'s local trace collector on (wrangler dev\'s default).',
            '',
            table(
              ['At 5 concurrent', 'CPU ms per DM', 'of which wrangler (node)', 'of which workerd', 'ack p50 ms', 'CPU / yardstick'],
              [
                ['product (defaults)', p.c5, 'c5'],
                ...c.variants.map((v) => [v.name, v.c5]),
                ['yardstick', y.c5],
              ].map(([name, x]) => [name, fmt(x.cpuMsPerDm, 1), fmt(((x.cpuByCommand.node ?? 0) * 1000) / x.answered, 1), fmt(((x.cpuByCommand.workerd ?? 0) * 1000) / x.answered, 1), fmt(x.ackP50Median, 1), `${fmt(ratio(x.cpuMsPerDm, y.c5.cpuMsPerDm))}×`])
            ),
            '',
            ...traceCollectorLine(c.variants),
          ]
        : []),
      table(
        ['Round', ...c.product.c1.rounds.map((_, i) => `${i + 1}`)],
        ['product', 'yardstick'].flatMap((s) =>
          [
            ['c1', 'c=1'],
            ['c5', 'c=5'],
            ['again', 'c=5, next DM'],
          ]
            .filter(([key]) => c[s][key])
            .map(([key, label]) => [`${s} ${label}: CPU ms/DM · ack p50 ms`, ...c[s][key].rounds.map((x) => `${fmt(x.cpuMsPerDm, 1)} · ${fmt(x.ackP50, 1)}`)])
        )
      ),
      ''
    )
  }
  if (u) {
    lines.push(
      '### Billed units per answered DM (product)',
      '',
      `Counted in a separate phase (${u.n} DMs from new senders at 5 concurrent, after a warm-up) under \`scripts/bench/counted-entry.js\`, which runs`,
      'the product\'s own classes with counting wrappers around its bindings: every RPC call on a Durable Object stub (and',
      'every alarm) is a billed request; rows written are the runtime\'s `rowsWritten` of every statement, summed (index',
      'entries included as SQLite reports them); log lines and bytes are what the Worker hands to the runtime at the default',
      'log level. The yardstick needs 2 requests (claim, sent mark), 2 rows, no KV and no log line per DM by construction.',
      '',
      table(
        ['Unit', 'per DM', 'details'],
        [
          ['Worker invocations', fmt(u.invocations), 'the webhook'],
          ['Durable Object requests', fmt(u.doRequests), Object.entries(u.doRequestsByMethod).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')],
          ['alarms set (storage calls, not requests)', fmt(u.alarmsSet), `alarms run: ${fmt(u.alarms)}`],
          ['SQLite rows written', fmt(u.rowsWritten), `of which a new object's schema ${fmt(u.rowsWrittenSchema)}; a sender's later DMs write ${fmt(u.rowsWrittenWarm)}`],
          ['SQL statements executed (CPU, not billed)', fmt(u.sqlStatements), `a sender's later DMs: ${fmt(u.again?.sqlStatements)}; the yardstick: 2 (and 1 CREATE per new object)`],
          ['KV reads', fmt(u.kvReads), 'none on the DM path since issue 12 (the redelivery fast path is gone)'],
          ['KV writes', fmt(u.kvWrites), 'one account registry write per isolate and account'],
          ['log lines', fmt(u.logLines), Object.entries(u.logEvents).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')],
          ['log bytes', fmt(u.logBytes, 0), ''],
        ]
      ),
      '',
      'Rows written per statement, per DM: ' + Object.entries(u.rowsWrittenByStatement).map(([k, v]) => `\`${k}…\` ${fmt(v)}`).join('; ') + '.',
      ''
    )
  }
  if (inv) {
    lines.push(
      '## Free-plan invocation CPU',
      '',
      'Workers Free allows 10 ms of CPU per invocation, `waitUntil` work included. The Worker\'s own entry (`src/index.ts`,',
      'bundled by esbuild, zod jitless as in workerd) runs under Node with in-memory bindings: a Map for KV, Durable Object',
      'stubs that answer at once (a fresh sender, a generous account), and a `fetch` that answers like the LLM and the Graph',
      'API. `process.cpuUsage()` around each one-DM delivery, from the request to the last `waitUntil` promise, measures the',
      'fetch handler and everything it does after the 200 (signature, parse, claim call, LLM call through the openai SDK,',
      'prompt and output checks, the Send API calls, the bookkeeping calls and the log lines), not the objects\' own CPU.',
      '',
      'Command: `npm run bench -- --skip-load --skip-cpu --skip-bundle --skip-compare`.',
      '',
      table(
        ['', 'CPU ms'],
        [
          ['first invocation of a new isolate (cold: JIT, first schema parse)', fmt(inv.cold)],
          [`warm p50 (n=${inv.warm.n})`, fmt(inv.warm.p50)],
          ['warm p99', fmt(inv.warm.p99)],
          ['warm mean', fmt(inv.warm.mean)],
        ]
      ),
      '',
      `Log lines per invocation at the default level: ${fmt(inv.logLinesPerInvocation, 1)}. Prompt sent to the model: ${inv.promptChars} characters (≈ ${Math.round(inv.promptChars / 4)} tokens at 4 characters a token).`,
      ''
    )
  }
  if (u && inv) lines.push(...costModel(u, inv))
  return lines
}

function costModel(first, inv) {
  const P = PRICES
  // A conversation's later DMs (the common case); a sender's first DM also creates its object.
  const u = first.again ?? first
  // Duration: each Durable Object request keeps an object active; bounded below by the request
  // itself. A sender object stays in memory (and billed) for a few seconds after its last
  // request unless evicted; the upper estimate below assumes 10 s per DM (UNVERIFIED).
  const gbPerObject = 128 / 1024
  // What of a DM reaches the one account object (the budget leases, anything else measured).
  const accountCalls = Object.entries(u.doRequestsByMethod ?? {}).filter(([m]) => m.startsWith('ACCOUNT.'))
  const accountPerDm = accountCalls.reduce((sum, [, n]) => sum + n, 0)
  const accountMethods = accountCalls.map(([m, n]) => `\`${m}\` ${fmt(n, 3)}`).join(', ') || 'none'
  const ceiling = (rps, perDm = accountPerDm) => (perDm > 0 ? Math.floor(rps / perDm).toLocaleString('en') : 'unbounded')
  const inputTokens = inv.promptChars / 4
  const outputTokens = 100
  const rows = [
    ['Worker requests', 1, P.workersRequestPerM],
    ['Worker CPU (ms, invocation, warm mean)', inv.warm.mean, P.workersCpuMsPerM],
    ['Durable Object requests', u.doRequests, P.doRequestPerM],
    ['Durable Object duration (GB-s; 1 s active per DM: assumption)', gbPerObject * 1, P.doGbSecondPerM],
    ['SQLite rows written', u.rowsWritten, P.sqliteRowWrittenPerM],
    ['KV reads', u.kvReads, P.kvReadPerM],
    ['KV writes', u.kvWrites, P.kvWritePerM],
    ['Workers Logs events (lines)', u.logLines, P.logEventPerM],
  ]
  const cloud = rows.reduce((a, [, n, p]) => a + n * p.usd, 0)
  const daily = [
    ['SQLite rows written', u.rowsWritten, FREE.sqliteRowsWrittenPerDay],
    ['Durable Object requests', u.doRequests, FREE.doRequestsPerDay],
    ['KV writes', u.kvWrites, FREE.kvWritesPerDay],
    ['KV reads', u.kvReads, FREE.kvReadsPerDay],
    ['Worker requests', 1, FREE.workerRequestsPerDay],
  ].sort((a, b) => (a[1] > 0 ? a[2] / a[1] : Infinity) - (b[1] > 0 ? b[2] / b[1] : Infinity))
  const llm = (inputTokens * P.llmInputPerMTokens.usd + outputTokens * P.llmOutputPerMTokens.usd)
  const lines = [
    '## Cost model: one million answered DMs',
    '',
    `Marginal prices on Workers Paid (beyond the monthly allowances), from ${P.asOf}. Units per DM are the measured`,
    'counts above for a DM from a sender who has written before (one delivery, one message); a new sender\'s first DM',
    `writes ${fmt(first.rowsWritten - u.rowsWritten)} rows more (its object's schema and ids). Each reply also comes back as an echo webhook when the app subscribes to \`message_echoes\`:`,
    'one more Worker request and Durable Object request per reply part, not counted here.',
    '',
    table(
      ['Item', 'per DM', 'price', 'per 1 M DMs', 'source'],
      [
        ...rows.map(([name, n, p]) => [name, fmt(n, 3), `$${p.usd}/M`, usd(n * p.usd), p.source]),
        ['**Cloudflare total**', '', '', `**${usd(cloud)}**`, ''],
        [`LLM input tokens (≈ prompt characters / 4, first DM, no memory)`, fmt(inputTokens, 0), `$${P.llmInputPerMTokens.usd}/M tokens`, usd(inputTokens * P.llmInputPerMTokens.usd), P.llmInputPerMTokens.source],
        [`LLM output tokens (assumed ${outputTokens})`, outputTokens, `$${P.llmOutputPerMTokens.usd}/M tokens`, usd(outputTokens * P.llmOutputPerMTokens.usd), P.llmOutputPerMTokens.source],
        ['**LLM total**', '', '', `**${usd(llm)}**`, ''],
      ]
    ),
    '',
    `The model dominates: ${fmt(llm / cloud, 1)}× the Cloudflare bill at these sizes (and memory grows the prompt with every turn).`,
    'Durable Object duration is an assumption (the object is billed while active; locally it cannot be measured); at 10 s',
    `active per DM it would be ${usd(gbPerObject * 10 * P.doGbSecondPerM.usd)} per million DMs.`,
    '',
    '### Free plan: which limit a busy account hits first',
    '',
    table(
      ['Free-plan limit', 'per DM', 'DMs per day'],
      daily.map(([name, per, limit]) => [`${name}: ${limit.toLocaleString('en')}/day`, fmt(per), per > 0 ? Math.floor(limit / per).toLocaleString('en') : 'not used per DM'])
    ),
    '',
    `First hit: **${daily[0][0]}**, at about ${Math.floor(daily[0][2] / daily[0][1]).toLocaleString('en')} DMs a day. Per invocation: CPU ${FREE.cpuMsPerInvocation} ms`,
    `(measured ${fmt(inv.warm.mean)} ms warm and ${fmt(inv.cold)} ms for a cold isolate's first delivery; several DMs in one delivery add up),`,
    `and ${FREE.subrequestsPerInvocation} subrequests, of which a DM takes 4 outbound fetches (typing_on, LLM, message, mark_seen): about`,
    `${Math.floor(FREE.subrequestsPerInvocation / 4)} DMs per delivery. Sources: ${FREE.source}.`,
    '',
    '### The account object\'s ceiling',
    '',
    `Every LLM reply is counted against the account's daily budget in the one account object, in per-isolate leases: an isolate`,
    `takes a block of 8–32 units in one \`ACCOUNT.spend\` request and spends it locally (blocks shrink to 1 near the limit). Measured:`,
    `${fmt(accountPerDm, 3)} account-object requests per DM (${accountMethods}) over ${first.n ?? 'the'} DMs, plus the token (once a minute per isolate)`,
    `and the last-reply report (once per 30 s per isolate). Cloudflare's guidance for one object is about ${OBJECT_SOFT_LIMIT_RPS.toLocaleString('en')} simple`,
    `requests/s (${OBJECT_WRITE_LIMIT_RPS}–500 with storage writes, and \`spend\` writes), so at the measured rate the account object caps one`,
    `Instagram account at roughly ${ceiling(OBJECT_WRITE_LIMIT_RPS)}–${ceiling(OBJECT_SOFT_LIMIT_RPS)} DMs/s; at worst, every isolate on its first block of 8, ${ceiling(OBJECT_WRITE_LIMIT_RPS, 1 / 8)}–${ceiling(OBJECT_SOFT_LIMIT_RPS, 1 / 8)}`,
    `(one request per DM, before the leases: ${OBJECT_WRITE_LIMIT_RPS}–${OBJECT_SOFT_LIMIT_RPS.toLocaleString('en')}). Meta's Send API allows ${SEND_API_CALLS_PER_SECOND} calls/s per Instagram account (300/s with`,
    `Facebook Login) and each reply takes at least 3 calls (typing_on, the message, mark_seen), so a campaign is capped by Meta at`,
    `about ${Math.floor(SEND_API_CALLS_PER_SECOND / 3)}–100 DMs/s, below the account object's ceiling.`,
    ''
  ]
  return lines
}
