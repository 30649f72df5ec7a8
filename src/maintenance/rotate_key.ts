import type { StoredSessionContext } from '../store_context.ts'
import debug from '../debug.ts'
import { shortHash } from '../request/session_id.ts'
import { MaintenanceQueries, type RotationRow } from './queries.ts'
import { assertBatchSize } from './options.ts'
import { chunksOf } from './chunks.ts'

/**
 * Rows read per page. The re-sealed rows go back in multi-row statements
 * (see chunks.ts), each locking its rows for a few milliseconds only.
 */
export const DEFAULT_ROTATION_BATCH_SIZE = 500

export interface RotateKeyOptions {
  batchSize?: number
  /** Delete rows no key opens (they read as "no session" anyway). */
  purgeUnreadable?: boolean
  onProgress?: (progress: RotateKeySummary) => void
}

export interface RotateKeySummary {
  /** Rows re-sealed with the first key. */
  rotated: number
  /** Rows already sealed with the first key: not read, not written. */
  skipped: number
  /** Rows a request wrote meanwhile: left as they are, already sealed with the first key. */
  conflicts: number
  /** Rows no key opens. */
  unreadable: number
  /** Unreadable rows deleted (`purgeUnreadable`). */
  purged: number
  batches: number
  durationMs: number
}

/**
 * Re-encrypts every row with the encryptor's first key, after a new key
 * was put first in `config/encryption.ts` (`keys: [newest, ...older]`).
 * Once it completes, the older keys can be removed without losing a
 * session.
 *
 * Rows are read a page at a time (keyset pagination on the primary key)
 * and each is written back only if its `version` is still the one read: a
 * request that wrote the session meanwhile sealed it with the first key
 * already, and its data is never overwritten. Rows whose header names the
 * first key already are neither read nor written, so running it again
 * (after an interrupted run, or to check) costs one pass over the ids.
 */
export class KeyRotation {
  #context: StoredSessionContext
  #queries: MaintenanceQueries
  #batchSize: number
  #purge: boolean
  #afterId: string | null = null
  #done = false
  #started = performance.now()
  #summary: RotateKeySummary = {
    rotated: 0,
    skipped: 0,
    conflicts: 0,
    unreadable: 0,
    purged: 0,
    batches: 0,
    durationMs: 0,
  }

  constructor(context: StoredSessionContext, options: RotateKeyOptions = {}) {
    this.#context = context
    this.#queries = MaintenanceQueries.for(context, 'rotate')
    this.#batchSize = assertBatchSize(options.batchSize ?? DEFAULT_ROTATION_BATCH_SIZE)
    this.#purge = options.purgeUnreadable ?? false
  }

  /**
   * Reads the next page of rows; null once every row was read.
   */
  async next(): Promise<RotationRow[] | null> {
    if (this.#done) return null
    const rows = await this.#queries.rowsAfter(
      this.#afterId,
      this.#batchSize,
      this.#context.keyring.currentKeyHeader()
    )
    if (rows.length < this.#batchSize) this.#done = true
    if (!rows.length) return null
    this.#afterId = rows[rows.length - 1].id
    return rows
  }

  /**
   * Re-seals a page of rows with the first key.
   */
  async apply(rows: RotationRow[]): Promise<RotateKeySummary> {
    const { codec } = this.#context
    const resealed: { id: string; version: number; data: Buffer }[] = []
    for (const row of rows) {
      if (row.data === null) {
        this.#summary.skipped++
        continue
      }
      const packed = codec.open(row.data, row.id)
      if (!packed) {
        this.#summary.unreadable++
        debug('rotate: row %s opens with no key', shortHash(row.id))
        if (this.#purge && (await this.#queries.deleteVersion(row.id, row.version))) {
          this.#summary.purged++
        }
        continue
      }
      resealed.push({ id: row.id, version: row.version, data: codec.seal(packed, row.id) })
    }
    for (const chunk of chunksOf(resealed)) {
      const written = await this.#queries.replaceData(chunk)
      this.#summary.rotated += written
      this.#summary.conflicts += chunk.length - written
    }
    this.#summary.batches++
    return this.summary()
  }

  summary(): RotateKeySummary {
    return { ...this.#summary, durationMs: Math.round(performance.now() - this.#started) }
  }
}

/**
 * Runs a whole key rotation.
 *
 * @example
 * const summary = await rotateSessionKey(context, { purgeUnreadable: true })
 */
export async function rotateSessionKey(
  context: StoredSessionContext,
  options: RotateKeyOptions = {}
): Promise<RotateKeySummary> {
  const rotation = new KeyRotation(context, options)
  for (let rows = await rotation.next(); rows; rows = await rotation.next()) {
    const progress = await rotation.apply(rows)
    options.onProgress?.(progress)
  }

  const summary = rotation.summary()
  context.events.emit('stored_session:rotate', () => ({
    rotated: summary.rotated,
    skipped: summary.skipped,
    conflicts: summary.conflicts,
    unreadable: summary.unreadable,
    purged: summary.purged,
    duration: summary.durationMs,
  }))
  return summary
}
