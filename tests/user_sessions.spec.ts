import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp, MINUTE } from './helpers/app.ts'
import { contextOf } from '../src/store_context.ts'
import { StoredSessions } from '../src/users/user_sessions.ts'
import { StoredSessionTesting } from '../src/testing.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { revokeUserSessions } from '../src/maintenance/revoke.ts'
import { storedUserId } from '../src/request/user_id.ts'

type TestApp = Awaited<ReturnType<typeof createTestApp>>

function servicesOf(t: TestApp) {
  const context = contextOf(t.app.sessionConfig.stores.stored)!
  return {
    sessions: new StoredSessions(context),
    testing: new StoredSessionTesting(context, {
      age: t.app.sessionConfig.age,
      cookieName: 'adonis_session',
      signCookie: (name, value) => t.app.signCookieValue(name, value),
    }),
  }
}

/**
 * The routes of a small app with @adonisjs/auth-style sign-in: the user id
 * under `auth_web`, a regenerate on sign-in.
 */
function authRoutes(t: TestApp) {
  t.app.handler = async (ctx) => {
    const [path, query] = ctx.request.url(true).split('?')
    const params = new URLSearchParams(query)
    if (path === '/login') {
      ctx.session.put('auth_web', params.get('user') ?? '')
      ctx.session.regenerate()
    } else if (path === '/logout') {
      ctx.session.forget('auth_web')
    } else if (path === '/visit') {
      ctx.session.increment('visits')
    } else if (path === '/devices') {
      return servicesOf(t).sessions.devices(ctx.session.get('auth_web'), ctx.session.sessionId)
    } else if (path === '/sign-out-others') {
      return {
        revoked: await servicesOf(t).sessions.revokeOthers(
          ctx.session.get('auth_web'),
          ctx.session.sessionId
        ),
      }
    }
    return { user: ctx.session.get('auth_web') ?? null, id: ctx.session.sessionId }
  }
}

