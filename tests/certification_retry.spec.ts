import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { setupDatabase, uniqueTable } from './helpers/app.ts'
import { SessionRepository } from '../src/request/repository.ts'
import {
  isCertificationFailure,
  retryOnCertificationFailure,
} from '../src/request/certification_retry.ts'

/** The errors each driver raises for a conflict the server rolled back whole. */
const GALERA_CERTIFICATION = Object.assign(new Error('Deadlock found when trying to get lock'), {
  code: 'ER_LOCK_DEADLOCK',
  errno: 1213,
  sqlState: '40001',
})
const PG_SERIALIZATION = Object.assign(new Error('could not serialize access'), { code: '40001' })
const PG_DEADLOCK = Object.assign(new Error('deadlock detected'), { code: '40P01' })
const LOCK_WAIT_TIMEOUT = Object.assign(new Error('Lock wait timeout exceeded'), {
  code: 'ER_LOCK_WAIT_TIMEOUT',
  errno: 1205,
})

test.group('retryOnCertificationFailure', () => {
  test('knows a certification failure, a deadlock and a serialization failure of each driver', ({
    assert,
  }) => {
    for (const error of [GALERA_CERTIFICATION, PG_SERIALIZATION, PG_DEADLOCK]) {
      assert.isTrue(isCertificationFailure(error), error.message)
    }
    for (const error of [LOCK_WAIT_TIMEOUT, new Error('ECONNREFUSED'), null, undefined, 'x']) {
      assert.isFalse(isCertificationFailure(error))
    }
  })

  test('runs the work again after a certification failure, with a growing, jittered wait', async ({
    assert,
  }) => {
    const waits: number[] = []
    let runs = 0
    const result = await retryOnCertificationFailure(
      async () => {
        if (++runs < 5) throw GALERA_CERTIFICATION
        return 'written'
      },
      { sleep: async (ms) => void waits.push(ms), random: () => 0.5 }
    )
    assert.equal(result, 'written')
    assert.equal(runs, 5)
    assert.deepEqual(waits, [3, 5, 10, 20]) // half of 5, 10, 20, 40 ms
  })

  test('gives up after the bounded number of runs with the last error; waits stay under the cap', async ({
    assert,
  }) => {
    const waits: number[] = []
    let runs = 0
    const failing = retryOnCertificationFailure(
      async () => {
        runs++
        throw PG_SERIALIZATION
      },
      { sleep: async (ms) => void waits.push(ms), random: () => 1 }
    )
    await assert.rejects(() => failing, 'could not serialize access')
    assert.equal(runs, 10)
    assert.deepEqual(waits, [5, 10, 20, 40, 80, 160, 160, 160, 160])
  })

  test('any other error is thrown at once', async ({ assert }) => {
    let runs = 0
    await assert.rejects(
      () =>
        retryOnCertificationFailure(async () => {
          runs++
          throw LOCK_WAIT_TIMEOUT
        }),
      'Lock wait timeout exceeded'
    )
    assert.equal(runs, 1)
  })
})

for (const dialect of enabledDialects()) {
  // SQLite's serialized() takes turns within the process: it cannot deadlock.
  if (dialect.name === 'sqlite') continue

  test.group(`serialized() after a real deadlock [${dialect.label}]`, () => {
    /**
     * Two locked merges taking two rows in opposite order: the server
     * picks one as the deadlock victim and rolls it back whole (InnoDB
     * 1213, PostgreSQL 40P01), the same error a Galera certification
     * failure raises at COMMIT. The victim runs again and both complete.
     */
    test('the transaction the server rolled back runs again and both complete', async ({
      assert,
      cleanup,
    }) => {
      const table = uniqueTable()
      const { db } = await setupDatabase(dialect, table)
      cleanup(async () => {
        await db.connection().schema.dropTableIfExists(table)
        await db.manager.closeAll()
      })
      const repository = new SessionRepository(db.connection().getWriteClient(), table)
      const [a, b] = ['a'.repeat(64), 'b'.repeat(64)]
      for (const id of [a, b]) {
        await repository.insert({
          id,
          data: Buffer.from('x'),
          version: 1,
          userId: null,
          now: new Date(),
          expiresAt: new Date(Date.now() + 60_000),
        })
      }

      // both hold their first row before either asks for its second
      let arrived = 0
      let release!: () => void
      const bothLocked = new Promise<void>((resolve) => (release = resolve))
      const runs = { ab: 0, ba: 0 }
      const lockInOrder = (first: string, second: string, name: 'ab' | 'ba') =>
        repository.serialized(async (locked) => {
          runs[name]++
          await locked.find(first, true)
          if (++arrived === 2) release()
          await bothLocked
          const row = await locked.find(second, true)
          return locked.update(second, row!.version, {
            data: Buffer.from(name),
            now: new Date(),
            expiresAt: new Date(Date.now() + 60_000),
          })
        })

      const results = await Promise.all([lockInOrder(a, b, 'ab'), lockInOrder(b, a, 'ba')])

      assert.deepEqual(results, [true, true])
      // one of them was the victim and ran a second time
      assert.equal(runs.ab + runs.ba, 3)
    }).timeout(20_000)
  })
}
