import { test } from '@japa/runner'
import fc from 'fast-check'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import { sample } from './helpers/fuzz.ts'
import { isValidSessionId } from '../src/request/session_id.ts'

/**
 * Requests per kind of cookie: enough to show a pattern, few enough to
 * keep the suite fast on a shared 2-core runner.
 */
const FLOOD = 100

/** Requests in flight at once. */
const CONCURRENCY = 20

const malformedIds = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 15 }),
    fc.string({ unit: 'binary', minLength: 16, maxLength: 200 }),
    fc.stringMatching(/^[A-Za-z0-9_-]{129,300}$/),
    fc.stringMatching(/^[0-9a-f]{64}$/)
  )
  .filter((id) => !isValidSessionId(id))

const unknownIds = fc
  .oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9_-]{16,128}$/))
  .filter((id) => isValidSessionId(id))

/** Not signed by the app: the framework drops them before the store. */
const forgedCookies = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,200}$/)

for (const dialect of enabledDialects()) {
  test.group(`hostile input: cookie flood [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof createTestApp>>
    let statements: string[]
    group.each.setup(async () => {
      t = await createTestApp(dialect)
      t.app.handler = (ctx) => ({ visits: ctx.session.get('visits') ?? null })
      statements = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', (query: { sql: string }) => void statements.push(query.sql))
      return () => t.cleanup()
    })

    async function flood(cookies: string[]) {
      const statuses = new Set<number>()
      for (let start = 0; start < cookies.length; start += CONCURRENCY) {
        const batch = cookies.slice(start, start + CONCURRENCY)
        const responses = await Promise.all(
          batch.map((cookie) => fetch(t.app.url, { headers: { cookie } }))
        )
        for (const response of responses) {
          statuses.add(response.status)
          await response.arrayBuffer()
        }
      }
      return [...statuses]
    }

    async function rowCount() {
      const [{ count }] = await t.db.connection().from(t.table).count('* as count')
      return Number(count)
    }

    test('signed cookies holding malformed ids cost no query and write nothing', async ({
      assert,
    }) => {
      const cookies = sample(malformedIds, FLOOD).map((id) => t.app.signedCookie(id))
      assert.deepEqual(await flood(cookies), [200])
      assert.deepEqual(statements, [])
      assert.equal(await rowCount(), 0)
    })

    test('well-formed unknown ids cost one lookup each, never a write or a delete', async ({
      assert,
    }) => {
      const cookies = sample(unknownIds, FLOOD).map((id) => t.app.signedCookie(id))
      assert.deepEqual(await flood(cookies), [200])
      const kinds = new Set(statements.map((sql) => sql.trim().split(/\s/)[0].toLowerCase()))
      assert.deepEqual([...kinds], ['select'])
      assert.lengthOf(statements, FLOOD)
      assert.equal(await rowCount(), 0)
    })

    test('forged cookies are dropped by the framework: a lookup of a fresh id, never a write', async ({
      assert,
    }) => {
      const cookies = sample(forgedCookies, FLOOD).map((value) => `adonis_session=${value}`)
      assert.deepEqual(await flood(cookies), [200])
      const kinds = new Set(statements.map((sql) => sql.trim().split(/\s/)[0].toLowerCase()))
      assert.deepEqual([...kinds], ['select'])
      assert.equal(statements.length, FLOOD)
      assert.equal(await rowCount(), 0)
    })
  })
}
