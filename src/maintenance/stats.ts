import type { StoredSessionContext } from '../store_context.ts'
import { MaintenanceQueries } from './queries.ts'

export interface SessionStats {
  total: number
  /** Neither idle-expired nor past `maxLifetime`. */
  live: number
  /** Rows a trim would delete. */
  expired: number
  /** Live sessions tagged with a user. */
  withUser: number
  distinctUsers: number
  /** Age of the oldest live session, in seconds; null without live sessions. */
  oldestLiveAgeSeconds: number | null
  /** Stored (encrypted) payload sizes of all rows, in bytes. */
  payloadBytes: { average: number; p95: number; max: number }
  /** Table and indexes on disk, in bytes; null where the dialect cannot tell. */
  tableBytes: number | null
}

/**
 * A picture of the sessions table: how many sessions, how many are waiting
 * for a trim, how many users, how large payloads are.
 */
export async function sessionStats(context: StoredSessionContext): Promise<SessionStats> {
  const queries = MaintenanceQueries.for(context, 'stats')
  const now = context.clock()
  const counts = await queries.stats(new Date(now), new Date(now - context.config.maxLifetime))
  const p95 = counts.total ? await queries.payloadSizeAt(Math.ceil(counts.total * 0.95) - 1) : 0

  return {
    total: counts.total,
    live: counts.live,
    expired: counts.total - counts.live,
    withUser: counts.withUser,
    distinctUsers: counts.distinctUsers,
    oldestLiveAgeSeconds:
      counts.oldestLiveCreatedAt === null
        ? null
        : Math.max(0, Math.round((now - counts.oldestLiveCreatedAt) / 1000)),
    payloadBytes: { average: counts.payloadAverage, p95, max: counts.payloadMax },
    tableBytes: await queries.tableSize(),
  }
}
