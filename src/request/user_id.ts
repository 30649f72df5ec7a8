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
 * What the `user_id` column holds for a user id. Every write and every
 * look-up by user goes through it, so the sessions of a user with a long id
 * are listed and revoked like any other's. For queries of your own on the
 * column (the `StoredSession` model, say), bind this value.
 */
export function storedUserId(userId: string | number): string {
  const value = String(userId)
  if (value.length <= MAX_LENGTH && !value.includes('\u0000')) return value
  return `sha256:${createHash('sha256').update(value).digest('hex')}`
}

/**
 * SQL for "the row's `user_id` is this one", with its bindings. MySQL
 * compares text in the column's collation, by default blind to case and to
 * trailing spaces, so `alice` would list and revoke the sessions of
 * `ALICE ` too: there the index narrows the rows and a comparison of the
 * bytes decides. PostgreSQL and SQLite compare exactly.
 */
export function userIdIs(
  dialect: 'pg' | 'mysql' | 'sqlite',
  storedId: string
): { sql: string; bindings: string[] } {
  return dialect === 'mysql'
    ? {
        sql: 'user_id = ? and cast(user_id as binary) = cast(? as binary)',
        bindings: [storedId, storedId],
      }
    : { sql: 'user_id = ?', bindings: [storedId] }
}
