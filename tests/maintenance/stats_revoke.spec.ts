import { test } from '@japa/runner'
import { enabledDialects } from '../helpers/dialects.ts'
import { DAY, HOUR, makeKeyring } from '../helpers/app.ts'
import { createStoredSessionFactory, resolveConfig } from '../../src/define_config.ts'
import { contextOf } from '../../src/store_context.ts'
import { sessionStats } from '../../src/maintenance/stats.ts'
import { revokeAllSessions, revokeUserSessions } from '../../src/maintenance/revoke.ts'
import { hashSessionId } from '../../src/request/session_id.ts'
import { bodyOf, rowId, setupStore } from './helpers.ts'

for (const dialect of enabledDialects()) {
  test.group(`sessions:stats service [${dialect.label}]`, () => {
    test('counts live, expired and tagged sessions and sizes payloads', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      // 20 rows with payloads of 1..20 bytes
      await t.seed(
        Array.from({ length: 20 }, (_, n) => ({
          id: rowId('a', n),
          data: Buffer.alloc(n + 1, 7),
          // 0-4 idle-expired, 5-6 past maxLifetime, 7-19 live
          expiresIn: n < 5 ? -HOUR : HOUR,
          createdAgo: n < 5 ? DAY : n < 7 ? 31 * DAY : n === 7 ? 10 * DAY : HOUR,
          // users on live rows: u1 x3, u2 x1; u3 only on an expired row
          userId: n === 0 ? 'u3' : [7, 8, 9].includes(n) ? 'u1' : n === 10 ? 'u2' : null,
        }))
      )

      const stats = await sessionStats(t.context)

      assert.containsSubset(stats, {
        total: 20,
        live: 13,
        expired: 7,
        withUser: 4,
        distinctUsers: 2,
        oldestLiveAgeSeconds: (10 * DAY) / 1000,
        payloadBytes: { average: 11, p95: 19, max: 20 }, // (1+...+20)/20 = 10.5, nearest rank 19
      })
      // better-sqlite3 is built with dbstat, so every dialect here can tell
      assert.isAbove(stats.tableBytes!, 0)
    })

    test('sizes a table whose name has capitals, schema-qualified too', async ({
      assert,
      cleanup,
    }) => {
      const table = `Stored_Sessions_${process.pid}`
      const t = await setupStore(dialect, { table })
      cleanup(() => t.cleanup())
      await t.seed(
        Array.from({ length: 50 }, (_, n) => ({
          id: rowId('a', n),
          data: Buffer.alloc(2000, 7),
          expiresIn: HOUR,
        }))
      )
      // the same table named with its schema (SQLite has only `main`, which knex cannot index)
      const schema = { sqlite: null, pg: 'public', mysql: 'test' }[dialect.name]
      const qualified = schema
        ? contextOf(
            createStoredSessionFactory(resolveConfig({ table: `${schema}.${table}` }), {
              db: t.db,
              emitter: t.emitter,
              keyring: makeKeyring(),
              clock: t.clock.now,
            })
          )!
        : t.context

      const stats = await sessionStats(t.context)
      const qualifiedStats = await sessionStats(qualified)

      assert.equal(stats.total, 50)
      assert.isAbove(stats.tableBytes!, 0)
      assert.equal(qualifiedStats.total, 50)
      assert.equal(qualifiedStats.tableBytes, stats.tableBytes)
      if (dialect.name === 'pg') {
        // the very table, not whatever its lower-cased name resolves to
        const result = await t.db.rawQuery('select pg_total_relation_size(?::regclass) as size', [
          `"${table}"`,
        ])
        assert.equal(stats.tableBytes, Number(result.rows[0].size))
      }
    })

    test('a large table is estimated from a sample of ids; exact counts every row', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      // ids as the store makes them (hashes, spread evenly), a quarter expired
      await t.seed(
        Array.from({ length: 4000 }, (_, n) => ({
          id: hashSessionId(`00000000-0000-4000-8000-${String(n).padStart(12, '0')}`),
          data: Buffer.alloc(100 + (n % 100), 7),
          expiresIn: n % 4 === 0 ? -HOUR : HOUR,
          userId: n % 2 ? `u${n % 50}` : null,
        }))
      )
      // the catalog's row count, as autovacuum / InnoDB keep it up to date
      if (dialect.name === 'pg') await t.db.rawQuery(`analyze "${t.table}"`)
      if (dialect.name === 'mysql') await t.db.rawQuery(`analyze table \`${t.table}\``)

      const sampled = await sessionStats(t.context, { sampleRows: 800, exactBelow: 1000 })
      assert.includeMembers(sampled.estimated, ['total', 'live', 'expired', 'payloadBytes'])
      assert.isAbove(sampled.sampledRows!, 400)
      assert.isBelow(sampled.sampledRows!, 2000)
      assert.closeTo(sampled.total, 4000, 800)
      assert.closeTo(sampled.expired / sampled.total, 0.25, 0.06)
      assert.closeTo(sampled.withUser / sampled.live, 2 / 3, 0.1)
      assert.isAtLeast(sampled.payloadBytes.p95, 180)

      const exact = await sessionStats(t.context, {
        exact: true,
        sampleRows: 800,
        exactBelow: 1000,
      })
      assert.deepEqual(exact.estimated, [])
      assert.isNull(exact.sampledRows)
      assert.containsSubset(exact, {
        total: 4000,
        live: 3000,
        expired: 1000,
        withUser: 2000,
        distinctUsers: 25,
        payloadBytes: { max: 199 },
      })

      // below the threshold, every row is counted without asking
      const small = await sessionStats(t.context, { sampleRows: 800 })
      assert.deepEqual(small.estimated, [])
      assert.equal(small.total, 4000)
    })

    test('an empty table reports zeros', async ({ assert, cleanup }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      const stats = await sessionStats(t.context)
      assert.containsSubset(stats, {
        total: 0,
        live: 0,
        expired: 0,
        withUser: 0,
        distinctUsers: 0,
        oldestLiveAgeSeconds: null,
        payloadBytes: { average: 0, p95: 0, max: 0 },
      })
    })
  })

  test.group(`sessions:revoke service [${dialect.label}]`, () => {
    test('revokes every session of one user, through the app too', async ({ assert, cleanup }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      const server = await t.serve({ stored: t.factory })
      server.handler = async (ctx) => {
        if (ctx.request.input('user')) {
          ctx.session.put('user', ctx.request.input('user'))
          await ctx.session.tag(ctx.request.input('user'))
        }
        return { user: ctx.session.get('user') ?? null }
      }
      const laptop = server.client()
      const phone = server.client()
      const other = server.client()
      await laptop.get('/?user=42')
      await phone.get('/?user=42')
      await other.get('/?user=7')

      const summary = await revokeUserSessions(t.context, 42, { batchSize: 1 })

      assert.equal(summary.deleted, 2)
      assert.deepEqual(await bodyOf(laptop), { user: null })
      assert.deepEqual(await bodyOf(phone), { user: null })
      assert.deepEqual(await bodyOf(other), { user: '7' })
    })

    test('revoking all empties the table in batches and reports the count', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed(Array.from({ length: 25 }, (_, n) => ({ id: rowId('a', n), expiresIn: HOUR })))
      const progress: number[] = []

      const summary = await revokeAllSessions(t.context, {
        batchSize: 10,
        onProgress: ({ deleted }) => progress.push(deleted),
      })

      assert.equal(summary.deleted, 25)
      assert.deepEqual(progress, [10, 20, 25])
      assert.lengthOf(await t.rows(), 0)
    })

    // Row locks: SQLite has none (a writer locks the whole database, and a
    // revoke waits for it like any statement), so the race below needs pg or MySQL.
    if (dialect.name === 'sqlite') return

    for (const [what, revokeThem] of [
      ['a user', (t: any) => revokeUserSessions(t.context, '42')],
      ['everybody', (t: any) => revokeAllSessions(t.context)],
    ] as const) {
      test(`revoking ${what} waits for a session a request is writing, then deletes it too`, async ({
        assert,
        cleanup,
      }) => {
        const t = await setupStore(dialect)
        const knex = t.db.connection().getWriteClient()
        const request = await knex.transaction()
        cleanup(async () => {
          if (!request.isCompleted()) await request.rollback()
          await t.cleanup()
        })
        await t.seed(
          Array.from({ length: 3 }, (_, n) => ({
            id: rowId('a', n),
            expiresIn: HOUR,
            userId: '42',
          }))
        )
        // a request's merge holds the second row's lock, as it does while it writes
        await request(t.table).where('id', rowId('a', 1)).forUpdate().select('id')

        let settled = false
        const revoking = revokeThem(t).finally(() => (settled = true))
        await new Promise((resolve) => setTimeout(resolve, 300))
        assert.isFalse(settled, 'the revoke waits for the lock instead of skipping the row')
        await request(t.table)
          .where('id', rowId('a', 1))
          .update({ version: knex.raw('version + 1') })
        await request.commit()

        const summary = await revoking
        assert.equal(summary.deleted, 3)
        assert.lengthOf(await t.rows(), 0)
      }).timeout(20_000)
    }
  })
}
