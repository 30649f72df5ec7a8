import { AsyncLocalStorage } from 'node:async_hooks'
import type { Knex } from 'knex'
import { E_SESSION_STORE_UNAVAILABLE } from '../errors.ts'

/**
 * The bounded wait of one store operation (the `timeout` option).
 *
 * Drivers do not bound it themselves: on a server that accepts connections
 * and never answers, knex waits 60 s for a pool connection, `pg` has no
 * connect timeout and mysql2 none for a statement on an open connection.
 * So the operation is raced against a timer, and when the timer wins:
 * - the connections the operation holds are severed (their sockets
 *   destroyed), which fails the statements still waiting on them and lets
 *   the pool replace them, instead of leaving them stuck on the silent
 *   server for good;
 * - a connection the operation was still waiting for is handed back to the
 *   pool unused when it comes, and nothing of the operation asks for one
 *   again: no statement of a request already told it failed runs later.
 *   A statement the server had already received may still apply; writes are
 *   version-guarded, so it cannot overwrite a newer write.
 */
export class Deadline {
  #ms: number
  #at: number
  #expired = false
  #held = new Set<object>()
  #waiting = new Set<() => void>()

  constructor(ms: number) {
    this.#ms = ms
    this.#at = performance.now() + ms
  }

  /** The deadline of the operation this code runs in, if any. */
  static current(): Deadline | undefined {
    return operations.getStore()
  }

  /**
   * Whether the time is up. Measured, not only set by the timer: SQLite
   * statements run synchronously and can block past it.
   */
  get passed(): boolean {
    return this.#expired || performance.now() >= this.#at
  }

  /**
   * Runs `work`, rejecting with E_SESSION_STORE_UNAVAILABLE (reason
   * `timeout`) if it has not settled in time.
   */
  run<Result>(work: () => Promise<Result>): Promise<Result> {
    const running = operations.run(this, work)
    // Once abandoned, its own failure (a severed connection) is no one's to report.
    running.catch(() => {})
    let timer: NodeJS.Timeout | undefined
    const expiry = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#expire()
        reject(timedOut())
      }, this.#ms)
    })
    return Promise.race([running, expiry]).finally(() => clearTimeout(timer))
  }

  /**
   * A pool connection for this operation, if it comes in time.
   */
  acquire<Connection extends object>(
    acquire: () => Promise<Connection>,
    release: (connection: Connection) => unknown
  ): Promise<Connection> {
    if (this.passed) return Promise.reject(timedOut())
    return new Promise((resolve, reject) => {
      const giveUp = () => reject(timedOut())
      this.#waiting.add(giveUp)
      acquire().then(
        (connection) => {
          this.#waiting.delete(giveUp)
          if (this.#expired) {
            release(connection)
            return
          }
          this.#held.add(connection)
          resolve(connection)
        },
        (error) => {
          this.#waiting.delete(giveUp)
          reject(error)
        }
      )
    })
  }

  released(connection: object) {
    this.#held.delete(connection)
  }

  #expire() {
    this.#expired = true
    for (const giveUp of this.#waiting) giveUp()
    this.#waiting.clear()
    for (const connection of this.#held) sever(connection)
    this.#held.clear()
  }
}

const operations = new AsyncLocalStorage<Deadline>()

function timedOut() {
  return new E_SESSION_STORE_UNAVAILABLE('timeout', undefined)
}

/**
 * Destroys the socket of a `pg` or mysql2 connection: the statement waiting
 * on it fails at once, and knex marks the connection unusable, so the pool
 * destroys it rather than handing it out again. A better-sqlite3 connection
 * has no socket and is left alone (its statements never wait on one).
 */
function sever(connection: any) {
  const socket = connection.connection?.stream ?? connection.stream
  if (typeof socket?.destroy === 'function') socket.destroy()
}

const bounded = new WeakSet<object>()

/**
 * Makes the connections of the app's knex client taken inside a store
 * operation subject to its deadline. The client is the app's, shared with
 * its own queries: outside a store operation nothing changes. Transactions
 * acquire through the same method, so they are covered too.
 */
export function boundConnections(knex: Knex): Knex {
  const client = knex.client as any
  if (bounded.has(client)) return knex
  bounded.add(client)
  const acquire: () => Promise<object> = client.acquireConnection
  const release: (connection: object) => unknown = client.releaseConnection
  client.acquireConnection = function (this: unknown) {
    const deadline = operations.getStore()
    if (!deadline) return acquire.call(this)
    return deadline.acquire(
      () => acquire.call(this),
      (connection) => release.call(this, connection)
    )
  }
  client.releaseConnection = function (this: unknown, connection: object) {
    operations.getStore()?.released(connection)
    return release.call(this, connection)
  }
  return knex
}
