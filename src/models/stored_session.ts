import { DateTime } from 'luxon'
import { BaseModel, beforeFetch, beforeFind, beforePaginate, column } from '@adonisjs/lucid/orm'
import type { LucidRow, ModelQueryBuilderContract } from '@adonisjs/lucid/types/model'
import { toMillis } from '../request/repository.ts'
import { utcBinding } from '../request/utc_times.ts'

/**
 * Timestamps come back as Date, epoch milliseconds (SQLite) or strings,
 * depending on the dialect. On MySQL they are UTC wall times, written and
 * read as such whatever the process's zone (see utc_times.ts).
 */
const timestamp = {
  consume: (value: unknown) =>
    value === null || value === undefined ? value : DateTime.fromMillis(toMillis(value)),
  prepare: (value: DateTime | null | undefined, _attribute: string, row: LucidRow) => {
    if (!value) return value
    const date = value.toJSDate()
    return isMysql(clientOf(row)) ? utcBinding(date) : date
  },
}

function clientOf(row: LucidRow) {
  return (row.constructor as typeof StoredSession).$adapter.modelClient(row)
}

function isMysql(client: { dialect: { name: string } }) {
  return client.dialect.name === 'mysql'
}

type Query = ModelQueryBuilderContract<typeof StoredSession>

/**
 * mysql2 reads DATETIMEs in the process's zone unless told otherwise,
 * per statement.
 */
function readTimesAsUtc(query: Query) {
  if (isMysql(query.client)) query.knexQuery.options({ timezone: 'Z' })
}

/**
 * A row of the sessions table, for application queries: listing a user's
 * sessions, admin screens, reports. The `data` column is encrypted and
 * bound to the id; read sessions through the store, not through this model.
 * `storedSession()` points it at the store's table and connection.
 * `user_id` holds `storedUserId(id)` (the id itself unless it is long);
 * on MySQL the column's collation ignores case, so compare the result if
 * your ids can differ in case alone. `StoredSessions.devices()` does both.
 *
 * @example
 * const sessions = await StoredSession.query().where('user_id', storedUserId(user.id))
 */
export class StoredSession extends BaseModel {
  /** The store's `table` and `connection` are applied by `storedSession()`. */
  static table = 'stored_sessions'

  /** SHA-256 (hex) of the session id; the id itself is never stored. */
  @column({ isPrimary: true })
  declare id: string

  /** Encrypted MessagePack payload. */
  @column({ serializeAs: null })
  declare data: Buffer

  @column()
  declare version: number

  @column()
  declare userId: string | null

  @column()
  declare ipAddress: string | null

  @column()
  declare userAgent: string | null

  @column.dateTime(timestamp)
  declare createdAt: DateTime

  @column.dateTime(timestamp)
  declare updatedAt: DateTime

  @column.dateTime(timestamp)
  declare expiresAt: DateTime

  @beforeFind()
  @beforeFetch()
  static utcTimes(query: Query) {
    readTimesAsUtc(query)
  }

  @beforePaginate()
  static utcTimesOfPage([countQuery, query]: [Query, Query]) {
    readTimesAsUtc(countQuery)
    readTimesAsUtc(query)
  }
}
