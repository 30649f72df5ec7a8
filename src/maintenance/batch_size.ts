import { assertBatchSize } from './options.ts'

/**
 * Rows a trim's first batch deletes when no size was given: a million
 * expired rows take a thousand statements at worst.
 */
const START = 1000
const MIN = 100
/** The largest batch any dialect accepts (see options.ts). */
const MAX = 10_000
/**
 * How long one batch should take. Each statement pays a round trip and
 * its planning, so fewer larger batches delete faster while the database
 * keeps up; past this, a batch holds its rows' locks and a share of the
 * server long enough for requests to notice (measured with
 * `npm run bench:trim`: p99 of reads stayed flat with batches this short).
 */
const TARGET_MS = 100

/**
 * How many rows the next batch deletes: the size the caller fixed, or one
 * that adapts to the database, doubling while batches take under half the
 * target and halving when one takes over twice the target.
 */
export class BatchSize {
  #size: number
  #adaptive: boolean

  private constructor(size: number, adaptive: boolean) {
    this.#size = size
    this.#adaptive = adaptive
  }

  static fixed(size: number) {
    return new BatchSize(assertBatchSize(size), false)
  }

  static adaptive() {
    return new BatchSize(START, true)
  }

  /** A fixed size when given, else an adaptive one. */
  static of(size: number | undefined) {
    return size === undefined ? BatchSize.adaptive() : BatchSize.fixed(size)
  }

  get current() {
    return this.#size
  }

  /** Feeds back how long the last batch took (a full one: a short last batch says nothing). */
  record(durationMs: number) {
    if (!this.#adaptive) return
    if (durationMs < TARGET_MS / 2) this.#size = Math.min(MAX, this.#size * 2)
    else if (durationMs > TARGET_MS * 2) this.#size = Math.max(MIN, Math.floor(this.#size / 2))
  }
}
