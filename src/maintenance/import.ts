import { MessageBuilder } from '@adonisjs/core/helpers'
import type { SessionData } from '@adonisjs/session/types'
import type { StoredSessionContext } from '../store_context.ts'
import { toMillis } from '../request/repository.ts'
import { hashSessionId, isValidSessionId } from '../request/session_id.ts'
import { storedUserId } from '../request/user_id.ts'
import { E_INVALID_MAINTENANCE_OPTION } from '../errors.ts'
import { randomUUID } from 'node:crypto'
import { assertBatchSize } from './options.ts'
import { BatchSize } from './batch_size.ts'
import { ImportLedger, OWNED_BY_STORE, type LedgerEntry } from './import_ledger.ts'
import { deleteAll } from './trim.ts'
import { guardRepository, guardStatements } from '../request/failsafe.ts'
import { MaintenanceQueries } from './queries.ts'
import { chunksOf } from './chunks.ts'

/**
 * `@adonisjs/session`'s own database store table (`node ace make:session-table`).
 */
export const DEFAULT_SOURCE_TABLE = 'sessions'
export const DEFAULT_IMPORT_BATCH_SIZE = 500

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/

export interface ImportOptions {
  /** Table of the built-in `database` store. Defaults to `sessions`. */
  from?: string
  /** Lucid connection holding it. Defaults to the store's connection. */
  connection?: string
  batchSize?: number
  onProgress?: (progress: ImportSummary) => void
}

export interface ImportSummary {
  /** Sessions written to our table. */
  copied: number
  /**
   * Sessions imported earlier that changed in the source since, and that
   * this store has not written yet: updated from the source.
   */
  refreshed: number
  /** Sessions already in our table as they are in the source, or written by this store since. */
  skipped: number
  /**
   * Sessions an earlier import copied that this store has deleted since (a
   * sign-out, a revoke, a trim): never copied again.
   */
  deletedHere: number
  /**
   * Copies this store never wrote whose source row is gone (a sign-out
   * served by the old store): deleted here too. Counted once the whole
   * source table was read.
   */
  removed: number
  /** Sessions past their expiry: not worth copying. */
  expired: number
  /** Rows whose message does not verify against their id, or cannot be stored. */
  invalid: number
  durationMs: number
}

type Outcome = 'copied' | 'refreshed' | 'skipped' | 'deletedHere'

/**
 * Copies the sessions of `@adonisjs/session`'s built-in `database` store into
 * this store's table (hashed id, encrypted payload), so that switching
 * `SESSION_DRIVER` from `database` to `stored` signs nobody out.
 *
 * Runs again as often as needed during a rolling switch: a session created
 * in the old store since is copied, one it changed is refreshed while this
 * store has not written it, one it deleted is deleted here too, and one
 * this store deleted (signed out, revoked) is never brought back. What
 * each run saw is kept in `<table>_imported` (see ImportLedger). The source
 * table is not modified. An imported session starts its `maxLifetime` at
 * the import (the built-in store keeps no creation time) and keeps its
 * idle expiry; its user is the payload's `userKey` value (else the source
 * row's tag).
 */
