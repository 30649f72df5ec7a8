import type { ApplicationService } from '@adonisjs/core/types'
import { resolveStoredSessionContext, type StoredSessionContext } from '../src/store_context.ts'
import type {} from '../src/types.ts'

declare module '@adonisjs/core/types' {
  interface ContainerBindings {
    'stored_session.context': StoredSessionContext
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
  }
}
