import type { Knex } from 'knex'

/**
 * Stored times mean the same instant whatever the time zone of the app
 * process, of the CLI running `sessions:*`, and of the database session.
 *
 * PostgreSQL's `timestamptz` and SQLite's epoch milliseconds (knex binds
 * Dates as numbers there) are zone-free already. MySQL's DATETIME is a wall
 * time with no zone, and mysql2 turns Dates into wall times (and back) in
 * the process's local zone: a session written by a process in New York read
 * as expired in Tokyo, and the local hour that repeats when daylight saving
 * time ends made two instants one. So on MySQL the store writes UTC wall
 * times itself, as strings (mysql2 quotes them as they are, and the server
 * stores a DATETIME literal without converting it, whatever its
 * `time_zone`), and asks mysql2 to read DATETIMEs as UTC, per statement:
 * the connection's `timezone` option belongs to the app.
 */
export function utcRaw(
  knex: Knex,
  dialect: 'pg' | 'mysql' | 'sqlite',
  sql: string,
  bindings: readonly Knex.RawBinding[]
): Knex.Raw {
  if (dialect !== 'mysql') return knex.raw(sql, bindings as Knex.RawBinding[])
  return knex.raw(sql, bindings.map(utcBinding)).options(READ_AS_UTC)
}

/** mysql2's per-statement option: DATETIMEs read as UTC wall times. */
export const READ_AS_UTC = { timezone: 'Z' }

/**
 * A Date as the UTC wall time MySQL stores in a DATETIME(3):
 * `2026-11-01 05:30:00.000`. Anything else is bound as it is.
 */
export function utcBinding(value: Knex.RawBinding): Knex.RawBinding {
  return value instanceof Date ? value.toISOString().slice(0, 23).replace('T', ' ') : value
}
