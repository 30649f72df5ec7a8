import type { SessionKeyring } from '../../src/request/keyring.ts'
import type { EmitterService } from '@adonisjs/core/types'
import type { Database } from '@adonisjs/lucid/database'
import type { SessionStoreFactory } from '@adonisjs/session/types'
import { createStoredSessionFactory, resolveConfig } from '../../src/define_config.ts'
import { contextOf, type StoredSessionContext } from '../../src/store_context.ts'
import { ledgerTableOf } from '../../src/maintenance/import_ledger.ts'
import type { StoredSessionConfig } from '../../src/types.ts'
import type { Dialect } from '../helpers/dialects.ts'
import {
  DAY,
  FakeClock,
  TestApp,
  makeKeyring,
  sessionConfigFor,
  setupDatabase,
  uniqueTable,
} from '../helpers/app.ts'

/**
 * A sessions table on one dialect and the store's context over it, built
 * the way `storedSession()` builds it, with a fake clock.
 */
export async function setupStore(
  dialect: Dialect,
  options: {
    clock?: FakeClock
    keyring?: SessionKeyring
    config?: StoredSessionConfig
    table?: string
  } = {}
) {
  const table = options.table ?? uniqueTable()
  const { app, db, emitter } = await setupDatabase(dialect, table)
  const clock = options.clock ?? new FakeClock()
  const storeFor = (keyring: SessionKeyring) =>
    createStoredSessionFactory(resolveConfig({ ...options.config, table }), {
      db,
      emitter,
      keyring,
      clock: clock.now,
    })
  const factory = storeFor(options.keyring ?? makeKeyring())
  const context = contextOf(factory)!
  const apps: TestApp[] = []

  return {
    app,
    db,
    emitter,
    clock,
    table,
    factory,
    context,
    storeFor,
    /**
     * A real HTTP server running @adonisjs/session's middleware over the
     * given stores (they share this table and clock).
     */
    async serve(stores: Record<string, SessionStoreFactory>, store = Object.keys(stores)[0]) {
      const testApp = await new TestApp(db, emitter, sessionConfigFor(stores, store), clock).start()
      apps.push(testApp)
      return testApp
    },
    rows: (filter: (query: any) => void = () => {}) => rowsOf(db, table, filter),
    async seed(rows: SeedRow[]) {
      await seed(db, table, clock.now(), rows)
    },
    async cleanup() {
      for (const testApp of apps) await testApp.close()
      await db.connection().schema.dropTableIfExists(table)
      // what sessions:import remembers between runs
      await db.connection().schema.dropTableIfExists(ledgerTableOf(table))
      await db.manager.closeAll()
    },
  }
}

export interface SeedRow {
  id: string
  /** Relative to the clock, in milliseconds. */
  expiresIn: number
  /** How long ago the row was created, in milliseconds. */
  createdAgo?: number
  userId?: string | null
  data?: Buffer
}

/**
 * Inserts rows straight into the table, for services that only look at
 * timestamps, users and sizes.
 */
async function seed(db: Database, table: string, now: number, rows: SeedRow[]) {
  const records = rows.map((row) => ({
    id: row.id,
    data: row.data ?? Buffer.from('x'),
    version: 0,
    user_id: row.userId ?? null,
    created_at: new Date(now - (row.createdAgo ?? DAY)),
    updated_at: new Date(now - (row.createdAgo ?? DAY)),
    expires_at: new Date(now + row.expiresIn),
  }))
  const knex = db.connection().getWriteClient()
  for (let index = 0; index < records.length; index += 100) {
    await knex(table).insert(records.slice(index, index + 100))
  }
}

async function rowsOf(db: Database, table: string, filter: (query: any) => void) {
  const query = db.connection().getWriteClient()(table).select('id', 'version').orderBy('id')
  filter(query)
  const rows: Array<{ id: string; version: number }> = await query
  return rows.map((row) => ({ id: row.id, version: Number(row.version) }))
}

/**
 * A stored id for the n-th seeded row (64 hex characters, like a hash).
 */
export function rowId(prefix: string, n: number) {
  return `${prefix}${String(n).padStart(6, '0')}`.padEnd(64, '0')
}

export type StoreSetup = Awaited<ReturnType<typeof setupStore>>
export type { StoredSessionContext, EmitterService }

/**
 * The JSON body of one GET from a browser.
 */
export async function bodyOf(client: { get(path?: string): Promise<{ body: any }> }, path = '/') {
  const response = await client.get(path)
  return response.body
}
