import { dialectOf, rowsOf } from '../request/repository.ts'
import { utcRaw } from '../request/utc_times.ts'
import type { StoredSessionContext } from '../store_context.ts'

export type ActivityRange = '24h' | '7d'

const HOUR = 3_600_000
const RANGES: Record<ActivityRange, { buckets: number; size: number }> = {
  '24h': { buckets: 24, size: HOUR },
  '7d': { buckets: 7, size: 24 * HOUR },
}

export interface ActivityBucket {
  /** Start of the bucket. */
  from: Date
  /** Live sessions whose last activity falls in it. */
  sessions: number
}

/**
 * Live sessions by last activity (`updated_at`, to within `touchInterval`):
 * hourly over the last 24 hours or daily over the last 7 days, oldest
 * bucket first. One pass over the table, the same SQL on every dialect.
 */
export async function sessionActivity(
  context: StoredSessionContext,
  range: ActivityRange
): Promise<ActivityBucket[]> {
  const { buckets, size } = RANGES[range]
  const now = context.clock()
  const end = now + 1
  const starts = Array.from({ length: buckets }, (_, index) => end - (buckets - index) * size)
  const sums = starts.map(
    (_, index) => `sum(case when updated_at >= ? and updated_at < ? then 1 else 0 end) as b${index}`
  )
  const bindings = starts.flatMap((start) => [new Date(start), new Date(start + size)])
  const knex = writeClient(context)
  const dialect = dialectOf(knex)
  const [row] = rowsOf(
    dialect,
    // times bound as the store writes them (UTC wall times on MySQL)
    await utcRaw(
      knex,
      dialect,
      `select ${sums.join(', ')} from ?? where expires_at > ? and created_at > ?`,
      [...bindings, context.config.table, new Date(now), new Date(now - context.config.maxLifetime)]
    )
  )
  return starts.map((start, index) => ({
    from: new Date(start),
    sessions: Number(row?.[`b${index}`] ?? 0),
  }))
}

export interface KeyRotationProgress {
  /** Every row of the table. */
  total: number
  /**
   * Rows sealed as a write seals now (current format, first key); null
   * when an older key's fingerprint is the same and the bytes cannot tell.
   */
  current: number | null
}

/**
 * How many rows the current key sealed: after a key rotation
 * (`sessions:rotate-key`), the share that is still to re-seal.
 */
export async function keyRotationProgress(
  context: StoredSessionContext
): Promise<KeyRotationProgress> {
  const knex = writeClient(context)
  const dialect = dialectOf(knex)
  const head = dialect === 'pg' ? 'substring(data from 1 for ?)' : 'substr(data, 1, ?)'
  const prefix = context.keyring.currentKeyHeader()
  if (!prefix) {
    const [row] = rowsOf(
      dialect,
      await knex.raw('select count(*) as total from ??', [context.config.table])
    )
    return { total: Number(row?.total ?? 0), current: null }
  }
  const [row] = rowsOf(
    dialect,
    await knex.raw(
      `select count(*) as total, sum(case when ${head} = ? then 1 else 0 end) as current from ??`,
      [prefix.length, prefix, context.config.table]
    )
  )
  return { total: Number(row?.total ?? 0), current: Number(row?.current ?? 0) }
}

function writeClient(context: StoredSessionContext) {
  return context.db.connection(context.connectionName).getWriteClient()
}
