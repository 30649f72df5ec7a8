import type { EmitterService } from '@adonisjs/core/types'
import type { Logger } from '@adonisjs/core/logger'
import debug from './debug.ts'
import type { StoredSessionEvents } from './types.ts'

/**
 * Emits the store's events through the app emitter, and only when someone
 * listens: a request that nobody observes pays for neither the payload
 * nor the emit.
 *
 * A listener that throws or rejects must not fail the session operation,
 * nor become an unhandled rejection that ends the process: its error is
 * reported to the app logger (when the store has one) or as a process
 * warning, and a debug line, and the operation goes on.
 */
export class SessionEvents {
  #emitter: EmitterService | null
  #logger: Logger | null

  constructor(emitter: EmitterService | null, logger: Logger | null = null) {
    this.#emitter = emitter
    this.#logger = logger
  }

  listening(event: keyof StoredSessionEvents): boolean {
    return this.#emitter !== null && this.#emitter.hasListeners(event)
  }

  emit<Event extends keyof StoredSessionEvents>(
    event: Event,
    payload: () => StoredSessionEvents[Event]
  ): void {
    if (!this.listening(event)) return
    this.#emitter!.emit(event, payload() as any).catch((error) => this.#failed(event, error))
  }

  #failed(event: keyof StoredSessionEvents, error: unknown) {
    debug('a listener of %s failed; the session operation went on', event)
    const message = `A listener of "${event}" failed; the session operation went on`
    if (this.#logger) {
      this.#logger.error({ err: error, event }, message)
      return
    }
    process.emitWarning(message, {
      code: 'STORED_SESSION_LISTENER_FAILED',
      detail: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    })
  }
}
