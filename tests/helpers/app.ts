import { once } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { AppFactory } from '@adonisjs/core/factories/app'
import { EmitterFactory } from '@adonisjs/core/factories/events'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import { HttpContextFactory, RequestFactory, ResponseFactory } from '@adonisjs/core/factories/http'
import { Encryption } from '@adonisjs/core/encryption'
import { AES256GCM } from '@adonisjs/core/encryption/drivers/aes_256_gcm'
import type { HttpContext } from '@adonisjs/core/http'
import type { EmitterService } from '@adonisjs/core/types'
import type { Logger } from '@adonisjs/core/logger'
import { Database } from '@adonisjs/lucid/database'
import type { BaseSchema } from '@adonisjs/lucid/schema'
import type { ConnectionConfig } from '@adonisjs/lucid/types/database'
import { SessionMiddlewareFactory } from '@adonisjs/session/factories'
import type { SessionConfig, SessionStoreFactory } from '@adonisjs/session/types'
import { SessionCollection } from '@adonisjs/session'
import { stubsRoot } from '../../stubs/main.ts'
import { SessionKeyring } from '../../src/request/keyring.ts'
import { createStoredSessionFactory, resolveConfig } from '../../src/define_config.ts'
import type { StoredSessionConfig } from '../../src/types.ts'
import type { Dialect } from './dialects.ts'

const ROOT = new URL('../../tmp/', import.meta.url)
export const APP_KEYS = {
  current: 'a-32-character-long-current-key!',
  previous: 'a-32-character-long-previous-key',
}

/**
 * An encryptor as the app has one, for signing cookies.
 */
export function makeEncryptor(keys: string[] = [APP_KEYS.current]) {
  return new Encryption({ keys, driver: (key) => new AES256GCM({ id: 'app', key }) })
}

/**
 * The store's keys, as `storedSession()` takes them from config/encryption.ts.
 */
export function makeKeyring(keys: string[] = [APP_KEYS.current]) {
  return new SessionKeyring(keys)
}

/**
 * A clock tests move by hand, so expiry is tested without sleeping.
 */
export class FakeClock {
  #now = Date.UTC(2026, 10, 22, 12, 0, 0)
  now = () => this.#now
  advance(ms: number) {
    this.#now += ms
  }
}

let requestContext: HttpContext | undefined

/**
 * The store one request gets, without a server: the factory called with an
 * HTTP context, so the store keeps what the request read until its write.
 * Called without a context, the factory builds `SessionCollection`'s store,
 * which keeps nothing from one call to the next.
 */
export function requestStore(
  factory: SessionStoreFactory,
  sessionConfig: { age: string | number } = { age: '2 hours' }
) {
  requestContext ??= new HttpContextFactory().create()
  return factory(requestContext, sessionConfig as SessionConfig)
}

export const MINUTE = 60_000
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR

/**
 * A Lucid Database on one dialect, with the sessions table created by
 * rendering and running the package's own migration stub.
 */
export async function setupDatabase(
  dialect: Dialect,
  table = uniqueTable(),
  connection: ConnectionConfig = dialect.connection()
) {
  const app = new AppFactory().create(ROOT, () => {})
  await app.init()
  const emitter = new EmitterFactory().create(app) as unknown as EmitterService
  const db = new Database(
    { connection: dialect.name, connections: { [dialect.name]: connection } },
    new LoggerFactory().create(),
    emitter as any
  )
  await db.connection().schema.dropTableIfExists(table)
  await runMigrationStub(app, db, table)
  return { app, db, emitter }
}

/**
 * Renders one of the package's migration stubs for `table` (and what else
 * `state` gives the stub) and runs it through Lucid's migration class. The
 * stub's imports of the package's public subpaths (`stored-session/...`)
 * are pointed at the sources they are built from, so no build is needed.
 * Returns the rendered migration.
 */
export async function runMigrationStub(
  app: any,
  db: Database,
  table: string,
  direction: 'up' | 'down' = 'up',
  stubPath = 'migrations/create_stored_sessions_table.stub',
  state: Record<string, string> = {}
) {
  const stubs = await app.stubs.create()
  const stub = await stubs.build(stubPath, {
    source: stubsRoot,
  })
  const { contents } = await stub.prepare({
    migration: { folder: 'database/migrations', fileName: 'create.ts', tableName: table, ...state },
  })
  const folder = new URL(`migrations/${randomUUID()}/`, ROOT)
  await mkdir(folder, { recursive: true })
  const file = new URL('create_stored_sessions_table.ts', folder)
  await writeFile(file, await fromSources(contents))
  const { default: Migration } = (await import(file.href)) as { default: typeof BaseSchema }
  const migration = new Migration(db.connection(), file.pathname, false)
  await (direction === 'up' ? migration.execUp() : migration.execDown())
  return contents as string
}

/**
 * `from 'stored-session/x'` as `from '<repository>/src/x.ts'`: the source
 * of what package.json's `exports` map `./x` to in build/.
 */
async function fromSources(contents: string) {
  const { exports } = JSON.parse(
    await readFile(new URL('../../package.json', import.meta.url), 'utf8')
  )
  return contents.replace(/from 'stored-session(\/[^']+)?'/g, (_, subpath = '') => {
    const built: string = exports[`.${subpath}`]
    const source = built.replace(/^\.\/build\//, '../../').replace(/\.js$/, '.ts')
    return `from '${new URL(source, import.meta.url).href}'`
  })
}

export interface TestAppOptions {
  /** Connection config to use instead of the dialect's (e.g. through a proxy). */
  connection?: ConnectionConfig
  config?: StoredSessionConfig
  keyring?: SessionKeyring
  clock?: FakeClock
  age?: string | number
  table?: string
  /** The app logger the store reports to (failing listeners). */
  logger?: Logger
}

