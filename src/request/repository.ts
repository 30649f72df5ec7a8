import type { Knex } from 'knex'
import type { ClientMetadata, StoredSessionRow } from '../types.ts'
import {
  quoteSqliteTable,
  retryWhenBusy,
  sqliteGet,
  sqliteImmediate,
  sqliteRun,
  type SqliteConnection,
} from './sqlite_statements.ts'
import { driverQuery, quoteTable } from './driver_statements.ts'
import { utcRaw } from './utc_times.ts'
import { retryOnCertificationFailure } from './certification_retry.ts'
import { userIdIs } from './user_id.ts'

type Dialect = 'pg' | 'mysql' | 'sqlite'

/**
 * Every SQL statement the store issues, one method each. Statements go to
 * the connection's knex instance directly rather than through Lucid's query
 * builders: no model hydration on the hot path, and Lucid's query reporter
 * (`debug: true`, `db:query`) never sees session ids or payload bindings.
 *
 * Reads use the write connection too: a session read from a lagging replica
 * would resurrect what was just destroyed.
 */
export class SessionRepository {
  readonly dialect: Dialect
  #knex: Knex
  #table: string

  /**
   * SQLite: the connection `serialized()` holds in its transaction, on
   * which every statement of this repository then runs.
   */
  #held?: SqliteConnection

  constructor(knex: Knex, table: string, held?: SqliteConnection) {
    this.#knex = knex
    this.#table = table
    this.#held = held
    this.dialect = dialectOf(knex)
  }

