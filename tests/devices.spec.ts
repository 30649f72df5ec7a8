import { test } from '@japa/runner'
import { AppFactory } from '@adonisjs/core/factories/app'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { createTestApp, MINUTE, runMigrationStub } from './helpers/app.ts'
import { contextOf } from '../src/store_context.ts'
import { StoredSessions } from '../src/users/user_sessions.ts'
import { describeDevice } from '../src/users/device.ts'
import { resolveConfig } from '../src/define_config.ts'
import type { StoredSessionConfig } from '../src/types.ts'

type TestApp = Awaited<ReturnType<typeof createTestApp>>

const FIREFOX_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0'
const FIREFOX_WINDOWS_NEWER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0'
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'

/**
 * Sign-in as @adonisjs/auth does it (regenerate, user id under auth_web),
 * a visit, and the user's devices.
 */
function routes(t: TestApp) {
  t.app.handler = async (ctx) => {
    const [path, query] = ctx.request.url(true).split('?')
    const params = new URLSearchParams(query)
    if (path === '/login') {
      ctx.session.regenerate()
      ctx.session.put('auth_web', params.get('user') ?? '')
    } else if (path === '/tag') {
      await ctx.session.tag(params.get('user') ?? '')
      ctx.session.put('tagged', true)
    } else if (path === '/visit') {
      ctx.session.increment('visits')
    } else if (path === '/devices') {
      const context = contextOf(t.app.sessionConfig.stores.stored)!
      return new StoredSessions(context).devices(ctx.session.get('auth_web'), ctx.session.sessionId)
    }
    return { user: ctx.session.get('auth_web') ?? null }
  }
}

async function app(dialect: Dialect, config: StoredSessionConfig = {}) {
  const t = await createTestApp(dialect, { config })
  routes(t)
  return t
}

test.group('device names', () => {
  test('browser and OS from a user agent; versions are not part of the key', ({ assert }) => {
    assert.deepInclude(describeDevice(FIREFOX_WINDOWS), {
      browser: 'Firefox 130',
      os: 'Windows 10',
      label: 'Firefox 130 on Windows 10',
    })
    assert.equal(describeDevice(FIREFOX_WINDOWS).key, describeDevice(FIREFOX_WINDOWS_NEWER).key)
    assert.notEqual(describeDevice(FIREFOX_WINDOWS).key, describeDevice(SAFARI_IPHONE).key)
    assert.equal(describeDevice(SAFARI_IPHONE).label, 'Safari 17 on iOS 17')
  })

  test('an unparsable or missing user agent is an unknown device', ({ assert }) => {
    assert.equal(describeDevice('<script>alert(1)</script>').label, 'Unknown device')
    assert.equal(describeDevice(null).label, 'Unknown device')
    assert.isNull(describeDevice('').browser)
  })

  test('maxSessionsPerUser and locate are validated', ({ assert }) => {
    assert.throws(() => resolveConfig({ maxSessionsPerUser: 0 }), /maxSessionsPerUser/)
    assert.throws(() => resolveConfig({ maxSessionsPerUser: 1.5 }), /maxSessionsPerUser/)
    assert.throws(() => resolveConfig({ locate: 'geoip' as any }), /"locate" must be a function/)
    assert.throws(
      () => resolveConfig({ dashboard: { authorize: true as any } }),
      /"dashboard.authorize" must be a function/
    )
    assert.isUndefined(resolveConfig().maxSessionsPerUser)
    assert.equal(resolveConfig({ maxSessionsPerUser: 3 }).maxSessionsPerUser, 3)
  })
})

