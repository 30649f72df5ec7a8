import type {
  SessionData,
  SessionStoreWithTaggingContract,
  TaggedSession,
} from '@adonisjs/session/types'

/**
 * The store `SessionCollection` builds (the factory called without an HTTP
 * context). The session provider makes `SessionCollection` a container
 * singleton, so this one object serves every call of the process: each
 * call runs on a store of its own, built for it. What one call learned
 * (that an id had no row, that a read failed and the policy continued)
 * never decides what a later call does.
 */
export class CollectionStore implements SessionStoreWithTaggingContract {
  #storeForOneCall: () => SessionStoreWithTaggingContract

  constructor(storeForOneCall: () => SessionStoreWithTaggingContract) {
    this.#storeForOneCall = storeForOneCall
  }

  async read(sessionId: string): Promise<SessionData | null> {
    return this.#storeForOneCall().read(sessionId)
  }

  async write(sessionId: string, values: SessionData): Promise<void> {
    return this.#storeForOneCall().write(sessionId, values)
  }

  async touch(sessionId: string): Promise<void> {
    return this.#storeForOneCall().touch(sessionId)
  }

  async destroy(sessionId: string): Promise<void> {
    return this.#storeForOneCall().destroy(sessionId)
  }

  async tag(sessionId: string, userId: string | number): Promise<void> {
    return this.#storeForOneCall().tag(sessionId, userId)
  }

  async untag(sessionId: string, userId: string | number): Promise<void> {
    return this.#storeForOneCall().untag(sessionId, userId)
  }

  async tagged(userId: string | number): Promise<TaggedSession[]> {
    return this.#storeForOneCall().tagged(userId)
  }
}
