import { base64 } from '@adonisjs/core/helpers'
import { CookieClient, type HttpContext } from '@adonisjs/core/http'
import type { Encryption } from '@adonisjs/core/encryption'
import type { EmitterService } from '@adonisjs/core/types'
import type { SessionData } from '@adonisjs/session/types'
import debug from '../debug.ts'
import { guardStatements } from '../request/failsafe.ts'

/**
 * The part of @adonisjs/auth's remember-me tokens provider
 * (`DbRememberMeTokensProvider`) a revoke uses.
 */
export interface RememberMeTokensProvider {
  all(user: any): Promise<Array<{ identifier: unknown }>>
  delete(user: any, identifier: any): Promise<number>
}

/**
 * A user model as @adonisjs/auth's session guard uses it: `find()` by id,
 * and the remember-me tokens provider as a static `rememberMeTokens`.
 */
export interface RememberMeTokensModel {
  find(id: any): Promise<unknown>
  rememberMeTokens?: RememberMeTokensProvider
}

export interface RememberMeTokensConfig {
  /**
   * The user model, the way the session guard's `sessionUserProvider({
   * model })` takes it; its `rememberMeTokens` provider is the one a revoke
   * deletes tokens through.
   */
  model: () => Promise<{ default: RememberMeTokensModel }>
  /** Name of the session guard (its cookie is `remember_<guard>`). Defaults to `web`. */
  guard?: string
}

/**
 * Which of a user's remember-me tokens a revoke ends.
 */
export type TokenSelection = { all: true } | { allBut: string | null } | { only: string }

/**
 * The events of @adonisjs/auth's session guard this module listens to.
 */
interface GuardEvent {
  ctx: HttpContext
  guardName: string
  rememberMeToken?: { identifier: unknown }
}

/** Emitters already listening, so resolving the config twice registers nothing twice. */
const tracked = new WeakMap<object, Set<string>>()

/**
 * Remember-me tokens of @adonisjs/auth's session guard, ended together
 * with the sessions a revoke deletes. A remember-me cookie signs its
 * browser back in with a new session, so a revoke that leaves the token
 * alive is undone by the next request.
 *
 * Which token belongs to which session is recorded in the session itself,
 * under `sessionKey`, as the guard creates or recycles the token: only then
 * does a revoke know the current browser's token (kept by "others") and a
 * device's token (ended with it).
 */
export class RememberMeTokens {
  readonly guard: string
  /** Session key holding the identifier of this browser's remember-me token. */
  readonly sessionKey: string
  readonly cookieName: string
  #model: RememberMeTokensConfig['model']

  constructor(config: RememberMeTokensConfig) {
    this.guard = config.guard ?? 'web'
    this.sessionKey = `stored_session_remember_${this.guard}`
    this.cookieName = `remember_${this.guard}`
    this.#model = config.model
  }

  /**
   * The identifier of the token recorded in a session's values, if any.
   */
  identifierIn(values: SessionData | null): string | null {
    return this.identifierOf(values?.[this.sessionKey])
  }

  /**
   * A value recorded under `sessionKey`, as an identifier.
   */
  identifierOf(identifier: unknown): string | null {
    return typeof identifier === 'string' || typeof identifier === 'number'
      ? String(identifier)
      : null
  }

  /**
   * Deletes a user's tokens through the guard's own provider. Returns how
   * many were deleted.
   */
  async end(userId: string | number, selection: TokenSelection): Promise<number> {
    return guardStatements('revoke', async () => {
      const { default: model } = await this.#model()
      const provider = model.rememberMeTokens
      if (!provider) return 0
      const user = await model.find(userId)
      if (!user) return 0

      let identifiers = ['only' in selection ? selection.only : '']
      if (!('only' in selection)) {
        const tokens = await provider.all(user)
        identifiers = tokens
          .map((token) => String(token.identifier))
          .filter((identifier) => !('allBut' in selection) || identifier !== selection.allBut)
      }
      let deleted = 0
      for (const identifier of identifiers)
        deleted += Number(await provider.delete(user, identifier))
      debug('revoke: %d remember-me tokens ended', deleted)
      return deleted
    })
  }

  /**
   * Records, in each session the guard signs in, the identifier of its
   * remember-me token, by listening to the guard's events. `encryption` is
   * the one the app's cookies use, to read the token the guard has just put
   * in a response cookie.
   */
  track(emitter: EmitterService, encryption: Encryption) {
    const guards = tracked.get(emitter) ?? new Set<string>()
    tracked.set(emitter, guards)
    if (guards.has(this.guard)) return
    guards.add(this.guard)

    const cookies = new CookieClient(encryption)
    const on = (event: string, listener: (event: GuardEvent) => void) =>
      (emitter as any).on(event, (data: GuardEvent) => {
        if (data.guardName === this.guard && data.ctx && 'session' in data.ctx) listener(data)
      })

    // login(user, remember): the token is new, or there is none
    on('session_auth:login_succeeded', ({ ctx, rememberMeToken }) => {
      this.#record(ctx, rememberMeToken ? String(rememberMeToken.identifier) : null)
    })
    on('session_auth:authentication_succeeded', ({ ctx, rememberMeToken }) => {
      if (rememberMeToken) {
        // signed in by the cookie: the guard replaced that token with the
        // one in the cookie it is sending back
        this.#record(
          ctx,
          identifierOf(cookies.decrypt(this.cookieName, sentCookie(ctx, this.cookieName) ?? ''))
        )
      } else if (this.identifierIn(ctx.session.all()) === null) {
        // a session signed in before tokens were recorded (or imported)
        const identifier = identifierOf(ctx.request.encryptedCookie(this.cookieName))
        if (identifier !== null) this.#record(ctx, identifier)
      }
    })
    on('session_auth:logged_out', ({ ctx }) => this.#record(ctx, null))
  }

  #record(ctx: HttpContext, identifier: string | null) {
    if (identifier === null) ctx.session.forget(this.sessionKey)
    else ctx.session.put(this.sessionKey, identifier)
  }
}

/**
 * The identifier part of a remember-me token's value
 * (`base64url(identifier).base64url(secret)`).
 */
function identifierOf(value: unknown): string | null {
  if (typeof value !== 'string') return null
  const [identifier, ...secret] = value.split('.')
  if (!identifier || !secret.length) return null
  const decoded = base64.urlDecode(identifier)
  return decoded ? decoded : null
}

/**
 * The value of a cookie this response sets (the last one, if set twice).
 */
function sentCookie(ctx: HttpContext, name: string): string | null {
  const header = ctx.response.getHeader('set-cookie')
  const cookies = Array.isArray(header) ? header : header ? [String(header)] : []
  let value: string | null = null
  for (const cookie of cookies) {
    if (!cookie.startsWith(`${name}=`)) continue
    const raw = cookie.slice(name.length + 1).split(';')[0]
    try {
      value = decodeURIComponent(raw)
    } catch {
      value = null
    }
  }
  return value
}
