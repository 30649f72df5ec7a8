import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { createAuthApp } from './helpers/auth_app.ts'
import { revokeUserSessions } from '../src/maintenance/revoke.ts'
import type { CookieClient } from './helpers/app.ts'

/**
 * The browser's session cookie is gone (expired, or the session behind it
 * was revoked): only its remember-me cookie can sign it in.
 */
function dropSessionCookie(browser: CookieClient) {
  browser.cookies.delete('adonis_session')
}

async function whoami(browser: CookieClient) {
  const response = await browser.get('/whoami')
  return response.body as { user: number | null; viaRemember: boolean }
}

for (const dialect of enabledDialects()) {
  test.group(`remember-me tokens of @adonisjs/auth's session guard [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof createAuthApp>>
    group.each.setup(async () => {
      t = await createAuthApp(dialect)
      return () => t.cleanup()
    })

    test('a remember-me cookie signs a browser back in, through the real guard', async ({
      assert,
    }) => {
      const laptop = t.app.client()
      await laptop.get('/login?user=1&remember=1')
      assert.lengthOf(await t.tokensOf(1), 1)
      dropSessionCookie(laptop)
      assert.deepEqual(await whoami(laptop), { user: 1, viaRemember: true })
      // the guard recycled the token: still one
      assert.lengthOf(await t.tokensOf(1), 1)
    })

    test('revokeOthers ends the other browsers\u2019 tokens; the current browser keeps its own', async ({
      assert,
    }) => {
      const [laptop, phone, tablet] = [t.app.client(), t.app.client(), t.app.client()]
      const otherUser = t.app.client()
      for (const browser of [laptop, phone, tablet]) await browser.get('/login?user=1&remember=1')
      await otherUser.get('/login?user=2&remember=1')
      // the tablet came back through its cookie: a new session, a recycled token
      dropSessionCookie(tablet)
      assert.deepEqual(await whoami(tablet), { user: 1, viaRemember: true })
      assert.lengthOf(await t.tokensOf(1), 3)

      // the phone's session, the tablet's old one and its new one
      const response = await laptop.get('/sign-out-others')
      assert.deepEqual(response.body, { revoked: 3 })

      assert.deepEqual(await whoami(phone), { user: null, viaRemember: false })
      assert.deepEqual(await whoami(tablet), { user: null, viaRemember: false })
      assert.lengthOf(await t.tokensOf(1), 1)
      assert.lengthOf(await t.tokensOf(2), 1)
      assert.deepEqual(await whoami(otherUser), { user: 2, viaRemember: false })
      // the laptop is still remembered
      assert.deepEqual(await whoami(laptop), { user: 1, viaRemember: false })
      dropSessionCookie(laptop)
      assert.deepEqual(await whoami(laptop), { user: 1, viaRemember: true })
    })

    test("revoking a device ends that device's token only, even one recycled on its last request", async ({
      assert,
    }) => {
      const [laptop, phone] = [t.app.client(), t.app.client()]
      await laptop.get('/login?user=1&remember=1')
      await phone.get('/login?user=1&remember=1')
      // the phone's last request signed it in through its cookie
      dropSessionCookie(phone)
      assert.deepEqual(await whoami(phone), { user: 1, viaRemember: true })
      const before = await t.tokensOf(1)

      const { body } = await phone.get('/session-id')
      // the laptop, the phone's old session and its new one
      const devices = await t.sessions.devices(1, body.id)
      assert.lengthOf(devices, 3)
      const phoneDevice = devices.find((device) => device.current)!
      assert.isTrue(await t.sessions.revoke(1, phoneDevice.handle))

      assert.deepEqual(await whoami(phone), { user: null, viaRemember: false })
      const after = await t.tokensOf(1)
      assert.lengthOf(after, 1)
      assert.include(before, after[0])
      dropSessionCookie(laptop)
      assert.deepEqual(await whoami(laptop), { user: 1, viaRemember: true })
    })

    test('revokeAll and sessions:revoke --user end every token of the user', async ({ assert }) => {
      const [laptop, phone, otherUser] = [t.app.client(), t.app.client(), t.app.client()]
      await laptop.get('/login?user=1&remember=1')
      await phone.get('/login?user=1&remember=1')
      await otherUser.get('/login?user=2&remember=1')

      assert.equal(await t.sessions.revokeAll(1), 2)
      for (const browser of [laptop, phone]) {
        assert.deepEqual(await whoami(browser), { user: null, viaRemember: false })
      }
      assert.lengthOf(await t.tokensOf(1), 0)

      await laptop.get('/login?user=1&remember=1')
      const summary = await revokeUserSessions(t.context, 1)
      assert.containsSubset(summary, { deleted: 1, rememberMeTokens: 1 })
      assert.deepEqual(await whoami(laptop), { user: null, viaRemember: false })
      assert.lengthOf(await t.tokensOf(1), 0)
      assert.deepEqual(await whoami(otherUser), { user: 2, viaRemember: false })
      assert.lengthOf(await t.tokensOf(2), 1)
    })

    test('a session signed in before tokens were recorded records its token on its next request', async ({
      assert,
    }) => {
      const [laptop, phone] = [t.app.client(), t.app.client()]
      await laptop.get('/login?user=1&remember=1')
      await phone.get('/login?user=1&remember=1')
      await laptop.get('/unrecord')
      await phone.get('/unrecord')
      const laptopToken = await t.tokensOf(1)
      // the laptop's next request reads its token from its remember-me cookie
      assert.deepEqual(await whoami(laptop), { user: 1, viaRemember: false })
      const { body } = await laptop.get('/session-id')

      assert.equal(await t.sessions.revokeOthers(1, body.id), 1)
      const kept = await t.tokensOf(1)
      assert.lengthOf(kept, 1)
      assert.include(laptopToken, kept[0])
      dropSessionCookie(laptop)
      assert.deepEqual(await whoami(laptop), { user: 1, viaRemember: true })
      assert.deepEqual(await whoami(phone), { user: null, viaRemember: false })
    })

    test('signing out forgets the token it recorded', async ({ assert }) => {
      const laptop = t.app.client()
      await laptop.get('/login?user=1&remember=1')
      await laptop.get('/logout')
      assert.lengthOf(await t.tokensOf(1), 0)
      await laptop.get('/login?user=1')
      const other = t.app.client()
      await other.get('/login?user=1&remember=1')
      // the laptop signed in again without remember-me: it has no token to keep
      await laptop.get('/sign-out-others')
      assert.lengthOf(await t.tokensOf(1), 0)
      assert.deepEqual(await whoami(other), { user: null, viaRemember: false })
    })
  })
}
