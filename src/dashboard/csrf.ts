import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { HttpContext } from '@adonisjs/core/http'

/**
 * Session key of the dashboard's own form token. Its name says whose it is,
 * for whoever lists a session's keys.
 */
const SESSION_KEY = 'stored_session_dashboard_csrf'
export const FIELD = '_dashboard_csrf'

/**
 * The tokens every dashboard form carries: the dashboard's own (a secret
 * kept in the admin's session, checked on every POST whether or not the app
 * has @adonisjs/shield) and shield's `_csrf`, when shield's CSRF guard ran
 * for this request, so shield accepts the form too.
 */
export function formTokens(ctx: HttpContext): { dashboard: string; shield: string | null } {
  let secret = ctx.session.get(SESSION_KEY)
  if (typeof secret !== 'string') {
    secret = randomBytes(32).toString('base64url')
    ctx.session.put(SESSION_KEY, secret)
  }
  const shield = (ctx.request as { csrfToken?: unknown }).csrfToken
  return { dashboard: secret, shield: typeof shield === 'string' ? shield : null }
}

/**
 * Whether a POST came from a dashboard page: the token of the admin's
 * session, and no foreign `Origin` (browsers send it with every POST).
 */
export function verifyForm(ctx: HttpContext): boolean {
  const origin = ctx.request.header('origin')
  if (origin && origin !== 'null') {
    let host: string
    try {
      host = new URL(origin).host
    } catch {
      return false
    }
    if (host !== ctx.request.header('host')) return false
  }
  const expected = ctx.session?.get(SESSION_KEY)
  const given = ctx.request.input(FIELD)
  if (typeof expected !== 'string' || typeof given !== 'string') return false
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}