export async function importDatabaseSessions(
  context: StoredSessionContext,
  options: ImportOptions = {}
): Promise<ImportSummary> {
  const source = options.from ?? DEFAULT_SOURCE_TABLE
  if (!TABLE_NAME.test(source)) {
    throw new E_INVALID_MAINTENANCE_OPTION(['source table', 'expected a plain SQL identifier'])
  }
  const batchSize = assertBatchSize(options.batchSize ?? DEFAULT_IMPORT_BATCH_SIZE)
  const knex = context.db.connection(options.connection ?? context.connectionName).getWriteClient()
  const queries = MaintenanceQueries.for(context, 'import')
  const ledger = ImportLedger.for(context)
  await ledger.ensureTable()
  const run = randomUUID()
  const { codec } = context
  const started = performance.now()
  const summary: ImportSummary = {
    copied: 0,
    refreshed: 0,
    skipped: 0,
    deletedHere: 0,
    removed: 0,
    expired: 0,
    invalid: 0,
    durationMs: 0,
  }

  let afterId: string | null = null
  for (;;) {
    const query = knex
      .from(source)
      .select('id', 'data', 'user_id', 'expires_at')
      .orderBy('id')
      .limit(batchSize)
    if (afterId !== null) query.where('id', '>', afterId)
    // the cursor is a raw session id: the driver's error must not reach anyone
    const rows: Array<Record<string, unknown>> = await guardStatements('import', async () => query)
    if (!rows.length) break
    afterId = String(rows[rows.length - 1].id)

    const now = context.clock()
    const hashes = rows.map((row) => hashSessionId(String(row.id)))
    const earlier = await ledger.entries(hashes)
    const seen: LedgerEntry[] = []
    const unseen: Session[] = []
    for (const [index, row] of rows.entries()) {
      const id = String(row.id)
      const hash = hashes[index]
      const expiresAt = toMillis(row.expires_at)
      const values = expiresAt > now && isValidSessionId(id) ? verify(row.data, id) : null
      const packed = values ? packOrNull(codec, values) : null
      if (!values || !packed) {
        summary[expiresAt <= now ? 'expired' : 'invalid']++
        seen.push({ id: hash, version: null })
        continue
      }
      const session = {
        hash,
        packed,
        userId: userOf(values, row.user_id, context.config.userKey),
        expiresAt,
        now,
      }
      const imported = earlier.get(hash) ?? null
      if (imported === null) {
        unseen.push(session)
        continue
      }
      const { outcome, version } = await copy(context, queries, imported, session)
      summary[outcome]++
      seen.push({ id: hash, version })
    }
    // before the copy: should this run die after inserting them, the next one
    // must not take a session revoked meanwhile for one never copied (at
    // worst a session inserted by no run is never copied, a sign-out)
    await ledger.markSeen(
      run,
      unseen.map((session) => ({ id: session.hash, version: 0 }))
    )
    for (const { hash, outcome, version } of await copyUnseen(context, queries, unseen)) {
      summary[outcome]++
      seen.push({ id: hash, version })
    }
    await ledger.markSeen(run, seen)

    summary.durationMs = Math.round(performance.now() - started)
    options.onProgress?.({ ...summary })
    if (rows.length < batchSize) break
  }

  // only after reading the whole source: a row not seen by this run is gone
  await deleteAll(queries, ledger.goneFromSource(run), BatchSize.fixed(batchSize), (deleted) => {
    summary.removed += deleted
  })

  summary.durationMs = Math.round(performance.now() - started)
  return summary
}

interface Session {
  hash: string
  packed: Buffer
  userId: string | null
  expiresAt: number
  now: number
}

/**
 * Copies sessions no earlier import saw (every session, on a first run):
 * those with no row here are inserted by multi-row statements, the others
 * go through `copy` one by one. Where a statement's count cannot tell
 * which rows it inserted (a row created meanwhile, or MySQL's count),
 * the versions say: 0 is an imported row, anything else the store's own.
 */
async function copyUnseen(
  context: StoredSessionContext,
  queries: MaintenanceQueries,
  sessions: Session[]
): Promise<Array<{ hash: string; outcome: Outcome; version: number | null }>> {
  const results: Array<{ hash: string; outcome: Outcome; version: number | null }> = []
  const present = await queries.versionsOf(sessions.map((session) => session.hash))
  const rows = []
  for (const session of sessions) {
    if (present.has(session.hash)) {
      results.push({ hash: session.hash, ...(await copy(context, queries, null, session)) })
      continue
    }
    rows.push({
      id: session.hash,
      data: context.codec.seal(session.packed, session.hash),
      userId: session.userId,
      now: new Date(session.now),
      expiresAt: new Date(session.expiresAt),
    })
  }
  for (const chunk of chunksOf(rows)) {
    const inserted = await queries.insertImported(chunk)
    if (inserted === chunk.length && queries.dialect !== 'mysql') {
      for (const row of chunk) results.push({ hash: row.id, outcome: 'copied', version: 0 })
      continue
    }
    const versions = await queries.versionsOf(chunk.map((row) => row.id))
    for (const row of chunk) {
      const version = versions.get(row.id)
      results.push(
        version === 0
          ? { hash: row.id, outcome: 'copied', version: 0 }
          : // created by the store, or deleted here meanwhile (revoked right
            // after it went in): the store's either way, never copied again
            { hash: row.id, outcome: 'skipped', version: OWNED_BY_STORE }
      )
    }
  }
  return results
}

