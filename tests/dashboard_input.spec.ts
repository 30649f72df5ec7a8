import { test } from '@japa/runner'
import type { HttpContext } from '@adonisjs/core/http'
import { BodyParserMiddlewareFactory } from '@adonisjs/core/factories/bodyparser'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import { contextOf } from '../src/store_context.ts'
import { StoredSessions } from '../src/users/user_sessions.ts'
import { SessionsDashboard } from '../src/dashboard/dashboard.ts'

/**
 * The dashboard's handlers without a browser: what an authorized operator
 * (or a script holding the page's token) can post never answers 500.
 */
async function dashboardApp(dialect: Parameters<typeof createTestApp>[0]) {
  const t = await createTestApp(dialect, { config: { dashboard: { authorize: () => true } } })
  const context = contextOf(t.app.sessionConfig.stores.stored)!
  const sessions = new StoredSessions(context)
  const dashboard = new SessionsDashboard(async () => ({ context, sessions }), '/admin')
  const bodyparser = new BodyParserMiddlewareFactory().create()
  t.app.handler = (ctx: HttpContext) =>
    bodyparser.handle(ctx, async () => {
      const path = ctx.request.url()
      if (path === '/login') ctx.session.put('auth_web', ctx.request.input('user'))
      else if (path === '/admin/users') ctx.response.send(await dashboard.users(ctx))
      else if (path === '/admin/users/revoke') await dashboard.revoke(ctx)
      else ctx.response.send({ user: ctx.session.get('auth_web') ?? null })
    })
  return { t, sessions }
}

for (const dialect of enabledDialects()) {
  test.group(`dashboard input [${dialect.label}]`, () => {
    test('a revoke for a user id with a lone surrogate, longer than the column, or past the pages limit redirects with a notice', async ({
      assert,
      cleanup,
    }) => {
      const { t, sessions } = await dashboardApp(dialect)
      cleanup(() => t.cleanup())
      const signedIn = t.app.client()
      await signedIn.post('/login', JSON.stringify({ user: 'x'.repeat(300) }))
      const admin = t.app.client()
      // the page of a user with sessions holds the revoke forms and their token
      const page = await admin.get(`/admin/users?user=${'x'.repeat(300)}`)
      const token = /name="_dashboard_csrf"[^>]*value="([^"]+)"/.exec(page.body)?.[1]

      const revoke = (user: string) =>
        admin.post(
          '/admin/users/revoke',
          JSON.stringify({ user, all: '1', _dashboard_csrf: token })
        )
      const surrogate = await revoke('\ud800')
      const surrogatePage = await admin.get(surrogate.location!)
      const tooLong = await revoke('x'.repeat(5000))
      const tooLongPage = await admin.get(tooLong.location!)
      const long = await revoke('x'.repeat(300))
      const longPage = await admin.get(long.location!)

      assert.isString(token)
      assert.deepEqual([surrogate.status, tooLong.status, long.status], [302, 302, 302])
      assert.include(surrogatePage.body, 'Revoked 0 session(s) of user \ufffd.')
      assert.include(tooLongPage.body, 'Name a user.')
      assert.include(longPage.body, `Revoked 1 session(s) of user ${'x'.repeat(300)}.`)
      assert.equal(await sessions.count('x'.repeat(300)), 0)
      const after = await signedIn.get('/')
      assert.deepEqual(after.body, { user: null })
    })
  })
}
