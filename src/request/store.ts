import { randomInt } from 'node:crypto'
import type {
  SessionData,
  SessionStoreWithTaggingContract,
  TaggedSession,
} from '@adonisjs/session/types'
import debug from '../debug.ts'
import type { SessionCodec } from './codec.ts'
import type { SessionKeyCache } from './keyring.ts'
import type { SessionEvents } from '../events.ts'
import type { SessionRepository } from './repository.ts'
import type { ClientMetadata, StoredSessionRow } from '../types.ts'
import { E_INVALID_SESSION_ID, E_SESSION_WRITE_CONFLICT } from '../errors.ts'
import { hashSessionId, isSessionHash, isValidSessionId, shortHash } from './session_id.ts'
import { storedUserId } from './user_id.ts'
import { changedKeys, mergeChanges, type SessionChanges } from './merge.ts'
import { traced } from './tracing.ts'
import type { MergeQueue } from './merge_queue.ts'
import { packMerged, packSession, type PackedSession } from './flashed_input.ts'

/**
 * How many times a write re-reads and merges after another request wrote
 * the same session in between. Each retry needs a fresh concurrent write
 * to fail again, so a handful covers any realistic burst of parallel
 * requests from one browser.
 */
const MAX_WRITE_ATTEMPTS = 8

export interface StoredSessionStoreOptions {
  repository: SessionRepository
  codec: SessionCodec
  events: SessionEvents
  /** Epoch milliseconds; injectable so expiry is testable without sleeping. */
  clock: () => number
  /** Idle expiry (the session `age`), in milliseconds. */
  ttl: number
  /** Absolute lifetime since creation, in milliseconds. */
  maxLifetime: number
  /** Minimum age of the stored expiry before a touch refreshes it, in milliseconds. */
  touchInterval: number
  /**
   * True for the store `SessionCollection` builds without an HTTP context:
   * only there may a session be addressed by its stored hash (as `tagged()`
   * returns it), so a cookie can never name a row by its key.
   */
  addressableByHash: boolean
  /**
   * The client's IP and user agent as the config allows recording them;
   * absent without an HTTP context. Called on writes and touches only.
   */
  client?: () => ClientMetadata
  /**
   * The request body as parsed (`request.original()`), which the session's
   * flash methods copy: what of the flash messages is anonymous input.
   */
  input?: () => unknown
  /** Session key holding the signed-in user's id, mirrored into `user_id`. */
  userKey?: string | null
  /** Where the merges of one session wait their turn in this process. */
  mergeQueue?: MergeQueue
}

/**
 * What this request read, so that a write can tell a real change from a
 * no-op, a touch can be skipped, and a conflicting write can be merged.
 * Only the packed bytes are kept: the Session mutates the object `read()`
 * returned in place, so that object no longer shows what was read.
 */
interface Snapshot {
  hash: string
  version: number
  packed: Buffer
  /** When the session began: `maxLifetime` counts from it. */
  createdAt: number
  updatedAt: number
  userId: string | null
  /**
   * The `userKey` value the session holds (undefined without one): its
   * removal is a sign-out, and `user_id` must agree with it.
   */
  userKeyValue: string | undefined
}

type WriteTarget =
  | { kind: 'insert'; version: number }
  | { kind: 'update'; version: number }
  | { kind: 'replace'; version: number }

/**
 * A new row starts at a random version rather than 0: a request still
 * holding the version of an earlier row under the same id (destroyed by a
 * sign-out, then created again) must not find it equal and overwrite the
 * new session. Versions grow by one per write; 2^30 leaves room for that in
 * a 32-bit column. 0 stays free for rows `sessions:import` copied.
 */
function initialVersion(): number {
  return randomInt(1, 2 ** 30)
}

/**
 * The `stored` session store: thin glue between @adonisjs/session's store
 * contract, the codec (MessagePack + encryption), the id hasher and the
 * repository (SQL). One instance serves one request.
 */
