import { readFile } from 'node:fs/promises'
import type { HttpContext } from '@adonisjs/core/http'
import edge from 'edge.js'
import type { StoredSessionContext } from '../store_context.ts'
import type { StoredSessions } from '../users/user_sessions.ts'
import { sessionStats } from '../maintenance/stats.ts'
import { trimSessions } from '../maintenance/trim.ts'
import {
  keyRotationProgress,
  sessionActivity,
  type ActivityRange,
} from '../maintenance/activity.ts'
import { barChart } from './chart.ts'
import { FIELD, formTokens, verifyForm } from './csrf.ts'

const DISK = 'stored_session'
const VIEWS = new URL('./views/', import.meta.url)
const STYLESHEET = new URL('./assets/dashboard.css', import.meta.url)
const NOTICE = 'stored_session_dashboard_notice'

/**
 * What the dashboard works with: the store's context and the service a
 * user's devices page uses, so revokes here are the same revokes.
 */
export interface DashboardServices {
  context: StoredSessionContext
  sessions: StoredSessions
}

/**
 * The pages and actions of the sessions dashboard. Every handler first asks
 * the config's `dashboard.authorize(ctx)`; without it, everyone gets 403.
 * Pages are server-rendered with Edge from the `stored_session` disk.
 */
export class SessionsDashboard {
  #services: () => Promise<DashboardServices>
  #prefix: string
  #stylesheet?: Promise<string>

  /**
   * `prefix` is where the routes are mounted, for the links of the pages.
   */
  constructor(services: () => Promise<DashboardServices>, prefix: string) {
    this.#services = services
    this.#prefix = prefix
    if (!edge.loader.mounted[DISK]) edge.mount(DISK, VIEWS)
  }

