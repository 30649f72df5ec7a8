import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { MINUTE, createTestApp, requestStore } from './helpers/app.ts'

/**
 * How many SQL statements a request costs, counted with a knex `query`
 * listener on the store's connection: the point of "only write what
 * changed" is fewer statements, so the counts are the contract.
 */
async function setup(dialect: typeof enabledDialects extends () => (infer D)[] ? D : never) {
  const t = await createTestApp(dialect, { age: '2 hours' })
  const statements: string[] = []
  t.db
    .connection()
    .getWriteClient()
    .on(
      'query',
      (query: { sql: string }) =>
        void statements.push(query.sql.split(' ')[0].replace(/;$/, '').toLowerCase())
    )

  /** Sends a request and returns the statements it issued. */
  const client = t.app.client()
  const request = async (path: string) => {
    statements.length = 0
    const response = await client.get(path)
    if (response.status !== 200) throw new Error(`request failed with ${response.status}`)
    return [...statements]
  }

  t.app.handler = (ctx) => {
    switch (ctx.request.url()) {
      case '/login':
        ctx.session.put('user', 7)
        return 'ok'
      case '/cart':
        ctx.session.put('cart', [Date.now()])
        return 'ok'
      case '/same':
        ctx.session.put('user', 7) // the value it already holds
        return 'ok'
      default:
        return { user: ctx.session.get('user') }
    }
  }
  return { ...t, request, statements }
}

for (const dialect of enabledDialects()) {
  test.group(`statements per request [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('a new session costs a read and one insert', async ({ assert }) => {
      assert.deepEqual(await t.request('/login'), ['select', 'insert'])
    })

    test('a read-only request within touchInterval costs exactly one SELECT', async ({
      assert,
    }) => {
      await t.request('/login')
      t.clock.advance(5 * MINUTE) // touchInterval is 5% of 2 hours: 6 minutes
      assert.deepEqual(await t.request('/'), ['select'])
      assert.deepEqual(await t.request('/'), ['select'])
    })

    test('a read-only request past touchInterval adds one UPDATE, then none again', async ({
      assert,
    }) => {
      await t.request('/login')
      t.clock.advance(6 * MINUTE + 1)
      assert.deepEqual(await t.request('/'), ['select', 'update'])
      t.clock.advance(5 * MINUTE)
      assert.deepEqual(await t.request('/'), ['select'])
    })

    test('a request that changes the session costs one read and one write', async ({ assert }) => {
      await t.request('/login')
      assert.deepEqual(await t.request('/cart'), ['select', 'update'])
    })

    test('a write of unchanged values is a touch, skipped within touchInterval', async ({
      assert,
    }) => {
      await t.request('/login')
      assert.deepEqual(await t.request('/same'), ['select'])
      t.clock.advance(6 * MINUTE + 1)
      assert.deepEqual(await t.request('/same'), ['select', 'update'])
    })

    test('a write refreshes the touch clock: no UPDATE right after it', async ({ assert }) => {
      await t.request('/login')
      t.clock.advance(5 * MINUTE)
      await t.request('/cart')
      t.clock.advance(5 * MINUTE) // 10 minutes after the insert, 5 after the write
      assert.deepEqual(await t.request('/'), ['select'])
    })

    test('a write that lost to another request adds one re-read and one retried write', async ({
      assert,
    }) => {
      const id = '5e1f0c4a-58a3-4d9e-9f57-0c6f3c3f7a11'
      const factory = t.app.sessionConfig.stores.stored
      const store = () => requestStore(factory, t.app.sessionConfig)
      await store().write(id, { seed: 1 })
      const first = store()
      const second = store()
      const a = (await first.read(id))!
      const b = (await second.read(id))!
      await first.write(id, { ...a, one: 1 })

      t.statements.length = 0
      await second.write(id, { ...b, two: 2 })
      // BEGIN / COMMIT wrap the retry on PostgreSQL and MySQL (the row lock).
      const statements = t.statements.filter((verb) => !/^(begin|commit)/i.test(verb))
      assert.deepEqual(statements, ['update', 'select', 'update'])
    })
  })
}
