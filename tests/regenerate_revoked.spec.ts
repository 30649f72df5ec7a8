import { test } from '@japa/runner'
import type { HttpContext } from '@adonisjs/core/http'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import { contextOf } from '../src/store_context.ts'
import { StoredSessions } from '../src/users/user_sessions.ts'
import type { StoredSessionEvents } from '../src/types.ts'

/**
 * A browser signed in as user 5, and a route `/slow` whose handler waits
 * (after its session was read) until the test lets it go on: what a
 * request in flight while a revoke runs looks like.
 */
async function setup(dialect: Dialect) {
  const t = await createTestApp(dialect)
  const conflicts: StoredSessionEvents['stored_session:conflict'][] = []
  t.emitter.on('stored_session:conflict', (event) => void conflicts.push(event))

  let entered!: () => void
  let release!: () => void
  let slowWork: (ctx: HttpContext) => void = () => {}
  t.app.handler = async (ctx) => {
    switch (ctx.request.url()) {
      case '/login':
        ctx.session.regenerate()
        ctx.session.put('auth_web', 5)
        return 'ok'
      case '/cart':
        ctx.session.put('cart', [1])
        return 'ok'
      case '/slow':
        ctx.session.get('auth_web') // the session is read before the handler runs
        entered()
        await new Promise<void>((resolve) => (release = resolve))
        slowWork(ctx)
        return 'ok'
      default:
        return { user: ctx.session.get('auth_web') ?? null, cart: ctx.session.get('cart') ?? null }
    }
  }

  /**
   * Sends `/slow`, runs `meanwhile` once its session is read, then lets
   * its handler do `work` and its commit run.
   */
  const slowRequest = async (
    browser: ReturnType<typeof t.app.client>,
    work: (ctx: HttpContext) => void,
    meanwhile: () => Promise<unknown>
  ) => {
    slowWork = work
    const inside = new Promise<void>((resolve) => (entered = resolve))
    const response = browser.get('/slow')
    await inside
    await meanwhile()
    release()
    return response
  }

  /** The stored hashes, but `except`. */
  const rows = async (except?: string) => {
    const found = await t.db.from(t.table).select('id')
    return found.map((row) => row.id).filter((id) => id !== except)
  }
  /** What the browser's next request sees of its session. */
  const seenBy = async (browser: ReturnType<typeof t.app.client>) => {
    const response = await browser.get('/me')
    return response.body
  }
  const sessions = new StoredSessions(contextOf(t.app.sessionConfig.stores.stored)!)
  return { ...t, conflicts, slowRequest, rows, seenBy, sessions }
}

for (const dialect of enabledDialects()) {
  test.group(`regenerate() never brings back a revoked session [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('without a revoke, regenerate() moves the session to a new id', async ({ assert }) => {
      const browser = t.app.client()
      await browser.get('/login')
      const before = await t.rows()

      const response = await t.slowRequest(
        browser,
        (ctx) => ctx.session.regenerate(),
        async () => {}
      )

      assert.equal(response.status, 200)
      const after = await t.rows()
      assert.lengthOf(after, 1)
      assert.notDeepEqual(after, before)
      assert.deepEqual(await t.seenBy(browser), { user: 5, cart: null })
    })

    test('revokeAll() while a request is in flight: its regenerate() writes nothing', async ({
      assert,
    }) => {
      const browser = t.app.client()
      await browser.get('/login')

      const response = await t.slowRequest(
        browser,
        (ctx) => ctx.session.regenerate(),
        () => t.sessions.revokeAll(5)
      )

      assert.equal(response.status, 200)
      assert.deepEqual(await t.rows(), [])
      assert.deepEqual(await t.seenBy(browser), { user: null, cart: null })
      assert.deepEqual(await t.rows(), [])
      assert.lengthOf(t.conflicts, 1)
      assert.include(t.conflicts[0], { attempt: 0, outcome: 'destroyed' })
    })

    test('SessionCollection.destroy() meanwhile: a regenerate() that also changes the session writes nothing', async ({
      assert,
    }) => {
      const browser = t.app.client()
      await browser.get('/login')
      const collection = t.app.collection()

      const response = await t.slowRequest(
        browser,
        (ctx) => {
          ctx.session.regenerate()
          ctx.session.put('cart', [2])
        },
        async () => {
          const [session] = await collection.tagged('5')
          await collection.destroy(session.id)
        }
      )

      assert.equal(response.status, 200)
      assert.deepEqual(await t.rows(), [])
      assert.deepEqual(await t.seenBy(browser), { user: null, cart: null })
      assert.equal(t.conflicts[0].changedKeys, 1)
    })

    test('an anonymous session deleted meanwhile is not carried into a new id either', async ({
      assert,
    }) => {
      const browser = t.app.client()
      await browser.get('/cart')
      const [hash] = await t.rows()
      await t.app.client().get('/cart') // another visitor, left alone
      const [other] = await t.rows(hash)

      const response = await t.slowRequest(
        browser,
        (ctx) => ctx.session.regenerate(),
        () => t.app.collection().destroy(hash)
      )

      assert.equal(response.status, 200)
      assert.deepEqual(await t.rows(), [other])
      assert.deepEqual(await t.seenBy(browser), { user: null, cart: null })
    })
  })
}
