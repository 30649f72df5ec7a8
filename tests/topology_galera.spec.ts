import { randomBytes } from 'node:crypto'
import { test } from '@japa/runner'
import { MessageBuilder } from '@adonisjs/core/helpers'
import { AppFactory } from '@adonisjs/core/factories/app'
import { EmitterFactory } from '@adonisjs/core/factories/events'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import { Database } from '@adonisjs/lucid/database'
import type { EmitterService } from '@adonisjs/core/types'
import type { Dialect } from './helpers/dialects.ts'
import { CookieClient, HOUR, makeKeyring, uniqueTable } from './helpers/app.ts'
import { coversTopology, timed } from './helpers/topologies/gate.ts'
import { GALERA_FILES, startGalera, type GaleraCluster } from './helpers/topologies/galera.ts'
import { sharedTable } from './fixtures/shared_table.ts'
import { createBuiltInSessionsTable } from './fixtures/peer_stores.ts'
import { conflictsReported, runLostUpdates, startServers } from './fixtures/lost_updates.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { contextOf } from '../src/store_context.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { trimSessions } from '../src/maintenance/trim.ts'
import { rotateSessionKey } from '../src/maintenance/rotate_key.ts'
import { importDatabaseSessions } from '../src/maintenance/import.ts'

/**
 * A 3-node MariaDB Galera cluster, multi-primary: each app server process
 * writes to a node of its own. `FOR UPDATE` locks only on the local node,
 * and a write that loses to another node's fails certification at COMMIT
 * (1213): the store retries it (see src/request/certification_retry.ts).
 */
const covered = await coversTopology('galera', GALERA_FILES)

function nodeDialect(cluster: GaleraCluster, index: number): Dialect {
  return {
    name: 'mysql',
    label: `galera node ${index}`,
    connection: () => ({ client: 'mysql2', connection: cluster.nodes[index - 1].connection }),
  }
}

/** Server i of the app runs on node i + 1. */
function onNodes(cluster: GaleraCluster, indexes: number[]) {
  return indexes.map((index) => ({
    SS_CONNECTION: JSON.stringify(nodeDialect(cluster, index).connection()),
  }))
}