for (const dialect of enabledDialects()) {
  test.group(`devices [${dialect.name}]`, () => {
    test('devices() names browser and OS', async ({ assert, cleanup }) => {
      const t = await app(dialect)
      cleanup(() => t.cleanup())
      const client = t.app.client()
      await client.get('/login?user=7', { 'user-agent': FIREFOX_WINDOWS })
      const { body } = await client.get('/devices', { 'user-agent': FIREFOX_WINDOWS })
      assert.lengthOf(body, 1)
      assert.deepInclude(body[0], {
        device: 'Firefox 130 on Windows 10',
        browser: 'Firefox 130',
        os: 'Windows 10',
        location: null,
        current: true,
      })
    })

    test('new_device on a sign-in from a browser and OS none of the live sessions has', async ({
      assert,
      cleanup,
    }) => {
      const t = await app(dialect)
      cleanup(() => t.cleanup())
      const events: any[] = []
      t.emitter.on('stored_session:new_device', (event) => void events.push(event))

      await t.app.client().get('/login?user=7', { 'user-agent': FIREFOX_WINDOWS })
      // same browser and OS, a newer version: a known device
      await t.app.client().get('/login?user=7', { 'user-agent': FIREFOX_WINDOWS_NEWER })
      await t.app.client().get('/login?user=7', { 'user-agent': SAFARI_IPHONE })
      // a visit of a signed-in session is no sign-in
      const phone = t.app.client()
      await phone.get('/login?user=8', { 'user-agent': SAFARI_IPHONE })
      await phone.get('/visit', { 'user-agent': SAFARI_IPHONE })

      assert.deepEqual(
        events.map((event) => [event.userId, event.device, event.ipAddress]),
        [
          ['7', 'Firefox 130 on Windows 10', '127.0.0.1'],
          ['7', 'Safari 17 on iOS 17', '127.0.0.1'],
          ['8', 'Safari 17 on iOS 17', '127.0.0.1'],
        ]
      )
      for (const event of events) assert.match(event.hashedId, /^[0-9a-f]{64}$/)
    })

    test('session.tag() counts as a sign-in too', async ({ assert, cleanup }) => {
      const t = await app(dialect, { userKey: false })
      cleanup(() => t.cleanup())
      const events: any[] = []
      t.emitter.on('stored_session:new_device', (event) => void events.push(event))
      await t.app.client().get('/tag?user=9', { 'user-agent': SAFARI_IPHONE })
      assert.deepEqual(
        events.map((event) => [event.userId, event.os]),
        [['9', 'iOS 17']]
      )
    })

    test('maxSessionsPerUser revokes the least recently active sessions beyond the cap', async ({
      assert,
      cleanup,
    }) => {
      const t = await app(dialect, { maxSessionsPerUser: 2 })
      cleanup(() => t.cleanup())
      const capped: any[] = []
      t.emitter.on('stored_session:cap', (event) => void capped.push(event))
      const first = t.app.client()
      const second = t.app.client()
      const third = t.app.client()
      await first.get('/login?user=5')
      t.clock.advance(MINUTE)
      await second.get('/login?user=5')
      t.clock.advance(MINUTE)
      // the first becomes the most recently active
      await first.get('/visit')
      t.clock.advance(MINUTE)
      const beforeCap = capped.length
      await third.get('/login?user=5')

      assert.equal(beforeCap, 0)
      assert.deepEqual(capped, [{ userId: '5', limit: 2, revoked: 1 }])
      const [secondAfter, firstAfter, thirdAfter] = [
        await second.get('/visit'),
        await first.get('/visit'),
        await third.get('/visit'),
      ]
      assert.equal(secondAfter.body.user, null)
      assert.equal(firstAfter.body.user, '5')
      assert.equal(thirdAfter.body.user, '5')
    })

    test('without maxSessionsPerUser, sessions are not capped', async ({ assert, cleanup }) => {
      const t = await app(dialect)
      cleanup(() => t.cleanup())
      for (let index = 0; index < 4; index++) await t.app.client().get('/login?user=5')
      const [{ count }] = await t.db.from(t.table).where('user_id', '5').count('* as count')
      assert.equal(Number(count), 4)
    })

    test('locate(ip): run once per IP, its answer stored on the row', async ({
      assert,
      cleanup,
    }) => {
      const calls: string[] = []
      const t = await app(dialect, {
        locate: async (ip) => {
          calls.push(ip)
          return `Somewhere near ${ip} <b>`
        },
      })
      cleanup(() => t.cleanup())
      const client = t.app.client()
      await client.get('/login?user=3', { 'user-agent': SAFARI_IPHONE })
      await client.get('/visit')
      await client.get('/visit')
      await t.app.client().get('/visit')
      const rows = await t.db.from(t.table).select('user_id', 'location').orderBy('user_id')
      const { body } = await client.get('/devices')

      assert.deepEqual(calls, ['127.0.0.1'])
      assert.deepEqual(
        rows.map((row) => row.location),
        ['Somewhere near 127.0.0.1 <b>', 'Somewhere near 127.0.0.1 <b>']
      )
      assert.equal(body[0].location, 'Somewhere near 127.0.0.1 <b>')
    })

    test('a forged X-Forwarded-For reaches neither new_device nor locate(); a valid one does', async ({
      assert,
      cleanup,
    }) => {
      const located: string[] = []
      const t = await app(dialect, {
        locate: (ip) => {
          located.push(ip)
          return 'Somewhere'
        },
      })
      cleanup(() => t.cleanup())
      const events: any[] = []
      t.emitter.on('stored_session:new_device', (event) => void events.push(event))
      const forged = `<img src=x onerror=alert(1)>${'A'.repeat(600)}`
      const signIn = await t.app.client().get('/login?user=7', {
        'x-forwarded-for': forged,
        'user-agent': FIREFOX_WINDOWS,
      })
      await t.app.client().get('/login?user=7', {
        'x-forwarded-for': '203.0.113.9',
        'user-agent': SAFARI_IPHONE,
      })

      assert.equal(signIn.status, 200)
      assert.deepEqual(
        events.map((event) => event.ipAddress),
        [null, '203.0.113.9']
      )
      assert.deepEqual(located, ['203.0.113.9'])
    })

    test('a locate hook that throws stores no location and fails nothing', async ({
      assert,
      cleanup,
    }) => {
      const t = await app(dialect, {
        locate: () => {
          throw new Error('no database')
        },
      })
      cleanup(() => t.cleanup())
      const response = await t.app.client().get('/login?user=3')
      const [row] = await t.db.from(t.table).select('location', 'user_id')
      assert.equal(response.status, 200)
      assert.deepEqual(row, { location: null, user_id: '3' })
    })

    test('the location migration adds the column to an older table, once', async ({
      assert,
      cleanup,
    }) => {
      const t = await app(dialect)
      cleanup(() => t.cleanup())
      // a knex schema builder keeps its statements: one builder per statement
      const schema = () => t.db.connection().schema
      await schema().alterTable(t.table, (table) => void table.dropColumn('location'))
      const before = await schema().hasColumn(t.table, 'location')
      await runStub(t, 'add_location_to_stored_sessions_table')
      await runStub(t, 'add_location_to_stored_sessions_table')
      assert.isFalse(before)
      assert.isTrue(await schema().hasColumn(t.table, 'location'))
    })
  })
}

async function runStub(t: TestApp, name: string) {
  const adonis = new AppFactory().create(new URL('../tmp/', import.meta.url), () => {})
  await adonis.init()
  await runMigrationStub(adonis, t.db, t.table, 'up', `migrations/${name}.stub`)
}
