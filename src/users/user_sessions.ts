import { createHash } from 'node:crypto'
import debug from '../debug.ts'
import { hashSessionId, isValidSessionId } from '../request/session_id.ts'
import { storedUserId } from '../request/user_id.ts'
import type { StoredSessionContext } from '../store_context.ts'
import type { SessionDevice, StoredSessionRow } from '../types.ts'
import { revokeUserSessions } from '../maintenance/revoke.ts'
import { guardRepository } from '../request/failsafe.ts'
import { describeDevice } from './device.ts'

function deviceOf(userAgent: string | null | undefined) {
  const { label, browser, os } = describeDevice(userAgent)
  return { device: label, browser, os }
}

/**
 * A handle is derived from the stored hash under its own label: stable for
 * a session, useless as a cookie or as a database key.
 */
function handleOf(hash: string): string {
  return createHash('sha256')
    .update(`stored-session:device:${hash}`)
    .digest('base64url')
    .slice(0, 22)
}

/**
 * A user's sessions as devices: "where am I signed in?", "sign out that
 * device", "sign out everywhere else". Sessions are linked to their user by
 * `user_id` (see the `userKey` option and `session.tag()`).
 *
 * @example
 * const devices = await storedSessions.devices(user.id, ctx.session.sessionId)
 * await storedSessions.revokeOthers(user.id, ctx.session.sessionId)
 */
export class StoredSessions {
  #context: StoredSessionContext

  constructor(context: StoredSessionContext) {
    this.#context = context
  }

  /**
   * Live sessions of a user, oldest first; `current` marks the one whose
   * id is `currentSessionId` (pass `ctx.session.sessionId`).
   */
  async devices(userId: string | number, currentSessionId?: string): Promise<SessionDevice[]> {
    const currentHash = this.#hashOf(currentSessionId)
    const now = this.#context.clock()
    const rows = await guardRepository(this.#context.repository(), 'devices').findByUser(
      String(userId),
      new Date(now),
      new Date(now - this.#context.config.maxLifetime)
    )

    return rows.map((row) => ({
      handle: handleOf(row.id),
      ipAddress: row.ipAddress ?? null,
      userAgent: row.userAgent ?? null,
      ...deviceOf(row.userAgent),
      location: row.location ?? null,
      createdAt: new Date(row.createdAt),
      lastActiveAt: new Date(row.updatedAt),
      expiresAt: new Date(row.expiresAt),
      current: row.id === currentHash,
    }))
  }

  /**
   * Revokes the session behind a handle from `devices()`, only if it
   * belongs to `userId`. Returns whether a session was revoked.
   */
  async revoke(userId: string | number, handle: string): Promise<boolean> {
    const user = String(userId)
    const repository = guardRepository(this.#context.repository(), 'revoke')
    // expired sessions too: revoking one the user still sees listed must work
    const rows = await repository.findByUser(user, new Date(0), new Date(0))
    const row = rows.find((candidate) => handleOf(candidate.id) === handle)
    const revoked = row ? await repository.deleteForUser(row.id, user) : false
    // its remember-me cookie would sign that browser straight back in
    const token = revoked ? this.#rememberMeTokenOf(row!) : null
    if (token !== null) await this.#context.rememberMeTokens!.end(user, { only: token })

    debug('revoke one session of a user: %s', revoked ? 'revoked' : 'no such session')
    this.#emit(user, 'one', revoked ? 1 : 0)
    return revoked
  }

  /**
   * Revokes every session of a user but the current one: "sign out other
   * devices", e.g. after a password change. With `rememberMeTokens`
   * configured, every remember-me token of the user but the current
   * browser's ends too. Pass `ctx.session` (or its `sessionId`): the
   * session itself also tells this request's token when it was just
   * created (a sign-in through the remember-me cookie).
   */
  async revokeOthers(
    userId: string | number,
    current: string | { sessionId: string; get(key: string): unknown }
  ): Promise<number> {
    const currentSessionId = typeof current === 'string' ? current : current.sessionId
    const currentHash = this.#hashOf(currentSessionId)
    const user = String(userId)
    const repository = guardRepository(this.#context.repository(), 'revoke')
    const tokens = this.#context.rememberMeTokens
    let keep: string | null = null
    if (tokens && typeof current !== 'string') {
      keep = tokens.identifierOf(current.get(tokens.sessionKey))
    }
    if (tokens && keep === null && currentHash) {
      const row = await repository.find(currentHash)
      keep = row?.userId === storedUserId(user) ? this.#rememberMeTokenOf(row) : null
    }

    const count = await repository.deleteOthersForUser(user, currentHash)
    if (tokens) await tokens.end(user, { allBut: keep })
    this.#emit(user, 'others', count)
    return count
  }

  /**
   * Revokes every session of a user, the current one included.
   */
  async revokeAll(userId: string | number): Promise<number> {
    const { deleted } = await revokeUserSessions(this.#context, userId)
    return deleted
  }

  /**
   * How many live sessions a user has.
   */
  async count(userId: string | number): Promise<number> {
    const devices = await this.devices(userId)
    return devices.length
  }

  /**
   * The remember-me token recorded in a stored session, if any.
   */
  #rememberMeTokenOf(row: StoredSessionRow): string | null {
    const tokens = this.#context.rememberMeTokens
    if (!tokens) return null
    const packed = this.#context.codec.open(row.data, row.id)
    return tokens.identifierIn(packed ? this.#context.codec.unpack(packed) : null)
  }

  #hashOf(sessionId: string | undefined): string | null {
    return sessionId && isValidSessionId(sessionId) ? hashSessionId(sessionId) : null
  }

  #emit(userId: string, scope: 'one' | 'others' | 'all', count: number) {
    this.#context.events.emit('stored_session:revoke', () => ({ userId, scope, count }))
  }
}