type Handler = (ctx: HttpContext) => unknown | Promise<unknown>

/**
 * A real HTTP server whose requests go through @adonisjs/session's own
 * middleware and commit sequence, with the `stored` store under test.
 */
export class TestApp {
  handler: Handler = () => {}
  declare url: string
  #server: Server
  #cookieEncryption = makeEncryptor(['cookie-signing-key-of-32-chars!!'])

  constructor(
    readonly db: Database,
    readonly emitter: EmitterService,
    readonly sessionConfig: SessionConfig & {
      store: string
      stores: Record<string, SessionStoreFactory>
    },
    readonly clock: FakeClock
  ) {
    this.#server = createServer(async (req, res) => {
      const encryption = this.#cookieEncryption
      const request = new RequestFactory().merge({ req, res, encryption }).create()
      const response = new ResponseFactory().merge({ req, res, encryption }).create()
      const ctx = new HttpContextFactory().merge({ request, response }).create()
      try {
        const middleware = await this.#middleware()
        await middleware.handle(ctx, async () => {
          const body = await this.handler(ctx)
          if (body !== undefined) ctx.response.send(body)
        })
      } catch (error: any) {
        // Like the framework's exception handler: errors that render themselves do
        if (typeof error?.handle === 'function') await error.handle(error, ctx)
        else
          ctx.response
            .status(error.status ?? 500)
            .send({ code: error.code, message: error.message })
      }
      ctx.response.finish()
    })
  }

  #middlewarePromise?: ReturnType<SessionMiddlewareFactory['create']>
  #middleware() {
    this.#middlewarePromise ??= new SessionMiddlewareFactory()
      .merge({ config: this.sessionConfig as any, emitter: this.emitter as any })
      .create()
    return this.#middlewarePromise
  }

  async start() {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  async close() {
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }

  client() {
    return new CookieClient(this.url)
  }

  /**
   * The encryption this app's cookies are signed and encrypted with.
   */
  get cookieEncryption() {
    return this.#cookieEncryption
  }

  /**
   * The SessionCollection @adonisjs/session builds (store with a null ctx).
   */
  collection() {
    return new SessionCollection(this.sessionConfig as any)
  }

  /**
   * A signed session cookie for an arbitrary session id value, as a
   * browser holding it would send.
   */
  signedCookie(value: string) {
    return `adonis_session=${this.signCookieValue('adonis_session', value)}`
  }

  /**
   * A cookie value signed the way the app's responses sign it.
   */
  signCookieValue(name: string, value: string) {
    return `s:${this.#cookieEncryption.getMessageVerifier().sign(value, undefined, name)}`
  }
}

let tables = 0

/**
 * @adonisjs/session's config for an app of the tests or the benchmarks:
 * `store` of `stores` in use, cookies as the framework's defaults.
 */
export function sessionConfigFor(
  stores: Record<string, SessionStoreFactory>,
  store: string,
  age: string | number = '2 hours'
): SessionConfig & { store: string; stores: Record<string, SessionStoreFactory> } {
  // clearWithBrowser is read by the middleware but missing from SessionConfig's type
  const config = {
    enabled: true,
    age,
    cookieName: 'adonis_session',
    clearWithBrowser: false,
    cookie: {},
    store,
    stores,
  }
  return config
}

/**
 * A table name of this process alone, so runs sharing a server never meet.
 */
export function uniqueTable() {
  return `stored_sessions_t${process.pid}_${++tables}`
}

export async function createTestApp(dialect: Dialect, options: TestAppOptions = {}) {
  const table = options.table ?? options.config?.table ?? uniqueTable()
  const { db, emitter } = await setupDatabase(dialect, table, options.connection)
  const clock = options.clock ?? new FakeClock()
  const factory = createStoredSessionFactory(resolveConfig({ ...options.config, table }), {
    db,
    emitter,
    keyring: options.keyring ?? makeKeyring(),
    logger: options.logger,
    clock: clock.now,
  })
  const app = await new TestApp(
    db,
    emitter,
    sessionConfigFor({ stored: factory }, 'stored', options.age),
    clock
  ).start()
  return {
    app,
    db,
    emitter,
    clock,
    table,
    async cleanup() {
      await app.close()
      await db.connection().schema.dropTableIfExists(table)
      await db.manager.closeAll()
    },
  }
}

/**
 * A minimal browser: keeps the cookies a server sets and sends them back.
 */
export class CookieClient {
  cookies = new Map<string, string>()
  constructor(readonly baseUrl: string) {}

  get cookieHeader() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  async get(path = '/', headers: Record<string, string> = {}) {
    return this.#send(path, { headers: { cookie: this.cookieHeader, ...headers } })
  }

  /**
   * Posts a JSON body, not following a redirect (its status and
   * `location` are returned, as a browser's form post would see them).
   */
  async post(path: string, body: string, headers: Record<string, string> = {}) {
    return this.#send(path, {
      method: 'POST',
      body,
      redirect: 'manual',
      headers: {
        'cookie': this.cookieHeader,
        'content-type': 'application/json',
        'accept': 'text/html',
        ...headers,
      },
    })
  }

  async #send(path: string, init: RequestInit) {
    const response = await fetch(`${this.baseUrl}${path}`, init)
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';')
      const index = pair.indexOf('=')
      const name = pair.slice(0, index)
      const value = pair.slice(index + 1)
      if (header.toLowerCase().includes('max-age=0') || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    const text = await response.text()
    let body: any = text
    try {
      body = JSON.parse(text)
    } catch {}
    const location = response.headers.get('location')
    return { status: response.status, body, ...(location === null ? {} : { location }) }
  }
}
