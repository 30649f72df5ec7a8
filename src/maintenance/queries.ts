import type { Knex } from 'knex'
import { utcRaw } from '../request/utc_times.ts'
import {
  isCertificationFailure,
  retryOnCertificationFailure,
} from '../request/certification_retry.ts'
import { affectedRowsOf, dialectOf, rowsOf, toMillis } from '../request/repository.ts'
import type { StoredSessionContext } from '../store_context.ts'
import { guardRepository, type Operation } from '../request/failsafe.ts'
import { userIdIs } from '../request/user_id.ts'

type Dialect = ReturnType<typeof dialectOf>

/**
 * Which rows a batched delete removes. `sql` is a boolean expression over
 * the sessions table, re-checked when a row is deleted, so a row a request
 * refreshed between being picked and being deleted survives.
 */
export interface RowFilter {
  sql: string
  bindings: Knex.RawBinding[]
  /**
   * Pick rows by walking this index instead of the primary key. Only for a
   * filter the index serves (expires_at): rows deleted by a batch are gone
   * from the next one, so no cursor is needed.
   */
  index?: 'expires_at'
  /**
   * Wait for a row a request is writing instead of leaving it for the next
   * run (PostgreSQL's SKIP LOCKED): a revoke has no next run, and a session
   * it skipped would stay signed in.
   */
  waitForLocks?: true
}

export const FILTERS = {
  idleExpired: (now: Date): RowFilter => ({
    sql: 'expires_at <= ?',
    bindings: [now],
    index: 'expires_at',
  }),
  pastLifetime: (createdBefore: Date): RowFilter => ({
    sql: 'created_at <= ?',
    bindings: [createdBefore],
  }),
  expired: (now: Date, createdBefore: Date): RowFilter => ({
    sql: '(expires_at <= ? or created_at <= ?)',
    bindings: [now, createdBefore],
  }),
  user: (dialect: Dialect, userId: string): RowFilter => ({
    ...userIdIs(dialect, userId),
    waitForLocks: true,
  }),
  all: (): RowFilter => ({ sql: '1 = 1', bindings: [], waitForLocks: true }),
}

export interface DeletedBatch {
  /** Rows this statement deleted (never rows another trim deleted). */
  deleted: number
  /** Largest id picked: where the next batch of a primary-key walk starts. */
  lastId: string | null
  /** False once the filter matched nothing more. */
  more: boolean
}

export interface RotationRow {
  id: string
  /** Null for a row already sealed with the current key (not read). */
  data: Buffer | null
  version: number
}

export interface PayloadStats {
  total: number
  live: number
  withUser: number
  distinctUsers: number
  oldestLiveCreatedAt: number | null
  payloadAverage: number
  payloadMax: number
}

/**
 * Certification failures, deadlocks and serialization failures (see
 * certification_retry.ts), and for maintenance also an InnoDB lock wait
 * timeout (1205): the statement was rolled back whole, and a batch has time
 * to wait.
 */
const MAINTENANCE_RETRY = {
  retryable: (error: unknown) =>
    isCertificationFailure(error) || (error as { errno?: unknown })?.errno === 1205,
}

/**
 * The statements of the maintenance services, per dialect where they
 * differ. Every statement is its own short transaction: a batch never
 * holds locks while the next one is prepared, so requests keep being
 * served between (and during) batches.
 */
export class MaintenanceQueries {
  readonly dialect: Dialect
  #knex: Knex
  #table: string

  constructor(knex: Knex, table: string) {
    this.#knex = knex
    this.#table = table
    this.dialect = dialectOf(knex)
  }

  /**
   * The statements of one service, each rejecting with
   * E_SESSION_STORE_UNAVAILABLE (naming `operation`) instead of the
   * driver's error, which quotes the SQL and its bindings.
   */
  static for(
    context: Pick<StoredSessionContext, 'db' | 'connectionName' | 'config'>,
    operation: Operation
  ) {
    return guardRepository(
      new MaintenanceQueries(
        context.db.connection(context.connectionName).getWriteClient(),
        context.config.table
      ),
      operation
    )
  }

