import { test } from '@japa/runner'
import type { ConnectionConfig } from '@adonisjs/lucid/types/database'
import type { Dialect } from './helpers/dialects.ts'
import { createTestApp, FakeClock, TestApp, type CookieClient, uniqueTable } from './helpers/app.ts'
import { coversTopology, timed } from './helpers/topologies/gate.ts'
import {
  REPLICA_FILES,
  startPrimaryWithReplica,
  type PrimaryWithReplica,
} from './helpers/topologies/replica.ts'
import { sharedTable } from './fixtures/shared_table.ts'
import { builtInStore, createBuiltInSessionsTable } from './fixtures/peer_stores.ts'
import { runLostUpdates, startServers } from './fixtures/lost_updates.ts'
import { StoredSessions } from '../src/users/user_sessions.ts'
import { contextOf } from '../src/store_context.ts'

/**
 * A Lucid connection with read/write replicas: Lucid sends its plain
 * SELECTs to `replicas.read`, here a streaming replica that applies the
 * primary's WAL 3 s late. Sessions must never be read from it: a sign-in
 * followed by a redirect would find no session, and a write merged with a
 * stale read would lose what was just written.
 */
const covered = await coversTopology('replica', REPLICA_FILES)

function withReplica(setup: PrimaryWithReplica): ConnectionConfig {
  return {
    client: 'pg',
    connection: setup.primary,
    replicas: {
      write: { connection: setup.primary },
      read: { connection: [setup.replica] },
    },
  } as ConnectionConfig
}

function replicaDialect(setup: PrimaryWithReplica): Dialect {
  return { name: 'pg', label: 'pg with a lagging replica', connection: () => withReplica(setup) }
}

/** Twenty visitors each sign in, and each next request asks who is signed in. */
async function signInsSeen(app: TestApp) {
  app.handler = (ctx) => {
    if (ctx.request.url() === '/login') {
      ctx.session.put('auth_web', 42)
      return 'signed in'
    }
    return { user: ctx.session.get('auth_web') ?? null }
  }
  let seen = 0
  for (let visitor = 0; visitor < 20; visitor++) {
    const client = app.client()
    await client.get('/login')
    const { body } = await client.get('/me')
    if (body.user === 42) seen++
  }
  return seen
}

async function countTo10(client: CookieClient) {
  let last = 0
  for (let n = 0; n < 10; n++) {
    const { body } = await client.get('/count')
    last = body.count
  }
  return last
}

function counting(app: TestApp) {
  app.handler = (ctx) => {
    ctx.session.increment('count')
    return { count: ctx.session.get('count') }
  }
}

if (covered) {
  test.group(
    'topology: PostgreSQL primary with a replica 3 s behind, as Lucid replicas',
    (group) => {
      let setup: PrimaryWithReplica
      group.setup(async () => {
        setup = await timed('replica', () => startPrimaryWithReplica({ applyDelay: '3s' }))
        return () => setup.stop()
      })

      test('a sign-in is seen by the very next request: 20 of 20', async ({ assert, cleanup }) => {
        const t = await createTestApp(replicaDialect(setup), { connection: withReplica(setup) })
        cleanup(() => t.cleanup())
        assert.equal(await signInsSeen(t.app), 20)
      }).timeout(60_000)

      test('ten requests in a row count to 10', async ({ assert, cleanup }) => {
        const t = await createTestApp(replicaDialect(setup), { connection: withReplica(setup) })
        cleanup(() => t.cleanup())
        counting(t.app)
        assert.equal(await countTo10(t.app.client()), 10)
      }).timeout(60_000)

      test('a signed-in user lists the device just signed in, and tagged() finds it', async ({
        assert,
        cleanup,
      }) => {
        const t = await createTestApp(replicaDialect(setup), {
          connection: withReplica(setup),
          config: { userKey: 'auth_web' },
        })
        cleanup(() => t.cleanup())
        const devices = new StoredSessions(contextOf(t.app.sessionConfig.stores.stored)!)
        let listed: unknown[] = []
        t.app.handler = async (ctx) => {
          if (ctx.request.url() === '/login') {
            ctx.session.put('auth_web', 7)
            return 'signed in'
          }
          listed = await devices.devices(7, ctx.session.sessionId)
          return 'listed'
        }
        const client = t.app.client()
        await client.get('/login')
        await client.get('/devices')
        assert.lengthOf(listed, 1)
        assert.lengthOf(await t.app.collection().tagged('7'), 1)
      }).timeout(60_000)

      test('two app servers, 2 clients x 50 requests: 100/100 keys kept', async ({
        assert,
        cleanup,
      }) => {
        const dialect = replicaDialect(setup)
        const shared = await sharedTable(dialect, uniqueTable())
        cleanup(() => shared.drop())
        const servers = await startServers(2, {
          SS_DIALECT: 'pg',
          SS_TABLE: shared.table,
          SS_STORE: 'stored',
          SS_CONNECTION: JSON.stringify(withReplica(setup)),
        })
        cleanup(() => servers.stop())

        const result = await runLostUpdates(servers.urls)

        assert.deepEqual(result, { expected: 100, kept: 100, failed: 0, failures: [] })
      }).timeout(120_000)

      /**
       * The contrast that shows the replica really lags: @adonisjs/session's
       * own `database` store reads through Lucid's query builder, which
       * sends its SELECT to the replica.
       */
      test("@adonisjs/session's database store on the same connection misses sign-ins", async ({
        assert,
        cleanup,
      }) => {
        const t = await createTestApp(replicaDialect(setup), { connection: withReplica(setup) })
        const table = uniqueTable()
        await createBuiltInSessionsTable(t.db, table)
        const app = await new TestApp(
          t.db,
          t.emitter,
          {
            ...t.app.sessionConfig,
            store: 'database',
            stores: { database: await builtInStore('database', { db: t.db, table }) },
          },
          new FakeClock()
        ).start()
        cleanup(async () => {
          await app.close()
          await t.db.connection().schema.dropTableIfExists(table)
          await t.cleanup()
        })

        assert.isBelow(await signInsSeen(app), 20)
      }).timeout(60_000)
    }
  )
}
