import debug from '../debug.ts'
import type { StoredSessionContext } from '../store_context.ts'
import type { StoredSessions } from './user_sessions.ts'
import { describeDevice } from './device.ts'

export interface SignIn {
  userId: string
  /** The raw id stays in memory: it only marks the current session in `devices()`. */
  sessionId: string
  hash: string
  userAgent: string | null
  ipAddress: string | null
  location: string | null
}

/**
 * What follows a sign-in: `stored_session:new_device` when none of the
 * user's other live sessions is on the same browser and OS, then the
 * session cap. Both read the user's sessions through `StoredSessions`, and
 * the cap revokes through it, so a revoke here is the same as one the user
 * makes on their devices page.
 */
export async function afterSignIn(
  sessions: StoredSessions,
  context: StoredSessionContext,
  signIn: SignIn
) {
  const { events, config } = context
  const watchingDevices = events.listening('stored_session:new_device')
  if (!watchingDevices && config.maxSessionsPerUser === undefined) return

  const devices = await sessions.devices(signIn.userId, signIn.sessionId)
  const others = devices.filter((device) => !device.current)

  if (watchingDevices) {
    const device = describeDevice(signIn.userAgent)
    const known = others.some((other) => describeDevice(other.userAgent).key === device.key)
    if (!known) {
      debug('sign-in from a new device')
      events.emit('stored_session:new_device', () => ({
        userId: signIn.userId,
        hashedId: signIn.hash,
        device: device.label,
        browser: device.browser,
        os: device.os,
        ipAddress: signIn.ipAddress,
        location: signIn.location,
      }))
    }
  }

  const limit = config.maxSessionsPerUser
  if (limit === undefined) return
  // the current session counts whether or not its row is visible yet
  const excess = others.length + 1 - limit
  if (excess <= 0) return
  const leastRecent = [...others]
    .sort((a, b) => a.lastActiveAt.getTime() - b.lastActiveAt.getTime())
    .slice(0, excess)
  let revoked = 0
  for (const device of leastRecent) {
    if (await sessions.revoke(signIn.userId, device.handle)) revoked++
  }
  debug("session cap: revoked %d of a user's sessions", revoked)
  events.emit('stored_session:cap', () => ({ userId: signIn.userId, limit, revoked }))
}
