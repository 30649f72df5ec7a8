import type { HttpContext, Router } from '@adonisjs/core/http'
import { SessionsDashboard, type DashboardServices } from './dashboard.ts'

/**
 * Route middleware as `router.group().use()` takes it, e.g.
 * `middleware.auth()` from `#start/kernel`.
 */
type RouteMiddleware = Parameters<ReturnType<Router['group']>['use']>[0]

export interface DashboardRoutesOptions {
  /** Where the dashboard lives. Defaults to `/admin/sessions`. */
  prefix?: string
  /** Route middleware to run first, e.g. `[middleware.auth()]`. */
  middleware?: RouteMiddleware
  /** Route names start with this. Defaults to `stored_session.dashboard`. */
  as?: string
}

/**
 * Registers the dashboard's routes (pages are GETs, actions POSTs) under
 * one prefix, as a route group.
 */
export function registerDashboardRoutes(
  router: Router,
  services: () => Promise<DashboardServices>,
  options: DashboardRoutesOptions = {}
) {
  const prefix = `/${(options.prefix ?? '/admin/sessions').replace(/^\/+|\/+$/g, '')}`.replace(
    /^\/$/,
    ''
  )
  const name = options.as ?? 'stored_session.dashboard'
  const dashboard = new SessionsDashboard(services, prefix)
  const handle = (action: keyof SessionsDashboard) => (ctx: HttpContext) =>
    (dashboard[action] as (ctx: HttpContext) => unknown).call(dashboard, ctx)

  const group = router.group(() => {
    router.get('/', handle('overview')).as(`${name}.overview`)
    router.get('/users', handle('users')).as(`${name}.users`)
    router.get('/users/device', handle('device')).as(`${name}.device`)
    router.post('/users/revoke', handle('revoke')).as(`${name}.revoke`)
    router.post('/trim', handle('trim')).as(`${name}.trim`)
    router.get('/assets/dashboard.css', handle('stylesheet')).as(`${name}.stylesheet`)
  })
  group.prefix(prefix || '/')
  if (options.middleware) group.use(options.middleware)
  return group
}
