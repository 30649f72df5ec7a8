import { test } from '@japa/runner'
import knex from 'knex'
import { ALL_DIALECTS, enabledDialects, type Dialect } from './helpers/dialects.ts'
import { createTestApp, uniqueTable } from './helpers/app.ts'
import { coversTopology, timed } from './helpers/topologies/gate.ts'
import { PGBOUNCER_FILES, startPgBouncer, type PgBouncer } from './helpers/topologies/pgbouncer.ts'
import { namesStatements } from '../src/request/driver_statements.ts'
import { sharedTable } from './fixtures/shared_table.ts'
import { conflictsReported, runLostUpdates, startServers } from './fixtures/lost_updates.ts'

/**
 * Every spec already runs through PgBouncer (the `pgbouncer` dialect
 * bin/test.ts adds). This file runs the store through the harshest pool
 * there is: PgBouncer 1.18 in transaction mode with ONE server connection
 * for every client, so each statement a client prepared by name is met by
 * other clients on that connection, and none survives from one
 * transaction of a client to its next on another connection.
 */
// in front of the PostgreSQL under test, so only when that one is
const covered =
  enabledDialects().some((dialect) => dialect.label === 'pg') &&
  (await coversTopology('pgbouncer', PGBOUNCER_FILES))

const PG = ALL_DIALECTS.find((dialect) => dialect.name === 'pg')!

function throughBouncer(bouncer: PgBouncer): Dialect {
  return {
    name: 'pg',
    label: 'pgbouncer with one server connection',
    connection: (overrides) => {
      const config: any = PG.connection(overrides)
      config.connection.port = overrides?.port ?? bouncer.port
      return config
    },
  }
}

if (covered) {
  test.group('topology: PgBouncer 1.18, transaction pooling, one server connection', (group) => {
    let bouncer: PgBouncer
    group.setup(async () => {
      const target = (PG.connection() as any).connection
      bouncer = await timed('pgbouncer (one server connection)', () =>
        startPgBouncer({ ...target, poolSize: 1 })
      )
      return () => bouncer.stop()
    })

    /**
     * Proof that this pool breaks what a driver-level prepared statement
     * assumes: the second client to prepare a statement under the same
     * name finds it prepared already (42P05). A store that named its
     * statements without falling back fails the tests below.
     */
    test('two clients preparing a statement under one name collide on the shared server connection', async ({
      assert,
      cleanup,
    }) => {
      const clients = [0, 1].map(() =>
        knex({ ...(throughBouncer(bouncer).connection() as any), pool: { min: 0, max: 1 } })
      )
      cleanup(async () => {
        for (const client of clients) await client.destroy()
      })
      const prepare = async (client: knex.Knex) => {
        const connection: any = await client.client.acquireConnection()
        try {
          await connection.query({ name: 'stored_session_probe', text: 'select 1 as one' })
          return 'prepared'
        } catch (error: any) {
          return error.code as string
        } finally {
          await client.client.releaseConnection(connection)
        }
      }
      assert.equal(await prepare(clients[0]), 'prepared')
      assert.equal(await prepare(clients[1]), '42P05')
    })

    test('sign in, count and sign out through it', async ({ assert, cleanup }) => {
      const t = await createTestApp(throughBouncer(bouncer))
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/logout') {
          ctx.session.clear()
          return { count: null }
        }
        ctx.session.increment('count')
        return { count: ctx.session.get('count') }
      }
      // many clients at once, so their statements share the one server connection
      const results = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const client = t.app.client()
          const counts: unknown[] = []
          for (let n = 0; n < 5; n++) {
            const { body } = await client.get('/count')
            counts.push(body.count)
          }
          const { body } = await client.get('/logout')
          counts.push(body.count)
          return counts
        })
      )
      for (const counts of results) assert.deepEqual(counts, [1, 2, 3, 4, 5, null])
      // the store met a lost or taken statement name and stopped naming on this pool
      assert.isFalse(namesStatements(t.db.connection().getWriteClient()))
    }).timeout(60_000)

    test('two app servers, 2 clients x 50 requests: 100/100 keys kept, 0 failed', async ({
      assert,
      cleanup,
    }) => {
      const dialect = throughBouncer(bouncer)
      const shared = await sharedTable(dialect, uniqueTable())
      cleanup(() => shared.drop())
      const servers = await startServers(2, {
        SS_DIALECT: 'pg',
        SS_TABLE: shared.table,
        SS_STORE: 'stored',
        SS_CONNECTION: JSON.stringify(dialect.connection()),
      })
      cleanup(() => servers.stop())

      const result = await runLostUpdates(servers.urls)

      assert.deepEqual(result, { expected: 100, kept: 100, failed: 0, failures: [] })
      assert.isAbove(await conflictsReported(servers.urls), 0)
    }).timeout(120_000)
  })
}