  /**
   * One row by its hash. With `forUpdate` inside `serialized()`, PostgreSQL
   * and MySQL lock the row until the transaction ends.
   */
  async find(hash: string, forUpdate = false): Promise<StoredSessionRow | null> {
    // SQLite has no row locks: serialized() holds the write lock of the file.
    const lock = forUpdate && this.dialect !== 'sqlite' ? ' for update' : ''
    const rows = this.#rows(
      await this.#hot(
        `select id, data, version, user_id, created_at, updated_at, expires_at from ?? where id = ?${lock}`,
        [this.#table, hash]
      )
    )
    return rows.length ? toRow(rows[0]) : null
  }

  /**
   * Runs `work` with a repository whose `find(hash, true)` holds the row
   * against other writers, in this process and in others, until `work`
   * settles: a transaction on PostgreSQL and MySQL (the row lock), a
   * `BEGIN IMMEDIATE` transaction on SQLite (the file's write lock). On
   * SQLite one `work` of this process runs at a time too: a second
   * connection of the process waiting for the lock would block the event
   * loop that the first one needs to finish.
   */
  async serialized<Result>(work: (repository: SessionRepository) => Promise<Result>) {
    if (this.dialect === 'sqlite') {
      return oneAtATime(this.#knex, () =>
        sqliteImmediate(this.#knex, (held) =>
          work(new SessionRepository(this.#knex, this.#table, held))
        )
      )
    }
    // On Galera the lock is the local node's only: a write on another node
    // fails the transaction at COMMIT, and `work` runs again from its re-read
    return retryOnCertificationFailure(() =>
      this.#knex.transaction((trx) => work(new SessionRepository(trx, this.#table)))
    )
  }

  /**
   * Inserts a new row. Returns false, writing nothing, when a row already
   * holds this id (an expired or unreadable one, or one a concurrent request
   * just created): the caller decides what to do with it.
   */
  async insert(row: {
    id: string
    data: Buffer
    version: number
    userId: string | null
    meta?: ClientMetadata
    now: Date
    expiresAt: Date
  }): Promise<boolean> {
    // PostgreSQL aborts a whole transaction on a duplicate key error, and
    // inserts run inside `serialized()` too: there, let the statement skip.
    const skipDuplicate = this.dialect === 'pg' ? ' on conflict (id) do nothing' : ''
    try {
      const result = await this.#hot(
        `insert into ?? (id, data, version, user_id, ip_address, user_agent, created_at, updated_at, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)${skipDuplicate}`,
        [
          this.#table,
          row.id,
          row.data,
          row.version,
          row.userId,
          row.meta?.ipAddress ?? null,
          row.meta?.userAgent ?? null,
          row.now,
          row.now,
          row.expiresAt,
        ]
      )
      return this.#affected(result) > 0
    } catch (error) {
      if (isDuplicateKey(error)) return false
      throw error
    }
  }

  /**
   * Replaces the data of a row only if nobody wrote it since `version` was
   * read. Returns false on a version conflict (or a row that is gone).
   */
  async update(
    hash: string,
    version: number,
    changes: {
      data: Buffer
      userId?: string | null
      meta?: ClientMetadata
      now: Date
      expiresAt: Date
    }
  ): Promise<boolean> {
    const sets = ['data = ?', 'version = version + 1', 'updated_at = ?', 'expires_at = ?']
    const bindings: Knex.RawBinding[] = [this.#table, changes.data, changes.now, changes.expiresAt]
    if (changes.userId !== undefined) {
      sets.push('user_id = ?')
      bindings.push(changes.userId)
    }
    this.#setMetadata(sets, bindings, changes.meta)
    bindings.push(hash, version)
    const sql = `update ?? set ${sets.join(', ')} where id = ? and version = ?`
    return this.#affected(await this.#hot(sql, bindings)) > 0
  }

  /**
   * Takes over an expired or unreadable row as a brand new session (fresh
   * `created_at`), again only if its version is still the one seen.
   */
  async replace(
    hash: string,
    version: number,
    row: { data: Buffer; userId: string | null; meta?: ClientMetadata; now: Date; expiresAt: Date }
  ): Promise<boolean> {
    const sets = [
      'data = ?',
      'version = version + 1',
      'user_id = ?',
      'created_at = ?',
      'updated_at = ?',
      'expires_at = ?',
    ]
    const bindings: Knex.RawBinding[] = [
      this.#table,
      row.data,
      row.userId,
      row.now,
      row.now,
      row.expiresAt,
    ]
    this.#setMetadata(sets, bindings, row.meta)
    bindings.push(hash, version)
    const sql = `update ?? set ${sets.join(', ')} where id = ? and version = ?`
    return this.#affected(await this.#hot(sql, bindings)) > 0
  }

  /**
   * Refreshes the idle expiry (and the client metadata, when recorded):
   * the only write a request that changed nothing makes. `correction`
   * sets a `user_id` that disagrees with the signed-in user this request
   * read, only while the row is still at the version it read: a write in
   * between may have signed another user in, and set `user_id` itself.
   */
  async touch(
    hash: string,
    now: Date,
    expiresAt: Date,
    meta?: ClientMetadata,
    correction?: { userId: string; version: number }
  ): Promise<boolean> {
    const sets = ['updated_at = ?', 'expires_at = ?']
    const bindings: Knex.RawBinding[] = [this.#table, now, expiresAt]
    if (correction) {
      sets.push('user_id = ?')
      bindings.push(correction.userId)
    }
    this.#setMetadata(sets, bindings, meta)
    bindings.push(hash)
    if (correction) bindings.push(correction.version)
    const sql = `update ?? set ${sets.join(', ')} where id = ?${correction ? ' and version = ?' : ''}`
    return this.#affected(await this.#hot(sql, bindings)) > 0
  }

  /**
   * Runs one of the statements a request makes (find, insert, update,
   * touch); the table is the first binding (`??`). They skip knex's query
   * machinery: prepared statements on the driver's own connection, taken
   * from knex's pool (see sqlite_statements.ts and driver_statements.ts).
   * Outside `serialized()` they run again after a Galera certification
   * failure or a deadlock, as `#raw` does.
   */
  #hot(sql: string, bindings: Knex.RawBinding[]): Promise<any> {
    const [table, ...values] = bindings as [string, ...unknown[]]
    const text = hotSql(this.dialect, table, sql)
    if (this.dialect === 'sqlite') {
      return sql.startsWith('select')
        ? sqliteGet(this.#knex, text, values, this.#held).then((row) => (row ? [row] : []))
        : sqliteRun(this.#knex, text, values, this.#held)
    }
    const dialect = this.dialect
    if (this.#knex.isTransaction) return driverQuery(this.#knex, dialect, text, values)
    return retryOnCertificationFailure(() => driverQuery(this.#knex, dialect, text, values))
  }

  #setMetadata(sets: string[], bindings: Knex.RawBinding[], meta: ClientMetadata | undefined) {
    if (!meta) return
    sets.push('ip_address = ?', 'user_agent = ?')
    bindings.push(meta.ipAddress, meta.userAgent)
  }

  async setUserId(hash: string, userId: string | null): Promise<boolean> {
    const result = await this.#raw('update ?? set user_id = ? where id = ?', [
      this.#table,
      userId,
      hash,
    ])
    return this.#affected(result) > 0
  }

  async delete(hash: string): Promise<boolean> {
    const result = await this.#raw('delete from ?? where id = ?', [this.#table, hash])
    return this.#affected(result) > 0
  }

  /** Deletes a row only while it is at `version`. */
  async deleteAt(hash: string, version: number): Promise<boolean> {
    const result = await this.#raw('delete from ?? where id = ? and version = ?', [
      this.#table,
      hash,
      version,
    ])
    return this.#affected(result) > 0
  }

  /**
   * Live rows of a user: not idle-expired and created after `createdAfter`.
   */
  async findByUser(userId: string, now: Date, createdAfter: Date): Promise<StoredSessionRow[]> {
    const user = userIdIs(this.dialect, userId)
    const rows = this.#rows(
      await this.#raw(
        `select id, data, version, user_id, ip_address, user_agent, location, created_at, updated_at, expires_at from ?? where ${user.sql} and expires_at > ? and created_at > ? order by created_at`,
        [this.#table, ...user.bindings, now, createdAfter]
      )
    )
    return rows.map(toRow)
  }

  /**
   * Deletes one session, only if it belongs to `userId`.
   */
  async deleteForUser(hash: string, userId: string): Promise<boolean> {
    const user = userIdIs(this.dialect, userId)
    const result = await this.#raw(`delete from ?? where id = ? and ${user.sql}`, [
      this.#table,
      hash,
      ...user.bindings,
    ])
    return this.#affected(result) > 0
  }

  /**
   * Deletes every session of `userId` but the one stored under `keepHash`
   * (none kept when it is null).
   */
  async deleteOthersForUser(userId: string, keepHash: string | null): Promise<number> {
    const user = userIdIs(this.dialect, userId)
    const result = await this.#raw(`delete from ?? where ${user.sql} and id <> ?`, [
      this.#table,
      ...user.bindings,
      keepHash ?? '',
    ])
    return this.#affected(result)
  }

  /**
   * `knex.raw()`, with times bound and read as UTC (see utc_times.ts); on
   * SQLite, tried again while another process's write makes SQLite answer
   * SQLITE_BUSY at once (see retryWhenBusy). Elsewhere a statement of its
   * own (not inside `serialized()`) runs again after a Galera certification
   * failure or a deadlock (see certification_retry.ts).
   */
  #raw(sql: string, bindings: Knex.RawBinding[]): Promise<any> {
    if (this.dialect === 'sqlite') {
      const held = this.#held
      return retryWhenBusy(() =>
        held ? this.#knex.raw(sql, bindings).connection(held) : this.#knex.raw(sql, bindings)
      )
    }
    const dialect = this.dialect
    if (this.#knex.isTransaction) return utcRaw(this.#knex, dialect, sql, bindings) as any
    return retryOnCertificationFailure(() => utcRaw(this.#knex, dialect, sql, bindings))
  }

  #rows(result: unknown): Record<string, unknown>[] {
    return rowsOf(this.dialect, result)
  }

  #affected(result: unknown): number {
    return affectedRowsOf(this.dialect, result)
  }
}

