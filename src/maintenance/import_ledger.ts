import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import type { StoredSessionContext } from '../store_context.ts'
import { guardRepository } from '../request/failsafe.ts'
import type { RowFilter } from './queries.ts'

/**
 * `version` of a ledger entry whose row this store has written since (or
 * created itself): real versions are never negative, so it matches no row.
 */
export const OWNED_BY_STORE = -1

/**
 * The longest ledger name: PostgreSQL truncates identifiers past 63
 * characters silently (MySQL refuses them past 64), and a name of 63
 * exactly would collide with its own primary key, `<name>_pkey` cut to 63.
 */
const MAX_IDENTIFIER_LENGTH = 62

/**
 * The ledger's table: `<table>_imported`, in the table's schema. When that
 * would pass 62 characters, the name is cut and a digest of the whole name
 * keeps it distinct: `<first 44 characters>_<8 hex digits>_imported`.
 */
export function ledgerTableOf(table: string): string {
  const dot = table.lastIndexOf('.')
  const schema = table.slice(0, dot + 1)
  const name = table.slice(dot + 1)
  const suffix = '_imported'
  if (name.length + suffix.length <= MAX_IDENTIFIER_LENGTH) return `${schema}${name}${suffix}`
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 8)
  const kept = MAX_IDENTIFIER_LENGTH - suffix.length - digest.length - 1
  return `${schema}${name.slice(0, kept)}_${digest}${suffix}`
}

export interface LedgerEntry {
  /** Stored hash of the source row's id. */
  id: string
  /**
   * The version the import left our row at; `OWNED_BY_STORE` once this
   * store wrote it; null while the source row was never live and valid
   * (nothing was copied).
   */
  version: number | null
}

/**
 * What `sessions:import` remembers between runs, in a table of its own
 * (`<table>_imported`, created by the first import): for every source row
 * it has seen, the run that last saw it and the version it left our copy
 * at. Two questions need it, and the source table cannot answer them:
 *
 * - A source row with no row of ours: created in the old store since the
 *   last import (copy it), or deleted by this store since (a sign-out, a
 *   revoke: never bring it back)? Deleted, when the ledger has a version
 *   for it.
 * - A row of ours whose source row is gone (a sign-out served by the old
 *   store): still the copy the import made (same version: delete it too),
 *   or written by this store since (keep it)?
 */
export class ImportLedger {
  readonly table: string
  #knex: Knex

  constructor(knex: Knex, table: string) {
    this.#knex = knex
    this.table = table
  }

  static for(context: Pick<StoredSessionContext, 'db' | 'connectionName' | 'config'>) {
    return guardRepository(
      new ImportLedger(
        context.db.connection(context.connectionName).getWriteClient(),
        ledgerTableOf(context.config.table)
      ),
      'import'
    )
  }

  async ensureTable(): Promise<void> {
    if (await this.#knex.schema.hasTable(this.table)) return
    await this.#knex.schema.createTable(this.table, (table) => {
      table.string('id', 64).primary()
      table.string('seen_run', 36).notNullable()
      table.integer('version').nullable()
    })
  }

  /**
   * The entries of earlier runs for these hashes.
   */
  async entries(ids: string[]): Promise<Map<string, number | null>> {
    const rows: Array<{ id: string; version: number | null }> = ids.length
      ? await this.#knex(this.table).select('id', 'version').whereIn('id', ids)
      : []
    return new Map(
      rows.map((row) => [String(row.id), row.version === null ? null : Number(row.version)])
    )
  }

  /**
   * Records that this run saw these source rows. An entry without a
   * version keeps the version an earlier run recorded.
   */
  async markSeen(run: string, entries: LedgerEntry[]): Promise<void> {
    const versioned = entries.filter((entry) => entry.version !== null)
    const unversioned = entries.filter((entry) => entry.version === null)
    if (versioned.length) {
      await this.#knex(this.table)
        .insert(versioned.map((entry) => ({ id: entry.id, seen_run: run, version: entry.version })))
        .onConflict('id')
        .merge(['seen_run', 'version'])
    }
    if (unversioned.length) {
      await this.#knex(this.table)
        .insert(unversioned.map((entry) => ({ id: entry.id, seen_run: run, version: null })))
        .onConflict('id')
        .merge(['seen_run'])
    }
  }

  /**
   * Our rows still as an earlier import left them (same version) whose
   * source row this run did not see: it is gone from the old store.
   */
  goneFromSource(run: string): RowFilter {
    return {
      sql: '(id, version) in (select id, version from ?? where seen_run <> ?)',
      bindings: [this.table, run],
    }
  }
}
