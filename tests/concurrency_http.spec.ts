import { test } from '@japa/runner'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { AppFactory } from '@adonisjs/core/factories/app'
import { EmitterFactory } from '@adonisjs/core/factories/events'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import { Database } from '@adonisjs/lucid/database'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { runMigrationStub, uniqueTable } from './helpers/app.ts'
import { conflictsReported, runLostUpdates, startServers } from './fixtures/lost_updates.ts'

const TMP = new URL('../tmp/', import.meta.url)

/**
 * The sessions table for server processes to share: on SQLite a database
 * file (an in-memory database cannot be shared between processes).
 */
async function sharedTable(dialect: Dialect) {
  const table = uniqueTable()
  const file =
    dialect.name === 'sqlite' ? fileURLToPath(new URL(`${table}.sqlite3`, TMP)) : undefined
  const app = new AppFactory().create(TMP, () => {})
  await app.init()
  const db = new Database(
    {
      connection: dialect.name,
      connections: { [dialect.name]: dialect.connection({ database: file }) },
    },
    new LoggerFactory().create(),
    new EmitterFactory().create(app) as any
  )
  await db.connection().schema.dropTableIfExists(table)
  await runMigrationStub(app, db, table)
  return {
    table,
    file,
    async drop() {
      await db.connection().schema.dropTableIfExists(table)
      await db.manager.closeAll()
      if (file) {
        for (const suffix of ['', '-wal', '-shm', '-journal'])
          await rm(`${file}${suffix}`, { force: true })
      }
    },
  }
}

for (const dialect of enabledDialects()) {
  test.group(`concurrency: no lost updates over HTTP [${dialect.name}]`, () => {
    /**
     * Two server processes on one table, as behind a cluster or a load
     * balancer: on SQLite the only way requests interleave at all (its
     * driver is synchronous), and on PostgreSQL and MySQL the more
     * realistic deployment.
     */
    test('two clients, 50 requests each on one session cookie: all 100 keys are kept', async ({
      assert,
      cleanup,
    }) => {
      const shared = await sharedTable(dialect)
      cleanup(() => shared.drop())
      const servers = await startServers(2, {
        SS_DIALECT: dialect.name,
        SS_TABLE: shared.table,
        SS_STORE: 'stored',
        SS_DB_FILE: shared.file,
      })
      cleanup(() => servers.stop())

      const result = await runLostUpdates(servers.urls, {
        clients: 2,
        requestsPerClient: 50,
        inFlight: 4,
      })

      assert.deepEqual(result, { expected: 100, kept: 100, failed: 0 })
      // Proof the requests did collide: some writes had to be merged.
      assert.isAbove(await conflictsReported(servers.urls), 0)
    }).timeout(60_000)
  })
}
