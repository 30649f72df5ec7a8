import { test } from '@japa/runner'
import { randomUUID } from 'node:crypto'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import { hashSessionId } from '../src/request/session_id.ts'

/**
 * `SessionCollection` is a container singleton: the store it builds serves
 * every call of the process. Each test keeps one collection across the
 * steps, as an app resolving it from the container does, while requests
 * change the table in between.
 */
async function setup(dialect: Dialect) {
  const t = await createTestApp(dialect, { config: { onError: 'continue' } })
  t.app.handler = (ctx) => {
    if (ctx.request.url() === '/login') ctx.session.put('auth_web', 5)
    return { user: ctx.session.get('auth_web') ?? null }
  }
  const id = randomUUID()
  /** A browser holding the cookie of `id`. */
  const browser = t.app.client()
  browser.cookies.set('adonis_session', t.app.signCookieValue('adonis_session', id))
  const rows = async () => {
    const found = await t.db.from(t.table).select('id')
    return found.map((row) => row.id)
  }
  /** What the browser's next request sees. */
  const signedInAs = async () => {
    const response = await browser.get('/')
    return response.body.user
  }
  return { ...t, id, browser, rows, signedInAs, collection: t.app.collection() }
}

for (const dialect of enabledDialects()) {
  test.group(`SessionCollection keeps nothing between calls [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('get() finds no row, a request signs in, destroy() deletes the row', async ({
      assert,
    }) => {
      assert.isNull(await t.collection.get(t.id))
      await t.browser.get('/login')
      assert.deepEqual(await t.rows(), [hashSessionId(t.id)])

      await t.collection.destroy(t.id)
      assert.deepEqual(await t.rows(), [])
      assert.isNull(await t.collection.get(t.id))
      assert.isNull(await t.signedInAs())
    })

    test('get() reads the row, a request writes it, destroy() deletes it', async ({ assert }) => {
      t.app.handler = (ctx) => {
        ctx.session.put('cart', [1])
        return 'ok'
      }
      await t.browser.get('/put')
      assert.deepEqual(await t.collection.get(t.id), { cart: [1] })
      t.app.handler = (ctx) => {
        ctx.session.put('auth_web', 5)
        return 'ok'
      }
      await t.browser.get('/login')

      await t.collection.destroy(t.id)
      assert.deepEqual(await t.rows(), [])
      assert.isNull(await t.collection.get(t.id))
    })

    test('tag() after a request wrote the row links it to the user', async ({ assert }) => {
      assert.isNull(await t.collection.get(t.id))
      t.app.handler = (ctx) => {
        ctx.session.put('cart', [1])
        return 'ok'
      }
      await t.browser.get('/put')

      await t.collection.tag(t.id, '8')
      const tagged = await t.collection.tagged('8')
      assert.deepEqual(
        tagged.map((session) => session.id),
        [hashSessionId(t.id)]
      )
      await t.collection.destroy(tagged[0].id)
      assert.deepEqual(await t.rows(), [])
    })

    test('a get() that failed and continued does not make later calls skip the database', async ({
      assert,
    }) => {
      // The table is away: the read fails, and onError 'continue' answers null.
      await t.db.rawQuery(`alter table ${t.table} rename to ${t.table}_away`)
      try {
        assert.isNull(await t.collection.get(t.id))
      } finally {
        await t.db.rawQuery(`alter table ${t.table}_away rename to ${t.table}`)
      }
      await t.browser.get('/login')

      assert.deepEqual(await t.collection.get(t.id), { auth_web: 5 })
      await t.collection.destroy(t.id)
      assert.deepEqual(await t.rows(), [])
      assert.isNull(await t.signedInAs())
    })
  })
}
