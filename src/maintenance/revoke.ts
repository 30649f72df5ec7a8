import type { StoredSessionContext } from '../store_context.ts'
import { FILTERS, MaintenanceQueries } from './queries.ts'
import { deleteAll } from './trim.ts'
import { BatchSize } from './batch_size.ts'

/**
 * Rows per DELETE of a revoke (a user's sessions fit in one; `--all`
 * takes a thousand statements per million rows, each locking few rows
 * for a few milliseconds).
 */
const DEFAULT_REVOKE_BATCH_SIZE = 1000

export interface RevokeOptions {
  batchSize?: number
  onProgress?: (progress: { deleted: number; batches: number }) => void
}

export interface RevokeSummary {
  deleted: number
  /**
   * Remember-me tokens of the user ended with the sessions (with the
   * `rememberMeTokens` option; 0 without it, and for revokeAllSessions).
   */
  rememberMeTokens: number
  durationMs: number
}

/**
 * Signs a user out everywhere: deletes every session of the user (its
 * `user_id`: the `userKey` or `session.tag()`), live or not, and, with the
 * `rememberMeTokens` option, every remember-me token of the user.
 *
 * @example
 * await revokeUserSessions(context, user.id)
 */
export async function revokeUserSessions(
  context: StoredSessionContext,
  userId: string | number,
  options: RevokeOptions = {}
): Promise<RevokeSummary> {
  const user = String(userId)
  const dialect = context.repository().dialect
  const summary = await revoke(context, FILTERS.user(dialect, user), options)
  if (context.rememberMeTokens) {
    summary.rememberMeTokens = await context.rememberMeTokens.end(user, { all: true })
  }
  context.events.emit('stored_session:revoke', () => ({
    userId: user,
    scope: 'all' as const,
    count: summary.deleted,
  }))
  return summary
}

/**
 * Signs everybody out: empties the sessions table in batches (not
 * TRUNCATE, which would lock out requests and could not report a count).
 */
export async function revokeAllSessions(
  context: StoredSessionContext,
  options: RevokeOptions = {}
): Promise<RevokeSummary> {
  return revoke(context, FILTERS.all(), options)
}

async function revoke(
  context: StoredSessionContext,
  filter: ReturnType<(typeof FILTERS)['all']>,
  options: RevokeOptions
): Promise<RevokeSummary> {
  const batchSize = BatchSize.fixed(options.batchSize ?? DEFAULT_REVOKE_BATCH_SIZE)
  const started = performance.now()
  let deleted = 0
  let batches = 0
  await deleteAll(MaintenanceQueries.for(context, 'revoke'), filter, batchSize, (batchDeleted) => {
    deleted += batchDeleted
    batches++
    options.onProgress?.({ deleted, batches })
  })
  return { deleted, rememberMeTokens: 0, durationMs: Math.round(performance.now() - started) }
}
