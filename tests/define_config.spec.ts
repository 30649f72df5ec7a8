import { test } from '@japa/runner'
import { resolveConfig, storedSession } from '../src/define_config.ts'
import { Database } from '@adonisjs/lucid/database'
import { AppFactory } from '@adonisjs/core/factories/app'
import { EmitterFactory } from '@adonisjs/core/factories/events'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import { defineConfig, drivers, Encryption } from '@adonisjs/core/encryption'
import { AES256GCM } from '@adonisjs/core/encryption/drivers/aes_256_gcm'
import { contextOf } from '../src/store_context.ts'
import { SessionKeyring } from '../src/request/keyring.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { StoredSession } from '../src/models/stored_session.ts'

test.group('config', () => {
  test('defaults', ({ assert }) => {
    const config = resolveConfig()
    assert.equal(config.table, 'stored_sessions')
    assert.equal(config.maxLifetime, 30 * 24 * 3600 * 1000)
    assert.equal(config.maxPayloadSize, 512 * 1024)
    assert.isUndefined(config.touchInterval)
    assert.equal(config.timeout, 5000)
  })

  test('timeout takes a time expression or seconds, and must be above zero', ({ assert }) => {
    assert.equal(resolveConfig({ timeout: '800ms' }).timeout, 800)
    assert.equal(resolveConfig({ timeout: '2s' }).timeout, 2000)
    assert.equal(resolveConfig({ timeout: 0.25 }).timeout, 250)
    for (const timeout of [0, -1, '0ms', 'soon', Number.NaN, Infinity]) {
      assert.throws(
        () => resolveConfig({ timeout }),
        /"timeout" must be a time expression like "5s" or "500ms", or a positive number of seconds/
      )
    }
  })

  test('durations accept time expressions and seconds', ({ assert }) => {
    const config = resolveConfig({ maxLifetime: '2 days', touchInterval: 90 })
    assert.equal(config.maxLifetime, 2 * 24 * 3600 * 1000)
    assert.equal(config.touchInterval, 90_000)
  })

  test('invalid options throw E_INVALID_STORED_SESSION_CONFIG', ({ assert }) => {
    assert.throws(
      () => resolveConfig({ table: 'sessions; drop table users' }),
      /"table" must be a plain SQL identifier/
    )
    assert.throws(
      () => resolveConfig({ maxPayloadSize: 0 }),
      /"maxPayloadSize" must be a positive integer/
    )
    assert.throws(
      () => resolveConfig({ maxLifetime: 'forever' }),
      /"maxLifetime" must be a time expression/
    )
    let code: string | undefined
    try {
      resolveConfig({ maxPayloadSize: -1 })
    } catch (error: any) {
      code = error.code
    }
    assert.equal(code, 'E_INVALID_STORED_SESSION_CONFIG')
  })

  test('rememberMeTokens takes a function importing the user model and a guard name', ({
    assert,
  }) => {
    const model = async () => ({ default: { find: async () => null } })
    assert.isNull(resolveConfig().rememberMeTokens)
    assert.isNull(resolveConfig({ rememberMeTokens: false }).rememberMeTokens)
    assert.deepEqual(resolveConfig({ rememberMeTokens: { model } }).rememberMeTokens, {
      model,
      guard: 'web',
    })
    assert.throws(
      () => resolveConfig({ rememberMeTokens: { model: 'app/models/user' as any } }),
      /"rememberMeTokens.model" must be a function importing the user model/
    )
    assert.throws(
      () => resolveConfig({ rememberMeTokens: { model, guard: 'web; drop' } }),
      /"rememberMeTokens.guard" must be a guard name/
    )
  })

  test('schema-qualified table names are accepted', ({ assert }) => {
    assert.equal(resolveConfig({ table: 'auth.stored_sessions' }).table, 'auth.stored_sessions')
  })
})

/**
 * The parts of an application storedSession() resolves: Lucid, the emitter,
 * and config/encryption.ts (built with the framework's own defineConfig).
 */
