import { test } from '@japa/runner'
import { randomUUID } from 'node:crypto'
import type { SessionData } from '@adonisjs/session/types'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { FakeClock, makeKeyring, requestStore, setupDatabase, uniqueTable } from './helpers/app.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { contextOf } from '../src/store_context.ts'
import { SessionRepository } from '../src/request/repository.ts'
import { StoredSessionStore } from '../src/request/store.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import type { StoredSessionConfig, StoredSessionEvents } from '../src/types.ts'
import { revokeUserSessions } from '../src/maintenance/revoke.ts'
import { MINUTE } from './helpers/app.ts'

/**
 * Two stores on one session id play two requests of one browser: each
 * reads, then writes what its handler left, in an order the test chooses.
 */
async function setup(dialect: Dialect, config: StoredSessionConfig = {}) {
  const table = uniqueTable()
  const { db, emitter } = await setupDatabase(dialect, table)
  const clock = new FakeClock()
  const factory = createStoredSessionFactory(resolveConfig({ table, ...config }), {
    db,
    emitter,
    keyring: makeKeyring(),
    clock: clock.now,
  })
  const conflicts: StoredSessionEvents['stored_session:conflict'][] = []
  emitter.on('stored_session:conflict', (event) => void conflicts.push(event))
  const request = () => requestStore(factory) as unknown as StoredSessionStore
  return {
    db,
    table,
    clock,
    conflicts,
    request,
    context: contextOf(factory)!,
    /** What a request arriving now would read. */
    stored: (id: string) => request().read(id),
    async cleanup() {
      await db.connection().schema.dropTableIfExists(table)
      await db.manager.closeAll()
    },
  }
}

/** A request's read, with the values object the Session would then mutate. */
async function begin(store: StoredSessionStore, id: string): Promise<SessionData> {
  return (await store.read(id)) ?? {}
}

