import { test } from '@japa/runner'
import { randomUUID } from 'node:crypto'
import { AppFactory } from '@adonisjs/core/factories/app'
import { EmitterFactory } from '@adonisjs/core/factories/events'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import type { EmitterService } from '@adonisjs/core/types'
import { Database } from '@adonisjs/lucid/database'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { FakeClock, makeKeyring, requestStore, uniqueTable } from './helpers/app.ts'
import { sharedTable } from './fixtures/shared_table.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import type { StoredSessionEvents } from '../src/types.ts'
import { hashSessionId } from '../src/request/session_id.ts'

/**
 * The store on one table, and a second connection to it that plays
 * another server process: on SQLite a better-sqlite3 connection of its own
 * to the same file that never waits for a lock, on PostgreSQL and MySQL a
 * pool of its own.
 */
async function setup(dialect: Dialect) {
  const shared = await sharedTable(dialect, uniqueTable())
  const app = new AppFactory().create(new URL('../tmp/', import.meta.url), () => {})
  await app.init()
  const emitter = new EmitterFactory().create(app) as unknown as EmitterService
  const factory = createStoredSessionFactory(resolveConfig({ table: shared.table }), {
    db: shared.db,
    emitter,
    keyring: makeKeyring(),
    clock: new FakeClock().now,
  })
  const conflicts: StoredSessionEvents['stored_session:conflict'][] = []
  emitter.on('stored_session:conflict', (event) => void conflicts.push(event))

  const bump = `update ${shared.table} set version = version + 1 where id = ?`
  const other = new Database(
    {
      connection: dialect.name,
      connections: { [dialect.name]: dialect.connection({ database: shared.file }) },
    },
    new LoggerFactory().create(),
    emitter as any
  )
  let write = async (hash: string) => void (await other.rawQuery(bump, [hash]))
  let release = async () => {}
  if (dialect.name === 'sqlite') {
    // better-sqlite3 runs a statement synchronously, exactly where it is
    // called; this connection never waits for a lock another one holds
    const pool = other.connection().getWriteClient().client as any
    const connection = await pool.acquireConnection()
    connection.pragma('busy_timeout = 0')
    const statement = connection.prepare(bump)
    write = async (hash) => void statement.run(hash)
    release = () => pool.releaseConnection(connection)
  }
  const otherProcess = {
    write,
    async close() {
      await release()
      await other.manager.closeAll()
    },
  }

  return {
    db: shared.db,
    conflicts,
    otherProcess,
    request: () => requestStore(factory),
    async cleanup() {
      await otherProcess.close()
      await shared.drop()
    },
  }
}

for (const dialect of enabledDialects()) {
  test.group(`concurrency: merges against another process [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test("another process's write cannot get between a merge's re-read and its update", async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { seed: 1 })
      const first = t.request()
      const second = t.request()
      const a = (await first.read(id))!
      const b = (await second.read(id))!
      await first.write(id, { ...a, one: 1 })

      /**
       * Right before each versioned UPDATE of the merge (the second one of
       * this write: the first is the optimistic attempt, which loses to
       * `first`), the other process writes the row: refused on SQLite,
       * where the merge holds the file's write lock, and made to wait
       * for the row lock on PostgreSQL and MySQL.
       */
      let versionedUpdates = 0
      const intrusions: Promise<string>[] = []
      const intrude = (query: { sql: string }) => {
        if (!/^update .* and version = \?$/is.test(query.sql)) return
        if (++versionedUpdates < 2) return
        intrusions.push(
          t.otherProcess.write(hashSessionId(id)).then(
            () => 'written',
            (error) => String(error.code)
          )
        )
      }
      const knex = t.db.connection().getWriteClient()
      knex.on('query', intrude)
      try {
        await second.write(id, { ...b, two: 2 })
      } finally {
        knex.off('query', intrude)
      }

      assert.deepEqual(await t.request().read(id), { seed: 1, one: 1, two: 2 })
      assert.lengthOf(t.conflicts, 1, 'merged at the first attempt')
      const outcomes = await Promise.all(intrusions)
      assert.deepEqual(outcomes, [dialect.name === 'sqlite' ? 'SQLITE_BUSY' : 'written'])
    })
  })
}
