import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp, DAY, HOUR, MINUTE } from './helpers/app.ts'
import { hashSessionId } from '../src/request/session_id.ts'

/**
 * The store driven through @adonisjs/session's own middleware over HTTP,
 * so the framework's real commit sequence (write / touch / destroy /
 * regenerate) runs against every dialect.
 */
for (const dialect of enabledDialects()) {
  test.group(`store over HTTP [${dialect.label}]`, () => {
    test('a counter survives requests', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        ctx.session.increment('visits')
        return { visits: ctx.session.get('visits') }
      }
      const client = t.app.client()
      const first = await client.get()
      const second = await client.get()
      assert.deepEqual(first.body, { visits: 1 })
      assert.deepEqual(second.body, { visits: 2 })
    })

    test('nested values, Dates and binary round-trip', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const when = new Date('2026-01-02T03:04:05.678Z')
      let seen: any
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/put') {
          ctx.session.put('profile', {
            name: 'Ada',
            tags: ['x', 'y'],
            nested: { deep: [1, { n: null }] },
          })
          ctx.session.put('when', when)
          ctx.session.put('blob', Buffer.from([0, 1, 2, 255]))
          ctx.session.put('unicode', 'żółw 🐢')
          return 'ok'
        }
        seen = ctx.session.all()
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/put')
      await client.get('/read')

      assert.deepEqual(seen.profile, {
        name: 'Ada',
        tags: ['x', 'y'],
        nested: { deep: [1, { n: null }] },
      })
      assert.instanceOf(seen.when, Date)
      assert.equal(seen.when.toISOString(), when.toISOString())
      assert.isTrue(Buffer.from(seen.blob).equals(Buffer.from([0, 1, 2, 255])))
      assert.equal(seen.unicode, 'żółw 🐢')
    })

    test('flash messages reach the next request only', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/flash') {
          ctx.session.flash('notice', 'Saved')
          return {}
        }
        return { notice: ctx.session.flashMessages.get('notice') ?? null }
      }
      const client = t.app.client()
      await client.get('/flash')
      const next = await client.get('/show')
      const after = await client.get('/show')
      assert.deepEqual(next.body, { notice: 'Saved' })
      assert.deepEqual(after.body, { notice: null })
    })

    test('regenerate moves the data to a new id and removes the old row', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const ids: string[] = []
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/login') ctx.session.regenerate()
        else ctx.session.put('cart', ['apple'])
        ids.push(ctx.session.sessionId)
        return { cart: ctx.session.get('cart') }
      }
      const client = t.app.client()
      await client.get('/add')
      const login = await client.get('/login')
      const rows = await t.db.from(t.table).select('id')

      assert.deepEqual(login.body, { cart: ['apple'] })
      assert.notEqual(ids[0], ids[1])
      assert.deepEqual(
        rows.map((row) => row.id),
        [hashSessionId(ids[1])]
      )
      const again = await client.get('/add')
      assert.deepEqual(again.body, { cart: ['apple'] })
    })

    test('an emptied session deletes its row', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/logout') ctx.session.clear()
        else ctx.session.put('user', 1)
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/login')
      assert.lengthOf(await t.db.from(t.table).select('id'), 1)
      await client.get('/logout')
      assert.lengthOf(await t.db.from(t.table).select('id'), 0)
    })

    test('a request that stores nothing creates no row', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => ({ empty: ctx.session.isEmpty })
      const client = t.app.client()
      await client.get()
      await client.get()
      assert.lengthOf(await t.db.from(t.table).select('id'), 0)
    })

    test('a session idle for longer than age is gone', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect, { age: '2 hours' })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/put') ctx.session.put('user', 7)
        return { user: ctx.session.get('user') ?? null }
      }
      const client = t.app.client()
      await client.get('/put')
      t.clock.advance(HOUR + 59 * MINUTE)
      const stillThere = await client.get('/read')
      t.clock.advance(2 * HOUR + MINUTE)
      const gone = await client.get('/read')

      assert.deepEqual(stillThere.body, { user: 7 })
      assert.deepEqual(gone.body, { user: null })
    })

    test('activity keeps a session alive only until maxLifetime', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect, { age: '2 hours', config: { maxLifetime: '1 day' } })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/put') ctx.session.put('user', 7)
        return { user: ctx.session.get('user') ?? null }
      }
      const client = t.app.client()
      await client.get('/put')
      const seen: unknown[] = []
      for (let hour = 0; hour < 23; hour++) {
        t.clock.advance(HOUR)
        const response = await client.get('/read')
        seen.push(response.body.user)
      }
      t.clock.advance(HOUR + MINUTE)
      const expired = await client.get('/read')

      assert.deepEqual(seen, Array(23).fill(7))
      assert.deepEqual(expired.body, { user: null })
    })

    test('an expired row is replaced by a fresh session under the same cookie', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { age: '2 hours' })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        ctx.session.increment('visits')
        return { visits: ctx.session.get('visits') }
      }
      const client = t.app.client()
      await client.get()
      await client.get()
      t.clock.advance(3 * HOUR)
      const fresh = await client.get()
      const rows = await t.db.from(t.table).select('id')

      assert.deepEqual(fresh.body, { visits: 1 })
      assert.lengthOf(rows, 1)
    })

    test('maxLifetime counts from creation, not from the last write', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { maxLifetime: (2 * DAY) / 1000 } })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        ctx.session.increment('visits')
        return { visits: ctx.session.get('visits') }
      }
      const client = t.app.client()
      for (let i = 0; i < 48; i++) {
        await client.get()
        t.clock.advance(HOUR)
      }
      const restarted = await client.get()
      assert.deepEqual(restarted.body, { visits: 1 })
    })
  })
}