  async overview(ctx: HttpContext) {
    const services = await this.#authorized(ctx)
    if (!services) return
    const { context } = services
    const range: ActivityRange = ctx.request.input('range') === '7d' ? '7d' : '24h'
    const [stats, activity, keys] = await Promise.all([
      sessionStats(context),
      sessionActivity(context, range),
      keyRotationProgress(context),
    ])
    return this.#render(ctx, 'overview', {
      stats,
      range,
      chart: barChart(activity, range),
      keys: {
        ...keys,
        percent:
          keys.current === null
            ? null
            : keys.total
              ? Math.floor((keys.current * 1000) / keys.total) / 10
              : 100,
      },
      tableSize: stats.tableBytes === null ? 'unknown' : formatBytes(stats.tableBytes),
    })
  }

  async users(ctx: HttpContext) {
    const services = await this.#authorized(ctx)
    if (!services) return
    const userId = userIdOf(ctx.request.input('user'))
    const devices = userId === null ? [] : await services.sessions.devices(userId)
    return this.#render(ctx, 'users', {
      userId,
      devices: devices.map((device) => ({
        ...device,
        createdAt: formatTime(device.createdAt),
        lastActiveAt: formatTime(device.lastActiveAt),
        expiresAt: formatTime(device.expiresAt),
        detailUrl: `${this.#prefix}/users/device?${new URLSearchParams({ user: userId!, handle: device.handle })}`,
      })),
    })
  }

  /**
   * One session in full: the only page that shows the raw user agent.
   */
  async device(ctx: HttpContext) {
    const services = await this.#authorized(ctx)
    if (!services) return
    const userId = userIdOf(ctx.request.input('user'))
    const handle = String(ctx.request.input('handle') ?? '')
    const devices = userId === null ? [] : await services.sessions.devices(userId)
    const device = devices.find((candidate) => candidate.handle === handle)
    if (!device) {
      ctx.response.status(404)
      return this.#render(ctx, 'missing', { userId })
    }
    return this.#render(ctx, 'device', {
      userId,
      encodedUser: encodeURIComponent(userId!),
      device: {
        ...device,
        createdAt: formatTime(device.createdAt),
        lastActiveAt: formatTime(device.lastActiveAt),
        expiresAt: formatTime(device.expiresAt),
      },
    })
  }

  /**
   * POST: revokes one session (`handle`) or all (`all`) of a user, through
   * `StoredSessions`.
   */
  async revoke(ctx: HttpContext) {
    const services = await this.#authorized(ctx)
    if (!services || !this.#verified(ctx)) return
    const userId = userIdOf(ctx.request.input('user'))
    if (userId === null) return this.#back(ctx, '/users', 'Name a user.')
    const handle = ctx.request.input('handle')
    let notice: string
    if (ctx.request.input('all') === '1') {
      const count = await services.sessions.revokeAll(userId)
      notice = `Revoked ${count} session(s) of user ${userId}.`
    } else {
      const revoked = typeof handle === 'string' && (await services.sessions.revoke(userId, handle))
      notice = revoked ? 'Revoked 1 session.' : 'That session was already gone.'
    }
    return this.#back(ctx, `/users?${new URLSearchParams({ user: userId })}`, notice)
  }

  /**
   * POST: `sessions:trim`, or its `--dry-run` with `dryRun=1`.
   */
  async trim(ctx: HttpContext) {
    const services = await this.#authorized(ctx)
    if (!services || !this.#verified(ctx)) return
    const dryRun = ctx.request.input('dryRun') === '1'
    const summary = await trimSessions(services.context, { dryRun })
    return this.#back(
      ctx,
      '',
      dryRun
        ? `Dry run: a trim would delete ${summary.deleted} expired session(s).`
        : `Trim deleted ${summary.deleted} expired session(s) in ${summary.durationMs} ms.`
    )
  }

  async stylesheet(ctx: HttpContext) {
    this.#stylesheet ??= readFile(STYLESHEET, 'utf8')
    ctx.response.header('content-type', 'text/css; charset=utf-8')
    ctx.response.header('cache-control', 'public, max-age=3600')
    return this.#stylesheet
  }

  async #authorized(ctx: HttpContext): Promise<DashboardServices | null> {
    const services = await this.#services()
    const authorize = services.context.config.dashboard.authorize
    if (authorize && (await authorize(ctx)) === true) return services
    ctx.response.status(403)
    ctx.response.header('content-type', 'text/html; charset=utf-8')
    ctx.response.send(
      await edge.render(`${DISK}::closed`, {
        configured: authorize !== undefined,
        stylesheet: `${this.#prefix}/assets/dashboard.css`,
      })
    )
    return null
  }

  #verified(ctx: HttpContext): boolean {
    if (verifyForm(ctx)) return true
    ctx.response.status(403).send('The form expired or came from another site: reload the page.')
    return false
  }

  #back(ctx: HttpContext, path: string, notice: string) {
    ctx.session.flash(NOTICE, notice)
    ctx.response.redirect(`${this.#prefix}${path || '/'}`)
  }

  async #render(ctx: HttpContext, page: string, state: Record<string, unknown>) {
    const prefix = this.#prefix
    const tokens = formTokens(ctx)
    ctx.response.header('content-type', 'text/html; charset=utf-8')
    ctx.response.header('cache-control', 'no-store')
    return edge.render(`${DISK}::${page}`, {
      ...state,
      prefix,
      page,
      stylesheet: `${prefix}/assets/dashboard.css`,
      notice: ctx.session.flashMessages.get(NOTICE) ?? null,
      csrf: { field: FIELD, dashboard: tokens.dashboard, shield: tokens.shield },
    })
  }
}

/**
 * The longest user id the pages take: each of them links back to its user
 * in a URL, which browsers and the server must accept (Node refuses more
 * than 16 KB of headers, and a character can take 9 bytes percent-encoded).
 */
const MAX_USER_ID_LENGTH = 1024

/**
 * A user id as typed into the search box: trimmed, well-formed (a lone
 * surrogate reads as U+FFFD, as the database stores it, and can be put
 * into a URL and a flash message); null when empty or too long. A long id
 * is looked up as the store keeps it (storedUserId).
 */
function userIdOf(value: unknown): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null
  const userId = String(value).trim().toWellFormed()
  return userId && userId.length <= MAX_USER_ID_LENGTH ? userId : null
}

function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