  async count(filter: RowFilter): Promise<number> {
    const rows = this.#rows(
      await this.#raw(`select count(*) as n from ?? where ${filter.sql}`, [
        this.#table,
        ...filter.bindings,
      ])
    )
    return Number(rows[0].n)
  }

  /**
   * Deletes up to `limit` rows matching the filter, walking the primary key
   * from `afterId` (or the filter's index).
   *
   * PostgreSQL has no `DELETE ... LIMIT`: it deletes the rows of a
   * sub-select whose rows are locked `FOR UPDATE SKIP LOCKED`, so two
   * concurrent trims split the rows between them instead of waiting on (or
   * deadlocking over) each other, and a row a request is writing is left
   * for the next run; a revoke waits for such a row instead. MySQL deletes along the filter's index with
   * `DELETE ... ORDER BY ... LIMIT`; it cannot LIMIT a sub-select of the
   * table it deletes from, so for a primary-key walk it selects the ids
   * first, then deletes them by primary key (in key order, so two runs lock
   * in the same order) re-checking the filter, as SQLite (a single writer
   * anyway) always does.
   */
  async deleteBatch(
    filter: RowFilter,
    limit: number,
    afterId: string | null
  ): Promise<DeletedBatch> {
    const cursor = filter.index ? null : afterId
    const where = `${filter.sql}${cursor === null ? '' : ' and id > ?'}`
    const whereBindings = [...filter.bindings, ...(cursor === null ? [] : [cursor])]
    const order = filter.index ? filter.index : 'id'

    if (this.dialect === 'pg') {
      // Never `id in (select ...)`: the planner hashes the picked ids and
      // scans the whole table for them, every batch (5x slower at 200k rows,
      // growing with the table). A trim deletes by ctid (3 to 4x faster than
      // by `id = any(...)`); a row updated between the statement's snapshot
      // and its lock has a ctid the snapshot cannot see, so it is left, as
      // a skipped locked row is, for the next run. A revoke has no next
      // run: it deletes by id, which finds the row's newest version.
      const key = filter.waitForLocks ? 'id' : 'ctid'
      const lock = filter.waitForLocks ? 'for update' : 'for update skip locked'
      const returning = filter.index ? '' : ' returning id'
      const result = await this.#retrying(() =>
        this.#raw(
          `delete from ?? where ${key} = any(array(select ${key} from ?? where ${where} order by ${order} limit ? ${lock})) and ${filter.sql}${returning}`,
          [this.#table, this.#table, ...whereBindings, limit, ...filter.bindings]
        )
      )
      if (filter.index) {
        const deleted = this.#affected(result)
        return { deleted, lastId: afterId, more: deleted > 0 }
      }
      const ids: string[] = result.rows.map((row: { id: string }) => row.id)
      return { deleted: ids.length, lastId: maxOf(ids) ?? afterId, more: ids.length > 0 }
    }

    if (this.dialect === 'mysql' && filter.index) {
      // One statement walking the index: no ids go back and forth, and the
      // rows it deletes are gone from the next batch.
      const result = await this.#retrying(() =>
        this.#raw(`delete from ?? where ${filter.sql} order by ${order} limit ?`, [
          this.#table,
          ...filter.bindings,
          limit,
        ])
      )
      const deleted = this.#affected(result)
      return { deleted, lastId: afterId, more: deleted > 0 }
    }

    const picked = this.#rows(
      await this.#raw(`select id from ?? where ${where} order by ${order} limit ?`, [
        this.#table,
        ...whereBindings,
        limit,
      ])
    ).map((row) => String(row.id))
    if (!picked.length) return { deleted: 0, lastId: afterId, more: false }

    // the cursor follows the database's order; the delete locks in key order
    const lastId = picked[picked.length - 1]
    picked.sort()
    const result = await this.#retrying(() =>
      this.#raw(
        `delete from ?? where id in (${picked.map(() => '?').join(', ')}) and ${filter.sql}`,
        [this.#table, ...picked, ...filter.bindings]
      )
    )
    return {
      deleted: this.#affected(result),
      lastId,
      more: picked.length === limit,
    }
  }

  /**
   * The next `limit` rows after `afterId` in primary-key order (keyset
   * pagination: each page costs the same however deep the walk is). The
   * data of rows starting with `skipHeader` stays in the database (null
   * here): a rotation leaves them as they are.
   */
  async rowsAfter(
    afterId: string | null,
    limit: number,
    skipHeader: Buffer | null = null
  ): Promise<RotationRow[]> {
    const head =
      this.dialect === 'pg'
        ? 'substring(data from 1 for ?)'
        : this.dialect === 'mysql'
          ? 'substring(data, 1, ?)'
          : 'substr(data, 1, ?)'
    const data = skipHeader ? `case when ${head} = ? then null else data end as data` : 'data'
    const rows = this.#rows(
      await this.#raw(
        `select id, version, ${data} from ?? ${afterId === null ? '' : 'where id > ?'} order by id limit ?`,
        [
          ...(skipHeader ? [skipHeader.length, skipHeader] : []),
          this.#table,
          ...(afterId === null ? [] : [afterId]),
          limit,
        ]
      )
    )
    return rows.map((row) => ({
      id: String(row.id),
      data: row.data === null ? null : Buffer.from(row.data as Uint8Array),
      version: Number(row.version),
    }))
  }

  /**
   * Replaces the data of rows that no request wrote since they were read
   * (their version is still the one read), in one statement: a join of the
   * table with the new values. Returns how many rows were written; the
   * others were written by a request meanwhile. `updated_at` and
   * `expires_at` are left alone: re-sealing is not activity.
   */
  async replaceData(rows: { id: string; version: number; data: Buffer }[]): Promise<number> {
    if (!rows.length) return 0
    const bindings: Knex.RawBinding[] = [this.#table]
    // the new values as a derived table whose columns are named apart from
    // the table's, so unqualified names below are the table's
    let values: string
    if (this.dialect === 'pg') {
      values = `(values ${rows.map(() => '(?::varchar, ?::integer, ?::bytea)').join(', ')}) as v (new_id, old_version, new_data)`
    } else {
      const selects = rows.map((_, index) =>
        index === 0 ? 'select ? as new_id, ? as old_version, ? as new_data' : 'select ?, ?, ?'
      )
      values = `(${selects.join(' union all ')}) as v`
    }
    for (const row of rows) bindings.push(row.id, row.version, row.data)
    const sql =
      this.dialect === 'mysql'
        ? `update ?? as t join ${values} on t.id = v.new_id and t.version = v.old_version set t.data = v.new_data, t.version = t.version + 1`
        : `update ?? set data = v.new_data, version = version + 1 from ${values} where id = v.new_id and version = v.old_version`
    return this.#affected(await this.#retrying(() => this.#raw(sql, bindings)))
  }

  /**
   * The versions of those of `ids` that have a row.
   */
  async versionsOf(ids: string[]): Promise<Map<string, number>> {
    if (!ids.length) return new Map()
    const rows = this.#rows(
      await this.#raw(`select id, version from ?? where id in (${ids.map(() => '?').join(', ')})`, [
        this.#table,
        ...ids,
      ])
    )
    return new Map(rows.map((row) => [String(row.id), Number(row.version)]))
  }

  /**
   * Inserts imported rows (version 0) in one statement, skipping any whose
   * id has a row by now. Returns how many were inserted, except on MySQL:
   * its skip is an `on duplicate key update` that changes nothing, which
   * mysql2 (connecting with FOUND_ROWS) counts as a row too. (Not `insert
   * ignore`: that would also store a too-long value truncated, with a
   * warning.)
   */
  async insertImported(
    rows: { id: string; data: Buffer; userId: string | null; now: Date; expiresAt: Date }[]
  ): Promise<number> {
    if (!rows.length) return 0
    const bindings: Knex.RawBinding[] = [this.#table]
    for (const row of rows) {
      bindings.push(row.id, row.data, row.userId, row.now, row.now, row.expiresAt)
    }
    const values = rows.map(() => '(?, ?, 0, ?, ?, ?, ?)').join(', ')
    const skip =
      this.dialect === 'mysql' ? ' on duplicate key update id = id' : ' on conflict (id) do nothing'
    const result = await this.#retrying(() =>
      this.#raw(
        `insert into ?? (id, data, version, user_id, created_at, updated_at, expires_at) values ${values}${skip}`,
        bindings
      )
    )
    return this.#affected(result)
  }

  /**
   * Updates an imported row this store has never written (still at the
   * version the import left it at).
   */
  async refreshImported(
    id: string,
    version: number,
    changes: { data: Buffer; userId: string | null; expiresAt: Date }
  ): Promise<boolean> {
    const result = await this.#retrying(() =>
      this.#raw(
        'update ?? set data = ?, user_id = ?, expires_at = ?, version = version + 1 where id = ? and version = ?',
        [this.#table, changes.data, changes.userId, changes.expiresAt, id, version]
      )
    )
    return this.#affected(result) > 0
  }

  async deleteVersion(id: string, version: number): Promise<boolean> {
    const result = await this.#retrying(() =>
      this.#raw('delete from ?? where id = ? and version = ?', [this.#table, id, version])
    )
    return this.#affected(result) > 0
  }

  /**
   * Counts, users and payload sizes in one pass over the table.
   */
  async stats(now: Date, createdAfter: Date, belowId: string | null = null): Promise<PayloadStats> {
    const live = 'expires_at > ? and created_at > ?'
    const length = this.dialect === 'pg' ? 'octet_length(data)' : 'length(data)'
    const rows = this.#rows(
      await this.#raw(
        `select count(*) as total,
          sum(case when ${live} then 1 else 0 end) as live,
          sum(case when ${live} and user_id is not null then 1 else 0 end) as with_user,
          count(distinct case when ${live} then user_id end) as distinct_users,
          min(case when ${live} then created_at end) as oldest,
          avg(${length}) as average,
          max(${length}) as largest
        from ??${belowId === null ? '' : ' where id < ?'}`,
        [
          now,
          createdAfter,
          now,
          createdAfter,
          now,
          createdAfter,
          now,
          createdAfter,
          this.#table,
          ...(belowId === null ? [] : [belowId]),
        ]
      )
    )
    const row = rows[0]
    return {
      total: Number(row.total ?? 0),
      live: Number(row.live ?? 0),
      withUser: Number(row.with_user ?? 0),
      distinctUsers: Number(row.distinct_users ?? 0),
      oldestLiveCreatedAt:
        row.oldest === null || row.oldest === undefined ? null : toMillis(row.oldest),
      payloadAverage: Math.round(Number(row.average ?? 0)),
      payloadMax: Number(row.largest ?? 0),
    }
  }

  /**
   * The payload size at a rank (0-based) in ascending order: nearest-rank
   * percentiles the same way on every dialect (MySQL has no
   * percentile_disc). Counted per distinct size in one pass, then walked
   * here: sizes are bounded by `maxPayloadSize`, so there are few of them,
   * where sorting every row (`order by size limit 1 offset ?`) took MariaDB
   * over 6 minutes at 10M rows.
   */
  async payloadSizeAt(rank: number): Promise<number> {
    const length = this.dialect === 'pg' ? 'octet_length(data)' : 'length(data)'
    const rows = this.#rows(
      await this.#raw(`select ${length} as size, count(*) as n from ?? group by ${length}`, [
        this.#table,
      ])
    )
    const counts = rows
      .map((row) => ({ size: Number(row.size), n: Number(row.n) }))
      .sort((a, b) => a.size - b.size)
    let below = 0
    for (const { size, n } of counts) {
      below += n
      if (below > rank) return size
    }
    return 0
  }

  /**
   * Payload sizes of the rows whose id sorts below `belowId` (a sample),
   * ascending: sorted here, since MySQL sorting by the length of a blob
   * costs far more than sending the lengths.
   */
  async payloadSizesBelow(belowId: string): Promise<number[]> {
    const length = this.dialect === 'pg' ? 'octet_length(data)' : 'length(data)'
    const rows = this.#rows(
      await this.#raw(`select ${length} as size from ?? where id < ?`, [this.#table, belowId])
    )
    return rows.map((row) => Number(row.size)).sort((a, b) => a - b)
  }

  /**
   * The row count the database keeps in its catalog, without counting:
   * PostgreSQL's `reltuples` (as of the last ANALYZE or VACUUM), InnoDB's
   * `table_rows` (sampled), SQLite's largest rowid (rows ever inserted,
   * less those deleted from the end). Null where there is none (a table
   * never analyzed).
   */
  async estimatedRowCount(): Promise<number | null> {
    const [schema, name] = this.#schemaAndName()
    switch (this.dialect) {
      case 'pg': {
        const result = await this.#raw(
          'select reltuples::float8 as n from pg_class where oid = to_regclass(?)',
          [this.#quotedPgTable()]
        )
        const n = result.rows[0]?.n
        return n === undefined || n === null || Number(n) < 0 ? null : Number(n)
      }
      case 'mysql': {
        const rows = this.#rows(
          await this.#raw(
            `select table_rows as n from information_schema.tables where table_schema = ${schema === null ? 'database()' : '?'} and table_name = ?`,
            schema === null ? [name] : [schema, name]
          )
        )
        return rows.length && rows[0].n !== null ? Number(rows[0].n) : null
      }
      case 'sqlite': {
        const rows = this.#rows(await this.#raw('select max(rowid) as n from ??', [this.#table]))
        return rows.length && rows[0].n !== null ? Number(rows[0].n) : null
      }
    }
  }

  /**
   * Distinct values of `user_id` over all rows, as the database's column
   * statistics put it: PostgreSQL's `pg_stats.n_distinct` (negative: a
   * fraction of the rows), InnoDB's index cardinality. Null where there is
   * none.
   */
  async estimatedDistinctUsers(rowCount: number): Promise<number | null> {
    const [schema, name] = this.#schemaAndName()
    switch (this.dialect) {
      case 'pg': {
        const result = await this.#raw(
          `select n_distinct::float8 as n from pg_stats where schemaname = ${schema === null ? 'current_schema()' : '?'} and tablename = ? and attname = 'user_id'`,
          schema === null ? [name] : [schema, name]
        )
        const n = result.rows[0]?.n
        if (n === undefined || n === null) return null
        return Math.round(Number(n) < 0 ? -Number(n) * rowCount : Number(n))
      }
      case 'mysql': {
        const rows = this.#rows(
          await this.#raw(
            `select max(cardinality) as n from information_schema.statistics where table_schema = ${schema === null ? 'database()' : '?'} and table_name = ? and column_name = 'user_id' and seq_in_index = 1`,
            schema === null ? [name] : [schema, name]
          )
        )
        return rows.length && rows[0].n !== null ? Number(rows[0].n) : null
      }
      case 'sqlite':
        return null
    }
  }

  #schemaAndName(): [string | null, string] {
    return this.#table.includes('.')
      ? (this.#table.split('.') as [string, string])
      : [null, this.#table]
  }

  /** The table as `to_regclass` reads it: each part quoted, capitals kept. */
  #quotedPgTable(): string {
    return this.#table
      .split('.')
      .map((part) => `"${part}"`)
      .join('.')
  }

  /**
   * Table plus index size in bytes, where the dialect can tell: exact on
   * PostgreSQL, InnoDB's estimate on MySQL, SQLite's `dbstat` when the
   * library was built with it; null otherwise.
   */
  async tableSize(): Promise<number | null> {
    try {
      switch (this.dialect) {
        case 'pg': {
          // ?::regclass folds an unquoted name to lower case: quote each part,
          // as knex quoted them when it created the table
          const quoted = this.#table
            .split('.')
            .map((part) => `"${part}"`)
            .join('.')
          const result = await this.#raw('select pg_total_relation_size(to_regclass(?)) as size', [
            quoted,
          ])
          const size = result.rows[0].size
          return size === null ? null : Number(size)
        }
        case 'mysql': {
          const [schema, name] = this.#table.includes('.')
            ? this.#table.split('.')
            : [null, this.#table]
          const rows = this.#rows(
            await this.#raw(
              `select data_length + index_length as size from information_schema.tables where table_schema = ${schema === null ? 'database()' : '?'} and table_name = ?`,
              schema === null ? [name] : [schema, name]
            )
          )
          return rows.length ? Number(rows[0].size) : null
        }
        case 'sqlite': {
          const rows = this.#rows(
            await this.#raw(
              "select sum(pgsize) as size from dbstat where name in (select name from sqlite_master where tbl_name = ? and type in ('table', 'index'))",
              [this.#table]
            )
          )
          return rows.length && rows[0].size !== null ? Number(rows[0].size) : null
        }
      }
    } catch {
      return null
    }
  }

  #retrying<T>(statement: () => Promise<T>): Promise<T> {
    return retryOnCertificationFailure(statement, MAINTENANCE_RETRY)
  }

  /** `knex.raw()` with times bound and read as UTC (see utc_times.ts). */
  #raw(sql: string, bindings: readonly Knex.RawBinding[]) {
    return utcRaw(this.#knex, this.dialect, sql, bindings)
  }

  #rows(result: unknown): Record<string, unknown>[] {
    return rowsOf(this.dialect, result)
  }

  #affected(result: unknown): number {
    return affectedRowsOf(this.dialect, result)
  }
}

function maxOf(ids: string[]): string | null {
  let max: string | null = null
  for (const id of ids) if (max === null || id > max) max = id
  return max
}
