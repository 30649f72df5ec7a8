import type { StoredSessionContext } from '../store_context.ts'
import debug from '../debug.ts'
import { FILTERS, MaintenanceQueries, type RowFilter } from './queries.ts'
import { BatchSize } from './batch_size.ts'

export interface TrimOptions {
  /**
   * Rows per DELETE. Without it the size adapts to the database: from
   * 1,000, doubling while batches take under 50 ms, halving past 200 ms,
   * between 100 and 10,000 (see batch_size.ts).
   */
  batchSize?: number
  /** Count what would be deleted, delete nothing. */
  dryRun?: boolean
  /** Called after every batch, for progress output. */
  onProgress?: (progress: { deleted: number; batches: number }) => void
}

export interface TrimSummary {
  dryRun: boolean
  deleted: number
  batches: number
  durationMs: number
  rowsPerSecond: number
}

/**
 * Deletes sessions past their idle expiry or past `maxLifetime` since
 * creation, in batches. Safe to run while the app serves requests and
 * while another trim runs: each batch counts the rows it deleted itself.
 *
 * @example
 * const summary = await trimSessions(await app.container.make('stored_session.context'))
 */
export async function trimSessions(
  context: StoredSessionContext,
  options: TrimOptions = {}
): Promise<TrimSummary> {
  const batchSize = BatchSize.of(options.batchSize)
  const queries = MaintenanceQueries.for(context, 'trim')
  const started = performance.now()
  const now = context.clock()
  const createdBefore = new Date(now - context.config.maxLifetime)

  let deleted = 0
  let batches = 0
  if (options.dryRun) {
    deleted = await queries.count(FILTERS.expired(new Date(now), createdBefore))
  } else {
    // Idle expiry first, by its index; then the (rare) sessions that are
    // still active but older than maxLifetime, by a primary-key walk.
    for (const filter of [
      FILTERS.idleExpired(new Date(now)),
      FILTERS.pastLifetime(createdBefore),
    ]) {
      await deleteAll(queries, filter, batchSize, (batchDeleted) => {
        deleted += batchDeleted
        batches++
        debug('trim: batch %d deleted %d rows', batches, batchDeleted)
        options.onProgress?.({ deleted, batches })
      })
    }
  }

  const durationMs = performance.now() - started
  const summary: TrimSummary = {
    dryRun: options.dryRun ?? false,
    deleted,
    batches,
    durationMs: Math.round(durationMs),
    rowsPerSecond: durationMs > 0 ? Math.round((deleted * 1000) / durationMs) : 0,
  }
  context.events.emit('stored_session:trim', () => ({
    deleted: summary.deleted,
    batches: summary.batches,
    dryRun: summary.dryRun,
    duration: durationMs,
  }))
  return summary
}

/**
 * Deletes every row matching a filter, one batch at a time. Shared by trim
 * and revoke.
 */
export async function deleteAll(
  queries: MaintenanceQueries,
  filter: RowFilter,
  batchSize: BatchSize,
  onBatch: (deleted: number) => void
): Promise<void> {
  let afterId: string | null = null
  for (;;) {
    const limit = batchSize.current
    const started = performance.now()
    const batch = await queries.deleteBatch(filter, limit, afterId)
    if (batch.deleted >= limit) batchSize.record(performance.now() - started)
    if (batch.deleted > 0) onBatch(batch.deleted)
    if (!batch.more) return
    afterId = batch.lastId
  }
}
