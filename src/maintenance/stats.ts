import type { StoredSessionContext } from '../store_context.ts'
import { MaintenanceQueries, type PayloadStats } from './queries.ts'

export interface SessionStats {
  total: number
  /** Neither idle-expired nor past `maxLifetime`. */
  live: number
  /** Rows a trim would delete. */
  expired: number
  /** Live sessions tagged with a user. */
  withUser: number
  /**
   * Distinct users of live sessions; estimated, it is the database's
   * estimate over all rows (expired ones included).
   */
  distinctUsers: number
  /** Age of the oldest live session, in seconds; null without live sessions. */
  oldestLiveAgeSeconds: number | null
  /** Stored (encrypted) payload sizes of all rows, in bytes. */
  payloadBytes: { average: number; p95: number; max: number }
  /** Table and indexes on disk, in bytes; null where the dialect cannot tell. */
  tableBytes: number | null
  /**
   * The fields above that are estimates (empty when every row was counted):
   * see `StatsOptions.exact`.
   */
  estimated: (keyof Omit<SessionStats, 'estimated' | 'sampledRows'>)[]
  /** Rows the estimates were computed from; null when every row was counted. */
  sampledRows: number | null
}

export interface StatsOptions {
  /** Count every row, however large the table (a full scan). */
  exact?: boolean
  /** Rows to estimate from (default 20,000). */
  sampleRows?: number
  /** Below this many rows (catalog estimate), every row is counted (default 100,000). */
  exactBelow?: number
}

/**
 * A sample of 20,000 rows puts the counts within about 1% of the truth
 * (binomial error) while reading under 1% of a ten-million-row table.
 */
const DEFAULT_SAMPLE_ROWS = 20_000

/**
 * Below this, a full pass takes well under a second on PostgreSQL (MySQL
 * is slower at it). InnoDB's `table_rows` can be off by a third either way.
 */
const DEFAULT_EXACT_BELOW = 100_000

/**
 * Ids are hex SHA-256 hashes, spread uniformly over their range: the rows
 * whose id sorts below a prefix are a random sample of that fraction of the
 * table, read by a primary-key range scan. Eight hex digits of prefix.
 */
const PREFIX_SPACE = 16 ** 8

const ESTIMATED: SessionStats['estimated'] = [
  'total',
  'live',
  'expired',
  'withUser',
  'distinctUsers',
  'oldestLiveAgeSeconds',
  'payloadBytes',
]

/**
 * A picture of the sessions table: how many sessions, how many are waiting
 * for a trim, how many users, how large payloads are. On a large table
 * (by the database's own row estimate) the figures are estimated from a
 * random sample of rows unless `exact` is set: counting every row scans
 * the whole table.
 */
export async function sessionStats(
  context: StoredSessionContext,
  options: StatsOptions = {}
): Promise<SessionStats> {
  const queries = MaintenanceQueries.for(context, 'stats')
  const now = context.clock()
  const createdAfter = new Date(now - context.config.maxLifetime)

  const rough = options.exact ? null : await queries.estimatedRowCount()
  const sampleRows = options.sampleRows ?? DEFAULT_SAMPLE_ROWS
  const sampling = rough !== null && rough >= (options.exactBelow ?? DEFAULT_EXACT_BELOW)
  const bound = sampling
    ? Math.max(1, Math.min(PREFIX_SPACE, Math.ceil((sampleRows / rough) * PREFIX_SPACE)))
    : PREFIX_SPACE
  const belowId = bound < PREFIX_SPACE ? bound.toString(16).padStart(8, '0') : null
  const fraction = bound / PREFIX_SPACE

  const counts = await queries.stats(new Date(now), createdAfter, belowId)
  const p95 = counts.total ? await payloadP95(queries, counts.total, belowId) : 0
  const tableBytes = await queries.tableSize()
  if (belowId === null) return exactStats(counts, p95, tableBytes, now)

  const scale = (value: number) => Math.round(value / fraction)
  const total = scale(counts.total)
  const live = scale(counts.live)
  return {
    total,
    live,
    expired: total - live,
    withUser: scale(counts.withUser),
    distinctUsers: (await queries.estimatedDistinctUsers(total)) ?? scale(counts.distinctUsers),
    oldestLiveAgeSeconds: ageOf(counts.oldestLiveCreatedAt, now),
    payloadBytes: { average: counts.payloadAverage, p95, max: counts.payloadMax },
    tableBytes,
    estimated: ESTIMATED,
    sampledRows: counts.total,
  }
}

/**
 * Nearest-rank p95 of the payload sizes, of the sample when there is one.
 */
async function payloadP95(
  queries: MaintenanceQueries,
  count: number,
  belowId: string | null
): Promise<number> {
  const rank = Math.ceil(count * 0.95) - 1
  if (belowId === null) return queries.payloadSizeAt(rank)
  const sizes = await queries.payloadSizesBelow(belowId)
  return sizes[rank] ?? 0
}

function exactStats(
  counts: PayloadStats,
  p95: number,
  tableBytes: number | null,
  now: number
): SessionStats {
  return {
    total: counts.total,
    live: counts.live,
    expired: counts.total - counts.live,
    withUser: counts.withUser,
    distinctUsers: counts.distinctUsers,
    oldestLiveAgeSeconds: ageOf(counts.oldestLiveCreatedAt, now),
    payloadBytes: { average: counts.payloadAverage, p95, max: counts.payloadMax },
    tableBytes,
    estimated: [],
    sampledRows: null,
  }
}

function ageOf(createdAt: number | null, now: number): number | null {
  return createdAt === null ? null : Math.max(0, Math.round((now - createdAt) / 1000))
}