if (covered) {
  test.group('topology: MariaDB Galera, 3 nodes, multi-primary', (group) => {
    let cluster: GaleraCluster
    group.setup(async () => {
      cluster = await timed('galera', () => startGalera())
      return () => cluster.stop()
    })

    test('two app servers on two nodes, 2 clients x 50 requests: 100/100 keys kept, 0 failed', async ({
      assert,
      cleanup,
    }) => {
      const shared = await sharedTable(nodeDialect(cluster, 1), uniqueTable())
      cleanup(() => shared.drop())
      const servers = await startServers(
        2,
        { SS_DIALECT: 'mysql', SS_TABLE: shared.table, SS_STORE: 'stored' },
        onNodes(cluster, [1, 2])
      )
      cleanup(() => servers.stop())

      const result = await runLostUpdates(servers.urls)

      assert.deepEqual(result, { expected: 100, kept: 100, failed: 0, failures: [] })
      assert.isAbove(await conflictsReported(servers.urls), 0)
    }).timeout(120_000)

    test('sessions:trim, rotate-key and import run on a third node while both serve: nothing lost', async ({
      assert,
      cleanup,
    }) => {
      const shared = await sharedTable(nodeDialect(cluster, 1), uniqueTable())
      cleanup(() => shared.drop())
      const maintenance = await maintenanceContext(nodeDialect(cluster, 3), shared.table)
      cleanup(() => maintenance.close())

      const now = Date.now()
      await maintenance.seedStored(300, now - HOUR) // expired: trim deletes them
      await maintenance.seedStored(200, now + HOUR) // live: rotation re-seals them
      const source = `${shared.table}_src`
      await maintenance.seedBuiltIn(source, 200, now + HOUR)

      const servers = await startServers(
        2,
        { SS_DIALECT: 'mysql', SS_TABLE: shared.table, SS_STORE: 'stored' },
        onNodes(cluster, [1, 2])
      )
      cleanup(() => servers.stop())

      let serving = true
      let rotations = 0
      const [result, trimmed, imported] = await Promise.all([
        runLostUpdates(servers.urls).finally(() => (serving = false)),
        trimSessions(maintenance.context, { batchSize: 25 }),
        importDatabaseSessions(maintenance.context, { from: source, batchSize: 25 }),
        (async () => {
          // again and again, so that rotation keeps writing the session the requests write
          do {
            await rotateSessionKey(maintenance.context, { batchSize: 100 })
            rotations++
          } while (serving)
        })(),
      ])

      assert.deepEqual(result, { expected: 100, kept: 100, failed: 0, failures: [] })
      assert.equal(trimmed.deleted, 300)
      assert.equal(imported.copied, 200)
      assert.isAtLeast(rotations, 1)
      // 200 live + 200 imported + the session of the requests, each still opening
      const rows = await maintenance.openableRows()
      assert.deepEqual(rows, { total: 401, openable: 401 })
    }).timeout(180_000)

    test('a node killed under load: the app on a surviving node answers every request, the one on the dead node answers 503 and recovers', async ({
      assert,
      cleanup,
    }) => {
      const shared = await sharedTable(nodeDialect(cluster, 1), uniqueTable())
      cleanup(() => shared.drop())
      const servers = await startServers(
        2,
        { SS_DIALECT: 'mysql', SS_TABLE: shared.table, SS_STORE: 'stored' },
        onNodes(cluster, [1, 2])
      )
      cleanup(() => servers.stop())
      // the servers' own: their config sets no `timeout`
      const storeTimeout = resolveConfig({ table: shared.table }).timeout
      const [survivor, victim] = servers.urls.map((url) => new CookieClient(url))
      const failures: string[] = []
      const victimFailures = new Set<string>()
      // the survivor's slowest answer among those that came after the kill
      let killed = Infinity
      let slowest = 0
      const status = async (client: CookieClient, path: string) => {
        const started = performance.now()
        const response = await client.get(path)
        const now = performance.now()
        if (client === survivor && now > killed) slowest = Math.max(slowest, now - started)
        if (response.status !== 200) {
          // the message says why (the reason and the driver's code), never a session
          const failure = `${response.status} ${response.body?.message ?? response.body}`
          if (client === survivor) failures.push(failure)
          else victimFailures.add(failure)
        }
        return response.status
      }
      assert.equal(await status(survivor, '/put?key=before'), 200)
      assert.equal(await status(victim, '/put?key=before'), 200)

      // load on both apps while node 2 dies; `reached` resolves once `condition` holds
      const statuses = { survivor: [] as number[], victim: [] as number[] }
      let waiting: { condition: () => boolean; resolve: () => void } | null = null
      const reached = (condition: () => boolean) =>
        new Promise<void>((resolve) => (waiting = { condition, resolve }))
      let loading = true
      const load = async (client: CookieClient, into: number[], worker: number) => {
        for (let n = 0; loading; n++) {
          into.push(await status(client, `/put?key=w${worker}_${n}`))
          if (waiting?.condition()) waiting.resolve()
        }
      }
      const running = Promise.all([
        load(survivor, statuses.survivor, 1),
        load(survivor, statuses.survivor, 2),
        load(victim, statuses.victim, 3),
      ])
      await reached(() => statuses.survivor.length >= 20)
      killed = performance.now()
      await cluster.kill(2)
      // until nodes 1 and 3 evict node 2, every commit on them waits (see
      // EVICTION in the cluster's helper): within the store's `timeout`
      await cluster.untilMembers(1, 2)
      const eviction = performance.now() - killed
      const evictedAt = statuses.survivor.length
      await reached(
        () => statuses.victim.includes(503) && statuses.survivor.length >= evictedAt + 20
      )
      loading = false
      await running
      console.log(
        `[stored-session] galera: node 2 evicted ${Math.round(eviction)} ms after SIGKILL; ` +
          `slowest survivor answer ${Math.round(slowest)} ms; ` +
          `survivor: ${statuses.survivor.length} answers, ${failures.length} failed; ` +
          `victim: ${statuses.victim.length} answers, ${occurrences(statuses.victim, 503)} of them 503 ` +
          `(${[...victimFailures].join('; ')})`
      )

      assert.deepEqual([...new Set(statuses.survivor)], [200], failures.slice(0, 5).join(', '))
      assert.isBelow(eviction, storeTimeout)
      // the load did span the eviction: requests waited on a commit, and got it
      assert.isAbove(slowest, 500)
      assert.include(statuses.victim, 503)
      assert.notInclude(statuses.victim, 500)

      await cluster.restart(2)
      assert.equal(await status(victim, '/put?key=after'), 200)
      const { body } = await victim.get('/keys')
      assert.includeMembers(body.keys, ['before', 'after'])
      assert.equal(await status(survivor, '/put?key=after'), 200)
    }).timeout(240_000)
  })
}

const occurrences = (values: number[], value: number) => values.filter((v) => v === value).length

/**
 * The store's context on `dialect` (a Galera node), as `sessions:*`
 * commands get it, with helpers to seed rows.
 */
async function maintenanceContext(dialect: Dialect, table: string) {
  const app = new AppFactory().create(new URL('../tmp/', import.meta.url), () => {})
  await app.init()
  const emitter = new EmitterFactory().create(app) as unknown as EmitterService
  const db = new Database(
    { connection: 'mysql', connections: { mysql: dialect.connection() } },
    new LoggerFactory().create(),
    emitter as any
  )
  const factory = createStoredSessionFactory(resolveConfig({ table }), {
    db,
    emitter,
    keyring: makeKeyring(),
  })
  const context = contextOf(factory)!
  const sources: string[] = []
  return {
    context,
    async seedStored(count: number, expiresAt: number) {
      const repository = context.repository()
      for (let n = 0; n < count; n++) {
        const hash = hashSessionId(randomBytes(20).toString('hex'))
        await repository.insert({
          id: hash,
          data: context.codec.seal(context.codec.pack({ n }), hash),
          version: 1,
          userId: null,
          now: new Date(),
          expiresAt: new Date(expiresAt),
        })
      }
    },
    async seedBuiltIn(source: string, count: number, expiresAt: number) {
      sources.push(source)
      await createBuiltInSessionsTable(db, source)
      const rows = Array.from({ length: count }, (_, n) => {
        const id = randomBytes(20).toString('hex')
        return {
          id,
          data: new MessageBuilder().build({ n }, undefined, id),
          user_id: null,
          expires_at: new Date(expiresAt),
        }
      })
      await db.connection().table(source).multiInsert(rows)
    },
    async openableRows() {
      const rows = await db.connection().from(table).select('id', 'data')
      const openable = rows.filter((row) => context.codec.open(row.data, row.id) !== null)
      return { total: rows.length, openable: openable.length }
    },
    async close() {
      for (const source of sources) await db.connection().schema.dropTableIfExists(source)
      await db.manager.closeAll()
    },
  }
}
