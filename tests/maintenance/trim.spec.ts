import { test } from '@japa/runner'
import { enabledDialects } from '../helpers/dialects.ts'
import { DAY, HOUR, MINUTE } from '../helpers/app.ts'
import { trimSessions } from '../../src/maintenance/trim.ts'
import { errors } from '../../index.ts'
import { bodyOf, rowId, setupStore } from './helpers.ts'

for (const dialect of enabledDialects()) {
  test.group(`sessions:trim service [${dialect.label}]`, () => {
    test('without a batch size, the batches adapt and every expired row goes', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect, { config: { maxLifetime: '30 days' } })
      cleanup(() => t.cleanup())
      await t.seed([
        ...Array.from({ length: 2500 }, (_, n) => ({ id: rowId('a', n), expiresIn: -MINUTE })),
        ...Array.from({ length: 20 }, (_, n) => ({ id: rowId('b', n), expiresIn: HOUR })),
      ])
      const progress: number[] = []
      const summary = await trimSessions(t.context, {
        onProgress: ({ deleted }) => progress.push(deleted),
      })
      assert.equal(summary.deleted, 2500)
      // the first batch is 1,000 rows; the later ones 500 to 2,000, depending on its speed
      assert.equal(progress[0], 1000)
      assert.isAtLeast(summary.batches, 2)
      assert.isAtMost(summary.batches, 5)
      assert.lengthOf(await t.rows(), 20)
    })

    test('deletes idle-expired and past-lifetime rows in batches, keeps live ones', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect, { config: { maxLifetime: '30 days' } })
      cleanup(() => t.cleanup())
      await t.seed([
        ...Array.from({ length: 7 }, (_, n) => ({
          id: rowId('a', n),
          expiresIn: -MINUTE * (n + 1),
        })),
        { id: rowId('b', 0), expiresIn: 0 },
        ...Array.from({ length: 5 }, (_, n) => ({
          id: rowId('c', n),
          expiresIn: HOUR,
          createdAgo: 31 * DAY,
        })),
        ...Array.from({ length: 4 }, (_, n) => ({
          id: rowId('d', n),
          expiresIn: HOUR,
          createdAgo: 29 * DAY,
        })),
      ])

      const summary = await trimSessions(t.context, { batchSize: 3 })

      assert.equal(summary.deleted, 13)
      assert.equal(summary.batches, 5) // 8 idle-expired in 3 batches, 5 past lifetime in 2
      assert.isFalse(summary.dryRun)
      const remaining = await t.rows()
      assert.deepEqual(
        remaining.map((row) => row.id),
        Array.from({ length: 4 }, (_, n) => rowId('d', n))
      )
    })

    test('idle-expired rows go one statement per batch on PostgreSQL and MySQL', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([
        ...Array.from({ length: 25 }, (_, n) => ({ id: rowId('a', n), expiresIn: -n - 1 })),
        { id: rowId('b', 0), expiresIn: HOUR },
      ])
      const statements: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', ({ sql }: { sql: string }) => statements.push(sql.split(' ')[0]))

      const summary = await trimSessions(t.context, { batchSize: 10 })

      assert.equal(summary.deleted, 25)
      assert.equal(summary.batches, 3)
      const idle = statements.slice(0, statements.lastIndexOf('delete') + 1)
      if (dialect.name === 'sqlite') {
        // a single writer: the ids are picked, then deleted by key
        assert.deepEqual(idle.slice(0, 2), ['select', 'delete'])
      } else {
        // three full or partial batches, then one that finds nothing
        assert.deepEqual(statements.slice(0, 4), ['delete', 'delete', 'delete', 'delete'])
      }
      const remaining = await t.rows()
      assert.deepEqual(
        remaining.map((row) => row.id),
        [rowId('b', 0)]
      )
    })

    test('--dry-run counts what it would delete and deletes nothing', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([
        { id: rowId('a', 1), expiresIn: -1 },
        { id: rowId('a', 2), expiresIn: HOUR, createdAgo: 40 * DAY },
        { id: rowId('a', 3), expiresIn: HOUR },
      ])

      const summary = await trimSessions(t.context, { dryRun: true })

      assert.equal(summary.deleted, 2)
      assert.isTrue(summary.dryRun)
      assert.lengthOf(await t.rows(), 3)
    })

    test('two trims at once delete every expired row exactly once', async ({ assert, cleanup }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([
        ...Array.from({ length: 240 }, (_, n) => ({ id: rowId('a', n), expiresIn: -n - 1 })),
        ...Array.from({ length: 60 }, (_, n) => ({
          id: rowId('b', n),
          expiresIn: HOUR,
          createdAgo: 31 * DAY,
        })),
        { id: rowId('c', 0), expiresIn: HOUR },
      ])

      const [first, second] = await Promise.all([
        trimSessions(t.context, { batchSize: 7 }),
        trimSessions(t.context, { batchSize: 11 }),
      ])

      assert.equal(first.deleted + second.deleted, 300)
      assert.deepEqual(await t.rows(), [{ id: rowId('c', 0), version: 0 }])
    })

    test('removes exactly the sessions the store no longer serves', async ({ assert, cleanup }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      const server = await t.serve({ stored: t.factory })
      server.handler = (ctx) => {
        if (ctx.request.input('set')) ctx.session.put('name', ctx.request.input('set'))
        return { name: ctx.session.get('name') ?? null }
      }
      const old = server.client()
      await old.get('/?set=old')
      t.clock.advance(2 * HOUR + 1)
      const fresh = server.client()
      await fresh.get('/?set=fresh')

      const summary = await trimSessions(t.context)

      assert.equal(summary.deleted, 1)
      assert.lengthOf(await t.rows(), 1)
      assert.deepEqual(await bodyOf(fresh), { name: 'fresh' })
      assert.deepEqual(await bodyOf(old), { name: null })
    })

    test('emits stored_session:trim with counts only', async ({ assert, cleanup }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([{ id: rowId('a', 1), expiresIn: -1 }])
      const events: unknown[] = []
      t.emitter.on('stored_session:trim', (event) => {
        events.push(event)
      })

      await trimSessions(t.context)

      assert.lengthOf(events, 1)
      assert.containsSubset(events[0], { deleted: 1, batches: 1, dryRun: false })
      assert.sameMembers(Object.keys(events[0] as object), [
        'deleted',
        'batches',
        'dryRun',
        'duration',
      ])
    })

    test('refuses a batch size it cannot bind', async ({ assert, cleanup }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await assert.rejects(
        () => trimSessions(t.context, { batchSize: 0 }),
        errors.E_INVALID_MAINTENANCE_OPTION
      )
    })
  })
}
