import type { Knex } from 'knex'

/**
 * Prepared better-sqlite3 statements, one per SQL text and connection.
 *
 * Knex prepares every statement anew and sends it through its query
 * runner: on SQLite, where the statement itself takes microseconds, that
 * is most of the cost of the read every request makes. The connection
 * still comes from knex's pool and goes back to it, so a transaction that
 * holds it is waited for as with any knex query, and knex `query`
 * listeners hear of the statement as knex would tell them.
 */
const statements = new WeakMap<object, Map<string, { get(...bindings: unknown[]): unknown }>>()

export async function sqliteGet(
  knex: Knex,
  sql: string,
  bindings: unknown[]
): Promise<Record<string, unknown> | undefined> {
  const client = knex.client as any
  const connection = await client.acquireConnection()
  try {
    let prepared = statements.get(connection)
    if (!prepared) statements.set(connection, (prepared = new Map()))
    let statement = prepared.get(sql)
    if (!statement) prepared.set(sql, (statement = connection.prepare(sql)))
    client.emit('query', {
      __knexUid: connection.__knexUid,
      method: 'raw',
      sql,
      bindings,
      options: {},
    })
    return statement!.get(...bindings) as Record<string, unknown> | undefined
  } finally {
    await client.releaseConnection(connection)
  }
}

/**
 * A table name (optionally schema-qualified, already validated as plain
 * identifiers by the config) quoted for SQLite.
 */
export function quoteSqliteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.')
}
