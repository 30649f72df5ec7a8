/**
 * The part of ace's (cliui) logger progress output needs.
 */
export interface ProgressLogger {
  log(message: string): void
  logError(message: string): void
  logUpdate(message: string): void
  logUpdatePersist(): void
}

/**
 * How often a plain progress line is printed when the output is not a
 * terminal (a log file, CI): often enough to show a long run is alive,
 * rarely enough that a million-row trim is a handful of lines, not a
 * thousand.
 */
const PLAIN_LINE_INTERVAL_MS = 5000

/**
 * Progress of a long maintenance run: one line rewritten in place on a
 * terminal, periodic plain lines otherwise. With `toStderr` (used under
 * `--json`) lines go to stderr, so stdout carries the JSON result alone.
 */
export class ProgressLine {
  #logger: ProgressLogger
  #interactive: boolean
  #toStderr: boolean
  #intervalMs: number
  #now: () => number
  #lastPrinted = Number.NEGATIVE_INFINITY
  #updated = false

  constructor(
    logger: ProgressLogger,
    options: { interactive: boolean; toStderr?: boolean; intervalMs?: number; now?: () => number }
  ) {
    this.#logger = logger
    this.#interactive = options.interactive && !options.toStderr
    this.#toStderr = options.toStderr ?? false
    this.#intervalMs = options.intervalMs ?? PLAIN_LINE_INTERVAL_MS
    this.#now = options.now ?? (() => performance.now())
  }

  update(message: string) {
    if (this.#interactive) {
      this.#logger.logUpdate(message)
      this.#updated = true
      return
    }
    const now = this.#now()
    if (now - this.#lastPrinted < this.#intervalMs) return
    this.#print(message)
    this.#lastPrinted = now
  }

  /**
   * Leaves the last state on screen on a terminal. Elsewhere a line held
   * back by the throttle is dropped: the summary that follows has the
   * final numbers.
   */
  done() {
    if (this.#interactive && this.#updated) this.#logger.logUpdatePersist()
  }

  #print(message: string) {
    if (this.#toStderr) this.#logger.logError(message)
    else this.#logger.log(message)
  }
}

/**
 * 1234567 -> "1,234,567": counts people read at a glance.
 */
export function formatCount(value: number): string {
  return value.toLocaleString('en-US')
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`
}
