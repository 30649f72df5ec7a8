import debug from '../debug.ts'

/**
 * Errors meaning the database rolled the whole statement or transaction
 * back because a concurrent one won, so running it again is safe:
 *
 * - MariaDB Galera: a write set that fails certification against a write
 *   committed on another node (1213 ER_LOCK_DEADLOCK, SQLSTATE 40001), at
 *   any statement or at COMMIT. `SELECT ... FOR UPDATE` locks only on the
 *   local node, so this is how Galera reports two nodes writing one row.
 * - InnoDB and PostgreSQL deadlocks (1213, 40P01).
 * - Serialization failures: PostgreSQL, CockroachDB and YugabyteDB (40001).
 *
 * A lock wait timeout (1205) is not among them: the wait already took its
 * time, and the `timeout` the request has left is not this module's call.
 */
export function isCertificationFailure(error: unknown): boolean {
  const { code, errno, sqlState } = (error ?? {}) as {
    code?: unknown
    errno?: unknown
    sqlState?: unknown
  }
  return (
    errno === 1213 ||
    code === 'ER_LOCK_DEADLOCK' ||
    code === '40001' ||
    code === '40P01' ||
    sqlState === '40001'
  )
}

export interface CertificationRetryOptions {
  /** Runs of `work` in all, the first included. */
  attempts?: number
  /** Upper bound of the first wait, doubled for each further one. */
  baseDelayMs?: number
  /** No wait is longer than this. */
  maxDelayMs?: number
  /** Which errors to retry; certification failures by default. */
  retryable?: (error: unknown) => boolean
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>
  random?: () => number
}

/**
 * A write that lost certification lost it to a write committed a moment
 * before: on a session, another request of the same browser on another
 * node. Ten runs with waits of up to 5, 10, 20... 160 ms (about 0.6 s at
 * most in all) outlast any burst a browser sends; a write still failing
 * after that fails as it did without the retries.
 */
const DEFAULTS = { attempts: 10, baseDelayMs: 5, maxDelayMs: 160 }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs `work`, and runs it again, a bounded number of times with
 * exponential backoff and full jitter (so two nodes' losers do not collide
 * again in step), while it fails with a certification failure (see
 * `isCertificationFailure`). `work` must be a whole statement outside a
 * transaction, or a whole transaction: a statement inside a transaction
 * cannot be retried alone, the failure rolled back the transaction too.
 */
export async function retryOnCertificationFailure<Result>(
  work: () => Promise<Result>,
  options: CertificationRetryOptions = {}
): Promise<Result> {
  const attempts = options.attempts ?? DEFAULTS.attempts
  const baseDelayMs = options.baseDelayMs ?? DEFAULTS.baseDelayMs
  const maxDelayMs = options.maxDelayMs ?? DEFAULTS.maxDelayMs
  const wait = options.sleep ?? sleep
  const random = options.random ?? Math.random
  const retryable = options.retryable ?? isCertificationFailure

  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      if (attempt >= attempts || !retryable(error)) throw error
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
      const delay = Math.round(random() * ceiling)
      debug('certification failure (attempt %d of %d), again in %dms', attempt, attempts, delay)
      await wait(delay)
    }
  }
}
