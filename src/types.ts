/**
 * Options of the `stored` session store, given to `storedSession()` in
 * `config/session.ts`.
 */
export interface StoredSessionConfig {
  /**
   * Lucid connection that holds the sessions table. Defaults to the
   * app's primary connection; a dedicated `sessions` connection works.
   */
  connection?: string

  /**
   * Name of the sessions table. Defaults to `stored_sessions`.
   */
  table?: string

  /**
   * Absolute lifetime of a session, counted from its creation, however
   * active it is. A time expression or seconds. Defaults to `30 days`.
   */
  maxLifetime?: string | number

  /**
   * How stale the stored expiry may get before a request that changes
   * nothing refreshes it. A time expression or seconds. Defaults to 5% of
   * the session `age` (6 minutes for `2h`).
   */
  touchInterval?: string | number

  /**
   * Largest packed session, in bytes, before encryption. A larger write
   * throws `E_SESSION_OVERFLOW`. Defaults to 512 KiB.
   */
  maxPayloadSize?: number

  /**
   * Encryptor of `config/encryption.ts` that seals payloads. Defaults to
   * the default encryptor.
   */
  encryption?: string
}

/**
 * A row of the sessions table as the repository returns it, with
 * timestamps in epoch milliseconds.
 */
export interface StoredSessionRow {
  id: string
  data: Buffer
  version: number
  userId: string | null
  createdAt: number
  updatedAt: number
  expiresAt: number
}

/**
 * Events emitted through the app emitter, only when someone listens.
 * `hashedId` is the SHA-256 of the session id (the table's key), never the
 * id itself; `bytes` is the size of the stored (encrypted) payload and
 * `duration` the time the store spent, in milliseconds.
 */
export interface StoredSessionEvents {
  'stored_session:read': { hashedId: string; found: boolean; bytes: number; duration: number }
  'stored_session:write': {
    hashedId: string
    created: boolean
    bytes: number
    packedBytes: number
    duration: number
  }
  'stored_session:touch': { hashedId: string; duration: number }
  'stored_session:destroy': { hashedId: string; duration: number }
  'stored_session:conflict': {
    hashedId: string
    attempt: number
    outcome: 'merged' | 'destroyed'
    changedKeys: number
  }
  'stored_session:invalid': {
    hashedId: string
    reason: 'undecryptable' | 'undecodable'
    bytes: number
  }
}

declare module '@adonisjs/core/types' {
  interface EventsList extends StoredSessionEvents {}
}
