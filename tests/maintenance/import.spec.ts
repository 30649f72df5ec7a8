import { test } from '@japa/runner'
import { configProvider } from '@adonisjs/core'
import { MessageBuilder } from '@adonisjs/core/helpers'
import { stores } from '@adonisjs/session'
import type { SessionStoreFactory } from '@adonisjs/session/types'
import { enabledDialects, type Dialect } from '../helpers/dialects.ts'
import type { StoredSessionConfig } from '../../src/types.ts'
import { FakeClock, HOUR, uniqueTable, type CookieClient, type TestApp } from '../helpers/app.ts'
import { importDatabaseSessions } from '../../src/maintenance/import.ts'
import { hashSessionId } from '../../src/request/session_id.ts'
import { StoredSessions } from '../../src/users/user_sessions.ts'
import { revokeUserSessions } from '../../src/maintenance/revoke.ts'
import { storedUserId } from '../../src/request/user_id.ts'
import { bodyOf, setupStore, type StoreSetup } from './helpers.ts'
import { createStoredSessionFactory, resolveConfig } from '../../src/define_config.ts'
import { contextOf } from '../../src/store_context.ts'
import { ledgerTableOf } from '../../src/maintenance/import_ledger.ts'
import { MaintenanceQueries } from '../../src/maintenance/queries.ts'
import { makeKeyring } from '../helpers/app.ts'

/**
 * The table `node ace make:session-table` creates for the built-in store.
 */
async function createBuiltInTable(t: StoreSetup) {
  const table = `${uniqueTable()}_src`
  await t.db.connection().schema.createTable(table, (builder) => {
    builder.string('id').primary()
    builder.text('data').notNullable()
    builder.string('user_id').nullable().index()
    builder.timestamp('expires_at').notNullable().index()
  })
  return table
}

/**
 * A store whose clock starts at the real time (the built-in store uses
 * it), with a built-in table beside it; both are dropped after the test.
 */
async function importSetup(
  dialect: Dialect,
  cleanup: (handler: () => Promise<void>) => void,
  options: { config?: StoredSessionConfig } = {}
) {
  const clock = new FakeClock()
  clock.advance(Date.now() - clock.now())
  const t = await setupStore(dialect, { clock, ...options })
  const source = await createBuiltInTable(t)
  cleanup(async () => {
    await t.db.connection().schema.dropTableIfExists(source)
    await t.cleanup()
  })
  return { clock, t, source }
}

/**
 * @adonisjs/session's own `database` store, resolved the way an app
 * resolves `stores.database()` in config/session.ts.
 */
async function builtInStore(t: StoreSetup, tableName: string) {
  t.app.container.singleton('lucid.db', () => t.db)
  const provider = stores.database({ tableName, gcProbability: 0 })
  return (await configProvider.resolve<SessionStoreFactory>(t.app as any, provider))!
}

function moveTo(client: CookieClient, server: TestApp) {
  const moved = server.client()
  moved.cookies = new Map(client.cookies)
  return moved
}

