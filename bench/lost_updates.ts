import { ALL_DIALECTS } from '../tests/helpers/dialects.ts'
import { sharedTable } from '../tests/fixtures/shared_table.ts'
import {
  runLostUpdates,
  startServers,
  type LostUpdateResult,
} from '../tests/fixtures/lost_updates.ts'

export interface LostUpdateRow extends LostUpdateResult {
  store: 'stored' | 'database'
  dialect: string
}

/**
 * The lost-update scenario of tests/concurrency_http.spec.ts (two clients,
 * 50 requests each, 4 in flight each, distinct keys, two server
 * processes), run against this store and @adonisjs/session's `database`
 * store on every dialect. A measurement: the built-in store is expected to
 * lose keys.
 */
export async function measureLostUpdates(): Promise<LostUpdateRow[]> {
  const rows: LostUpdateRow[] = []
  for (const dialect of ALL_DIALECTS) {
    for (const store of ['stored', 'database'] as const) {
      const table = `bench_lost_${store}_${process.pid}`
      const shared = await sharedTable(dialect, table, { schema: store })
      const servers = await startServers(2, {
        SS_STORE: store,
        SS_DIALECT: dialect.name,
        SS_TABLE: table,
        SS_DB_FILE: shared.file,
      })
      try {
        rows.push({ store, dialect: dialect.name, ...(await runLostUpdates(servers.urls)) })
      } finally {
        await servers.stop()
        await shared.drop()
      }
    }
  }
  return rows
}
