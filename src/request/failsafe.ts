import type {
  SessionData,
  SessionStoreWithTaggingContract,
  TaggedSession,
} from '@adonisjs/session/types'
import debug from '../debug.ts'
import { Deadline } from './deadline.ts'
import { E_SESSION_STORE_UNAVAILABLE, StoreDriverError } from '../errors.ts'
import type { SessionEvents } from '../events.ts'
import { hashSessionId, isSessionHash, isValidSessionId, shortHash } from './session_id.ts'
import type { OnErrorPolicy } from '../types.ts'

/**
 * What the store does when its database fails, decided here once.
 *
 * - Every error a repository statement throws becomes
 *   E_SESSION_STORE_UNAVAILABLE (503), classified by `reason`, with what
 *   is safe of the driver error as `cause`: its class, code and stack
 *   frames, never its message, which quotes the SQL and its bindings.
 * - read, write, touch, tag, untag: the `onError` policy decides. `raise`
 *   answers the request with the error; `continue` lets it go on with an
 *   empty session of which nothing is saved, so a failed read can never
 *   turn into the destroy of a session that is still stored.
 * - destroy always raises: a sign-out or a regenerate must not look done
 *   while the old session still opens. tagged always raises: an empty list
 *   would read as "this user has no sessions".
 * - Every operation is bounded by `timeout` (see deadline.ts): past it, it
 *   fails like any database failure, with reason `timeout`.
 * - Writes are single statements guarded by the row version, so a failure
 *   leaves the row as it was or fully written, never half of it.
 */

export type Operation = NonNullable<E_SESSION_STORE_UNAVAILABLE['operation']>
type Reason = E_SESSION_STORE_UNAVAILABLE['reason']

/**
 * Driver codes meaning the connection could not be made or was lost: node
 * socket errors, PostgreSQL SQLSTATE classes 08 and 57P (server shutting
 * down), mysql2 protocol errors, SQLite failing to open its file.
 */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '53300',
  '57P01',
  '57P02',
  '57P03',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_ACCESS_DENIED_ERROR',
  'SQLITE_CANTOPEN',
])

/**
 * Driver codes meaning the database did not answer in time: a statement
 * timeout (PostgreSQL 57014), a lock wait past its limit, a busy SQLite.
 */
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  '57014',
  '55P03',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_QUERY_TIMEOUT',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
])

/** Errors that carry no code: pg and mysql2 on a socket closed under a query. */
const CONNECTION_MESSAGE =
  /connection terminated|connection (is )?closed|closed state|connection lost|server closed the connection/i

/** pg's client-side `query_timeout` and knex's pool acquire timeout. */
const TIMEOUT_MESSAGE = /timeout|timed out/i

/** Only identifier-like codes reach messages, logs and events. */
const SAFE_CODE = /^[A-Za-z0-9_]{1,64}$/

/** mysql2's `sqlState`: five characters. */
const SQL_STATE = /^[0-9A-Z]{5}$/

/**
 * The typed error for anything a database statement threw.
 */
export function toStoreUnavailable(
  error: unknown,
  operation?: Operation
): E_SESSION_STORE_UNAVAILABLE {
  if (error instanceof E_SESSION_STORE_UNAVAILABLE) {
    error.operation ??= operation
    return error
  }
  const code = driverCodeOf(error)
  const typed = new E_SESSION_STORE_UNAVAILABLE(reasonOf(error, code), code, {
    cause: driverCause(error, code),
  })
  typed.operation = operation
  return typed
}

/**
 * Runs statements outside a repository (the import's source table, the
 * auth guard's remember-me tokens) under the same rule: whatever they
 * throw becomes E_SESSION_STORE_UNAVAILABLE.
 */
export async function guardStatements<Result>(
  operation: Operation,
  statements: () => Promise<Result>
): Promise<Result> {
  try {
    return await statements()
  } catch (error) {
    throw toStoreUnavailable(error, operation)
  }
}

/**
 * The driver error without anything that may quote the statement or its
 * values: its message and every field but the class, codes and frames.
 */
function driverCause(error: any, code: string | undefined): StoreDriverError {
  const name = error?.constructor?.name
  const errno = error?.errno
  const sqlState = error?.sqlState
  const stack = typeof error?.stack === 'string' ? error.stack : ''
  const message = typeof error?.message === 'string' ? error.message : ''
  return new StoreDriverError(
    typeof name === 'string' && SAFE_CODE.test(name) ? name : 'Error',
    code,
    typeof errno === 'number' ? errno : undefined,
    typeof sqlState === 'string' && SQL_STATE.test(sqlState) ? sqlState : undefined,
    // the frames only: the first lines repeat the message, and a value
    // quoted there with a line break may look like a frame (V8 formats the
    // stack lazily, after knex put the bindings in the message)
    stack
      .split('\n')
      .filter((line: string) => /^\s+at /.test(line) && !message.includes(line))
      .map((line: string) => `\n${line}`)
      .join('')
  )
}

function driverCodeOf(error: any): string | undefined {
  const code = error?.code ?? (error?.name === 'KnexTimeoutError' ? error.name : undefined)
  return typeof code === 'string' && SAFE_CODE.test(code) ? code : undefined
}

function reasonOf(error: any, code: string | undefined): Reason {
  if (code && CONNECTION_CODES.has(code)) return 'connection'
  if (code?.startsWith('08') || code?.startsWith('SQLITE_IOERR')) return 'connection'
  if (code && TIMEOUT_CODES.has(code)) return 'timeout'
  if (error?.name === 'KnexTimeoutError') return 'timeout'
  const message = typeof error?.message === 'string' ? error.message : ''
  if (!code && CONNECTION_MESSAGE.test(message)) return 'connection'
  if (!code && TIMEOUT_MESSAGE.test(message)) return 'timeout'
  return 'query'
}

