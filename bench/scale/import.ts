/**
 * `sessions:import` at scale: a built-in `database` store table of `rows`
 * live sessions (payloads of 100 B to 4 KB, as the seed's), imported into
 * an empty sessions table as the command runs it. Returns rows/s.
 */
import { MessageBuilder } from '@adonisjs/core/helpers'
import type { Dialect } from '../../tests/helpers/dialects.ts'
import { makeKeyring, setupDatabase } from '../../tests/helpers/app.ts'
import { createBuiltInSessionsTable } from '../../tests/fixtures/peer_stores.ts'
import { createStoredSessionFactory, resolveConfig } from '../../src/define_config.ts'
import { contextOf } from '../../src/store_context.ts'
import { importDatabaseSessions } from '../../src/maintenance/import.ts'
import { SEED_KEY } from './rows.ts'

export async function measureImport(
  dialect: Dialect,
  rows: number,
  log: (message: string) => void
): Promise<{ rowsPerSecond: number; copied: number; seconds: number }> {
  const table = `bench_import_${process.pid}`
  const source = `bench_builtin_${process.pid}`
  const { db } = await setupDatabase(dialect, table)
  const knex = db.connection().getWriteClient()
  try {
    await createBuiltInSessionsTable(db, source)
    const expiresAt = new Date(Date.now() + 7_200_000)
    const seeding = performance.now()
    for (let start = 0; start < rows; start += 1000) {
      const batch = []
      for (let n = start; n < Math.min(rows, start + 1000); n++) {
        const id = `import-session-${String(n).padStart(10, '0')}`
        const blob = 'x'.repeat(Math.round(100 * Math.pow(40, (n % 300) / 299)))
        const values = n % 10 >= 6 ? { auth_web: n % 100_000, blob } : { blob }
        batch.push({
          id,
          data: new MessageBuilder().build(values, undefined, id),
          user_id: null,
          expires_at: expiresAt,
        })
      }
      await knex(source).insert(batch)
    }
    log(`seeded ${rows} built-in rows in ${((performance.now() - seeding) / 1000).toFixed(1)} s`)

    const context = contextOf(
      createStoredSessionFactory(resolveConfig({ table, userKey: 'auth_web' }), {
        db,
        keyring: makeKeyring([SEED_KEY]),
        emitter: null,
      })
    )!
    const summary = await importDatabaseSessions(context, { from: source })
    const seconds = summary.durationMs / 1000
    log(`imported ${summary.copied} rows in ${seconds.toFixed(1)} s`)
    return { rowsPerSecond: summary.copied / seconds, copied: summary.copied, seconds }
  } finally {
    await knex.schema.dropTableIfExists(source)
    await knex.schema.dropTableIfExists(`${table}_imported`)
    await knex.schema.dropTableIfExists(table)
    await db.manager.closeAll()
  }
}
