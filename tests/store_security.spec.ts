import { randomUUID } from 'node:crypto'
import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { APP_KEYS, createTestApp, makeKeyring } from './helpers/app.ts'
import { hashSessionId } from '../src/request/session_id.ts'

const MARKER = 'plaintext-marker-7f3a9c'

/**
 * What the database and the observers of the app may and may not see, and
 * what a tampered row turns into.
 */
for (const dialect of enabledDialects()) {
  test.group(`store security [${dialect.label}]`, () => {
    test('the table never holds the raw id nor a stored value in clear', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      let sessionId = ''
      t.app.handler = (ctx) => {
        ctx.session.put('secret', MARKER)
        sessionId = ctx.session.sessionId
        return 'ok'
      }
      await t.app.client().get()
      const rows = await t.db.from(t.table).select('*')

      assert.lengthOf(rows, 1)
      assert.equal(rows[0].id, hashSessionId(sessionId))
      assert.notEqual(rows[0].id, sessionId)
      const dump = JSON.stringify(rows) + Buffer.from(rows[0].data).toString('latin1')
      assert.notInclude(dump, MARKER)
      assert.notInclude(dump, sessionId)
      assert.notInclude(
        Buffer.from(rows[0].data).toString('base64'),
        Buffer.from(MARKER).toString('base64')
      )
    })

    test('a flipped byte in the payload reads as no session and raises invalid', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const invalid: any[] = []
      t.emitter.on('stored_session:invalid', (event) => void invalid.push(event))
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/put') ctx.session.put('user', 1)
        return { user: ctx.session.get('user') ?? null }
      }
      const client = t.app.client()
      await client.get('/put')
      const [row] = await t.db.from(t.table).select('id', 'data')
      const data = Buffer.from(row.data)
      data[Math.floor(data.length / 2)] ^= 0x01
      await t.db.from(t.table).where('id', row.id).update({ data })

      const response = await client.get('/read')
      assert.equal(response.status, 200)
      assert.deepEqual(response.body, { user: null })
      assert.lengthOf(invalid, 1)
      assert.equal(invalid[0].hashedId, row.id)
      assert.equal(invalid[0].reason, 'undecryptable')
    })

    test('a row copied under another id does not decrypt', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const ids: Record<string, string> = {}
      t.app.handler = (ctx) => {
        const role = ctx.request.url().slice(1)
        if (role !== 'read') {
          ctx.session.put('role', role)
          ids[role] = ctx.session.sessionId
        }
        return { role: ctx.session.get('role') ?? null }
      }
      const admin = t.app.client()
      const guest = t.app.client()
      await admin.get('/admin')
      await guest.get('/guest')
      const adminRow = await t.db.from(t.table).where('id', hashSessionId(ids.admin)).first()
      await t.db
        .from(t.table)
        .where('id', hashSessionId(ids.guest))
        .update({ data: Buffer.from(adminRow.data) })

      const guestAfter = await guest.get('/read')
      const adminAfter = await admin.get('/read')
      assert.deepEqual(guestAfter.body, { role: null })
      assert.deepEqual(adminAfter.body, { role: 'admin' })
    })

    test('a payload sealed with a key the app no longer has reads as no session', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { keyring: makeKeyring([APP_KEYS.previous]) })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        ctx.session.put('user', 1)
        return 'ok'
      }
      await t.app.client().get()
      const [row] = await t.db.from(t.table).select('id', 'data')

      // the row as an app with other keys finds it in its table
      const appWith = async (keys: string[]) => {
        const other = await createTestApp(dialect, { keyring: makeKeyring(keys) })
        cleanup(() => other.cleanup())
        const now = other.clock.now()
        await other.db.table(other.table).insert({
          ...row,
          version: 0,
          created_at: new Date(now),
          updated_at: new Date(now),
          expires_at: new Date(now + 3_600_000),
        })
        return other
      }

      const rotated = await appWith([APP_KEYS.current])
      assert.isNull(await rotated.app.collection().get(row.id))

      const stillReadable = await appWith([APP_KEYS.current, APP_KEYS.previous])
      assert.deepEqual(await stillReadable.app.collection().get(row.id), { user: 1 })
    })

    test('an oversize payload throws E_SESSION_OVERFLOW and leaves the row as it was', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect, { config: { maxPayloadSize: 1024 } })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/big') ctx.session.put('report', 'x'.repeat(2000))
        else ctx.session.put('small', 1)
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/small')
      const [before] = await t.db.from(t.table).select('*')
      const response = await client.get('/big')
      const [after] = await t.db.from(t.table).select('*')

      assert.equal(response.status, 500)
      assert.equal(response.body.code, 'E_SESSION_OVERFLOW')
      assert.include(response.body.message, '"report"')
      assert.include(response.body.message, '1024')
      assert.notInclude(response.body.message, 'xxxx')
      assert.isTrue(Buffer.from(after.data).equals(Buffer.from(before.data)))
      assert.equal(after.version, before.version)
    })

    test('malformed, huge and hash-shaped ids get a fresh session without a query', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => ({ empty: ctx.session.isEmpty })
      const queries: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', (query: any) => void queries.push(query.sql))

      const stored = hashSessionId('0b0c7c36-8d54-4e0c-9c61-7a8f3c1a2d11')
      const hostile = [
        'short',
        'x'.repeat(129),
        'x'.repeat(4000),
        'a b c d e f g h i j',
        '../../etc/passwd/xx',
        stored,
        stored.toUpperCase().toLowerCase(),
      ]
      for (const value of hostile) {
        const response = await t.app.client().get('/', { cookie: t.app.signedCookie(value) })
        assert.deepEqual(response.body, { empty: true })
      }
      assert.deepEqual(queries, [])
    })

    test('an unknown session id costs one SELECT and writes nothing', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => ({ empty: ctx.session.isEmpty })
      const queries: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', (query: any) => void queries.push(query.sql))

      const response = await t.app
        .client()
        .get('/', { cookie: t.app.signedCookie('0b0c7c36-8d54-4e0c-9c61-7a8f3c1a2d11') })
      assert.deepEqual(response.body, { empty: true })
      assert.lengthOf(queries, 1)
      assert.match(queries[0], /^select/i)
    })

    test('a request that read a destroyed session neither overwrites nor changes its successor', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const factory = t.app.sessionConfig.stores.stored
      const ctx = {
        request: { ip: () => '127.0.0.1', header: () => undefined, original: () => ({}) },
      } as any
      const store = () => factory(ctx, t.app.sessionConfig)
      const id = randomUUID()

      await store().write(id, { auth_web: 1, cart: 'old' })
      const slow = store()
      await slow.read(id)
      const signOut = store()
      await signOut.read(id)
      await signOut.destroy(id)
      t.clock.advance(1000)
      const next = store()
      assert.isNull(await next.read(id))
      await next.write(id, { theme: 'dark' })

      await slow.write(id, { auth_web: 1, cart: 'old', seen: true })
      const current = await store().read(id)
      assert.deepEqual(current, { theme: 'dark' })
    })

    test('a stored hash sent as a cookie never addresses its row', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        if (ctx.request.url() === '/put') ctx.session.put('user', 42)
        return { user: ctx.session.get('user') ?? null }
      }
      await t.app.client().get('/put')
      const [row] = await t.db.from(t.table).select('id')
      const attacker = await t.app.client().get('/read', { cookie: t.app.signedCookie(row.id) })
      assert.deepEqual(attacker.body, { user: null })
      assert.lengthOf(await t.db.from(t.table).select('id'), 1)
    })

    test('events and debug-enabled query logs never carry the raw id or data', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      const seen: unknown[] = []
      for (const name of ['read', 'write', 'touch', 'destroy', 'invalid', 'conflict'] as const) {
        t.emitter.on(`stored_session:${name}`, (event) => void seen.push([name, event]))
      }
      t.emitter.on('db:query', (event) => void seen.push(['db:query', event]))
      t.db.manager.get(t.db.primaryConnectionName)!.config.debug = true

      let sessionId = ''
      t.app.handler = (ctx) => {
        sessionId = ctx.session.sessionId
        if (ctx.request.url() === '/put') ctx.session.put('secret', MARKER)
        if (ctx.request.url() === '/logout') ctx.session.clear()
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/put')
      await client.get('/read')
      await client.get('/logout')
      await t.db.from(t.table).where('id', 'probe-binding').first()

      const names = seen.map((entry: any) => entry[0])
      assert.includeMembers(names, ['read', 'write', 'destroy'])
      const dump = JSON.stringify(seen, (_, value) =>
        Buffer.isBuffer(value) ? value.toString('latin1') : value
      )
      assert.notInclude(dump, sessionId)
      assert.notInclude(dump, MARKER)
      assert.include(dump, hashSessionId(sessionId))
      assert.include(dump, 'probe-binding', 'the db:query listener was live during the requests')
    })
  })
}
