import { createError } from '@adonisjs/core/exceptions'

/**
 * The packed session is larger than `maxPayloadSize`. Nothing was written:
 * the stored session keeps its previous contents.
 */
export const E_SESSION_OVERFLOW = createError<[size: number, limit: number, largestKey: string]>(
  'Session payload of %d bytes exceeds the maxPayloadSize of %d bytes (largest key: "%s"). Nothing was written',
  'E_SESSION_OVERFLOW',
  500
)

/**
 * A session value MessagePack cannot store faithfully (a function, a symbol,
 * a BigInt...). Nothing was written.
 */
export const E_SESSION_UNSERIALIZABLE = createError<[key: string, reason: string]>(
  'Session value under key "%s" cannot be stored: %s. Nothing was written',
  'E_SESSION_UNSERIALIZABLE',
  500
)

/**
 * The store was asked to write under an id that is not a session id the
 * framework generates. The id itself is never part of the message.
 */
export const E_INVALID_SESSION_ID = createError(
  'Refusing to write a session under a malformed session id (expected 16 to 128 characters of A-Z, a-z, 0-9, "_" or "-")',
  'E_INVALID_SESSION_ID',
  400
)

/**
 * Concurrent requests kept changing the same session and the write could
 * not be merged within the retry budget. Nothing of this request was written.
 */
export const E_SESSION_WRITE_CONFLICT = createError<[attempts: number]>(
  'Session was changed by concurrent requests %d times in a row while writing; giving up. Nothing was written',
  'E_SESSION_WRITE_CONFLICT',
  409
)

/**
 * The store's configuration in `config/session.ts` is invalid.
 */
export const E_INVALID_STORED_SESSION_CONFIG = createError<[reason: string]>(
  'Invalid "stored" session store config: %s',
  'E_INVALID_STORED_SESSION_CONFIG',
  500
)

/**
 * `node ace configure stored-session` found the app in a shape it cannot
 * edit safely. Nothing was written.
 */
export const E_CANNOT_CONFIGURE = createError<[reason: string]>(
  'Cannot configure stored-session: %s. Nothing was changed',
  'E_CANNOT_CONFIGURE',
  500
)
