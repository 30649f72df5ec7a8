import type { ApplicationService } from '@adonisjs/core/types'
import { resolveStoredSessionContext, type StoredSessionContext } from '../src/store_context.ts'
import { StoredSessions } from '../src/users/user_sessions.ts'
import type {} from '../src/types.ts'

declare module '@adonisjs/core/types' {
  interface ContainerBindings {
    'stored_session.context': StoredSessionContext
    'stored_session.sessions': StoredSessions
  }
}

/**
 * Makes the `stored` store's context (config, connection, codec) available
 * to the maintenance commands and to application code.
 */
export default class StoredSessionProvider {
  constructor(protected app: ApplicationService) {}

  register() {
    this.app.container.singleton('stored_session.context', () =>
      resolveStoredSessionContext(this.app)
    )
    this.app.container.singleton(StoredSessions, async (resolver) => {
      return new StoredSessions(await resolver.make('stored_session.context'))
    })
    this.app.container.alias('stored_session.sessions', StoredSessions)
  }
}
