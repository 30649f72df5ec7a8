import { createError, Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'

/**
 * The packed session is larger than `maxPayloadSize`. Nothing was written:
 * the stored session keeps its previous contents.
 */
export const E_SESSION_OVERFLOW = createError<[size: number, limit: number, largestKey: string]>(
  'Session payload of %d bytes exceeds the maxPayloadSize of %d bytes (largest key: "%s"). Nothing was written',
  'E_SESSION_OVERFLOW',
  500
)

/**
 * A session value MessagePack cannot store faithfully (a function, a symbol,
 * a BigInt...). Nothing was written.
 */
export const E_SESSION_UNSERIALIZABLE = createError<[key: string, reason: string]>(
  'Session value under key "%s" cannot be stored: %s. Nothing was written',
  'E_SESSION_UNSERIALIZABLE',
  500
)

/**
 * The store was asked to write under an id that is not a session id the
 * framework generates. The id itself is never part of the message.
 */
export const E_INVALID_SESSION_ID = createError(
  'Refusing to write a session under a malformed session id (expected 16 to 128 characters of A-Z, a-z, 0-9, "_" or "-")',
  'E_INVALID_SESSION_ID',
  400
)

/**
 * Too many concurrent requests were changing the same session: the write
 * could not be merged within the retry budget, or the session already had
 * `mergeQueueLimit` merges waiting in this process. Nothing of this
 * request was written.
 */
export const E_SESSION_WRITE_CONFLICT = createError<[reason: string]>(
  'Session is being changed by too many concurrent requests (%s); giving up. Nothing was written',
  'E_SESSION_WRITE_CONFLICT',
  409
)

/**
 * What E_SESSION_STORE_UNAVAILABLE keeps, as its `cause`, of the error a
 * database driver threw: its class name (as `name`), `code`, `errno` and
 * SQLSTATE, and the stack frames where it was thrown. Not its message, nor
 * fields such as pg's `detail` or mysql2's `sql`: knex prefixes the
 * message with the statement and its bindings interpolated (the hashed id,
 * the sealed payload, the IP, the user agent), which an app logging
 * `{ err }` would print.
 */
export class StoreDriverError extends Error {
  constructor(
    name: string,
    readonly code: string | undefined,
    readonly errno: number | undefined,
    readonly sqlState: string | undefined,
    frames: string
  ) {
    const detail = [code, sqlState && sqlState !== code ? `SQLSTATE ${sqlState}` : undefined]
    super(
      `${detail.filter(Boolean).join(', ') || 'no code'}; driver message withheld, as it quotes the statement with its bindings`
    )
    this.name = name
    this.stack = `${name}: ${this.message}${frames}`
  }
}

/**
 * What a 503 tells clients to wait before retrying: about what a pool takes
 * to reconnect after a database restart or failover.
 */
const RETRY_AFTER_SECONDS = 5

/**
 * The sessions database failed while serving a session (connection refused
 * or lost, pool or statement timeout, a statement it rejected). Rendered as
 * a 503 carrying only this message. What is safe of the driver's error
 * (its class, code and stack frames, see StoreDriverError) stays on `cause`
 * for code that catches it or logs it.
 */
// eslint-disable-next-line @typescript-eslint/naming-convention -- caught by name like every E_ error
export class E_SESSION_STORE_UNAVAILABLE extends Exception {
  static status = 503
  static code = 'E_SESSION_STORE_UNAVAILABLE'

  /**
   * What failed: a request's session operation (set by the failsafe once it
   * knows), or the `StoredSessions` / maintenance service that ran the
   * statement.
   */
  operation?:
    | 'read'
    | 'write'
    | 'touch'
    | 'destroy'
    | 'tag'
    | 'untag'
    | 'tagged'
    | 'devices'
    | 'revoke'
    | 'trim'
    | 'rotate'
    | 'stats'
    | 'import'
    | 'convert'

  constructor(
    readonly reason: 'connection' | 'timeout' | 'query',
    readonly driverCode: string | undefined,
    options?: ErrorOptions
  ) {
    const what = {
      connection: 'the database connection failed',
      timeout: 'the database did not answer in time',
      query: 'the database rejected a statement',
    }[reason]
    super(`Session store is unavailable: ${what}${driverCode ? ` (${driverCode})` : ''}`, options)
  }

  /**
   * Self-rendered, so neither a debug page nor a JSON dump of the error
   * shows the driver error kept on `cause`.
   */
  handle(error: this, ctx: HttpContext) {
    const { message, code, status } = error
    ctx.response.header('Retry-After', String(RETRY_AFTER_SECONDS))
    switch (ctx.request.accepts(['html', 'application/vnd.api+json', 'json'])) {
      case 'application/vnd.api+json':
        return ctx.response.status(status).send({ errors: [{ title: message, code, status }] })
      case 'json':
        return ctx.response.status(status).send({ message, code })
      default:
        return ctx.response.status(status).send(`<p> ${message} </p>`)
    }
  }

  /**
   * Self-reported, for the same reason: the log line carries what failed,
   * never the driver error.
   */
  report(error: this, ctx: HttpContext) {
    const { code, operation, reason, driverCode } = error
    ctx.logger.error({ code, operation, reason, driverCode }, error.message)
  }
}

/**
 * The store's configuration in `config/session.ts` is invalid.
 */
export const E_INVALID_STORED_SESSION_CONFIG = createError<[reason: string]>(
  'Invalid "stored" session store config: %s',
  'E_INVALID_STORED_SESSION_CONFIG',
  500
)

/**
 * `node ace configure stored-session` found the app in a shape it cannot
 * edit safely. Nothing was written.
 */
export const E_CANNOT_CONFIGURE = createError<[reason: string]>(
  'Cannot configure stored-session: %s. Nothing was changed',
  'E_CANNOT_CONFIGURE',
  500
)

/**
 * A maintenance service or command was given an option it cannot use
 * (a batch size out of range, `--all` without confirmation...).
 */
export const E_INVALID_MAINTENANCE_OPTION = createError<[option: string, reason: string]>(
  'Invalid %s: %s',
  'E_INVALID_MAINTENANCE_OPTION',
  400
)
