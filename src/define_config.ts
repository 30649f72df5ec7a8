import { configProvider } from '@adonisjs/core'
import string from '@adonisjs/core/helpers/string'
import type { ApplicationService, EmitterService } from '@adonisjs/core/types'
import type { Logger } from '@adonisjs/core/logger'
import type { Database } from '@adonisjs/lucid/database'
import type {} from '@adonisjs/lucid/database_provider'
import type { SessionConfig, SessionStoreFactory } from '@adonisjs/session/types'
import { SessionCodec } from './request/codec.ts'
import { SessionKeyring, type AppKey } from './request/keyring.ts'
import { SessionEvents } from './events.ts'
import { StoredSessionStore } from './request/store.ts'
import { FailsafeStore, guardRepository } from './request/failsafe.ts'
import { CollectionStore } from './request/collection_store.ts'
import { MergeQueue } from './request/merge_queue.ts'
import { clientMetadata } from './request/client_metadata.ts'
import { E_INVALID_STORED_SESSION_CONFIG } from './errors.ts'
import type { ResolvedStoredSessionConfig, StoredSessionConfig } from './types.ts'
import type { HttpContext } from '@adonisjs/core/http'
import {
  STORE_CONTEXT,
  contextOf,
  createRepositoryFor,
  type StoredSessionContext,
} from './store_context.ts'
import { Encryption } from '@adonisjs/core/encryption'
import { RememberMeTokens, type RememberMeTokensConfig } from './users/remember_me_tokens.ts'
import { trackUsers } from './users/tracking_store.ts'

export type { ResolvedStoredSessionConfig } from './types.ts'

export const DEFAULT_TABLE = 'stored_sessions'
const DEFAULT_MAX_LIFETIME = '30 days'
const DEFAULT_MAX_PAYLOAD_SIZE = 512 * 1024

/**
 * Merges of one session that may run or wait in one process: far more
 * than the parallel requests of one page (browsers open 6 connections per
 * host over HTTP/1.1), while a client flooding one session with writes
 * waits behind at most this many merges of ~1 ms each, and then gets 409s.
 */
const DEFAULT_MERGE_QUEUE_LIMIT = 32

/**
 * How long one store operation may wait on the database. A healthy server
 * answers the store's statements in milliseconds; 5 s is long enough for a
 * loaded one, and short enough that a hung server costs each request a
 * 503 instead of the 10 to 60 s the drivers would wait.
 */
const DEFAULT_TIMEOUT = '5s'

/**
 * Where @adonisjs/auth's session guard named `web` keeps the user id.
 */
const DEFAULT_USER_KEY = 'auth_web'

/**
 * The cookie's expiry moves forward on every response, the stored one only
 * on writes and touches; 5% of `age` bounds how far the stored expiry lags
 * while saving the UPDATE on almost every read-only request.
 */
const TOUCH_INTERVAL_FRACTION = 0.05

/**
 * A table name we are willing to put into SQL: optionally schema-qualified
 * identifiers.
 */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/

export function resolveConfig(config: StoredSessionConfig = {}): ResolvedStoredSessionConfig {
  const table = config.table ?? DEFAULT_TABLE
  if (!TABLE_NAME.test(table)) {
    throw new E_INVALID_STORED_SESSION_CONFIG([`"table" must be a plain SQL identifier`])
  }
  const maxPayloadSize = config.maxPayloadSize ?? DEFAULT_MAX_PAYLOAD_SIZE
  if (!Number.isInteger(maxPayloadSize) || maxPayloadSize <= 0) {
    throw new E_INVALID_STORED_SESSION_CONFIG([`"maxPayloadSize" must be a positive integer`])
  }
  const mergeQueueLimit = config.mergeQueueLimit ?? DEFAULT_MERGE_QUEUE_LIMIT
  if (!Number.isInteger(mergeQueueLimit) || mergeQueueLimit <= 0) {
    throw new E_INVALID_STORED_SESSION_CONFIG([`"mergeQueueLimit" must be a positive integer`])
  }
  return {
    connection: config.connection,
    table,
    maxLifetime: durationMs('maxLifetime', config.maxLifetime ?? DEFAULT_MAX_LIFETIME),
    touchInterval:
      config.touchInterval === undefined
        ? undefined
        : durationMs('touchInterval', config.touchInterval),
    maxPayloadSize,
    timeout: timeoutMs(config.timeout ?? DEFAULT_TIMEOUT),
    encryption: config.encryption,
    onError: onErrorPolicy(config.onError),
    metadata: {
      ipAddress: config.metadata?.ipAddress ?? true,
      userAgent: config.metadata?.userAgent ?? true,
    },
    userKey: config.userKey === false ? null : (config.userKey ?? DEFAULT_USER_KEY),
    rememberMeTokens: rememberMeTokensConfig(config.rememberMeTokens),
    mergeQueueLimit,
    locate: optionalFunction('locate', config.locate),
    maxSessionsPerUser: sessionCap(config.maxSessionsPerUser),
    dashboard: { authorize: optionalFunction('dashboard.authorize', config.dashboard?.authorize) },
  }
}

