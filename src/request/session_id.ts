import { createHash } from 'node:crypto'

/**
 * What a session id issued by the framework looks like (a UUID today):
 * URL-safe characters only, long enough to be unguessable, short enough to
 * bound the work an attacker can ask of us.
 */
const SESSION_ID = /^[A-Za-z0-9_-]{16,128}$/

/**
 * The shape of a stored id (hex SHA-256). Such a value is refused where a
 * cookie id is read, like Rails refuses ids that look like private ids, so
 * the database key can never be replayed as a cookie.
 */
const SESSION_HASH = /^[0-9a-f]{64}$/

export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID.test(id) && !SESSION_HASH.test(id)
}

export function isSessionHash(value: unknown): value is string {
  return typeof value === 'string' && SESSION_HASH.test(value)
}

/**
 * The key a session is stored under: hex SHA-256 of its id.
 */
export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex')
}

/**
 * A prefix of the hash, enough to correlate debug lines.
 */
export function shortHash(hash: string): string {
  return hash.slice(0, 12)
}