/**
 * The repository as the store sees it: the same methods, each rejecting
 * with E_SESSION_STORE_UNAVAILABLE instead of the driver's error. A proxy,
 * so statements added to the repository are covered without a list here.
 * Maintenance services and `StoredSessions` wrap their statements the same
 * way, naming themselves as the `operation`.
 */
export function guardRepository<Repository extends object>(
  repository: Repository,
  operation?: Operation
): Repository {
  return new Proxy(repository, {
    get(target, property) {
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        let result: unknown
        try {
          result = value.apply(target, args)
        } catch (error) {
          throw toStoreUnavailable(error, operation)
        }
        return result instanceof Promise
          ? result.catch((error) => {
              throw toStoreUnavailable(error, operation)
            })
          : result
      }
    },
  })
}

/**
 * Wraps a request's store with the failure policy. One instance per
 * request, like the store it wraps.
 */
export class FailsafeStore implements SessionStoreWithTaggingContract {
  #store: SessionStoreWithTaggingContract
  #policy: OnErrorPolicy
  #events: SessionEvents
  #timeout: number

  /**
   * Set when this request's read failed and it went on with an empty
   * session: from then on nothing of this request reaches the database.
   */
  #detached = false

  constructor(
    store: SessionStoreWithTaggingContract,
    policy: OnErrorPolicy,
    events: SessionEvents,
    timeout: number
  ) {
    this.#store = store
    this.#policy = policy
    this.#events = events
    this.#timeout = timeout
  }

  async read(sessionId: string): Promise<SessionData | null> {
    try {
      return await this.#bounded(() => this.#store.read(sessionId))
    } catch (error) {
      this.#recover('read', sessionId, error)
      this.#detached = true
      return null
    }
  }

  async write(sessionId: string, values: SessionData): Promise<void> {
    if (this.#skipped('write')) return
    try {
      await this.#bounded(() => this.#store.write(sessionId, values))
    } catch (error) {
      this.#recover('write', sessionId, error)
    }
  }

  async touch(sessionId: string): Promise<void> {
    if (this.#skipped('touch')) return
    try {
      await this.#bounded(() => this.#store.touch(sessionId))
    } catch (error) {
      this.#recover('touch', sessionId, error)
    }
  }

  async destroy(sessionId: string): Promise<void> {
    if (this.#skipped('destroy')) return
    try {
      await this.#bounded(() => this.#store.destroy(sessionId))
    } catch (error) {
      throw this.#raise('destroy', sessionId, error)
    }
  }

  async tag(sessionId: string, userId: string | number): Promise<void> {
    if (this.#skipped('tag')) return
    try {
      await this.#bounded(() => this.#store.tag(sessionId, userId))
    } catch (error) {
      this.#recover('tag', sessionId, error)
    }
  }

  async untag(sessionId: string, userId: string | number): Promise<void> {
    if (this.#skipped('untag')) return
    try {
      await this.#bounded(() => this.#store.untag(sessionId, userId))
    } catch (error) {
      this.#recover('untag', sessionId, error)
    }
  }

  async tagged(userId: string | number): Promise<TaggedSession[]> {
    try {
      return await this.#bounded(() => this.#store.tagged(userId))
    } catch (error) {
      throw this.#raise('tagged', null, error)
    }
  }

  #bounded<Result>(operation: () => Result | Promise<Result>): Promise<Result> {
    return new Deadline(this.#timeout).run(async () => operation())
  }

  #skipped(operation: Operation): boolean {
    if (this.#detached) debug('%s skipped: this request runs on an unsaved session', operation)
    return this.#detached
  }

  /**
   * Returns when the policy lets the request continue; throws otherwise,
   * and for any error that is not a database failure.
   */
  #recover(operation: Operation, sessionId: string, error: unknown): void {
    if (!(error instanceof E_SESSION_STORE_UNAVAILABLE)) throw error
    error.operation = operation
    const decision = typeof this.#policy === 'function' ? this.#policy(error) : this.#policy
    const outcome = decision === 'continue' ? 'continued' : 'raised'
    this.#report(error, sessionId, outcome)
    if (outcome === 'raised') throw error
  }

  #raise(operation: Operation, sessionId: string | null, error: unknown): unknown {
    if (!(error instanceof E_SESSION_STORE_UNAVAILABLE)) return error
    error.operation = operation
    this.#report(error, sessionId, 'raised')
    return error
  }

  #report(
    error: E_SESSION_STORE_UNAVAILABLE,
    sessionId: string | null,
    outcome: 'raised' | 'continued'
  ) {
    const hashedId = hashedIdOf(sessionId)
    debug(
      '%s %s failed (%s %s): %s',
      error.operation,
      hashedId ? shortHash(hashedId) : '-',
      error.reason,
      error.driverCode ?? '',
      outcome
    )
    this.#events.emit('stored_session:error', () => ({
      hashedId,
      operation: error.operation!,
      reason: error.reason,
      driverCode: error.driverCode ?? null,
      outcome,
    }))
  }
}

function hashedIdOf(sessionId: string | null): string | null {
  if (isValidSessionId(sessionId)) return hashSessionId(sessionId)
  return isSessionHash(sessionId) ? sessionId : null
}