function rememberMeTokensConfig(
  option: StoredSessionConfig['rememberMeTokens']
): RememberMeTokensConfig | null {
  if (option === undefined || option === false) return null
  if (typeof option?.model !== 'function') {
    throw new E_INVALID_STORED_SESSION_CONFIG([
      `"rememberMeTokens.model" must be a function importing the user model, like () => import('#models/user')`,
    ])
  }
  if (option.guard !== undefined && !/^[A-Za-z0-9_-]+$/.test(option.guard)) {
    throw new E_INVALID_STORED_SESSION_CONFIG([`"rememberMeTokens.guard" must be a guard name`])
  }
  return { model: option.model, guard: option.guard ?? 'web' }
}

function optionalFunction<Fn>(option: string, value: Fn | undefined): Fn | undefined {
  if (value === undefined || typeof value === 'function') return value
  throw new E_INVALID_STORED_SESSION_CONFIG([`"${option}" must be a function`])
}

function sessionCap(cap: number | undefined): number | undefined {
  if (cap === undefined) return undefined
  if (!Number.isInteger(cap) || cap < 1) {
    throw new E_INVALID_STORED_SESSION_CONFIG([`"maxSessionsPerUser" must be a positive integer`])
  }
  return cap
}

function onErrorPolicy(policy: StoredSessionConfig['onError']) {
  if (policy === undefined) return 'raise'
  if (policy === 'raise' || policy === 'continue' || typeof policy === 'function') return policy
  throw new E_INVALID_STORED_SESSION_CONFIG([`"onError" must be 'raise', 'continue' or a function`])
}

/**
 * Milliseconds from a time expression (`'500ms'`, `'5s'`) or seconds, like
 * the other durations; unlike them it must be above zero.
 */
function timeoutMs(value: string | number): number {
  let ms: number
  try {
    ms = typeof value === 'number' ? value * 1000 : string.milliseconds.parse(value)
  } catch {
    ms = Number.NaN
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new E_INVALID_STORED_SESSION_CONFIG([
      `"timeout" must be a time expression like "5s" or "500ms", or a positive number of seconds`,
    ])
  }
  return ms
}

function durationMs(option: string, value: string | number): number {
  let seconds: number
  try {
    seconds = string.seconds.parse(value)
  } catch {
    seconds = Number.NaN
  }
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new E_INVALID_STORED_SESSION_CONFIG([
      `"${option}" must be a time expression like "2 hours" or a number of seconds`,
    ])
  }
  return seconds * 1000
}

/**
 * What the store factory needs, resolved from the app's container, or built
 * by hand in tests (with a fake clock).
 */
export interface StoredSessionServices {
  db: Database
  /** The app's keys for sessions: the first seals, any opens. */
  keyring: SessionKeyring
  emitter: EmitterService | null
  /** Where a failing event listener is reported; a process warning without one. */
  logger?: Logger | null
  clock?: () => number
}

/**
 * Builds the per-request store factory @adonisjs/session calls. It accepts
 * a null context: `SessionCollection` builds its store that way.
 */
