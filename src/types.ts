import type { HttpContext } from '@adonisjs/core/http'
import type { RememberMeTokensConfig } from './users/remember_me_tokens.ts'
import type { E_SESSION_STORE_UNAVAILABLE } from './errors.ts'

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
   * How long each store operation of a request (read, write, touch,
   * destroy, tag, untag, tagged) may wait on the database: past it, the
   * operation fails with `E_SESSION_STORE_UNAVAILABLE` (reason `timeout`)
   * and `onError` decides, and the connections it held are destroyed so
   * the pool replaces them. A time expression (`'5s'`, `'800ms'`) or
   * seconds. Defaults to `5s`.
   */
  timeout?: string | number

  /**
   * Encryptor of `config/encryption.ts` whose keys seal payloads (AES-256-GCM
   * under keys derived from them; the first key seals, any opens).
   * Defaults to the default encryptor.
   */
  encryption?: string

  /**
   * What the row records about the client, each switchable off for
   * privacy (then nothing is stored). Both default to true. The IP is
   * `ctx.request.ip()`, so the app's trusted proxy settings apply, and is
   * recorded only when it is a valid IP address (`net.isIP`, at most 45
   * characters), null otherwise (a forged X-Forwarded-For); the
   * user agent is truncated to the column's 512 characters. Recorded on
   * writes and touches only: a new IP alone never causes a write.
   */
  metadata?: { ipAddress?: boolean; userAgent?: boolean }

  /**
   * Session key whose value is the signed-in user's id: the row's
   * `user_id` follows it on every write, and is cleared when the key goes
   * away (sign-out). Defaults to `auth_web`, where @adonisjs/auth's session
   * guard named `web` keeps it; `false` leaves `user_id` to `session.tag()`.
   */
  userKey?: string | false

  /**
   * Remember-me tokens of @adonisjs/auth's session guard, ended by every
   * user-level revoke (`StoredSessions` and `sessions:revoke --user`): a
   * remember-me cookie would otherwise sign the revoked browser straight
   * back in. `model` imports the user model whose `rememberMeTokens`
   * provider the guard uses; `guard` names the guard (default `web`).
   *
   * @example
   * rememberMeTokens: { model: () => import('#models/user') }
   */
  rememberMeTokens?: RememberMeTokensConfig | false

  /**
   * How many merges of one session may run or wait in one process at a
   * time. Parallel requests that changed the same session merge one after
   * the other, waiting without a pool connection; a write that finds this
   * many merges of its session already queued gives up at once with
   * `E_SESSION_WRITE_CONFLICT` (409), writing nothing. Defaults to 32.
   */
  mergeQueueLimit?: number

  /**
   * What a request does when the sessions database fails while reading,
   * writing, touching or tagging its session: `'raise'` (the default)
   * throws `E_SESSION_STORE_UNAVAILABLE` (a 503); `'continue'` serves the
   * request with an empty session that is not saved, and emits
   * `stored_session:error`. A function decides per failure. Destroying a
   * session and listing a user's sessions always raise.
   */
  onError?: OnErrorPolicy

  /**
   * Where an IP is, for the devices list and the dashboard: called with the
   * client IP when a session is written from an IP its row does not have a
   * location for yet, and the result stored on the row (`location`). Not
   * bundled, nothing is downloaded: plug in a reader of your own data set
   * (MaxMind GeoLite2 through `maxmind`, for example). A throw or null
   * stores no location. Needs `metadata.ipAddress`.
   */
  locate?: (ipAddress: string) => string | null | undefined | Promise<string | null | undefined>

  /**
   * At most this many live sessions per user: on a sign-in beyond it, the
   * user's least recently active other sessions are revoked (event
   * `stored_session:cap`). Off by default.
   */
  maxSessionsPerUser?: number

  /**
   * The sessions dashboard (see `stored-session/services/dashboard`).
   */
  dashboard?: DashboardConfig
}

/**
 * Who may open the sessions dashboard. Without `authorize`, it answers 403
 * to everyone.
 */