for (const dialect of enabledDialects()) {
  test.group(`sessions:import service [${dialect.label}]`, () => {
    test('a session signed in the @adonisjs/auth way (no tag) is imported with its user and can be revoked', async ({
      assert,
      cleanup,
    }) => {
      const { t, source } = await importSetup(dialect, cleanup)
      const before = await t.serve({ database: await builtInStore(t, source) })
      // what the session guard does: the user id under auth_web, never session.tag()
      const handler = async (ctx: any) => {
        if (ctx.request.input('login'))
          ctx.session.put('auth_web', Number(ctx.request.input('login')))
        return { user: ctx.session.get('auth_web') ?? null }
      }
      before.handler = handler
      const laptop = before.client()
      const phone = before.client()
      const tablet = before.client()
      await laptop.get('/?login=42')
      await phone.get('/?login=42')
      await tablet.get('/?login=42')
      const knex = t.db.connection().getWriteClient()
      const sourceRows: Array<{ user_id: string | null }> = await knex(source).select('user_id')
      assert.deepEqual(
        sourceRows.map((row) => row.user_id),
        [null, null, null]
      )

      await importDatabaseSessions(t.context, { from: source })
      assert.lengthOf(await t.rows((query) => query.where('user_id', '42')), 3)

      const after = await t.serve({ stored: t.factory })
      after.handler = handler
      const sessions = new StoredSessions(t.context)
      assert.lengthOf(await sessions.devices(42), 3)
      const [, phoneDevice] = await sessions.devices(42)
      assert.isTrue(await sessions.revoke(42, phoneDevice.handle))
      assert.equal(await sessions.count(42), 2)
      const { deleted } = await revokeUserSessions(t.context, 42)
      assert.equal(deleted, 2)
      for (const browser of [laptop, phone, tablet]) {
        assert.deepEqual(await bodyOf(moveTo(browser, after)), { user: null })
      }
    })

    test('a user id longer than the user_id column is imported as its SHA-256, not an aborted import', async ({
      assert,
      cleanup,
    }) => {
      const { t, source } = await importSetup(dialect, cleanup)
      const before = await t.serve({ database: await builtInStore(t, source) })
      const long = `user-${'x'.repeat(400)}`
      before.handler = async (ctx: any) => {
        if (ctx.request.input('login')) ctx.session.put('auth_web', long)
        ctx.session.increment('visits')
        return { user: ctx.session.get('auth_web') ?? null }
      }
      const browser = before.client()
      await browser.get('/?login=1')
      await before.client().get('/')

      const summary = await importDatabaseSessions(t.context, { from: source })
      assert.equal(summary.copied, 2)
      assert.lengthOf(await t.rows((query) => query.where('user_id', storedUserId(long))), 1)
      const after = await t.serve({ stored: t.factory })
      after.handler = async (ctx: any) => ({ user: ctx.session.get('auth_web') ?? null })
      assert.deepEqual(await bodyOf(moveTo(browser, after)), { user: long })
      const { deleted } = await revokeUserSessions(t.context, long)
      assert.equal(deleted, 1)
      assert.deepEqual(await bodyOf(moveTo(browser, after)), { user: null })
    })

    test('a session revoked while a run copies it, or after a run that died past its insert, is never copied again', async ({
      assert,
      cleanup,
    }) => {
      const { t, source } = await importSetup(dialect, cleanup)
      const knex = t.db.connection().getWriteClient()
      const sourceRow = (user: number) => {
        const id = `signed-in-session-of-${user}`
        return {
          id,
          data: new MessageBuilder().build({ auth_web: user }, undefined, id),
          user_id: null,
          expires_at: new Date(t.clock.now() + HOUR),
        }
      }
      const original = MaintenanceQueries.prototype.insertImported
      cleanup(() => void (MaintenanceQueries.prototype.insertImported = original))
      const countOf = async (user: number) => {
        const rows = await t.rows((query) => query.where('user_id', String(user)))
        return rows.length
      }

      // an admin revokes user 42 right after the run inserted its session
      await knex(source).insert(sourceRow(42))
      MaintenanceQueries.prototype.insertImported = async function (...args) {
        const inserted = await original.apply(this, args)
        await revokeUserSessions(t.context, 42)
        return inserted
      }
      await importDatabaseSessions(t.context, { from: source })
      MaintenanceQueries.prototype.insertImported = original
      await importDatabaseSessions(t.context, { from: source })
      const afterRevokedMidRun = await countOf(42)

      // a run dies right after its insert (the connection lost), user 43 is revoked, a run follows
      await knex(source).insert(sourceRow(43))
      MaintenanceQueries.prototype.insertImported = async function (...args) {
        await original.apply(this, args)
        throw Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST' })
      }
      await assert.rejects(() => importDatabaseSessions(t.context, { from: source }))
      MaintenanceQueries.prototype.insertImported = original
      const afterDeadRun = await countOf(43)
      const revoked = await revokeUserSessions(t.context, 43)
      const next = await importDatabaseSessions(t.context, { from: source })

      assert.equal(afterRevokedMidRun, 0)
      assert.equal(afterDeadRun, 1)
      assert.equal(revoked.deleted, 1)
      assert.equal(await countOf(43), 0)
      assert.equal(next.copied, 0)
    })

    test('userKey false: an imported session keeps the built-in tag only', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect, { config: { userKey: false } })
      const source = await createBuiltInTable(t)
      cleanup(async () => {
        await t.db.connection().schema.dropTableIfExists(source)
        await t.cleanup()
      })
      const expiresAt = new Date(t.clock.now() + HOUR)
      await t.db
        .connection()
        .getWriteClient()(source)
        .insert([
          {
            id: 'signed-in-session-id-001',
            data: new MessageBuilder().build(
              { auth_web: 42 },
              undefined,
              'signed-in-session-id-001'
            ),
            user_id: null,
            expires_at: expiresAt,
          },
          {
            id: 'tagged-session-id-000002',
            data: new MessageBuilder().build(
              { auth_web: 42 },
              undefined,
              'tagged-session-id-000002'
            ),
            user_id: '9',
            expires_at: expiresAt,
          },
        ])
      await importDatabaseSessions(t.context, { from: source })
      const rows = await t.db
        .connection()
        .getWriteClient()(t.table)
        .select('id', 'user_id')
        .orderBy('user_id')
      assert.sameDeepMembers(
        rows.map((row: any) => [row.id, row.user_id]),
        [
          [hashSessionId('signed-in-session-id-001'), null],
          [hashSessionId('tagged-session-id-000002'), '9'],
        ]
      )
    })

    test('copies the built-in database store sessions so switching stores signs nobody out', async ({
      assert,
      cleanup,
    }) => {
      // the built-in store uses the real time; our clock starts there too
      const { t, source } = await importSetup(dialect, cleanup, {
        config: { maxPayloadSize: 4096 },
      })

      const before = await t.serve({ database: await builtInStore(t, source) })
      const handler = async (ctx: any) => {
        if (ctx.request.input('name')) {
          ctx.session.put('name', ctx.request.input('name'))
          ctx.session.put('cart', { items: [1, 2, 3], total: 12.5 })
        }
        if (ctx.request.input('user')) await ctx.session.tag(ctx.request.input('user'))
        return { name: ctx.session.get('name') ?? null, cart: ctx.session.get('cart') ?? null }
      }
      before.handler = handler
      const browsers = [before.client(), before.client(), before.client()]
      await browsers[0].get('/?name=ada')
      await browsers[1].get('/?name=grace&user=42')
      await browsers[2].get('/?name=linus')

      // rows the built-in store cannot read either, and one over our maxPayloadSize
      const knex = t.db.connection().getWriteClient()
      const expiresAt = new Date(Date.now() + HOUR)
      await knex(source).insert([
        { id: 'tampered-session-id-0001', data: '{not json', expires_at: expiresAt },
        {
          id: 'copied-session-id-00002',
          data: new MessageBuilder().build({ name: 'eve' }, undefined, 'another-session-id-0003'),
          expires_at: expiresAt,
        },
        {
          id: 'oversized-session-id-05',
          data: new MessageBuilder().build(
            { blob: 'x'.repeat(8000) },
            undefined,
            'oversized-session-id-05'
          ),
          expires_at: expiresAt,
        },
        {
          id: 'expired-session-id-0004',
          data: new MessageBuilder().build({ name: 'old' }, undefined, 'expired-session-id-0004'),
          expires_at: new Date(Date.now() - HOUR),
        },
      ])

      const first = await importDatabaseSessions(t.context, { from: source, batchSize: 2 })
      assert.containsSubset(first, { copied: 3, refreshed: 0, skipped: 0, expired: 1, invalid: 3 })

      const again = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(again, { copied: 0, refreshed: 0, skipped: 3, expired: 1, invalid: 3 })

      // our table holds hashes, and a tagged session keeps its user
      const rows = await t.rows()
      assert.lengthOf(rows, 3)
      const sourceRows: Array<{ id: string }> = await knex(source).select('id')
      const sourceIds = sourceRows.map((row) => row.id)
      assert.isTrue(rows.every((row) => sourceIds.some((id) => hashSessionId(id) === row.id)))
      assert.lengthOf(await t.rows((query) => query.where('user_id', '42')), 1)
      assert.isTrue(rows.every((row) => row.version === 0))

      // the switch is rolling out: some requests still reach the built-in store,
      // others already the stored store
      const after = await t.serve({ stored: t.factory })
      after.handler = handler
      await browsers[0].get('/?name=ada-signed-in-during-deploy')
      await moveTo(browsers[1], after).get('/?name=grace-on-the-new-store')
      await browsers[1].get('/?name=grace-late-on-the-old-store')

      // the import after the switch takes what changed in the source, never
      // over what the stored store wrote
      const final = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(final, { copied: 0, refreshed: 1, skipped: 2 })
      const rerun = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(rerun, { copied: 0, refreshed: 0, skipped: 3 })

      // the same browsers, now served by the stored store
      const cart = { items: [1, 2, 3], total: 12.5 }
      assert.deepEqual(await bodyOf(moveTo(browsers[0], after)), {
        name: 'ada-signed-in-during-deploy',
        cart,
      })
      assert.deepEqual(await bodyOf(moveTo(browsers[1], after)), {
        name: 'grace-on-the-new-store',
        cart,
      })
      assert.deepEqual(await bodyOf(moveTo(browsers[2], after)), { name: 'linus', cart })
    })

    test('a later import never brings back a session this store signed out or revoked', async ({
      assert,
      cleanup,
    }) => {
      const { t, source } = await importSetup(dialect, cleanup)
      const before = await t.serve({ database: await builtInStore(t, source) })
      before.handler = authHandler
      const alice = before.client()
      const bob = before.client()
      const carol = before.client()
      await alice.get('/?login=42')
      await bob.get('/?login=7')
      await carol.get('/?cart=3')
      const first = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(first, { copied: 3, deletedHere: 0, removed: 0 })

      // the switch: alice signs out on the new store, bob is revoked by an admin
      const after = await t.serve({ stored: t.factory })
      after.handler = authHandler
      assert.deepEqual(await bodyOf(moveTo(alice, after), '/?logout=1'), { user: null, cart: null })
      const revoked = await revokeUserSessions(t.context, 7)
      assert.equal(revoked.deleted, 1)
      assert.lengthOf(await t.rows(), 1)

      // the old store still holds both sessions, unchanged
      for (let run = 0; run < 2; run++) {
        const again = await importDatabaseSessions(t.context, { from: source })
        assert.containsSubset(again, { copied: 0, refreshed: 0, skipped: 1, deletedHere: 2 })
      }
      assert.lengthOf(await t.rows(), 1)
      assert.deepEqual(await bodyOf(moveTo(alice, after)), { user: null, cart: null })
      assert.deepEqual(await bodyOf(moveTo(bob, after)), { user: null, cart: null })
      assert.deepEqual(await bodyOf(moveTo(carol, after)), { user: null, cart: 3 })

      // a session created in the old store since is still copied
      const dave = before.client()
      await dave.get('/?login=9')
      const late = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(late, { copied: 1, deletedHere: 2 })
      assert.deepEqual(await bodyOf(moveTo(dave, after)), { user: 9, cart: null })
    })

    test('a table name of 63 characters keeps a ledger whose name fits the identifier limits', async ({
      assert,
      cleanup,
    }) => {
      const clock = new FakeClock()
      clock.advance(Date.now() - clock.now())
      const t = await setupStore(dialect, { clock })
      // `<table>_imported` would pass 63 characters: PostgreSQL truncates it
      // (to the sessions table's own name here), MySQL refuses it. Renamed,
      // as MySQL refuses the default index names of a table this long.
      const table = t.table.padEnd(63, 'x')
      await t.db.connection().schema.renameTable(t.table, table)
      const source = await createBuiltInTable(t)
      cleanup(async () => {
        await t.db.connection().schema.dropTableIfExists(source)
        await t.db.connection().schema.dropTableIfExists(table)
        await t.db.connection().schema.dropTableIfExists(ledgerTableOf(table))
        await t.cleanup()
      })
      const factory = createStoredSessionFactory(resolveConfig({ table }), {
        db: t.db,
        emitter: t.emitter,
        keyring: makeKeyring(),
        clock: clock.now,
      })
      const before = await t.serve({ database: await builtInStore(t, source) })
      before.handler = authHandler
      const alice = before.client()
      await alice.get('/?login=42')

      const first = await importDatabaseSessions(contextOf(factory)!, { from: source })
      assert.containsSubset(first, { copied: 1 })
      const after = await t.serve({ stored: factory })
      after.handler = authHandler
      assert.deepEqual(await bodyOf(moveTo(alice, after), '/?logout=1'), { user: null, cart: null })
      const again = await importDatabaseSessions(contextOf(factory)!, { from: source })
      assert.containsSubset(again, { copied: 0, deletedHere: 1 })
      assert.isAtMost(ledgerTableOf(table).length, 62)
      assert.isTrue(await t.db.connection().schema.hasTable(ledgerTableOf(table)))
    })

    test('new sessions are inserted 100 to a statement, each opening under its own id', async ({
      assert,
      cleanup,
    }) => {
      const { clock, t, source } = await importSetup(dialect, cleanup)
      const knex = t.db.connection().getWriteClient()
      const ids = Array.from({ length: 250 }, (_, n) => `import-${String(n).padStart(12, '0')}`)
      await knex(source).insert(
        ids.map((id, n) => ({
          id,
          data: new MessageBuilder().build({ auth_web: n, cart: 'x'.repeat(n) }, undefined, id),
          user_id: null,
          expires_at: new Date(clock.now() + HOUR),
        }))
      )
      const inserts: number[] = []
      knex.on('query', ({ sql, bindings }: { sql: string; bindings: unknown[] }) => {
        if (sql.startsWith(`insert into `) && sql.split(' ')[2].slice(1, -1) === t.table) {
          inserts.push(bindings.filter(Buffer.isBuffer).length)
        }
      })

      const summary = await importDatabaseSessions(t.context, { from: source, batchSize: 500 })
      assert.containsSubset(summary, { copied: 250, skipped: 0, invalid: 0 })
      assert.deepEqual(inserts, [100, 100, 50])
      for (const n of [0, 99, 100, 249]) {
        const row = (await t.context.repository().find(hashSessionId(ids[n])))!
        assert.equal(row.version, 0)
        assert.equal(row.userId, String(n))
        assert.deepEqual(t.context.codec.unpack(t.context.codec.open(row.data, row.id)!), {
          auth_web: n,
          cart: 'x'.repeat(n),
        })
      }
    })

    test('a row the store creates while its batch is copied is left as the store wrote it', async ({
      assert,
      cleanup,
    }) => {
      const { clock, t, source } = await importSetup(dialect, cleanup)
      const knex = t.db.connection().getWriteClient()
      const ids = ['racing-session-0001', 'racing-session-0002', 'racing-session-0003']
      await knex(source).insert(
        ids.map((id) => ({
          id,
          data: new MessageBuilder().build({ from: 'old store' }, undefined, id),
          user_id: null,
          expires_at: new Date(clock.now() + HOUR),
        }))
      )
      // the store writes the second session between the import's look-up and its insert
      const racing = hashSessionId(ids[1])
      const ours = t.context.codec.seal(t.context.codec.pack({ from: 'new store' }), racing)
      const lookUp = MaintenanceQueries.prototype.versionsOf
      let lookUps = 0
      MaintenanceQueries.prototype.versionsOf = async function (this: any, hashes: string[]) {
        const versions = await lookUp.call(this, hashes)
        if (lookUps++ === 0) {
          await t.context.repository().insert({
            id: racing,
            data: ours,
            version: 7,
            userId: null,
            now: new Date(clock.now()),
            expiresAt: new Date(clock.now() + HOUR),
          })
        }
        return versions
      }
      cleanup(() => {
        MaintenanceQueries.prototype.versionsOf = lookUp
      })

      const summary = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(summary, { copied: 2, skipped: 1 })
      const row = (await t.context.repository().find(racing))!
      assert.equal(row.version, 7)
      assert.deepEqual(t.context.codec.unpack(t.context.codec.open(row.data, row.id)!), {
        from: 'new store',
      })
      // and a later run leaves it alone too
      const again = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(again, { copied: 0, skipped: 3 })
      assert.equal((await t.context.repository().find(racing))!.version, 7)
    })

    test('a sign-out served by the old store removes the copy this store never wrote', async ({
      assert,
      cleanup,
    }) => {
      const { clock, t, source } = await importSetup(dialect, cleanup)
      const before = await t.serve({ database: await builtInStore(t, source) })
      before.handler = authHandler
      const after = await t.serve({ stored: t.factory })
      after.handler = authHandler
      const [alice, bob, carol, erin] = [1, 2, 3, 4].map(() => before.client())
      await alice.get('/?login=42')
      await bob.get('/?login=43')
      await carol.get('/?login=44')
      await erin.get('/?login=45')
      await importDatabaseSessions(t.context, { from: source })

      // bob changes his session on the old store: the next import refreshes the copy
      await bob.get('/?cart=2')
      const refresh = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(refresh, { refreshed: 1, removed: 0 })
      // erin's copy is only read on the new store (a touch, no write)
      clock.advance(HOUR)
      assert.deepEqual(await bodyOf(moveTo(erin, after)), { user: 45, cart: null })

      // alice, bob and erin sign out on the old store; carol had written on the new store first
      await moveTo(carol, after).get('/?cart=5')
      for (const browser of [alice, bob, carol, erin]) await browser.get('/?logout=1')
      assert.lengthOf(await t.db.connection().getWriteClient()(source).select('id'), 0)

      const final = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(final, { copied: 0, removed: 3 })
      const rows = await t.rows()
      assert.lengthOf(rows, 1)
      assert.deepEqual(await bodyOf(moveTo(alice, after)), { user: null, cart: null })
      assert.deepEqual(await bodyOf(moveTo(bob, after)), { user: null, cart: null })
      assert.deepEqual(await bodyOf(moveTo(erin, after)), { user: null, cart: null })
      assert.deepEqual(await bodyOf(moveTo(carol, after)), { user: 44, cart: 5 })
      const rerun = await importDatabaseSessions(t.context, { from: source })
      assert.containsSubset(rerun, { copied: 0, removed: 0 })
    })
  })
}

/**
 * Routes of a small app signing in the way @adonisjs/auth does (the user
 * id under auth_web), with a cart; `logout` ends the session as a whole.
 */
async function authHandler(ctx: any) {
  if (ctx.request.input('login')) ctx.session.put('auth_web', Number(ctx.request.input('login')))
  if (ctx.request.input('cart')) ctx.session.put('cart', Number(ctx.request.input('cart')))
  if (ctx.request.input('logout')) ctx.session.clear()
  return { user: ctx.session.get('auth_web') ?? null, cart: ctx.session.get('cart') ?? null }
}