export class StoredSessionStore implements SessionStoreWithTaggingContract {
  #options: StoredSessionStoreOptions
  #snapshot: Snapshot | null = null

  /** A row this request found expired or unreadable, taken over on write. */
  #stale: { hash: string; version: number } | null = null

  /**
   * A session this request looked up and found no row for: destroying it
   * (the framework does so for every empty session) needs no statement.
   */
  #absent: string | null = null

  /**
   * What this request read of a session that its destroy() then found
   * already deleted (revoked, or signed out by another request): the
   * values it would carry into a new id (`regenerate()` is destroy(old) +
   * write(new)) came from a session that no longer exists, so no later
   * write of this request is stored.
   */
  #revokedRead: Buffer | null = null

  /** Session keys this request derived: its read and its write derive once. */
  #sessionKeys: SessionKeyCache = new Map()

  /** Tags set before the session has a row; applied when it is inserted. */
  #pendingUserIds = new Map<string, string | null>()

  /** What this request's tag() or untag() set `user_id` to: its own say over it. */
  #explicitTags = new Map<string, string | null>()

  constructor(options: StoredSessionStoreOptions) {
    this.#options = options
  }

  async read(sessionId: string): Promise<SessionData | null> {
    const hash = this.#hashOf(sessionId)
    if (!hash) {
      debug('read: malformed session id ignored')
      return null
    }
    return traced('read', hash, () => this.#read(hash))
  }

  async #read(hash: string): Promise<SessionData | null> {
    const started = performance.now()
    const row = await this.#options.repository.find(hash)
    const values = row ? this.#remember(row) : null
    this.#absent = row ? null : hash

    debug('read %s: %s', shortHash(hash), values ? 'found' : row ? 'unusable' : 'absent')
    this.#options.events.emit('stored_session:read', () => ({
      hashedId: hash,
      found: values !== null,
      bytes: row?.data.length ?? 0,
      duration: performance.now() - started,
    }))
    return values
  }

  async write(sessionId: string, values: SessionData): Promise<void> {
    const hash = this.#hashOf(sessionId)
    if (!hash) throw new E_INVALID_SESSION_ID()
    return traced('write', hash, () => this.#write(hash, values))
  }

  async #write(hash: string, given: SessionData): Promise<void> {
    // flashed form input is made storable; the app's own values are checked strictly
    const written = packSession(this.#options.codec, given, this.#options.input?.())
    const { values, packed } = written
    if (this.#revokedRead) return this.#dropRevoked(hash, this.#revokedRead, values)
    const snapshot = this.#snapshotOf(hash)
    this.#followUserKey(hash, values, snapshot)
    if (snapshot && !this.#pendingUserIds.has(hash) && snapshot.packed.equals(packed)) {
      debug('write %s: unchanged, touching instead', shortHash(hash))
      return this.#touch(hash)
    }

    const started = performance.now()
    const { created, bytes } = await this.#persist(hash, written)
    debug('write %s: %d bytes (%s)', shortHash(hash), bytes, created ? 'created' : 'updated')
    this.#options.events.emit('stored_session:write', () => ({
      hashedId: hash,
      created,
      bytes,
      packedBytes: packed.length,
      duration: performance.now() - started,
    }))
  }

  async touch(sessionId: string): Promise<void> {
    const hash = this.#hashOf(sessionId)
    if (!hash) return
    return traced('touch', hash, () => this.#touch(hash))
  }

  async #touch(hash: string): Promise<void> {
    const now = this.#options.clock()
    const snapshot = this.#snapshotOf(hash)
    // A row whose user_id disagrees with the signed-in user (imported, or
    // written while userKey was off) is corrected now, whatever
    // touchInterval says: a revoke by user must find it.
    const userId =
      snapshot?.userKeyValue !== undefined && snapshot.userKeyValue !== snapshot.userId
        ? snapshot.userKeyValue
        : undefined
    if (
      snapshot &&
      userId === undefined &&
      now - snapshot.updatedAt < this.#options.touchInterval
    ) {
      debug('touch %s: skipped, last written %dms ago', shortHash(hash), now - snapshot.updatedAt)
      return
    }

    const started = performance.now()
    await this.#options.repository.touch(
      hash,
      new Date(now),
      new Date(now + this.#options.ttl),
      this.#options.client?.(),
      snapshot && userId !== undefined ? { userId, version: snapshot.version } : undefined
    )
    if (snapshot) snapshot.updatedAt = now
    if (snapshot && userId !== undefined) snapshot.userId = userId
    debug('touch %s', shortHash(hash))
    this.#options.events.emit('stored_session:touch', () => ({
      hashedId: hash,
      duration: performance.now() - started,
    }))
  }

  async destroy(sessionId: string): Promise<void> {
    const hash = this.#hashOf(sessionId)
    if (!hash) return
    return traced('destroy', hash, () => this.#destroy(hash))
  }

  async #destroy(hash: string): Promise<void> {
    const started = performance.now()
    const read = this.#snapshotOf(hash)
    if (read) this.#snapshot = null
    if (this.#stale?.hash === hash) this.#stale = null
    this.#pendingUserIds.delete(hash)
    if (this.#absent === hash) {
      debug('destroy %s: no row to delete', shortHash(hash))
      return
    }
    const deleted = read
      ? await this.#deleteRead(hash, read)
      : await this.#options.repository.delete(hash)
    // past maxLifetime by now, its values must not go on under a new id
    // (regenerate() is destroy + write) with a fresh created_at either
    const ended = read && read.createdAt + this.#options.maxLifetime <= this.#options.clock()
    if (read && (!deleted || ended)) this.#revokedRead = read.packed
    debug('destroy %s%s', shortHash(hash), deleted ? '' : ': already deleted')
    this.#options.events.emit('stored_session:destroy', () => ({
      hashedId: hash,
      duration: performance.now() - started,
    }))
  }

  /**
   * Whether a row is the session this request read (or, when it read none,
   * any row). A session keeps its `created_at` through every write; a row
   * created under the id after that one was deleted has its own. Versions
   * cannot tell: however many writes a request lets pass (a client can send
   * thousands), its sign-out must still find its session.
   */
  #continues(row: StoredSessionRow, read: Snapshot | null): boolean {
    return !read || row.createdAt === read.createdAt
  }

  /**
   * Deletes the session this request read, and only that one: a row
   * created under its id after it was deleted (revoked, signed out, then a
   * parallel request of the browser wrote) is another session, and this
   * request's values must not move on (regenerate()) as if the delete had
   * found what it read (see #continues). One statement unless another
   * request wrote in between.
   */
  async #deleteRead(hash: string, read: Snapshot): Promise<boolean> {
    const repository = this.#options.repository
    let version = read.version
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      if (await repository.deleteAt(hash, version)) return true
      const current = await repository.find(hash)
      if (!current || !this.#continues(current, read)) return false
      version = current.version
    }
    // still written to all along: the same session, deleted whatever its version
    return repository.delete(hash)
  }

  /**
   * The write that would carry a revoked session into a new id: dropped.
   * The response may still set the new id's cookie; it opens nothing.
   */
  #dropRevoked(hash: string, read: Buffer, values: SessionData): void {
    debug('write %s: dropped, the session it came from was deleted meanwhile', shortHash(hash))
    this.#options.events.emit('stored_session:conflict', () => ({
      hashedId: hash,
      attempt: 0,
      outcome: 'destroyed',
      changedKeys: changedKeys(this.#options.codec.unpack(read) ?? {}, values, this.#options.codec)
        .size,
    }))
  }

  async tag(sessionId: string, userId: string | number): Promise<void> {
    await this.#setUserId(sessionId, storedUserId(userId))
  }

  async untag(sessionId: string, _userId: string | number): Promise<void> {
    await this.#setUserId(sessionId, null)
  }

  /**
   * Live sessions of a user. Their `id` is the stored hash: pass it to
   * `SessionCollection.destroy()` to revoke one; it is never accepted
   * where a cookie's session id is read.
   */
  async tagged(userId: string | number): Promise<TaggedSession[]> {
    const now = this.#options.clock()
    const rows = await this.#options.repository.findByUser(
      String(userId),
      new Date(now),
      new Date(now - this.#options.maxLifetime)
    )

    const sessions: TaggedSession[] = []
    for (const row of rows) {
      const data = this.#decode(row)
      if (data) sessions.push({ id: row.id, data: data.values })
    }
    return sessions
  }

  #hashOf(sessionId: string): string | null {
    if (isValidSessionId(sessionId)) return hashSessionId(sessionId)
    if (this.#options.addressableByHash && isSessionHash(sessionId)) return sessionId
    return null
  }

  #snapshotOf(hash: string): Snapshot | null {
    return this.#snapshot?.hash === hash ? this.#snapshot : null
  }

  #isLive(row: StoredSessionRow, now: number): boolean {
    return row.expiresAt > now && row.createdAt + this.#options.maxLifetime > now
  }

  /**
   * Opens a live row; null for an expired one, and for one that does not
   * decrypt or decode (reported with an `invalid` event, never thrown).
   */
  #decode(row: StoredSessionRow): { values: SessionData; packed: Buffer } | null {
    if (!this.#isLive(row, this.#options.clock())) return null

    const packed = this.#options.codec.open(row.data, row.id, this.#sessionKeys)
    const values = packed ? this.#options.codec.unpack(packed) : null
    if (!packed || !values) {
      debug('row %s cannot be opened', shortHash(row.id))
      this.#options.events.emit('stored_session:invalid', () => ({
        hashedId: row.id,
        reason: packed ? 'undecodable' : 'undecryptable',
        bytes: row.data.length,
      }))
      return null
    }
    return { values, packed }
  }

  #remember(row: StoredSessionRow): SessionData | null {
    const decoded = this.#decode(row)
    if (!decoded) {
      this.#stale = { hash: row.id, version: row.version }
      return null
    }
    this.#snapshot = {
      hash: row.id,
      version: row.version,
      packed: decoded.packed,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      userId: row.userId,
      userKeyValue: this.#userKeyValue(decoded.values),
    }
    return decoded.values
  }

  /**
   * One statement in the common case. When another request wrote the row
   * in between (version moved on, or a row appeared), re-read it and
   * re-apply only the keys this request changed; a row destroyed meanwhile
   * (sign-out, revoke) stays destroyed.
   */
  async #persist(
    hash: string,
    written: PackedSession
  ): Promise<{ created: boolean; bytes: number }> {
    const { repository, codec } = this.#options
    const { values, packed } = written
    const readFrom = this.#snapshotOf(hash)
    const read = readFrom?.packed
    // decided once: a retry (after a lost race, or after a certification
    // failure reruns the transaction) starts from it again, never from the
    // target or the merged bytes an earlier try chose
    const initial = this.#initialTarget(hash)

    const first = await this.#attempt(repository, hash, initial, packed, values)
    if (first) return this.#persisted(hash, first)

    /**
     * This request's own changes, diffed against what it read; only needed
     * (and only computed) once another request's write got in between.
     */
    let changes: SessionChanges | undefined
    const ownChanges = () =>
      (changes ??= changedKeys(read ? (codec.unpack(read) ?? {}) : {}, values, codec))

    /**
     * Another request wrote in between. The retries run `serialized()`: on
     * PostgreSQL and MySQL the re-read locks the row, so the merged write
     * cannot lose again however many requests pile up on one session.
     */
    let mergeError: unknown
    const outcome = await this.#inTurn(hash, () =>
      repository.serialized(async (locked) => {
        for (let attempt = 1; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
          const current = await locked.find(hash, true)
          const theirs =
            current && this.#continues(current, readFrom) ? this.#decode(current) : null
          if (initial.kind === 'update' && !theirs) {
            // the session this request read was destroyed, revoked or
            // trimmed, or has expired (idle or past maxLifetime) since: it
            // stays so, and its values never start a row again
            debug('write %s: dropped, the session ended meanwhile', shortHash(hash))
            this.#snapshot = null
            this.#emitConflict(hash, attempt, 'destroyed', ownChanges().size)
            return { created: false, bytes: 0 }
          }
          let target: WriteTarget
          let toStore = packed
          let stored = values
          let userId: { value: string | null | undefined } | undefined
          if (!current) {
            target = { kind: 'insert', version: initialVersion() }
          } else if (!theirs) {
            // this request began a session of its own over an unusable row
            target = { kind: 'replace', version: current.version }
          } else {
            try {
              stored = mergeChanges(theirs.values, ownChanges(), codec)
              toStore = packMerged(codec, stored, written)
              userId = { value: this.#mergedUserId(hash, stored, current.userId) }
            } catch (error) {
              // Not a database failure: rethrown as is once the lock is released.
              mergeError = error
              return null
            }
            target = { kind: 'update', version: current.version }
            this.#emitConflict(hash, attempt, 'merged', ownChanges().size)
          }
          const done = await this.#attempt(locked, hash, target, toStore, stored, userId)
          if (done) return done
        }
        return null
      })
    )
    if (mergeError) throw mergeError
    if (outcome) return this.#persisted(hash, outcome)
    throw new E_SESSION_WRITE_CONFLICT([`${MAX_WRITE_ATTEMPTS} attempts lost`])
  }

  /**
   * A pending tag is done with only once the write holding it is committed:
   * a transaction a certification failure rolls back runs again and needs it.
   */
  #persisted<Result>(hash: string, result: Result): Result {
    this.#pendingUserIds.delete(hash)
    return result
  }

  /**
   * Runs a merge once the merges of its session queued before it in this
   * process are done, and before it takes a connection (see merge_queue.ts).
   */
  #inTurn<Result>(hash: string, merge: () => Promise<Result>): Promise<Result> {
    const queue = this.#options.mergeQueue
    return queue ? queue.run(hash, merge) : merge()
  }

  /**
   * One write of `toStore` as `target`; on success the written bytes become
   * this request's snapshot. Null when another request got there first.
   */
  async #attempt(
    repository: SessionRepository,
    hash: string,
    target: WriteTarget,
    toStore: Buffer,
    values: SessionData,
    merged?: { value: string | null | undefined }
  ): Promise<{ created: boolean; bytes: number } | null> {
    const now = this.#options.clock()
    const sealed = this.#options.codec.seal(toStore, hash, this.#sessionKeys)
    const userId = merged ? merged.value : this.#userIdFor(hash, target)
    const written = await this.#execute(repository, target, hash, {
      data: sealed,
      userId,
      meta: this.#options.client?.(),
      now: new Date(now),
      expiresAt: new Date(now + this.#options.ttl),
    })
    if (!written) return null

    this.#stale = null
    if (this.#absent === hash) this.#absent = null
    this.#snapshot = {
      hash,
      version: target.kind === 'insert' ? target.version : target.version + 1,
      packed: toStore,
      createdAt: target.kind === 'update' ? (this.#snapshotOf(hash)?.createdAt ?? now) : now,
      updatedAt: now,
      userId: userId === undefined ? (this.#snapshotOf(hash)?.userId ?? null) : userId,
      userKeyValue: this.#userKeyValue(values),
    }
    return { created: target.kind !== 'update', bytes: sealed.length }
  }

  #initialTarget(hash: string): WriteTarget {
    const snapshot = this.#snapshotOf(hash)
    if (snapshot) return { kind: 'update', version: snapshot.version }
    if (this.#stale?.hash === hash) return { kind: 'replace', version: this.#stale.version }
    return { kind: 'insert', version: initialVersion() }
  }

  /**
   * The user id to store with this write: a pending tag, else nothing for
   * an update (the column keeps its value), else null for a new row.
   */
  #userIdFor(hash: string, target: WriteTarget): string | null | undefined {
    if (this.#pendingUserIds.has(hash)) return this.#pendingUserIds.get(hash)!
    return target.kind === 'update' ? undefined : null
  }

  #execute(
    repository: SessionRepository,
    target: WriteTarget,
    hash: string,
    row: {
      data: Buffer
      userId: string | null | undefined
      meta?: ClientMetadata
      now: Date
      expiresAt: Date
    }
  ): Promise<boolean> {
    switch (target.kind) {
      case 'insert':
        return repository.insert({
          id: hash,
          ...row,
          version: target.version,
          userId: row.userId ?? null,
        })
      case 'replace':
        return repository.replace(hash, target.version, { ...row, userId: row.userId ?? null })
      case 'update':
        return repository.update(hash, target.version, row)
    }
  }

  /**
   * The `user_id` of a write merged into what another request stored: the
   * signed-in user of the merged values, which that request may have
   * changed (undefined leaves the column as it is). A tag() or untag() of
   * this request, and a store without `userKey`, keep the request's own.
   */
  #mergedUserId(
    hash: string,
    merged: SessionData,
    current: string | null
  ): string | null | undefined {
    if (this.#explicitTags.has(hash)) return this.#explicitTags.get(hash)
    if (!this.#options.userKey) return this.#pendingUserIds.get(hash)
    const signedIn = this.#userKeyValue(merged)
    if (signedIn !== undefined) return signedIn === current ? undefined : signedIn
    // signed out by this request (its read held the key) or never signed in
    return this.#pendingUserIds.get(hash) === null ? null : undefined
  }

  #userKeyValue(values: SessionData): string | undefined {
    const key = this.#options.userKey
    const value = key ? values[key] : undefined
    return value === undefined || value === null ? undefined : storedUserId(String(value))
  }

  /**
   * Mirrors the signed-in user into `user_id`: set while the session holds
   * `userKey`, cleared when a request removes it (sign-out). An explicit
   * `tag()` / `untag()` in this request wins.
   */
  #followUserKey(hash: string, values: SessionData, snapshot: Snapshot | null) {
    if (!this.#options.userKey || this.#pendingUserIds.has(hash)) return
    const userId = this.#userKeyValue(values)
    if (userId !== undefined) {
      if (userId !== snapshot?.userId) this.#pendingUserIds.set(hash, userId)
    } else if (snapshot?.userKeyValue !== undefined) {
      // even where the row read said null: another request may have set it since
      this.#pendingUserIds.set(hash, null)
    }
  }

  /**
   * Applies a tag at once to a row this request has read (or, without an
   * HTTP context, to any row); otherwise keeps it for the row's insert.
   */
  async #setUserId(sessionId: string, userId: string | null): Promise<void> {
    const hash = this.#hashOf(sessionId)
    if (!hash) return
    this.#explicitTags.set(hash, userId)

    const snapshot = this.#snapshotOf(hash)
    if (snapshot || this.#options.addressableByHash) {
      await this.#options.repository.setUserId(hash, userId)
      if (snapshot) snapshot.userId = userId
      debug('%s %s', userId === null ? 'untag' : 'tag', shortHash(hash))
      return
    }
    this.#pendingUserIds.set(hash, userId)
  }

  #emitConflict(
    hash: string,
    attempt: number,
    outcome: 'merged' | 'destroyed',
    changedKeysCount: number
  ) {
    this.#options.events.emit('stored_session:conflict', () => ({
      hashedId: hash,
      attempt,
      outcome,
      changedKeys: changedKeysCount,
    }))
  }
}
