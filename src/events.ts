import type { EmitterService } from '@adonisjs/core/types'
import type { StoredSessionEvents } from './types.ts'

/**
 * Emits the store's events through the app emitter, and only when someone
 * listens: a request that nobody observes pays for neither the payload
 * nor the emit.
 */
export class SessionEvents {
  #emitter: EmitterService | null

  constructor(emitter: EmitterService | null) {
    this.#emitter = emitter
  }

  listening(event: keyof StoredSessionEvents): boolean {
    return this.#emitter !== null && this.#emitter.hasListeners(event)
  }

  emit<Event extends keyof StoredSessionEvents>(
    event: Event,
    payload: () => StoredSessionEvents[Event]
  ): void {
    if (!this.listening(event)) return
    void this.#emitter!.emit(event, payload() as any)
  }
}
