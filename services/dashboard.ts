import app from '@adonisjs/core/services/app'
import router from '@adonisjs/core/services/router'
import { registerDashboardRoutes, type DashboardRoutesOptions } from '../src/dashboard/routes.ts'

/**
 * The sessions dashboard, mounted from `start/routes.ts` with one call.
 * Closed by default: it answers 403 until `dashboard.authorize(ctx)` in the
 * `storedSession()` config says yes.
 *
 * @example
 * import storedSessionsDashboard from 'stored-session/services/dashboard'
 * storedSessionsDashboard.registerRoutes({
 *   prefix: '/admin/sessions',
 *   middleware: [middleware.auth()],
 * })
 */
const storedSessionsDashboard = {
  registerRoutes(options: DashboardRoutesOptions = {}) {
    return registerDashboardRoutes(
      router,
      async () => ({
        context: await app.container.make('stored_session.context'),
        sessions: await app.container.make('stored_session.sessions'),
      }),
      options
    )
  },
}

export { storedSessionsDashboard as default }
