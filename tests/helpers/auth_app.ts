import { BaseModel } from '@adonisjs/lucid/orm'
import type { HttpContext } from '@adonisjs/core/http'
import {
  DbRememberMeTokensProvider,
  SessionGuard,
  sessionUserProvider,
} from '@adonisjs/auth/session'
import { contextOf } from '../../src/store_context.ts'
import { StoredSessions } from '../../src/users/user_sessions.ts'
import type { Dialect } from './dialects.ts'
import { createTestApp, uniqueTable } from './app.ts'

/**
 * A users table and @adonisjs/auth's remember_me_tokens table (the columns
 * its migration stub creates), and a Lucid user model with the real
 * DbRememberMeTokensProvider.
 */
function userModel(usersTable: string, tokensTable: string) {
  class User extends BaseModel {
    static table = usersTable
    declare id: number
    declare email: string
    static rememberMeTokens = DbRememberMeTokensProvider.forModel(User, { table: tokensTable })
  }
  User.boot()
  User.$addColumn('id', { isPrimary: true })
  User.$addColumn('email', {})
  return User
}

/**
 * A real HTTP app whose requests sign in through @adonisjs/auth's session
 * guard (`web`, remember-me tokens on), with the `stored` store configured
 * to end remember-me tokens on revokes.
 *
 * Routes: /login?user=<id>&remember=1, /whoami, /logout, /sign-out-others,
 * /session-id.
 */
export async function createAuthApp(
  dialect: Dialect,
  options: { rememberMeTokens?: boolean } = {}
) {
  // short: MySQL limits the foreign key's generated name to 64 characters
  const usersTable = uniqueTable().replace('stored_sessions', 'users')
  const tokensTable = uniqueTable().replace('stored_sessions', 'rmt')
  let User: ReturnType<typeof userModel> | undefined
  const model = async () => ({ default: User! })
  const t = await createTestApp(dialect, {
    config: options.rememberMeTokens === false ? {} : { rememberMeTokens: { model } },
  })
  const schema = () => t.db.connection().schema
  await schema().createTable(usersTable, (table) => {
    table.increments('id')
    table.string('email').notNullable()
  })
  await schema().createTable(tokensTable, (table) => {
    table.increments('id')
    table
      .integer('tokenable_id')
      .notNullable()
      .unsigned()
      .references('id')
      .inTable(usersTable)
      .onDelete('CASCADE')
    table.string('hash').notNullable().unique()
    table.timestamp('created_at').notNullable()
    table.timestamp('updated_at').notNullable()
    table.timestamp('expires_at').notNullable()
  })
  BaseModel.useAdapter(t.db.modelAdapter())
  User = userModel(usersTable, tokensTable)
  const users = await Promise.all(
    [1, 2].map((n) => User!.create({ email: `user${n}@example.com` }))
  )

  const context = contextOf(t.app.sessionConfig.stores.stored)!
  context.rememberMeTokens?.track(t.emitter, t.app.cookieEncryption)
  const sessions = new StoredSessions(context)
  const userProvider = sessionUserProvider({ model })
  const guardOf = (ctx: HttpContext) =>
    new SessionGuard('web', ctx, { useRememberMeTokens: true }, t.emitter as any, userProvider)

  t.app.handler = async (ctx) => {
    const auth = guardOf(ctx)
    const path = ctx.request.url()
    if (path === '/login') {
      const user = await User!.findOrFail(ctx.request.input('user'))
      await auth.login(user, ctx.request.input('remember') === '1')
      return { user: user.id }
    }
    // no authentication here: nothing this request does may record a token
    if (path === '/session-id') return { id: ctx.session.sessionId }
    // a session signed in before rememberMeTokens was configured records nothing
    if (path === '/unrecord') {
      ctx.session.forget(context.rememberMeTokens!.sessionKey)
      return {}
    }
    const signedIn = await auth.check()
    if (path === '/logout') await auth.logout()
    if (path === '/sign-out-others' && signedIn) {
      return { revoked: await sessions.revokeOthers(auth.user!.id, ctx.session) }
    }
    return { user: auth.user?.id ?? null, viaRemember: auth.viaRemember }
  }

  return {
    ...t,
    users,
    sessions,
    context,
    /** Identifiers of a user's remember-me tokens, through the provider. */
    async tokensOf(userId: number) {
      const user = await User!.findOrFail(userId)
      const tokens = await User!.rememberMeTokens.all(user)
      return tokens.map((token) => String(token.identifier)).sort()
    },
    async cleanup() {
      await schema().dropTableIfExists(tokensTable)
      await schema().dropTableIfExists(usersTable)
      await t.cleanup()
    },
  }
}
