import type { HttpContext } from '@adonisjs/core/http'
import type {
  SessionData,
  SessionStoreWithTaggingContract,
  TaggedSession,
} from '@adonisjs/session/types'
import debug from '../debug.ts'
import { hashSessionId, isValidSessionId } from '../request/session_id.ts'
import { clientMetadata } from '../request/client_metadata.ts'
import type { StoredSessionContext } from '../store_context.ts'
import { StoredSessions } from './user_sessions.ts'
import { afterSignIn } from './sign_in.ts'
import { Locator } from './location.ts'

/**
 * Wraps a request's store when the app asked for what happens around a
 * sign-in (`locate`, `maxSessionsPerUser`, a `stored_session:new_device`
 * listener); otherwise the request's store is returned as it is.
 */
export function trackUsers(
  store: SessionStoreWithTaggingContract,
  ctx: HttpContext,
  context: StoredSessionContext
): SessionStoreWithTaggingContract {
  const { config, events } = context
  const wanted =
    config.locate !== undefined ||
    config.maxSessionsPerUser !== undefined ||
    events.listening('stored_session:new_device')
  return wanted ? new UserTrackingStore(store, ctx, context) : store
}

/**
 * The request's store, plus what follows a write: the client's location
 * when the session is written from a new IP, and the new-device event and
 * the session cap when the write signed a user in (the user key appeared
 * or changed, or `session.tag()` named a user).
 *
 * These follow-ups run after the session is saved and never fail the
 * request: a database error skips them (with a debug line).
 */
class UserTrackingStore implements SessionStoreWithTaggingContract {
  #store: SessionStoreWithTaggingContract
  #ctx: HttpContext
  #context: StoredSessionContext
  /** User id each session id held when this request read it. */
  #readUsers = new Map<string, string | null>()
  /** Users `tag()` named during this request, signed in at the next write. */
  #tagged = new Map<string, string>()

  constructor(
    store: SessionStoreWithTaggingContract,
    ctx: HttpContext,
    context: StoredSessionContext
  ) {
    this.#store = store
    this.#ctx = ctx
    this.#context = context
  }

  async read(sessionId: string): Promise<SessionData | null> {
    const values = await this.#store.read(sessionId)
    this.#readUsers.set(sessionId, this.#userIn(values))
    return values
  }

  async write(sessionId: string, values: SessionData): Promise<void> {
    await this.#store.write(sessionId, values)
    await this.#followUp(sessionId, values)
  }

  async touch(sessionId: string): Promise<void> {
    await this.#store.touch(sessionId)
  }

  async destroy(sessionId: string): Promise<void> {
    this.#tagged.delete(sessionId)
    await this.#store.destroy(sessionId)
  }

  async tag(sessionId: string, userId: string | number): Promise<void> {
    await this.#store.tag(sessionId, userId)
    this.#tagged.set(sessionId, String(userId))
  }

  async untag(sessionId: string, userId: string | number): Promise<void> {
    this.#tagged.delete(sessionId)
    await this.#store.untag(sessionId, userId)
  }

  async tagged(userId: string | number): Promise<TaggedSession[]> {
    return this.#store.tagged(userId)
  }

  #userIn(values: SessionData | null): string | null {
    const key = this.#context.config.userKey
    const value = key && values ? values[key] : undefined
    return value === undefined || value === null ? null : String(value)
  }

  async #followUp(sessionId: string, values: SessionData) {
    if (!isValidSessionId(sessionId)) return
    const hash = hashSessionId(sessionId)
    // the user agent describes the device even where rows do not record it
    const { ipAddress, userAgent } = clientMetadata(this.#ctx, {
      ipAddress: this.#context.config.metadata.ipAddress,
      userAgent: true,
    })
    try {
      const location = ipAddress ? await Locator.of(this.#context).record(hash, ipAddress) : null
      const signedIn = this.#tagged.get(sessionId) ?? this.#userIn(values)
      const before = this.#readUsers.has(sessionId) ? this.#readUsers.get(sessionId) : null
      this.#tagged.delete(sessionId)
      this.#readUsers.set(sessionId, signedIn)
      if (signedIn === null || signedIn === before) return
      await afterSignIn(new StoredSessions(this.#context), this.#context, {
        userId: signedIn,
        sessionId,
        hash,
        userAgent,
        ipAddress,
        location,
      })
    } catch (error) {
      debug('after a write: skipped the device follow-ups (%s)', (error as any)?.code ?? 'error')
    }
  }
}
