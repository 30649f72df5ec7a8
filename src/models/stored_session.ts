import { DateTime } from 'luxon'
import { BaseModel, column } from '@adonisjs/lucid/orm'
import { toMillis } from '../repository.ts'

/**
 * Timestamps come back as Date, epoch milliseconds (SQLite) or strings,
 * depending on the dialect.
 */
const timestamp = {
  consume: (value: unknown) =>
    value === null || value === undefined ? value : DateTime.fromMillis(toMillis(value)),
  prepare: (value: DateTime | null | undefined) => (value ? value.toJSDate() : value),
}

/**
 * A row of the sessions table, for application queries: listing a user's
 * sessions, admin screens, reports. The `data` column is encrypted and
 * bound to the id; read sessions through the store, not through this model.
 * `storedSession()` points it at the store's table and connection.
 *
 * @example
 * const sessions = await StoredSession.query().where('user_id', user.id)
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
}