for (const dialect of enabledDialects()) {
  test.group(`users and devices [${dialect.label}]`, () => {
    test('rows record the client IP and user agent', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      await t.app.client().get('/visit', { 'user-agent': 'Firefox/130' })
      const [row] = await t.db.from(t.table).select('ip_address', 'user_agent')
      assert.equal(row.user_agent, 'Firefox/130')
      assert.equal(row.ip_address, '127.0.0.1')
    })

    test('a long user agent is truncated to the column', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      await t.app.client().get('/visit', { 'user-agent': 'A'.repeat(2000) })
      const [row] = await t.db.from(t.table).select('user_agent')
      assert.equal(row.user_agent, 'A'.repeat(512))
    })

    test('metadata switched off stores nothing', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect, {
        config: { metadata: { ipAddress: false, userAgent: false } },
      })
      cleanup(() => t.cleanup())
      authRoutes(t)
      const client = t.app.client()
      await client.get('/visit', { 'user-agent': 'Firefox/130' })
      t.clock.advance(60 * MINUTE)
      await client.get('/visit', { 'user-agent': 'Firefox/130' })
      const [row] = await t.db.from(t.table).select('ip_address', 'user_agent')
      assert.isNull(row.ip_address)
      assert.isNull(row.user_agent)
    })

    test('a new user agent alone causes no write; the next touch records it', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { touchInterval: '10 minutes' } })
      cleanup(() => t.cleanup())
      authRoutes(t)
      const client = t.app.client()
      await client.get('/visit', { 'user-agent': 'Old/1' })
      const statements: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', (query: any) => void statements.push(query.sql))
      await client.get('/read', { 'user-agent': 'New/2' })
      const issued = [...statements]
      const [before] = await t.db.from(t.table).select('user_agent')

      t.clock.advance(11 * MINUTE)
      await client.get('/read', { 'user-agent': 'New/2' })
      const [after] = await t.db.from(t.table).select('user_agent')

      assert.lengthOf(issued, 1)
      assert.equal(before.user_agent, 'Old/1')
      assert.equal(after.user_agent, 'New/2')
    })

    test('user_id follows the auth key through sign-in (regenerate) and sign-out', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      const client = t.app.client()
      const anonymous = await client.get('/visit')
      const login = await client.get('/login?user=42')
      const rowsAfterLogin = await t.db.from(t.table).select('id', 'user_id')
      await client.get('/logout')
      const rowsAfterLogout = await t.db.from(t.table).select('id', 'user_id')

      assert.notEqual(login.body.id, anonymous.body.id)
      assert.deepEqual(rowsAfterLogin, [{ id: hashSessionId(login.body.id), user_id: '42' }])
      assert.deepEqual(rowsAfterLogout, [{ id: hashSessionId(login.body.id), user_id: null }])
    })

    test("a read-only request corrects a user_id that disagrees with the session's user", async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { touchInterval: '10 minutes' } })
      cleanup(() => t.cleanup())
      authRoutes(t)
      const { sessions } = servicesOf(t)
      const laptop = t.app.client()
      const phone = t.app.client()
      const phoneLogin = await phone.get('/login?user=42')
      await laptop.get('/login?user=42')
      const phoneHash = hashSessionId(phoneLogin.body.id)
      const userIdOf = async () => {
        const [row] = await t.db.from(t.table).where('id', phoneHash).select('user_id')
        return row.user_id
      }
      // the row lost its user (imported by an earlier version, or written while
      // userKey was off), then belongs to someone else
      for (const wrong of [null, '7']) {
        await t.db.from(t.table).where('id', phoneHash).update({ user_id: wrong })
        // well within touchInterval: only the disagreement causes the UPDATE
        const read = await phone.get('/read')
        assert.equal(read.body.user, '42')
        assert.equal(await userIdOf(), '42')
      }

      assert.equal(await sessions.count(42), 2)
      await laptop.get('/sign-out-others')
      const after = await phone.get('/read')
      assert.isNull(after.body.user)
    })

    test('a read-only request within touchInterval writes nothing when user_id agrees', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { touchInterval: '10 minutes' } })
      cleanup(() => t.cleanup())
      authRoutes(t)
      const client = t.app.client()
      await client.get('/login?user=42')
      const statements: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', (query: any) => void statements.push(query.sql))
      await client.get('/read')
      assert.lengthOf(statements, 1)
    })

    test('userKey: false leaves user_id to session.tag()', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect, { config: { userKey: false } })
      cleanup(() => t.cleanup())
      authRoutes(t)
      await t.app.client().get('/login?user=42')
      const [row] = await t.db.from(t.table).select('user_id')
      assert.isNull(row.user_id)
    })

    test("devices lists a user's live sessions and marks the current one", async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      const laptop = t.app.client()
      const phone = t.app.client()
      const other = t.app.client()
      const laptopLogin = await laptop.get('/login?user=1', { 'user-agent': 'Laptop' })
      await phone.get('/login?user=1', { 'user-agent': 'Phone' })
      await other.get('/login?user=2', { 'user-agent': 'Other' })

      const response = await laptop.get('/devices', { 'user-agent': 'Laptop' })
      const devices = response.body as any[]
      assert.lengthOf(devices, 2)
      assert.sameMembers(
        devices.map((device) => device.userAgent),
        ['Laptop', 'Phone']
      )
      assert.deepEqual(
        devices.filter((device) => device.current).map((device) => device.userAgent),
        ['Laptop']
      )
      const serialized = JSON.stringify(devices)
      assert.notInclude(serialized, laptopLogin.body.id)
      assert.notInclude(serialized, hashSessionId(laptopLogin.body.id))
      assert.notInclude(serialized, hashSessionId(laptopLogin.body.id).slice(0, 16))
      for (const device of devices) {
        assert.match(device.handle, /^[A-Za-z0-9_-]{22}$/)
        assert.equal(device.ipAddress, '127.0.0.1')
      }
    })

    test('revoking a device by handle signs that browser out', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      const { sessions } = servicesOf(t)
      const revoked: unknown[] = []
      t.emitter.on('stored_session:revoke', (event) => void revoked.push(event))
      const laptop = t.app.client()
      const phone = t.app.client()
      await laptop.get('/login?user=1', { 'user-agent': 'Laptop' })
      await phone.get('/login?user=1', { 'user-agent': 'Phone' })
      const devices = await sessions.devices(1)
      const phoneHandle = devices.find((device) => device.userAgent === 'Phone')!.handle

      assert.isTrue(await sessions.revoke(1, phoneHandle))
      const phoneAfter = await phone.get('/read')
      const laptopAfter = await laptop.get('/read')
      assert.deepEqual(phoneAfter.body.user, null)
      assert.deepEqual(laptopAfter.body.user, '1')
      assert.deepEqual(revoked, [{ userId: '1', scope: 'one', count: 1 }])
    })

    test("a handle of another user's session is refused", async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      const { sessions } = servicesOf(t)
      const victim = t.app.client()
      await victim.get('/login?user=1')
      await t.app.client().get('/login?user=2')
      const [victimDevice] = await sessions.devices(1)

      assert.isFalse(await sessions.revoke(2, victimDevice.handle))
      assert.isFalse(await sessions.revoke(1, 'not-a-handle'))
      const victimAfter = await victim.get('/read')
      assert.equal(victimAfter.body.user, '1')
      assert.equal(await sessions.count(1), 1)
    })

    test('sign out other devices keeps the current one; revokeAll ends them all', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      const { sessions } = servicesOf(t)
      const clients = [t.app.client(), t.app.client(), t.app.client()]
      for (const client of clients) await client.get('/login?user=5')
      await t.app.client().get('/login?user=6')

      const response = await clients[0].get('/sign-out-others')
      const after = await Promise.all(clients.map((client) => client.get('/read')))
      assert.deepEqual(response.body, { revoked: 2 })
      assert.deepEqual(
        after.map((r) => r.body.user),
        ['5', null, null]
      )

      assert.equal(await sessions.revokeAll(5), 1)
      const current = await clients[0].get('/read')
      assert.isNull(current.body.user)
      assert.equal(await sessions.count(6), 1)
    })

    test('a user id longer than the column, or holding a NUL, is stored as its SHA-256 and found by it', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { touchInterval: '10 minutes' } })
      cleanup(() => t.cleanup())
      authRoutes(t)
      const { sessions } = servicesOf(t)
      const long = `${'u'.repeat(300)}é`
      const similar = `${'u'.repeat(300)}è`
      for (const user of [long, 'a\u0000b']) {
        const clients = [t.app.client(), t.app.client()]
        const logins = []
        for (const client of clients) {
          logins.push(await client.get(`/login?user=${encodeURIComponent(user)}`))
        }
        const hash = hashSessionId(logins[0].body.id)
        const userIdOf = async () => {
          const [stored] = await t.db.from(t.table).where('id', hash).select('user_id')
          return stored.user_id
        }
        const row = { user_id: await userIdOf() }
        // a row an earlier version wrote with the id itself (SQLite does not
        // enforce the length) is corrected by its next request
        await t.db
          .from(t.table)
          .where('id', hash)
          .update({ user_id: dialect.name === 'sqlite' ? user : 'earlier' })
        await clients[0].get('/read')
        const corrected = await userIdOf()
        const statements: string[] = []
        const listen = (query: any) => void statements.push(query.sql)
        t.db.connection().getWriteClient().on('query', listen)
        const read = await clients[1].get('/read')
        t.db.connection().getWriteClient().off('query', listen)

        assert.deepEqual(
          logins.map((login) => login.status),
          [200, 200]
        )
        assert.match(row.user_id, /^sha256:[0-9a-f]{64}$/)
        assert.equal(row.user_id, storedUserId(user))
        assert.equal(corrected, storedUserId(user))
        assert.equal(read.body.user, user)
        // agrees with the stored form: no correcting UPDATE on every request
        assert.lengthOf(statements, 1)
        assert.equal(await sessions.count(user), 2)
        const others = await clients[0].get('/sign-out-others')
        const all = await revokeUserSessions(contextOf(t.app.sessionConfig.stores.stored)!, user)
        assert.equal(others.body.revoked, 1)
        assert.equal(all.deleted, 1)
        const after = await Promise.all(clients.map((client) => client.get('/read')))
        assert.deepEqual(
          after.map((response) => response.body.user),
          [null, null]
        )
      }
      // another long id of the same first 255 characters is another user
      await t.app.client().get(`/login?user=${encodeURIComponent(long)}`)
      assert.equal(await sessions.count(similar), 0)
      assert.equal(await sessions.count(long), 1)
      assert.notEqual(storedUserId(long), storedUserId(similar))
      assert.equal(storedUserId('42'), '42')
      assert.equal(storedUserId('x'.repeat(255)), 'x'.repeat(255))
    })

    test('rows an earlier version wrote with a long or NUL id itself are still found and revoked by user; an id spelling a stored form is another user', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { userKey: false } })
      cleanup(() => t.cleanup())
      t.app.handler = async (ctx) => {
        ctx.session.put('visits', 1)
        const user = new URLSearchParams(ctx.request.url(true).split('?')[1]).get('tag')
        if (user !== null) await ctx.session.tag(user)
        return 'ok'
      }
      const { sessions } = servicesOf(t)
      const context = contextOf(t.app.sessionConfig.stores.stored)!
      const long = 'v'.repeat(300)
      const nul = 'n\u0000ul'
      // what each database took from an earlier version: SQLite any id, MySQL a NUL
      const earlier = { sqlite: [long, nul], mysql: [nul], pg: [] as string[] }[dialect.name]
      for (const user of [long, nul]) {
        const client = t.app.client()
        await client.get('/put')
        await client.get(`/tag?tag=${encodeURIComponent(user)}`)
      }
      for (const user of earlier) {
        await t.db.from(t.table).where('user_id', storedUserId(user)).update({ user_id: user })
      }
      const attacker = storedUserId(long)

      assert.equal(await sessions.count(attacker), 0)
      assert.lengthOf(await t.app.collection().tagged(attacker), 0)
      const attacked = await revokeUserSessions(context, attacker)
      assert.equal(attacked.deleted, 0)
      for (const user of [long, nul]) {
        assert.equal(await sessions.count(user), 1)
        assert.lengthOf(await t.app.collection().tagged(user), 1)
      }
      const revoked = []
      for (const user of [long, nul]) revoked.push(await revokeUserSessions(context, user))
      assert.deepEqual(
        revoked.map((summary) => summary.deleted),
        [1, 1]
      )
      const [{ count }] = await t.db.from(t.table).count('* as count')
      assert.equal(Number(count), 0)
      assert.notEqual(storedUserId(attacker), attacker)
    })

    test('user ids that differ only in case or trailing spaces are different users on every database', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      const { sessions } = servicesOf(t)
      const users = ['alice', 'ALICE', 'alice ']
      const clients = users.map(() => t.app.client())
      for (const [index, user] of users.entries()) {
        await clients[index].get(`/login?user=${encodeURIComponent(user)}`)
      }
      const [aliceDevice] = await sessions.devices('alice')

      assert.deepEqual(await Promise.all(users.map((user) => sessions.count(user))), [1, 1, 1])
      assert.isFalse(await sessions.revoke('ALICE', aliceDevice.handle))
      const others = await clients[0].get('/sign-out-others')
      assert.equal(others.body.revoked, 0)
      const all = await revokeUserSessions(contextOf(t.app.sessionConfig.stores.stored)!, 'ALICE')
      assert.equal(all.deleted, 1)
      const after = await Promise.all(clients.map((client) => client.get('/read')))
      assert.deepEqual(
        after.map((response) => response.body.user),
        ['alice', null, 'alice ']
      )
    })

    if (dialect.name === 'mysql') {
      test('a user_id column in latin1 (an older database default) still finds non-ASCII ids exactly', async ({
        assert,
        cleanup,
      }) => {
        const t = await createTestApp(dialect)
        cleanup(() => t.cleanup())
        await t.db.rawQuery(
          `alter table ?? modify user_id varchar(255) character set latin1 collate latin1_swedish_ci null`,
          [t.table]
        )
        authRoutes(t)
        const { sessions } = servicesOf(t)
        for (const user of ['josé', 'JOSE', 'jose']) {
          await t.app.client().get(`/login?user=${encodeURIComponent(user)}`)
        }

        assert.deepEqual(
          await Promise.all(['josé', 'JOSE', 'jose', 'JOSÉ'].map((user) => sessions.count(user))),
          [1, 1, 1, 0]
        )
      })
    }

    test("test helpers create a signed-in session and assert on a user's sessions", async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      authRoutes(t)
      const { testing } = servicesOf(t)
      const session = await testing.signIn(9, { values: { locale: 'fr' } })
      t.app.handler = (ctx) => ({
        user: ctx.session.get('auth_web'),
        locale: ctx.session.get('locale'),
      })
      const response = await t.app.client().get('/', { cookie: session.cookieHeader })

      assert.deepEqual(response.body, { user: 9, locale: 'fr' })
      await testing.assertLiveSessions(9, 1)
      await assert.rejects(
        () => testing.assertLiveSessions(9, 2),
        /Expected user "9" to have 2 live sessions, found 1/
      )
    })
  })
}
