import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp, HOUR, MINUTE } from './helpers/app.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { storedUserId } from '../src/request/user_id.ts'

for (const dialect of enabledDialects()) {
  test.group(`tagging and touching [${dialect.label}]`, () => {
    test('session.tag() links the row to a user and tagged() lists it by hash', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const ids: string[] = []
      t.app.handler = async (ctx) => {
        if (ctx.request.url() === '/login') {
          ctx.session.regenerate()
          ctx.session.put('auth_web', 5)
          await ctx.session.tag('5')
        }
        ids.push(ctx.session.sessionId)
        return 'ok'
      }
      const laptop = t.app.client()
      const phone = t.app.client()
      await laptop.get('/login')
      await phone.get('/login')
      await t.app.client().get('/anonymous')

      const sessions = await t.app.collection().tagged('5')
      assert.sameMembers(
        sessions.map((session) => session.id),
        [hashSessionId(ids[0]), hashSessionId(ids[1])]
      )
      assert.deepEqual(sessions[0].data, { auth_web: 5 })
      const rows = await t.db.from(t.table).whereNotNull('user_id').select('user_id')
      assert.deepEqual(
        rows.map((row) => row.user_id),
        ['5', '5']
      )
    })

    test('tagging a session that already has a row updates it at once', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = async (ctx) => {
        if (ctx.request.url() === '/tag') await ctx.session.tag('9')
        else if (ctx.request.url() === '/untag') await ctx.session.untag('9')
        else ctx.session.put('cart', 1)
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/put')
      await client.get('/tag')
      assert.lengthOf(await t.app.collection().tagged('9'), 1)
      await client.get('/untag')
      assert.lengthOf(await t.app.collection().tagged('9'), 0)
    })

    test('tag() with a user id longer than the column stores its SHA-256; tagged() finds it', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { userKey: false } })
      cleanup(() => t.cleanup())
      const long = 'u'.repeat(256)
      t.app.handler = async (ctx) => {
        ctx.session.put('cart', 1)
        if (ctx.request.url() === '/tag') await ctx.session.tag(long)
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/put')
      const tagged = await client.get('/tag')
      const rows = await t.db.from(t.table).select('user_id')

      assert.equal(tagged.status, 200)
      assert.deepEqual(rows, [{ user_id: storedUserId(long) }])
      assert.lengthOf(await t.app.collection().tagged(long), 1)
      assert.lengthOf(await t.app.collection().tagged('u'.repeat(255)), 0)
    })

    test('SessionCollection.destroy() revokes by the hash tagged() returned', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = async (ctx) => {
        if (ctx.request.url() === '/login') {
          ctx.session.put('auth_web', 3)
          await ctx.session.tag('3')
        }
        return { user: ctx.session.get('auth_web') ?? null }
      }
      const client = t.app.client()
      await client.get('/login')
      const [session] = await t.app.collection().tagged('3')
      assert.deepEqual(await t.app.collection().get(session.id), { auth_web: 3 })
      await t.app.collection().destroy(session.id)

      const after = await client.get('/me')
      assert.deepEqual(after.body, { user: null })
      assert.lengthOf(await t.db.from(t.table).select('id'), 0)
    })

    test('tagged() leaves out expired sessions', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect, { age: '1 hour' })
      cleanup(() => t.cleanup())
      t.app.handler = async (ctx) => {
        ctx.session.put('auth_web', 1)
        await ctx.session.tag('1')
        return 'ok'
      }
      await t.app.client().get()
      t.clock.advance(2 * HOUR)
      await t.app.client().get()
      assert.lengthOf(await t.app.collection().tagged('1'), 1)
    })

    test('a read-only request touches the row only once touchInterval has passed', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, {
        age: '2 hours',
        config: { touchInterval: '10 minutes' },
      })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/put') ctx.session.put('user', 1)
        return 'ok'
      }
      const statements: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', (query: any) => void statements.push(query.sql))
      const client = t.app.client()
      await client.get('/put')

      statements.length = 0
      t.clock.advance(5 * MINUTE)
      await client.get('/read')
      assert.lengthOf(statements, 1, 'within touchInterval: the SELECT only')
      assert.match(statements[0], /^select/i)

      statements.length = 0
      t.clock.advance(6 * MINUTE)
      await client.get('/read')
      assert.lengthOf(statements, 2, 'past touchInterval: SELECT then UPDATE')
      assert.match(statements[1], /^update/i)
      const [row] = await t.db.from(t.table).select('expires_at')
      const expiresAt = new Date(row.expires_at).getTime() || Number(row.expires_at)
      assert.equal(expiresAt, t.clock.now() + 2 * HOUR)
    })

    test('writing back what was read is a touch, not a write', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect, { config: { touchInterval: '10 minutes' } })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/put') ctx.session.put('user', 1)
        else ctx.session.put('user', ctx.session.get('user'))
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/put')
      const [before] = await t.db.from(t.table).select('version')
      const statements: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', (query: any) => void statements.push(query.sql))
      await client.get('/same')
      const issued = [...statements]
      const [after] = await t.db.from(t.table).select('version')

      assert.equal(after.version, before.version)
      assert.lengthOf(issued, 1, 'the SELECT only: the touch is within touchInterval')
    })
  })
}
