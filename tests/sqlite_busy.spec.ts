import { test } from '@japa/runner'
import { retryWhenBusy } from '../src/request/sqlite_statements.ts'

function sqliteError(code: string) {
  return Object.assign(new Error(`${code}: database is locked`), { code })
}

test.group('SQLite busy retries', () => {
  test('a statement SQLite refused as busy runs again until it goes through', async ({
    assert,
  }) => {
    let calls = 0
    const result = await retryWhenBusy(() => {
      calls++
      if (calls === 1) throw sqliteError('SQLITE_BUSY')
      if (calls === 2) throw sqliteError('SQLITE_BUSY_SNAPSHOT')
      return 'done'
    })
    assert.equal(result, 'done')
    assert.equal(calls, 3)
  })

  test('other errors are not retried', async ({ assert }) => {
    let calls = 0
    await assert.rejects(
      () =>
        retryWhenBusy(() => {
          calls++
          throw sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY')
        }),
      /SQLITE_CONSTRAINT_PRIMARYKEY/
    )
    assert.equal(calls, 1)
  })

  test('a database that stays busy fails after a bounded number of attempts', async ({
    assert,
  }) => {
    let calls = 0
    await assert.rejects(
      () =>
        retryWhenBusy(() => {
          calls++
          throw sqliteError('SQLITE_BUSY')
        }),
      /SQLITE_BUSY/
    )
    assert.equal(calls, 12)
  })
})