for (const dialect of enabledDialects()) {
  test.group(`concurrency: store-level conflicts [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('two requests setting different keys both keep their change', async ({ assert }) => {
      const id = randomUUID()
      await t.request().write(id, { seed: 1 })

      const first = t.request()
      const second = t.request()
      const a = await begin(first, id)
      const b = await begin(second, id)
      a.fromFirst = true
      b.fromSecond = true
      await first.write(id, a)
      await second.write(id, b)

      assert.deepEqual(await t.stored(id), { seed: 1, fromFirst: true, fromSecond: true })
      assert.deepEqual(t.conflicts, [
        { hashedId: hashSessionId(id), attempt: 1, outcome: 'merged', changedKeys: 1 },
      ])
    })

    test('a key both requests changed takes the later write', async ({ assert }) => {
      const id = randomUUID()
      await t.request().write(id, { theme: 'light' })

      const first = t.request()
      const second = t.request()
      const a = await begin(first, id)
      const b = await begin(second, id)
      a.theme = 'dark'
      b.theme = 'blue'
      await first.write(id, a)
      await second.write(id, b)

      assert.deepEqual(await t.stored(id), { theme: 'blue' })
    })

    test('a key one request removed stays removed', async ({ assert }) => {
      const id = randomUUID()
      await t.request().write(id, { cart: [1], user: 7 })

      const first = t.request()
      const second = t.request()
      const a = await begin(first, id)
      const b = await begin(second, id)
      delete a.cart
      b.seen = true
      await first.write(id, a)
      await second.write(id, b)

      assert.deepEqual(await t.stored(id), { user: 7, seen: true })
    })

    test('a session destroyed meanwhile is not resurrected by a write', async ({ assert }) => {
      const id = randomUUID()
      await t.request().write(id, { user: 7 })

      const signOut = t.request()
      const late = t.request()
      await begin(signOut, id)
      const values = await begin(late, id)
      values.lastPage = '/orders'
      await signOut.destroy(id)
      await late.write(id, values)

      assert.isNull(await t.stored(id))
      assert.deepEqual(t.conflicts, [
        { hashedId: hashSessionId(id), attempt: 1, outcome: 'destroyed', changedKeys: 1 },
      ])
    })

    test('a regenerate() of a session destroyed meanwhile writes no new session', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { user: 7 })

      const signOut = t.request()
      const signIn = t.request()
      await begin(signOut, id)
      const values = await begin(signIn, id)
      values.user = 8
      await signOut.destroy(id)
      // what the Session's commit does after regenerate()
      const newId = randomUUID()
      await signIn.destroy(id)
      await signIn.write(newId, values)

      assert.isNull(await t.stored(id))
      assert.isNull(await t.stored(newId))
      assert.deepEqual(t.conflicts, [
        { hashedId: hashSessionId(newId), attempt: 0, outcome: 'destroyed', changedKeys: 1 },
      ])
    })

    test('a request that read a session before maxLifetime does not start it again after', async ({
      assert,
      cleanup,
    }) => {
      const short = await setup(dialect, { maxLifetime: '1 hour' })
      cleanup(() => short.cleanup())
      const id = randomUUID()
      await short.request().write(id, { auth_web: 5 })
      short.clock.advance(59 * MINUTE)
      const slow = short.request()
      const other = short.request()
      const values = await begin(slow, id)
      const otherValues = await begin(other, id)
      otherValues.tab = 1
      await other.write(id, otherValues)
      short.clock.advance(2 * MINUTE)
      values.cart = [1]
      await slow.write(id, values)
      short.clock.advance(MINUTE)

      assert.isNull(await short.stored(id))
      assert.deepEqual(
        short.conflicts.map((event) => event.outcome),
        ['destroyed']
      )
    })

    // SQLite has no certification failures: serialized() holds the file's write lock
    if (dialect.name !== 'sqlite') {
      test('a regenerate() committed past maxLifetime does not carry the session into a new id', async ({
        assert,
        cleanup,
      }) => {
        const short = await setup(dialect, { maxLifetime: '1 hour' })
        cleanup(() => short.cleanup())
        const id = randomUUID()
        await short.request().write(id, { auth_web: 5 })
        short.clock.advance(59 * MINUTE)
        const slow = short.request()
        const values = await begin(slow, id)
        short.clock.advance(2 * MINUTE)
        // what the Session's commit does after regenerate()
        const newId = randomUUID()
        await slow.destroy(id)
        await slow.write(newId, values)

        assert.isNull(await short.stored(id))
        assert.isNull(await short.stored(newId))
      })

      test('a merge that fails certification while the user is revoked stays revoked on its retry', async ({
        assert,
      }) => {
        const id = randomUUID()
        await t.request().write(id, { auth_web: 5 })
        const slow = certificationFailingStore()
        const other = t.request()
        const values = await begin(slow, id)
        const otherValues = await begin(other, id)
        otherValues.tab = 1
        await other.write(id, otherValues)
        values.cart = [1]
        // another node commits revokeAll(5) while this merge's transaction is
        // certified, and wins: the merge's COMMIT fails with 1213, and it runs again
        await slow.write(id, values)

        assert.isNull(await t.stored(id))
        const [{ count }] = await t.db.from(t.table).count('* as count')
        assert.equal(Number(count), 0)
      })
    }

    if (dialect.name !== 'sqlite') {
      test('a merged sign-out whose COMMIT fails certification clears user_id on its rerun', async ({
        assert,
      }) => {
        const id = randomUUID()
        await t.request().write(id, { auth_web: 5, cart: [1] })
        const signOut = commitFailingStore()
        const other = t.request()
        const values = await begin(signOut, id)
        const otherValues = await begin(other, id)
        otherValues.tab = 1
        await other.write(id, otherValues)
        delete values.auth_web
        await signOut.write(id, values)

        const [row] = await t.db.from(t.table).select('user_id')
        assert.isNull(row.user_id)
        assert.deepEqual(await t.stored(id), { cart: [1], tab: 1 })
      })
    }

    test("a tag() of this request survives a merge over another request's sign-out", async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { auth_web: 5 })
      const switching = t.request()
      const signOut = t.request()
      const values = await begin(switching, id)
      const signOutValues = await begin(signOut, id)
      await switching.tag(id, '7')
      delete signOutValues.auth_web
      await signOut.write(id, signOutValues)
      values.auth_web = 7
      await switching.write(id, values)

      const [row] = await t.db.from(t.table).select('user_id')
      assert.equal(row.user_id, '7')
      assert.deepEqual(await t.stored(id), { auth_web: 7 })
    })

    test("a touch does not correct user_id over another request's write", async ({ assert }) => {
      const id = randomUUID()
      await t.request().write(id, { auth_web: 5 })
      // a user_id that disagrees: imported, or written while userKey was off
      await t.db.from(t.table).where('id', hashSessionId(id)).update({ user_id: null })
      const stale = t.request()
      const other = t.request()
      const values = await begin(stale, id)
      const otherValues = await begin(other, id)
      // another user signed in on this session (without regenerate) meanwhile
      otherValues.auth_web = 7
      await other.write(id, otherValues)
      await stale.write(id, values)

      const [row] = await t.db.from(t.table).select('user_id')
      assert.equal(row.user_id, '7')
      const ofFive = await revokeUserSessions(t.context, 5)
      const ofSeven = await revokeUserSessions(t.context, 7)
      assert.equal(ofFive.deleted, 0)
      assert.equal(ofSeven.deleted, 1)
    })

    test('a regenerate() of a session revoked meanwhile, and started again under its id by a parallel request, carries nothing', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { auth_web: 5, secret: 'x' })
      t.clock.advance(MINUTE)
      const slow = t.request()
      const values = await begin(slow, id)
      await revokeUserSessions(t.context, 5)
      // the same browser's next request: no session, so a new one under the same cookie id
      const parallel = t.request()
      const fresh = await begin(parallel, id)
      fresh.csrf = 'abc'
      await parallel.write(id, fresh)
      const newId = randomUUID()
      await slow.destroy(id)
      await slow.write(newId, values)

      assert.isNull(await t.stored(newId))
      assert.deepEqual(await t.stored(id), { csrf: 'abc' })
      const [{ count }] = await t.db.from(t.table).whereNotNull('user_id').count('* as count')
      assert.equal(Number(count), 0)
    })

    test('a write of a session revoked meanwhile does not reach the new session a parallel request started under its id', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { auth_web: 5 })
      t.clock.advance(MINUTE)
      const slow = t.request()
      const values = await begin(slow, id)
      await revokeUserSessions(t.context, 5)
      const parallel = t.request()
      const fresh = await begin(parallel, id)
      fresh.csrf = 'abc'
      await parallel.write(id, fresh)
      values.sudo = true
      await slow.write(id, values)

      assert.deepEqual(await t.stored(id), { csrf: 'abc' })
      assert.deepEqual(
        t.conflicts.map((event) => event.outcome),
        ['destroyed']
      )
    })

    test('a regenerate() after another request wrote the session still moves it to the new id', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { auth_web: 5 })
      const signIn = t.request()
      const other = t.request()
      const values = await begin(signIn, id)
      const otherValues = await begin(other, id)
      otherValues.tab = 1
      await other.write(id, otherValues)
      values.auth_web = 6
      const newId = randomUUID()
      await signIn.destroy(id)
      await signIn.write(newId, values)

      assert.isNull(await t.stored(id))
      assert.deepEqual(await t.stored(newId), { auth_web: 6 })
    })

    test('a sign-out after any number of writes by other requests still ends the session', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { auth_web: 5, csrf: 'x' })
      const signOut = t.request()
      const values = await begin(signOut, id)
      // 20,000 writes by other requests (a client flooding the session) while it ran
      await t.db
        .from(t.table)
        .where('id', hashSessionId(id))
        .update({ version: t.db.raw('version + 20000') })
      delete values.auth_web
      const newId = randomUUID()
      await signOut.destroy(id)
      await signOut.write(newId, values)

      assert.isNull(await t.stored(id))
      assert.deepEqual(await t.stored(newId), { csrf: 'x' })
      const [{ count }] = await t.db.from(t.table).whereNotNull('user_id').count('* as count')
      assert.equal(Number(count), 0)
    })

    test("a sign-out clears user_id that another request's touch set after it read", async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { auth_web: 5, cart: [1] })
      // a user_id that disagrees: imported, or written while userKey was off
      await t.db.from(t.table).where('id', hashSessionId(id)).update({ user_id: null })
      const signOut = t.request()
      const reader = t.request()
      const values = await begin(signOut, id)
      await begin(reader, id)
      await reader.touch(id)
      delete values.auth_web
      await signOut.write(id, values)

      const [row] = await t.db.from(t.table).select('user_id')
      assert.isNull(row.user_id)
      assert.deepEqual(await t.stored(id), { cart: [1] })
    })

    test('flash messages set meanwhile survive a request consuming older ones', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { user: 7, __flash__: { notice: 'saved' } })

      const page = t.request()
      const post = t.request()
      const shown = await begin(page, id)
      const posted = await begin(post, id)
      delete shown.__flash__ // the Session pulls flash messages on read
      delete posted.__flash__
      posted.__flash__ = { error: 'declined' }
      await post.write(id, posted)
      await page.write(id, shown)

      assert.deepEqual(await t.stored(id), { user: 7, __flash__: { error: 'declined' } })
    })

    test('two requests creating the same session merge instead of failing', async ({ assert }) => {
      const id = randomUUID()
      const first = t.request()
      const second = t.request()
      const a = await begin(first, id)
      const b = await begin(second, id)
      a.fromFirst = true
      b.fromSecond = true
      await first.write(id, a)
      await second.write(id, b)

      assert.deepEqual(await t.stored(id), { fromFirst: true, fromSecond: true })
      assert.lengthOf(t.conflicts, 1)
    })

    /**
     * A repository on which another writer gets in before every
     * optimistic update: the worst a burst of parallel requests can do.
     */
    function overtakenStore() {
      class AlwaysOvertaken extends SessionRepository {
        async update(hash: string, version: number, changes: any) {
          await t.db.rawQuery(`update ${t.table} set version = version + 1 where id = ?`, [hash])
          return super.update(hash, version, changes)
        }
      }
      return storeOn(new AlwaysOvertaken(t.db.connection().getWriteClient(), t.table))
    }

    /**
     * A request's store over `repository`, as the factory would build it.
     */
    function storeOn(repository: SessionRepository) {
      return new StoredSessionStore({
        repository,
        codec: t.context.codec,
        events: t.context.events,
        clock: t.clock.now,
        ttl: 2 * 3600_000,
        maxLifetime: 30 * 86_400_000,
        touchInterval: 360_000,
        addressableByHash: false,
        userKey: 'auth_web',
      })
    }

    /** What a Galera node reports for a transaction that lost certification. */
    function certificationFailure() {
      return Object.assign(new Error('Deadlock found'), {
        errno: 1213,
        code: 'ER_LOCK_DEADLOCK',
        sqlState: '40001',
      })
    }

    /**
     * A store whose first write inside the merge's transaction runs
     * revokeAll(5) and then fails as a Galera certification failure does
     * (1213 / 40001): the transaction is retried from its re-read.
     */
    function certificationFailingStore() {
      let failed = false
      let revoking: Promise<unknown> | null = null
      class Certifying extends SessionRepository {
        async serialized<Result>(work: (repository: SessionRepository) => Promise<Result>) {
          return super.serialized(async (locked) => {
            // the rerun starts once the other node's revoke has committed
            if (revoking) await revoking
            const update = locked.update.bind(locked)
            locked.update = async (...args) => {
              if (failed) return update(...args)
              failed = true
              // it waits for this transaction's row lock, released by the rollback
              revoking = revokeUserSessions(t.context, 5)
              throw certificationFailure()
            }
            return work(locked)
          })
        }
      }
      return storeOn(new Certifying(t.db.connection().getWriteClient(), t.table))
    }

    /**
     * A store whose first merge transaction fails at COMMIT as Galera
     * reports a certification failure (1213): its work ran, and runs again.
     */
    function commitFailingStore() {
      let failed = false
      class FailingCommit extends SessionRepository {
        async serialized<Result>(work: (repository: SessionRepository) => Promise<Result>) {
          return super.serialized(async (locked) => {
            const result = await work(locked)
            if (failed) return result
            failed = true
            throw certificationFailure()
          })
        }
      }
      return storeOn(new FailingCommit(t.db.connection().getWriteClient(), t.table))
    }

    test('after one lost attempt the merge holds the lock and cannot lose again', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { seed: 1 })
      const store = overtakenStore()
      const values = await begin(store, id)
      values.kept = true

      await store.write(id, values)
      assert.deepEqual(await t.stored(id), { seed: 1, kept: true })
      assert.lengthOf(t.conflicts, 1)
    })
  })
}