async function fakeApp(encryption: unknown) {
  const app = new AppFactory().create(new URL('../tmp/', import.meta.url), () => {})
  await app.init()
  const emitter = new EmitterFactory().create(app)
  const db = new Database(
    {
      connection: 'sqlite',
      connections: {
        sqlite: {
          client: 'better-sqlite3',
          connection: { filename: ':memory:' },
          useNullAsDefault: true,
        },
      },
    },
    new LoggerFactory().create(),
    emitter
  )
  const bindings: Record<string, unknown> = { 'lucid.db': db, 'emitter': emitter }
  const cookieEncryption = new Encryption({
    keys: ['cookie-signing-key-of-32-chars!!'],
    driver: (key) => new AES256GCM({ id: 'app', key }),
  })
  return {
    db,
    emitter,
    app: {
      config: { get: (key: string) => (key === 'encryption' ? encryption : undefined) },
      container: {
        make: async (name: unknown) =>
          name === Encryption ? cookieEncryption : bindings[name as string],
      },
    } as any,
  }
}

test.group('storedSession() in an app', (group) => {
  // storedSession() points the model at its table and connection: put it back
  group.each.setup(() => {
    const { table, connection } = StoredSession
    return () => {
      StoredSession.table = table
      StoredSession.connection = connection
    }
  })

  test('takes its keys from the named encryptor of config/encryption.ts', async ({
    assert,
    cleanup,
  }) => {
    const encryption = defineConfig({
      default: 'app',
      list: {
        app: drivers.aes256gcm({ id: 'app', keys: ['the-app-key-of-32-characters-ok!'] }),
        sessions: drivers.aes256gcm({
          id: 'sessions',
          keys: ['sessions-key-of-32-characters-ok', 'older-sessions-key-32-characters'],
        }),
      },
    })
    const { app, db } = await fakeApp(encryption)
    cleanup(() => db.manager.closeAll())

    const factory = await storedSession({ encryption: 'sessions' }).resolver(app)
    const codec = contextOf(factory)!.codec
    const hash = hashSessionId('2f6c1b9e-4b1e-4d7e-9d3e-0c5f8a7b6e21')
    const byOlderKey = new SessionKeyring(['older-sessions-key-32-characters']).seal(
      codec.pack({ a: 1 }),
      hash
    )
    assert.deepEqual(codec.unpack(codec.open(byOlderKey, hash)!), { a: 1 })
    const byAppKey = new SessionKeyring(['the-app-key-of-32-characters-ok!']).seal(
      codec.pack({ a: 1 }),
      hash
    )
    assert.isNull(codec.open(byAppKey, hash))

    const byDefault = await storedSession().resolver(app)
    assert.isNotNull(contextOf(byDefault)!.codec.open(byAppKey, hash))

    await storedSession({ table: 'custom_sessions' }).resolver(app)
    assert.equal(StoredSession.table, 'custom_sessions')
    assert.equal(StoredSession.connection, 'sqlite')
  })

  test("with rememberMeTokens, sessions record the guard's tokens: listened to once", async ({
    assert,
    cleanup,
  }) => {
    const encryption = defineConfig({
      default: 'app',
      list: { app: drivers.aes256gcm({ id: 'app', keys: ['the-app-key-of-32-characters-ok!'] }) },
    })
    const { app, db, emitter } = await fakeApp(encryption)
    cleanup(() => db.manager.closeAll())
    const config = { rememberMeTokens: { model: async () => ({ default: {} as any }) } }

    await storedSession().resolver(app)
    assert.isFalse(emitter.hasListeners('session_auth:login_succeeded' as any))
    await storedSession(config).resolver(app)
    await storedSession(config).resolver(app)
    for (const event of [
      'session_auth:login_succeeded',
      'session_auth:authentication_succeeded',
      'session_auth:logged_out',
    ]) {
      assert.equal(emitter.listenerCount(event as any), 1, event)
    }
  })

  test('an unknown encryptor or connection is a config error', async ({ assert, cleanup }) => {
    const encryption = defineConfig({
      list: { app: drivers.aes256gcm({ id: 'app', keys: ['the-app-key-of-32-characters-ok!'] }) },
    })
    const { app, db } = await fakeApp(encryption)
    cleanup(() => db.manager.closeAll())

    await assert.rejects(
      () => storedSession({ encryption: 'missing' }).resolver(app),
      /the encryptor "missing" is not defined in config\/encryption.ts/
    )
    await assert.rejects(
      () => storedSession({ connection: 'nope' }).resolver(app),
      /the connection "nope" is not defined in config\/database.ts/
    )
  })
})
