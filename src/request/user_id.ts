import { createHash } from 'node:crypto'

/**
 * The migration's `user_id` column holds 255 characters, and PostgreSQL
 * refuses a NUL character in text. A user id that does not fit is stored as
 * its SHA-256 instead (`sha256:` and 64 hex digits): storing it as it is
 * would fail the write of every request of that user, and cutting it to
 * length could give two users one value, so that revoking one signs out the
 * other. Lengths are counted in UTF-16 code units, never fewer than the
 * characters the column counts, so the same ids map on every database.
 */
const MAX_LENGTH = 255

/**
 * Marks a mapped id. An id of the app's that starts with it is mapped too:
 * stored as it is, `sha256:` and the hash of someone's long id would be
 * that user's stored id, and list and revoke their sessions.
 */
const PREFIX = 'sha256:'

type Dialect = 'pg' | 'mysql' | 'sqlite'

/**
 * What the `user_id` column holds for a user id. Every write goes through
 * it, and every look-up by user matches it (userIdIs), so the sessions of a
 * user with a long id are listed and revoked like any other's. For queries
 * of your own on the column (the `StoredSession` model, say), bind this
 * value.
 */
export function storedUserId(userId: string | number): string {
  const value = String(userId)
  if (value.length <= MAX_LENGTH && !value.includes('\u0000') && !value.startsWith(PREFIX)) {
    return value
  }
  return `${PREFIX}${createHash('sha256').update(value).digest('hex')}`
}

/**
 * SQL for "the row belongs to this user" (the app's id, not mapped), with
 * its bindings.
 *
 * - Rows an earlier version wrote with the id itself, where the database
 *   took it (a long id on SQLite, an id with a NUL on SQLite and MySQL),
 *   match too, so a revoke by user still reaches them. Such an id can never
 *   be another user's stored id: those are short and hold no NUL.
 * - MySQL compares text in the column's collation, by default blind to
 *   case and to trailing spaces, so `alice` would find `ALICE `'s sessions:
 *   there the index narrows the rows and their UTF-8 bytes decide, whatever
 *   the column's and the connection's character sets.
 */
export function userIdIs(
  dialect: Dialect,
  userId: string | number
): { sql: string; bindings: string[] } {
  const stored = storedUserId(userId)
  const raw = String(userId)
  const earlierRaw =
    raw !== stored &&
    !raw.startsWith(PREFIX) &&
    (dialect === 'sqlite' || (dialect === 'mysql' && raw.length <= MAX_LENGTH))
  const ids = earlierRaw ? [stored, raw] : [stored]
  if (dialect !== 'mysql') {
    return { sql: ids.length === 1 ? 'user_id = ?' : 'user_id in (?, ?)', bindings: ids }
  }
  const exact =
    'user_id = ? and cast(convert(user_id using utf8mb4) as binary) = cast(convert(? using utf8mb4) as binary)'
  return {
    sql: ids.length === 1 ? exact : `((${exact}) or (${exact}))`,
    bindings: ids.flatMap((id) => [id, id]),
  }
}