export interface DashboardConfig {
  /**
   * True to let this request in, for example
   * `({ auth }) => auth.user?.isAdmin === true`.
   */
  authorize?: (ctx: HttpContext) => boolean | Promise<boolean>
}

/**
 * Config with every default applied (by resolveConfig in define_config.ts) and durations in milliseconds.
 */
export interface ResolvedStoredSessionConfig {
  connection?: string
  table: string
  maxLifetime: number
  touchInterval?: number
  maxPayloadSize: number
  timeout: number
  encryption?: string
  onError: NonNullable<StoredSessionConfig['onError']>
  metadata: { ipAddress: boolean; userAgent: boolean }
  userKey: string | null
  rememberMeTokens: RememberMeTokensConfig | null
  mergeQueueLimit: number
  locate?: StoredSessionConfig['locate']
  maxSessionsPerUser?: number
  dashboard: { authorize?: NonNullable<StoredSessionConfig['dashboard']>['authorize'] }
}

/**
 * The decision for a request whose session store failed, by name or by
 * a function of the failure (its `operation`, `reason`, `driverCode`).
 */
export type OnErrorPolicy =
  'raise' | 'continue' | ((error: E_SESSION_STORE_UNAVAILABLE) => 'raise' | 'continue')

/**
 * What a row records about the client; null where switched off.
 */
export interface ClientMetadata {
  ipAddress: string | null
  userAgent: string | null
}

/**
 * One of a user's live sessions, as shown on a "where am I signed in?"
 * page. `handle` is opaque and safe to send to a browser: it is neither the
 * session id nor its stored hash, and only revokes for the same user.
 */
export interface SessionDevice {
  handle: string
  ipAddress: string | null
  userAgent: string | null
  /** Browser and OS parsed from the user agent, e.g. "Firefox 130 on Windows 10". */
  device: string
  browser: string | null
  os: string | null
  /** What the `locate` hook said about the IP; null without one. */
  location: string | null
  createdAt: Date
  lastActiveAt: Date
  expiresAt: Date
  current: boolean
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
  ipAddress?: string | null
  userAgent?: string | null
  location?: string | null
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
  /**
   * The database failed under a session operation; `outcome` says whether
   * the request was answered with E_SESSION_STORE_UNAVAILABLE or went on
   * with an unsaved session (`onError: 'continue'`). `hashedId` is null
   * when no session id was involved.
   */
  'stored_session:error': {
    hashedId: string | null
    operation: NonNullable<E_SESSION_STORE_UNAVAILABLE['operation']>
    reason: E_SESSION_STORE_UNAVAILABLE['reason']
    driverCode: string | null
    outcome: 'raised' | 'continued'
  }
  /**
   * Sessions of a user were revoked through `StoredSessions`: one by its
   * handle, all but the current one, or all.
   */
  'stored_session:revoke': {
    userId: string
    scope: 'one' | 'others' | 'all'
    count: number
  }
  /**
   * A user signed in from a device (browser and OS) that none of their
   * other live sessions has: the place to send a "new sign-in" email.
   */
  'stored_session:new_device': {
    userId: string
    hashedId: string
    device: string
    browser: string | null
    os: string | null
    ipAddress: string | null
    location: string | null
  }
  /**
   * A sign-in took a user beyond `maxSessionsPerUser`: their least recently
   * active other sessions were revoked.
   */
  'stored_session:cap': { userId: string; limit: number; revoked: number }
  /** A trim finished (`sessions:trim` or `trimSessions()`): counts only. */
  'stored_session:trim': { deleted: number; batches: number; dryRun: boolean; duration: number }
  /** A key rotation finished: counts only. */
  'stored_session:rotate': {
    rotated: number
    /** Rows already sealed with the first key, left alone. */
    skipped: number
    conflicts: number
    unreadable: number
    purged: number
    duration: number
  }
}

declare module '@adonisjs/core/types' {
  interface EventsList extends StoredSessionEvents {}
}
