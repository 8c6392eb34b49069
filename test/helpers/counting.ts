/** Durable Object namespaces whose stubs count every RPC call (one Durable Object request each). */
import { AccountObject } from '../../src/conversation/account'
import { SenderObject } from '../../src/conversation/sender'

/** Every RPC method of the two objects. */
const METHODS = [...new Set([SenderObject, AccountObject].flatMap((c) => Object.getOwnPropertyNames(c.prototype)))].filter((m) => m !== 'constructor')

/** A namespace whose stubs count every RPC call (one Durable Object request each). */
export function counting(ns: { getByName(name: string): unknown }, label: string, calls: string[]) {
  return {
    getByName(name: string) {
      const stub = ns.getByName(name) as Record<string, (...a: unknown[]) => unknown>
      return Object.fromEntries(
        METHODS.map((m) => [
          m,
          (...args: unknown[]) => {
            calls.push(`${label}.${m}`)
            return stub[m]!(...args)
          },
        ])
      )
    },
  }
}

