import { test } from '@japa/runner'
import { randomUUID } from 'node:crypto'
import type { SessionData } from '@adonisjs/session/types'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { FakeClock, makeKeyring, requestStore, setupDatabase, uniqueTable } from './helpers/app.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { SessionRepository } from '../src/request/repository.ts'
import type { StoredSessionStore } from '../src/request/store.ts'
import { errors } from '../index.ts'

/**
 * A store with `mergeQueueLimit: 2` whose merges (repository.serialized)
 * wait at a gate the test opens, so that the merges of a burst pile up.
 */
async function setup(dialect: Dialect) {
  const table = uniqueTable()
  const { db, emitter } = await setupDatabase(dialect, table)
  const factory = createStoredSessionFactory(resolveConfig({ table, mergeQueueLimit: 2 }), {
    db,
    emitter,
    keyring: makeKeyring(),
    clock: new FakeClock().now,
  })

  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const merges = { started: 0, running: 0, mostAtOnce: 0 }
  const serialized = SessionRepository.prototype.serialized
  SessionRepository.prototype.serialized = async function (this: SessionRepository, work: any) {
    merges.started++
    merges.mostAtOnce = Math.max(merges.mostAtOnce, ++merges.running)
    try {
      await gate
      return await serialized.call(this, work)
    } finally {
      merges.running--
    }
  } as typeof serialized

  return {
    merges,
    open,
    request: () => requestStore(factory) as unknown as StoredSessionStore,
    async cleanup() {
      SessionRepository.prototype.serialized = serialized
      await db.connection().schema.dropTableIfExists(table)
      await db.manager.closeAll()
    },
  }
}

for (const dialect of enabledDialects()) {
  test.group(`merge queue: one session's merges take turns [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('a burst of conflicting writes on one session: one merge at a time, 409 past the bound', async ({
      assert,
    }) => {
      const id = randomUUID()
      await t.request().write(id, { seed: 1 })
      // five requests read the session, one writes first, the four others then lose
      const stores = Array.from({ length: 5 }, () => t.request())
      const read: SessionData[] = []
      for (const store of stores) read.push((await store.read(id))!)
      await stores[0].write(id, { ...read[0], k0: true })

      const outcomes: Promise<string>[] = []
      let rejected = 0
      let bothRejected!: () => void
      const twoRejections = new Promise<void>((resolve) => (bothRejected = resolve))
      for (let index = 1; index < 5; index++) {
        outcomes.push(
          stores[index].write(id, { ...read[index], [`k${index}`]: true }).then(
            () => 'written',
            (error: unknown) => {
              if (++rejected === 2) bothRejected()
              return error instanceof errors.E_SESSION_WRITE_CONFLICT ? '409' : String(error)
            }
          )
        )
      }

      // the first merge holds the gate, a second waits its turn, two more find the queue full
      await twoRejections
      assert.equal(t.merges.started, 1, 'the waiting merge holds no connection yet')
      t.open()
      const settled = await Promise.all(outcomes)

      assert.sameMembers(settled, ['written', 'written', '409', '409'])
      assert.equal(t.merges.mostAtOnce, 1)
      assert.equal(t.merges.started, 2)
      const stored = (await t.request().read(id))!
      const kept = Object.keys(stored).filter((key) => key.startsWith('k'))
      assert.lengthOf(kept, 3, 'the first write and the two merged ones')
    })

    test('merges of different sessions do not wait for each other', async ({ assert }) => {
      const ids = [randomUUID(), randomUUID()]
      const writes: Promise<void>[] = []
      for (const id of ids) {
        await t.request().write(id, { seed: 1 })
        const first = t.request()
        const second = t.request()
        const a = (await first.read(id))!
        const b = (await second.read(id))!
        await first.write(id, { ...a, one: 1 })
        writes.push(second.write(id, { ...b, two: 2 }))
      }
      // both merges reach the gate: neither queues behind the other's session
      while (t.merges.started < 2) await new Promise((resolve) => setImmediate(resolve))
      t.open()
      await Promise.all(writes)
      for (const id of ids) {
        assert.deepEqual(await t.request().read(id), { seed: 1, one: 1, two: 2 })
      }
    })
  })
}
