import { configProvider } from '@adonisjs/core'
import type { ApplicationService } from '@adonisjs/core/types'
import type { Database } from '@adonisjs/lucid/database'
import type { SessionCodec } from './request/codec.ts'
import type { SessionKeyring } from './request/keyring.ts'
import type { SessionEvents } from './events.ts'
import { SessionRepository } from './request/repository.ts'
import type { ResolvedStoredSessionConfig } from './types.ts'
import { E_INVALID_STORED_SESSION_CONFIG } from './errors.ts'
import { boundConnections } from './request/deadline.ts'
import type { RememberMeTokens } from './users/remember_me_tokens.ts'

/**
 * Marks a store factory built by `storedSession()`, carrying what the
 * maintenance services need, so that `config/session.ts` stays the one
 * place the store is configured.
 */
export const STORE_CONTEXT = Symbol.for('stored-session.context')

/**
 * Everything a store of this package is built from: for services that work
 * on the sessions table outside a request (trim, rotation, stats, revoke).
 */
export interface StoredSessionContext {
  config: ResolvedStoredSessionConfig
  connectionName: string
  db: Database
  keyring: SessionKeyring
  codec: SessionCodec
  events: SessionEvents
  clock: () => number
  repository(): SessionRepository
  /** The auth guard's remember-me tokens a user-level revoke ends too; null when not configured. */
  rememberMeTokens: RememberMeTokens | null
}

export function contextOf(factory: unknown): StoredSessionContext | null {
  return (factory as any)?.[STORE_CONTEXT] ?? null
}

/**
 * Finds the `stored` store in the app's session config: the one named
 * `storeName`, else the default store if it is ours, else the only one of
 * ours.
 */
export async function resolveStoredSessionContext(
  app: ApplicationService,
  storeName?: string
): Promise<StoredSessionContext> {
  const sessionConfig = await configProvider.resolve<{
    store: string
    stores: Record<string, unknown>
  }>(app, app.config.get('session'))
  if (!sessionConfig) {
    throw new E_INVALID_STORED_SESSION_CONFIG([
      'config/session.ts is missing or does not use defineConfig',
    ])
  }

  const ours = Object.entries(sessionConfig.stores).filter(([, factory]) => contextOf(factory))
  const chosen = storeName
    ? ours.find(([name]) => name === storeName)
    : (ours.find(([name]) => name === sessionConfig.store) ??
      (ours.length === 1 ? ours[0] : undefined))

  if (!chosen) {
    throw new E_INVALID_STORED_SESSION_CONFIG([
      storeName
        ? `no store named "${storeName}" uses storedSession() in config/session.ts`
        : ours.length
          ? `several stores use storedSession(); name one with --store`
          : 'no store in config/session.ts uses storedSession()',
    ])
  }
  return contextOf(chosen[1])!
}

export function createRepositoryFor(
  context: Pick<StoredSessionContext, 'db' | 'connectionName' | 'config'>
) {
  return new SessionRepository(
    boundConnections(context.db.connection(context.connectionName).getWriteClient()),
    context.config.table
  )
}
