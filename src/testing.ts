import { randomUUID } from 'node:crypto'
import { configProvider } from '@adonisjs/core'
import type { ApplicationService } from '@adonisjs/core/types'
import type {
  SessionConfig,
  SessionData,
  SessionStoreWithTaggingContract,
} from '@adonisjs/session/types'
import { createStoredSessionFactory } from './define_config.ts'
import { resolveStoredSessionContext, type StoredSessionContext } from './store_context.ts'
import { StoredSessions } from './users/user_sessions.ts'

/**
 * What the helpers need from the app besides the store: the session `age`,
 * the cookie name, and how the app signs cookies.
 */
export interface TestingEnvironment {
  age: string | number
  cookieName: string
  signCookie(name: string, value: string): string
}

export interface TestSession {
  /** The raw session id, as the browser holds it. */
  sessionId: string
  cookieName: string
  /** A `Cookie` header value, for clients that do not sign cookies themselves. */
  cookieHeader: string
}

/**
 * Test helpers for an application's own suite: create a real stored
 * session for a user, and assert on a user's stored sessions.
 *
 * @example
 * const sessions = await StoredSessionTesting.create(app)
 * const { sessionId, cookieName } = await sessions.signIn(user.id, { values: { locale: 'fr' } })
 * await client.get('/dashboard').withCookie(cookieName, sessionId)
 * await sessions.assertLiveSessions(user.id, 1)
 */
export class StoredSessionTesting {
  #context: StoredSessionContext
  #environment: TestingEnvironment

  constructor(context: StoredSessionContext, environment: TestingEnvironment) {
    this.#context = context
    this.#environment = environment
  }

  /**
   * Helpers for the app's `stored` store (or the named one).
   */
  static async create(app: ApplicationService, store?: string) {
    const context = await resolveStoredSessionContext(app, store)
    const session = await configProvider.resolve<{ age: string | number; cookieName: string }>(
      app,
      app.config.get('session')
    )
    const encryption = await app.container.make('encryption')
    return new StoredSessionTesting(context, {
      age: session?.age ?? '2h',
      cookieName: session?.cookieName ?? 'adonis_session',
      signCookie: (name, value) =>
        `s:${encryption.getMessageVerifier().sign(value, undefined, name)}`,
    })
  }

  /**
   * Stores a new session through the store itself, holding `values` and,
   * with `userId`, the signed-in user (under the store's `userKey`, and as
   * the row's `user_id`). Returns what a client sends.
   */
  async signIn(userId?: string | number, options: { values?: SessionData } = {}) {
    const values: SessionData = { ...options.values }
    const userKey = this.#context.config.userKey
    if (userId !== undefined && userKey) values[userKey] = userId

    const factory = createStoredSessionFactory(this.#context.config, {
      db: this.#context.db,
      keyring: this.#context.keyring,
      emitter: null,
      clock: this.#context.clock,
    })
    // Without an HTTP context: each call below runs on a store of its own.
    const sessionConfig = { age: this.#environment.age } as SessionConfig
    const store = factory(null as any, sessionConfig) as SessionStoreWithTaggingContract
    const sessionId = randomUUID()
    await store.write(sessionId, values)
    if (userId !== undefined && !userKey) await store.tag(sessionId, String(userId))

    const { cookieName, signCookie } = this.#environment
    const cookieHeader = `${cookieName}=${signCookie(cookieName, sessionId)}`
    return { sessionId, cookieName, cookieHeader } satisfies TestSession
  }

  /**
   * Fails unless `userId` has exactly `expected` live sessions.
   */
  async assertLiveSessions(userId: string | number, expected: number) {
    const actual = await new StoredSessions(this.#context).count(userId)
    if (actual !== expected) {
      throw new Error(
        `Expected user "${userId}" to have ${expected} live sessions, found ${actual}`
      )
    }
  }
}
