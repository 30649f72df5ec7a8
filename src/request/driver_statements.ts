import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import { READ_AS_UTC, utcBinding } from './utc_times.ts'

/**
 * The statements every request makes (find, insert, update, touch), run on
 * the `pg` or `mysql2` connection itself instead of through knex's query
 * machinery (builder, runner, binding formatting, events), which costs the
 * app more CPU than the database round trip. The connection still comes
 * from knex's pool and goes back to it, inside a transaction it is the
 * transaction's own, and knex `query` listeners hear of each statement as
 * knex would tell them. Results keep the shape `knex.raw()` resolves to.
 *
 * Prepared statements: mysql2's `execute` (prepared once per connection,
 * cached by mysql2) and, on PostgreSQL, statements named after their text.
 * A pooler in transaction mode (PgBouncer before 1.21) hands each
 * transaction another server connection, where the name is unknown
 * (26000) or, parsed by another client, already taken (42P05): the
 * statement then runs again unnamed, as does every later statement of that
 * pool. The statement did not run, so running it again is safe; inside a
 * transaction, where the error has aborted everything, statements are never
 * named.
 */

export type DriverDialect = 'pg' | 'mysql'

/**
 * Pools (knex clients) on which a named statement failed as described
 * above, or whose config turned naming off.
 */
const unnamedPools = new WeakSet<object>()

/** SQLSTATEs of a named statement a pooler lost or another client parsed. */
const LOST_STATEMENT_CODES = new Set(['26000', '42P05'])

/**
 * Runs `sql` (`?` placeholders, identifiers already quoted) with
 * `bindings`. Resolves as `knex.raw()` would: pg's result, or mysql2's
 * `[rows, fields]`.
 */
export async function driverQuery(
  knex: Knex,
  dialect: DriverDialect,
  sql: string,
  bindings: unknown[]
): Promise<any> {
  const client = knex.client as any
  const connection = await client.acquireConnection()
  try {
    if (connection.__knex__disposed) throw connection.__knex__disposed
    client.emit('query', {
      __knexUid: connection.__knexUid,
      __knexTxId: connection.__knexTxId,
      method: 'raw',
      sql,
      bindings,
      options: {},
    })
    if (dialect === 'mysql') return await mysqlExecute(connection, sql, bindings)
    const statement = pgStatementOf(sql)
    const inTransaction = connection.__knexTxId !== undefined || Boolean(knex.isTransaction)
    if (inTransaction || unnamedPools.has(client)) {
      return await pgQuery(connection, { text: statement.text, values: bindings })
    }
    try {
      return await pgQuery(connection, { ...statement, values: bindings })
    } catch (error: any) {
      if (!LOST_STATEMENT_CODES.has(error?.code)) throw error
      unnamedPools.add(client)
      return await pgQuery(connection, { text: statement.text, values: bindings })
    }
  } finally {
    await client.releaseConnection(connection)
  }
}

/**
 * Whether statements on this pool are still named (false once a pooler
 * turned them off): for tests and diagnostics.
 */
export function namesStatements(knex: Knex): boolean {
  return !unnamedPools.has(knex.client)
}

interface PgStatement {
  name: string
  text: string
}
const pgStatements = new Map<string, PgStatement>()

/**
 * The PostgreSQL text of a `?` statement (`$1`, `$2`...) and its name,
 * derived from the text so that two texts never share one name, on a
 * connection or across the clients a pooler mixes.
 */
function pgStatementOf(sql: string): PgStatement {
  let statement = pgStatements.get(sql)
  if (!statement) {
    let index = 0
    const text = sql.replace(/\?/g, () => `$${++index}`)
    const name = `stored_session_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`
    statement = { name, text }
    pgStatements.set(sql, statement)
  }
  return statement
}

function pgQuery(connection: any, query: { name?: string; text: string; values: unknown[] }) {
  return new Promise((resolve, reject) => {
    connection.query(query, (error: unknown, result: unknown) =>
      error ? reject(error) : resolve(result)
    )
  })
}

/**
 * Times are bound and read as UTC wall times (see utc_times.ts).
 */
function mysqlExecute(connection: any, sql: string, bindings: unknown[]) {
  return new Promise((resolve, reject) => {
    connection.execute(
      { sql, ...READ_AS_UTC },
      bindings.map((value) => utcBinding(value as Knex.RawBinding)),
      (error: unknown, rows: unknown, fields: unknown) =>
        error ? reject(error) : resolve([rows, fields])
    )
  })
}

/**
 * A table name (optionally schema-qualified, already validated as plain
 * identifiers by the config) quoted as knex's `??` would.
 */
export function quoteTable(dialect: DriverDialect | 'sqlite', table: string): string {
  const quote = dialect === 'mysql' ? '`' : '"'
  return table
    .split('.')
    .map((part) => `${quote}${part}${quote}`)
    .join('.')
}