/**
 * Copies one session, given the version an earlier import left our copy
 * at (null when none did). Refreshes our copy from the source only while
 * this store has never written it (its version is still the imported
 * one), so that a session the old store changed between two imports (a
 * sign-in during the deploy) is not lost, and one this store wrote since
 * is never overwritten. Returns the version to remember.
 */
async function copy(
  context: StoredSessionContext,
  queries: MaintenanceQueries,
  imported: number | null,
  session: Session
): Promise<{ outcome: Outcome; version: number | null }> {
  const { codec } = context
  const repository = guardRepository(context.repository(), 'import')
  const data = codec.seal(session.packed, session.hash)
  if (imported === null) {
    const inserted = await repository.insert({
      id: session.hash,
      data,
      // 0 marks a row this store copied and has not written since: the store
      // itself starts new rows at a random non-zero version
      version: 0,
      userId: session.userId,
      now: new Date(session.now),
      expiresAt: new Date(session.expiresAt),
    })
    if (inserted) return { outcome: 'copied', version: 0 }
  }

  const ours = await repository.find(session.hash)
  // copied by an earlier run, or created by the store, and deleted here since: stays deleted
  if (!ours) {
    return imported === null
      ? { outcome: 'skipped', version: OWNED_BY_STORE }
      : { outcome: 'deletedHere', version: imported }
  }
  // rows copied before imports kept a ledger are at version 0
  if (ours.version !== (imported ?? 0)) return { outcome: 'skipped', version: OWNED_BY_STORE }
  const unchanged =
    codec.open(ours.data, ours.id)?.equals(session.packed) && ours.userId === session.userId
  if (unchanged) return { outcome: 'skipped', version: ours.version }
  // the version moves on, so a request that read the row before the refresh merges on top of it
  const refreshed = await queries.refreshImported(session.hash, ours.version, {
    data,
    userId: session.userId,
    expiresAt: new Date(Math.max(ours.expiresAt, session.expiresAt)),
  })
  return refreshed
    ? { outcome: 'refreshed', version: ours.version + 1 }
    : { outcome: 'skipped', version: OWNED_BY_STORE }
}

/**
 * The signed-in user of an imported session: the payload's `userKey`
 * (@adonisjs/auth keeps the user id there and never calls `session.tag()`,
 * so the built-in table's `user_id` is null for its sessions), else the
 * source row's tag.
 */
function userOf(values: SessionData, tagged: unknown, userKey: string | null): string | null {
  const signedIn = userKey ? values[userKey] : undefined
  if (signedIn !== undefined && signedIn !== null) return storedUserId(String(signedIn))
  return tagged === null || tagged === undefined ? null : storedUserId(String(tagged))
}

/**
 * Null for values over `maxPayloadSize` or that MessagePack cannot hold.
 */
function packOrNull(codec: StoredSessionContext['codec'], values: SessionData): Buffer | null {
  try {
    return codec.pack(values)
  } catch {
    return null
  }
}

/**
 * The built-in store's payload: a `MessageBuilder` JSON message whose
 * purpose is the session id (a check of its shape, not a signature).
 */
function verify(contents: unknown, sessionId: string): SessionData | null {
  if (typeof contents !== 'string' && !Buffer.isBuffer(contents)) return null
  try {
    const values = new MessageBuilder().verify<unknown>(String(contents), sessionId)
    return values !== null && typeof values === 'object' && !Array.isArray(values)
      ? (values as SessionData)
      : null
  } catch {
    return null
  }
}