export function createStoredSessionFactory(
  config: ResolvedStoredSessionConfig,
  services: StoredSessionServices
): SessionStoreFactory {
  const connectionName = config.connection ?? services.db.primaryConnectionName
  if (!services.db.manager.has(connectionName)) {
    throw new E_INVALID_STORED_SESSION_CONFIG([
      `the connection "${connectionName}" is not defined in config/database.ts`,
    ])
  }

  const codec = new SessionCodec(services.keyring, config.maxPayloadSize)
  const events = new SessionEvents(services.emitter, services.logger ?? null)
  const clock = services.clock ?? Date.now
  const ttlCache = new Map<string | number, number>()
  const context: StoredSessionContext = {
    config,
    connectionName,
    db: services.db,
    keyring: services.keyring,
    codec,
    events,
    clock,
    repository: () => createRepositoryFor(context),
    rememberMeTokens: config.rememberMeTokens
      ? new RememberMeTokens(config.rememberMeTokens)
      : null,
  }

  const mergeQueue = new MergeQueue(config.mergeQueueLimit)
  const storeFor = (ctx: HttpContext | null, sessionConfig: SessionConfig) => {
    let ttl = ttlCache.get(sessionConfig.age)
    if (ttl === undefined) {
      ttl = string.seconds.parse(sessionConfig.age) * 1000
      ttlCache.set(sessionConfig.age, ttl)
    }
    const store = new StoredSessionStore({
      repository: guardRepository(context.repository()),
      codec,
      events,
      clock,
      ttl,
      maxLifetime: config.maxLifetime,
      touchInterval: config.touchInterval ?? Math.floor(ttl * TOUCH_INTERVAL_FRACTION),
      addressableByHash: !ctx,
      client: ctx ? () => clientMetadata(ctx, config.metadata) : undefined,
      input: ctx ? () => ctx.request.original() : undefined,
      userKey: config.userKey,
      mergeQueue,
    })
    const guarded = new FailsafeStore(store, config.onError, events, config.timeout)
    return ctx ? trackUsers(guarded, ctx, context) : guarded
  }

  // One store per request; without a context (SessionCollection, which
  // keeps its store for the life of the process), one per call.
  const factory: SessionStoreFactory = (ctx, sessionConfig) =>
    ctx ? storeFor(ctx, sessionConfig) : new CollectionStore(() => storeFor(null, sessionConfig))
  return Object.assign(factory, { [STORE_CONTEXT]: context })
}

/**
 * The `stored` session store, for the `stores` of `config/session.ts`.
 * Lucid, encryption and the emitter are resolved lazily, when the session
 * config is.
 *
 * @example
 * stores: {
 *   stored: storedSession({ connection: 'sessions', maxLifetime: '14 days' }),
 * }
 */
export function storedSession(config: StoredSessionConfig = {}) {
  const resolved = resolveConfig(config)
  return configProvider.create<SessionStoreFactory>(async (app) => {
    const db = await app.container.make('lucid.db')
    const keyring = new SessionKeyring(await appKeys(app, resolved.encryption))
    const emitter = await app.container.make('emitter')
    const logger = await app.container.make('logger')
    const factory = createStoredSessionFactory(resolved, { db, keyring, emitter, logger })
    // sessions signed in through the guard record their remember-me token
    contextOf(factory)!.rememberMeTokens?.track(emitter, await app.container.make(Encryption))

    // Application queries through the model see the table this store uses.
    const { StoredSession } = await import('./models/stored_session.ts')
    StoredSession.table = resolved.table
    StoredSession.connection = resolved.connection ?? db.primaryConnectionName
    return factory
  })
}

/**
 * The keys of an encryptor of `config/encryption.ts` (the default one
 * unless named), newest first, as the app's own encryption uses them.
 */
async function appKeys(app: ApplicationService, name: string | undefined): Promise<AppKey[]> {
  const encryption = await configProvider.resolve<{
    default?: string
    list: Record<string, { keys?: AppKey[] }>
  }>(app, app.config.get('encryption'))
  const chosen = name ?? encryption?.default ?? Object.keys(encryption?.list ?? {})[0]
  const keys = chosen ? encryption?.list[chosen]?.keys : undefined
  if (!keys?.length) {
    throw new E_INVALID_STORED_SESSION_CONFIG([
      chosen
        ? `the encryptor "${chosen}" is not defined in config/encryption.ts, or has no keys`
        : 'config/encryption.ts defines no encryptor',
    ])
  }
  return keys
}
