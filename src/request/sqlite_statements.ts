import type { Knex } from 'knex'
import { Deadline } from './deadline.ts'

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
interface Statement {
  get(...bindings: unknown[]): unknown
  run(...bindings: unknown[]): { changes: number }
}
const statements = new WeakMap<object, Map<string, Statement>>()

/**
 * One row (or undefined) of a SELECT.
 */
export function sqliteGet(
  knex: Knex,
  sql: string,
  bindings: unknown[],
  held?: SqliteConnection
): Promise<Record<string, unknown> | undefined> {
  return withStatement(
    knex,
    sql,
    bindings,
    (statement, values) => statement.get(...values) as any,
    held
  )
}

/**
 * An UPDATE / INSERT / DELETE; resolves to better-sqlite3's run result
 * (`changes`), the shape knex's raw() resolves to on SQLite.
 */
export function sqliteRun(knex: Knex, sql: string, bindings: unknown[], held?: SqliteConnection) {
  return withStatement(knex, sql, bindings, (statement, values) => statement.run(...values), held)
}

/**
 * Runs a statement on `held` (the connection of sqliteImmediate()'s work),
 * else on a connection taken from knex's pool for it.
 */
async function withStatement<Result>(
  knex: Knex,
  sql: string,
  bindings: unknown[],
  execute: (statement: Statement, values: unknown[]) => Result,
  held?: SqliteConnection
): Promise<Result> {
  const client = knex.client as any
  const connection = held ?? (await client.acquireConnection())
  try {
    let prepared = statements.get(connection)
    if (!prepared) statements.set(connection, (prepared = new Map()))
    let statement = prepared.get(sql)
    if (!statement) prepared.set(sql, (statement = connection.prepare(sql) as Statement))
    client.emit('query', {
      __knexUid: connection.__knexUid,
      method: 'raw',
      sql,
      bindings,
      options: {},
    })
    const values = bindings.map(toSqliteValue)
    return await retryWhenBusy(() => execute(statement, values))
  } finally {
    if (!held) await client.releaseConnection(connection)
  }
}

/**
 * A better-sqlite3 connection (`Database`), as knex's pool hands it out.
 */
export interface SqliteConnection {
  prepare(sql: string): unknown
  exec(sql: string): unknown
  readonly inTransaction: boolean
}

/**
 * Runs `work` on one connection of knex's pool inside `BEGIN IMMEDIATE`,
 * which takes SQLite's write lock on the file before the first statement
 * (waiting for it up to the busy timeout, better-sqlite3's 5 s by
 * default): no other process can write between the statements of `work`,
 * so a re-read and the update after it cannot lose to another process's
 * write. Commits when `work` resolves; rolls back when it or the commit
 * fails, so the connection goes back to the pool with no transaction open.
 */
export async function sqliteImmediate<Result>(
  knex: Knex,
  work: (connection: SqliteConnection) => Promise<Result>
): Promise<Result> {
  const client = knex.client as any
  const connection: SqliteConnection = await client.acquireConnection()
  try {
    await retryWhenBusy(() => control(client, connection, 'begin immediate'))
    const result = await work(connection)
    await retryWhenBusy(() => control(client, connection, 'commit'))
    return result
  } finally {
    try {
      if (connection.inTransaction) control(client, connection, 'rollback')
    } finally {
      await client.releaseConnection(connection)
    }
  }
}

/**
 * A transaction statement, reported to knex `query` listeners as knex
 * reports its own BEGIN and COMMIT.
 */
function control(client: any, connection: SqliteConnection, sql: string) {
  client.emit('query', {
    __knexUid: (connection as any).__knexUid,
    method: 'raw',
    sql,
    bindings: [],
    options: {},
  })
  connection.exec(sql)
}

/**
 * Bindings as knex's better-sqlite3 client converts them: Dates as epoch
 * milliseconds, booleans as 0 / 1.
 */
function toSqliteValue(value: unknown): unknown {
  if (value instanceof Date) return value.valueOf()
  if (typeof value === 'boolean') return Number(value)
  return value
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

/**
 * How often a statement that met SQLITE_BUSY is tried again, waiting 1, 2,
 * 4... ms (at most 50) in between: about a third of a second in all.
 */
const BUSY_ATTEMPTS = 12

/**
 * Runs a statement again while SQLite answers SQLITE_BUSY without waiting
 * for its busy timeout, which it does when waiting could deadlock: two
 * processes writing the same file in its default journal mode, one holding
 * the read lock it wants to promote while the other commits (in WAL mode,
 * SQLITE_BUSY_SNAPSHOT). The statement did nothing, so running it again
 * is safe, and the other writer is done within milliseconds.
 *
 * Not once the store operation's `timeout` has passed: a file locked for
 * longer (another process holding a write transaction) makes each attempt
 * block for the connection's busy timeout, synchronously, so retrying
 * would hold the whole process that many times over.
 */
export async function retryWhenBusy<Result>(run: () => Result | Promise<Result>): Promise<Result> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (error: any) {
      const busy = typeof error?.code === 'string' && error.code.startsWith('SQLITE_BUSY')
      if (!busy || attempt >= BUSY_ATTEMPTS || Deadline.current()?.passed) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(2 ** (attempt - 1), 50)))
    }
  }
}
