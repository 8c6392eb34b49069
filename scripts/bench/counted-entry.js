/**
 * The bench's instrumented entry (issue 12), NOT part of the product and never deployed: the
 * product's own Worker and Durable Object classes, unchanged, with their bindings wrapped so that
 * what Cloudflare bills per unit can be counted per DM. `npm run bench` runs it with
 * `wrangler dev scripts/bench/counted-entry.js` (the product's wrangler.toml otherwise) in a
 * separate count phase, so the wrapping never touches the timed CPU and latency runs.
 *
 * Counted: Durable Object requests (every RPC call on a stub, and every alarm), SQLite rows
 * written (`rowsWritten` of every non-SELECT statement, summed; SELECTs write nothing), alarms
 * set, KV reads/writes/deletes/lists, and console lines and bytes as workerd hands them to
 * wrangler. GET /__bench/counters returns the totals. Under wrangler dev the Worker and its
 * objects share one isolate, so one module-level tally sees them all.
 */
import product, { AccountObject as ProductAccount, SenderObject as ProductSender } from '../../src/index'

const tally = {
  invocations: 0,
  doRequests: 0,
  doRequestsByMethod: {},
  alarms: 0,
  alarmsSet: 0,
  rowsWritten: 0,
  sqlStatements: 0,
  rowsWrittenByStatement: {},
  statementsByText: {},
  kvReads: 0,
  kvWrites: 0,
  kvDeletes: 0,
  kvLists: 0,
  logLines: 0,
  logBytes: 0,
  logEvents: {},
}

const encoder = new TextEncoder()
for (const method of ['log', 'info', 'warn', 'error', 'debug']) {
  const original = console[method].bind(console)
  console[method] = (...args) => {
    const line = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')
    tally.logLines++
    tally.logBytes += encoder.encode(line).byteLength + 1
    const event = /"event":"([^"]+)"/.exec(line)?.[1] ?? 'other'
    tally.logEvents[event] = (tally.logEvents[event] ?? 0) + 1
    original(...args)
  }
}

const bump = (map, key, n = 1) => (map[key] = (map[key] ?? 0) + n)

/** Native objects need their own `this`: methods read through a proxy are bound to the target. */
function passThrough(target, overrides) {
  return new Proxy(target, {
    get(t, prop) {
      if (prop in overrides) return overrides[prop]
      const v = Reflect.get(t, prop, t)
      return typeof v === 'function' ? v.bind(t) : v
    },
  })
}

function countedStub(stub, ns) {
  return new Proxy(stub, {
    get(t, prop) {
      if (typeof prop !== 'string' || prop === 'then') return Reflect.get(t, prop, t)
      return (...args) => {
        tally.doRequests++
        bump(tally.doRequestsByMethod, `${ns}.${prop}`)
        return t[prop](...args)
      }
    },
  })
}

function countedNamespace(ns, name) {
  return passThrough(ns, {
    getByName: (n, o) => countedStub(ns.getByName(n, o), name),
    get: (id, o) => countedStub(ns.get(id, o), name),
  })
}

function countedKv(kv) {
  return passThrough(kv, {
    get: (...a) => (tally.kvReads++, kv.get(...a)),
    getWithMetadata: (...a) => (tally.kvReads++, kv.getWithMetadata(...a)),
    put: (...a) => (tally.kvWrites++, kv.put(...a)),
    delete: (...a) => (tally.kvDeletes++, kv.delete(...a)),
    list: (...a) => (tally.kvLists++, kv.list(...a)),
  })
}

// One wrapped env per real env, so the product's per-env caches (config) behave as they do unwrapped.
const envs = new WeakMap()
function countedEnv(env) {
  let e = envs.get(env)
  if (!e) {
    e = { ...env, DEDUP: countedKv(env.DEDUP), SENDER: countedNamespace(env.SENDER, 'SENDER'), ACCOUNT: countedNamespace(env.ACCOUNT, 'ACCOUNT') }
    envs.set(env, e)
  }
  return e
}

function countedSql(sql) {
  return passThrough(sql, {
    exec: (query, ...bindings) => {
      const cursor = sql.exec(query, ...bindings)
      if (!query.includes('__miniflare')) {
        tally.sqlStatements++
        bump(tally.statementsByText, query.replace(/\s+/g, ' ').trim().slice(0, 60), 1)
      }
      if (!/^\s*SELECT\b/i.test(query)) {
        const n = cursor.rowsWritten
        tally.rowsWritten += n
        if (n) bump(tally.rowsWrittenByStatement, query.replace(/\s+/g, ' ').trim().slice(0, 60), n)
      }
      return cursor
    },
  })
}

/**
 * The object's state must stay the real DurableObjectState (the base class checks its type), so
 * its storage gets own properties that shadow `sql` and `setAlarm` instead.
 */
function countCtx(ctx) {
  const storage = ctx.storage
  const sql = countedSql(storage.sql)
  const setAlarm = storage.setAlarm.bind(storage)
  Object.defineProperty(storage, 'sql', { value: sql, configurable: true })
  Object.defineProperty(storage, 'setAlarm', { value: (...a) => (tally.alarmsSet++, setAlarm(...a)), configurable: true })
  return ctx
}

export class SenderObject extends ProductSender {
  constructor(ctx, env) {
    super(countCtx(ctx), countedEnv(env))
  }
  async alarm() {
    tally.alarms++
    tally.doRequests++
    bump(tally.doRequestsByMethod, 'SENDER.alarm')
    return super.alarm()
  }
}

export class AccountObject extends ProductAccount {
  constructor(ctx, env) {
    super(countCtx(ctx), countedEnv(env))
  }
}

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/__bench/counters') return Response.json(tally)
    tally.invocations++
    return product.fetch(request, countedEnv(env), ctx)
  },
  scheduled(controller, env, ctx) {
    return product.scheduled(controller, countedEnv(env), ctx)
  },
}