/**
 * A hot statement's text with its table quoted in place of `??`, built once
 * per dialect, table and statement shape.
 */
const hotStatements = new Map<string, string>()
function hotSql(dialect: Dialect, table: string, sql: string): string {
  const key = `${dialect} ${table} ${sql}`
  let text = hotStatements.get(key)
  if (text === undefined) {
    const quoted = dialect === 'sqlite' ? quoteSqliteTable(table) : quoteTable(dialect, table)
    text = sql.replace('??', quoted)
    hotStatements.set(key, text)
  }
  return text
}

/**
 * The rows of a `knex.raw()` select: each driver shapes its result its own way.
 */
export function rowsOf(dialect: Dialect, result: any): Record<string, unknown>[] {
  switch (dialect) {
    case 'pg':
      return result.rows
    case 'mysql':
      return result[0]
    case 'sqlite':
      return result
  }
}

/**
 * How many rows a `knex.raw()` insert, update or delete changed.
 */
export function affectedRowsOf(dialect: Dialect, result: any): number {
  switch (dialect) {
    case 'pg':
      return result.rowCount ?? 0
    case 'mysql':
      return result[0]?.affectedRows ?? 0
    case 'sqlite':
      return result?.changes ?? 0
  }
}

/**
 * The tail of the queue of `serialized()` work per SQLite connection.
 */
const sqliteQueues = new WeakMap<Knex, Promise<unknown>>()

function oneAtATime<Result>(knex: Knex, work: () => Promise<Result>): Promise<Result> {
  const previous = sqliteQueues.get(knex) ?? Promise.resolve()
  const result = previous.then(work, work)
  sqliteQueues.set(
    knex,
    result.catch(() => {})
  )
  return result
}

export function dialectOf(knex: Knex): Dialect {
  const client = String(knex.client.config.client)
  if (client === 'pg' || client === 'postgres' || client === 'postgresql') return 'pg'
  if (client === 'mysql' || client === 'mysql2') return 'mysql'
  if (client === 'better-sqlite3' || client === 'sqlite3' || client === 'sqlite') return 'sqlite'
  throw new Error(`stored-session does not support the "${client}" database client`)
}

function isDuplicateKey(error: any): boolean {
  return (
    error?.code === '23505' ||
    error?.code === 'ER_DUP_ENTRY' ||
    error?.errno === 1062 ||
    error?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    error?.code === 'SQLITE_CONSTRAINT_UNIQUE'
  )
}

/**
 * Timestamps come back as Date (pg, mysql2), epoch milliseconds (knex binds
 * Dates as numbers on SQLite) or, for rows written by other tools, strings.
 */
export function toMillis(value: unknown): number {
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return Number(value)
    const parsed = Date.parse(value.includes('T') || value.endsWith('Z') ? value : `${value}Z`)
    return Number.isNaN(parsed) ? 0 : parsed
  }
  return 0
}

function toRow(row: Record<string, unknown>): StoredSessionRow {
  return {
    id: String(row.id),
    data: row.data as Buffer,
    version: Number(row.version),
    userId: row.user_id === null || row.user_id === undefined ? null : String(row.user_id),
    ipAddress: (row.ip_address as string | null | undefined) ?? null,
    userAgent: (row.user_agent as string | null | undefined) ?? null,
    location: (row.location as string | null | undefined) ?? null,
    createdAt: toMillis(row.created_at),
    updatedAt: toMillis(row.updated_at),
    expiresAt: toMillis(row.expires_at),
  }
}
