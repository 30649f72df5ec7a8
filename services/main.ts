import app from '@adonisjs/core/services/app'
import type { StoredSessions } from '../src/users/user_sessions.ts'

let storedSessions: StoredSessions

/**
 * The app's `StoredSessions` service: a user's sessions as devices, and
 * revoking them.
 *
 * @example
 * import storedSessions from 'stored-session/services/main'
 * await storedSessions.revokeOthers(user.id, ctx.session.sessionId)
 */
await app.booted(async () => {
  storedSessions = await app.container.make('stored_session.sessions')
})

export { storedSessions as default }
