import debug from '../debug.ts'
import { affectedRowsOf, dialectOf } from '../request/repository.ts'
import type { StoredSessionContext } from '../store_context.ts'

/**
 * Bounds of the in-process memory below: enough for the active sessions of
 * a busy process, small enough to never matter for its heap.
 */
const MAX_REMEMBERED_SESSIONS = 10_000
const MAX_REMEMBERED_IPS = 1_000

/**
 * Runs the app's `locate(ip)` hook and stores its answer on the session's
 * row. The hook runs once per IP (remembered per process), and the row is
 * updated once per session and IP: a session written again and again from
 * the same IP costs nothing more.
 */
export class Locator {
  static #locators = new WeakMap<StoredSessionContext, Locator>()

  static of(context: StoredSessionContext): Locator {
    let locator = this.#locators.get(context)
    if (!locator) {
      locator = new Locator(context)
      this.#locators.set(context, locator)
    }
    return locator
  }

  #context: StoredSessionContext
  #locatedSessions = new Map<string, string>()
  #locations = new Map<string, Promise<string | null>>()

  constructor(context: StoredSessionContext) {
    this.#context = context
  }

  /**
   * The location of `ipAddress`, stored on the row `hash` when the row
   * holds that IP and this process has not stored it yet. Null without a
   * `locate` hook.
   */
  async record(hash: string, ipAddress: string): Promise<string | null> {
    if (!this.#context.config.locate) return null
    const location = await this.locate(ipAddress)
    if (this.#locatedSessions.get(hash) === ipAddress) return location

    const knex = this.#context.db.connection(this.#context.connectionName).getWriteClient()
    const result = await knex.raw('update ?? set location = ? where id = ? and ip_address = ?', [
      this.#context.config.table,
      location,
      hash,
      ipAddress,
    ])
    if (affectedRowsOf(dialectOf(knex), result) > 0) {
      remember(this.#locatedSessions, hash, ipAddress, MAX_REMEMBERED_SESSIONS)
    }
    return location
  }

  /**
   * What the hook says about an IP; a throw, or anything but a non-empty
   * string, is no location. Cut to the column's 255 characters.
   */
  locate(ipAddress: string): Promise<string | null> {
    let location = this.#locations.get(ipAddress)
    if (!location) {
      location = (async () => {
        try {
          const answer = await this.#context.config.locate!(ipAddress)
          return typeof answer === 'string' && answer ? answer.slice(0, 255) : null
        } catch {
          debug('locate: the hook threw; no location stored')
          return null
        }
      })()
      remember(this.#locations, ipAddress, location, MAX_REMEMBERED_IPS)
    }
    return location
  }
}

function remember<Value>(map: Map<string, Value>, key: string, value: Value, max: number) {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value!)
}
