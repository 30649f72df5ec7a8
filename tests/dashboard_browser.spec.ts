/// <reference lib="dom" />
import { createHash, randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from '@japa/runner'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { enabledDialects } from './helpers/dialects.ts'
import { copyFreshApp } from './helpers/fresh_app.ts'
import { ace, appEnvironment, createDatabase, freePort, startServer } from './helpers/e2e_app.ts'
import { launchChromium } from './helpers/chromium.ts'
import { mountDashboard } from './fixtures/dashboard_app.ts'
import { describeDevice } from '../src/users/device.ts'

/**
 * The dashboard in a real browser (Debian's chromium through
 * playwright-core) on a fresh AdonisJS 7 app: `node ace configure
 * stored-session`, the dashboard mounted in start/routes.ts with one call,
 * @adonisjs/shield's CSRF guard in front, on each database.
 *
 * SCREENSHOTS=1 writes the README's screenshots (docs/) from the SQLite run.
 */
const HOSTILE_AGENT = `Mozilla/5.0 <img src=x id=pwned onerror="document.title='pwned'"><script>document.title='pwned'</script>`
const PHONE_AGENT =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
const DOCS = new URL('../docs/', import.meta.url)
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')

for (const dialect of enabledDialects()) {
  test.group(`dashboard in a browser [${dialect.name}]`, (group) => {
    let browser: Browser | null
    let baseUrl: string
    let db: Awaited<ReturnType<typeof createDatabase>>
    let serve: (authorize: boolean) => Promise<void>
    let server: Awaited<ReturnType<typeof startServer>> | null = null
    const contexts: BrowserContext[] = []

    group.setup(async () => {
      browser = await launchChromium()
      if (!browser) return () => {}
      const app = await copyFreshApp()
      await app.linkPackage()
      db = await createDatabase(dialect, join(app.root, 'tmp/db.sqlite3'))
      const env = appEnvironment(dialect, db.name, await freePort())
      baseUrl = env.APP_URL
      await ace(app.root, env, ['configure', 'stored-session', `--connection=${dialect.name}`])
      await ace(app.root, env, ['migration:run'])
      let serving: boolean | null = null
      // the app restarted only when the test needs the other config
      serve = async (authorize) => {
        if (serving === authorize) return
        await server?.stop()
        await mountDashboard(app.root, { authorize })
        server = await startServer(app.root, env)
        serving = authorize
      }
      return async () => {
        for (const context of contexts) await context.close()
        await browser?.close()
        await server?.stop()
        await db.drop()
        await app.remove()
      }
    })

    /**
     * A browser of its own (cookies and all), signed in as `user`.
     */
    async function signedIn(user: string, options: { userAgent?: string; width?: number } = {}) {
      // a chromium that crashed under a loaded machine is not the dashboard's
      // failure: said, and replaced, so one crash does not fail every later test
      if (!browser!.isConnected()) {
        console.log(`[stored-session] chromium disconnected; launching it again`)
        contexts.length = 0
        browser = await launchChromium()
      }
      const context = await browser!.newContext({
        userAgent: options.userAgent,
        viewport: options.width ? { width: options.width, height: 760 } : undefined,
        deviceScaleFactor: 1,
      })
      contexts.push(context)
      const page = await context.newPage()
      const response = await page
        .goto(`${baseUrl}/test/sign-in?user=${encodeURIComponent(user)}`)
        .catch((error) => {
          throw new Error(`sign-in failed: ${error.message}\n${environment()}`)
        })
      if (response?.status() !== 200) {
        throw new Error(`sign-in answered ${response?.status()}\n${environment()}`)
      }
      return page
    }

    /**
     * What a failing test reports of the browser and the app server, so a
     * crash of either shows as such instead of as a failed navigation.
     */
    function environment() {
      const output = server?.output() ?? ''
      return [
        `chromium: ${browser?.isConnected() ? 'running' : 'disconnected'}`,
        `app server: ${server?.exited() ?? 'running'}`,
        `app server output (last 2,000 characters):\n${output.slice(-2000)}`,
      ].join('\n')
    }

    async function whoami(page: Page) {
      const response = await page.goto(`${baseUrl}/whoami`)
      return JSON.parse(await response!.text()).user as string | null
    }

    async function screenshot(page: Page, name: string) {
      if (process.env.SCREENSHOTS !== '1' || dialect.name !== 'sqlite') return
      await mkdir(DOCS, { recursive: true })
      await page.screenshot({ path: new URL(name, DOCS).pathname, fullPage: true })
    }

    test('closed by default: 403 for everyone, even signed in, until authorize is configured', async ({
      assert,
    }) => {
      if (!browser) return
      await serve(false)
      const page = await signedIn('admin')
      const response = await page.goto(`${baseUrl}/admin/sessions`)
      const post = await page.request.post(`${baseUrl}/admin/sessions/trim`)
      const rows = await db.client('stored_sessions').count('* as count')

      assert.equal(response!.status(), 403)
      assert.include(await page.textContent('main'), 'dashboard.authorize(ctx)')
      assert.equal(post.status(), 403)
      assert.isAbove(Number(rows[0].count), 0)
    }).timeout(120_000)

    test('authorized: the overview shows the figures, the chart and key rotation', async ({
      assert,
    }) => {
      if (!browser) return
      await serve(true)
      const stranger = await signedIn('42')
      const refused = await stranger.goto(`${baseUrl}/admin/sessions`)

      const admin = await signedIn('admin')
      const response = await admin.goto(`${baseUrl}/admin/sessions`)
      const figure = (name: string) => admin.textContent(`[data-figure="${name}"]`)

      assert.equal(refused!.status(), 403)
      assert.equal(response!.status(), 200)
      const live = await db
        .client('stored_sessions')
        .where('expires_at', '>', new Date())
        .select('user_id')
      const users = new Set(live.map((row) => row.user_id).filter((user) => user !== null))
      assert.equal(await figure('live'), String(live.length))
      assert.equal(await figure('withUser'), String(live.filter((row) => row.user_id).length))
      assert.equal(await figure('distinctUsers'), String(users.size))
      assert.isAtLeast(users.size, 2)
      assert.equal(await figure('currentKey'), '100%')
      assert.match((await figure('p95'))!, /^\d+ B$/)
      // both sessions were active within the last hour: the last bar
      const bars = await admin.$$eval('svg.chart rect', (rects) =>
        rects.map((rect) => Number(rect.getAttribute('height')))
      )
      assert.lengthOf(bars, 24)
      assert.isAbove(bars[23], 0)
      assert.deepEqual(bars.slice(0, 23), new Array(23).fill(0))
      await admin.click('text=7 days')
      assert.lengthOf(await admin.$$('svg.chart rect'), 7)
      // the stylesheet is served by the dashboard itself (CSP: 'self' only)
      const color = await admin.$eval('button.danger', (el) => getComputedStyle(el).color)
      assert.equal(color, 'rgb(255, 255, 255)')
      await admin.goto(`${baseUrl}/admin/sessions`)
      await screenshot(admin, 'dashboard-overview.png')
    }).timeout(120_000)

    test("search lists a user's sessions without ids, hashes or raw user agents; escapes them", async ({
      assert,
    }) => {
      if (!browser) return
      await serve(true)
      const hostile = await signedIn('7', { userAgent: HOSTILE_AGENT })
      await signedIn('7', { userAgent: PHONE_AGENT })
      const cookies = await hostile.context().cookies()
      const admin = await signedIn('admin')
      await admin.goto(`${baseUrl}/admin/sessions/users`)
      await admin.fill('#user', '7')
      await admin.click('form.search button')
      const html = await admin.content()
      const rows = await admin.$$eval('table.devices tbody tr', (trs) =>
        trs.map((tr) => tr.querySelector('[data-label="Device"]')!.textContent!.trim())
      )
      const stored = await db.client('stored_sessions').where('user_id', '7').select('id')

      assert.sameMembers(rows, [describeDevice(HOSTILE_AGENT).label, 'Safari 17 on iOS 17'])
      assert.notInclude(html, 'pwned')
      assert.notInclude(html, 'Mozilla/5.0')
      for (const { id } of stored) {
        assert.notInclude(html, id)
        assert.notInclude(html, id.slice(0, 16))
      }
      for (const cookie of cookies) assert.notInclude(html, cookie.value)
      await screenshot(admin, 'dashboard-user.png')

      // the detail view is the one place with the raw user agent, as text
      await admin.click(`text=${describeDevice(HOSTILE_AGENT).label}`)
      assert.equal(await admin.textContent('[data-field="userAgent"]'), HOSTILE_AGENT)
      assert.isNull(await admin.$('#pwned'))
      assert.notEqual(await admin.title(), 'pwned')
      assert.include(await admin.content(), '&lt;script&gt;')
    }).timeout(120_000)

    test('revoke one: confirmed in the page, and that browser is anonymous next', async ({
      assert,
    }) => {
      if (!browser) return
      await serve(true)
      const laptop = await signedIn('8')
      const phone = await signedIn('8', { userAgent: PHONE_AGENT })
      const admin = await signedIn('admin')
      await admin.goto(`${baseUrl}/admin/sessions/users?user=8`)
      const row = admin.locator('table.devices tbody tr', { hasText: 'Safari 17 on iOS 17' })
      const confirm = row.locator('button.danger')
      const hiddenBefore = await confirm.isHidden()
      await row.locator('summary').click()
      await confirm.click()
      await admin.waitForLoadState()

      assert.isTrue(hiddenBefore)
      assert.include(await admin.textContent('.notice'), 'Revoked 1 session')
      assert.isNull(await whoami(phone))
      assert.equal(await whoami(laptop), '8')
      assert.lengthOf(await admin.$$('table.devices tbody tr'), 1)
    }).timeout(120_000)

    test('revoke all of a user', async ({ assert }) => {
      if (!browser) return
      await serve(true)
      const first = await signedIn('9')
      const second = await signedIn('9', { userAgent: PHONE_AGENT })
      const bystander = await signedIn('10')
      const admin = await signedIn('admin')
      await admin.goto(`${baseUrl}/admin/sessions/users?user=9`)
      await admin.click('text=Revoke all sessions of this user')
      await admin.click('text=Yes, revoke all')

      assert.include(await admin.textContent('.notice'), 'Revoked 2 session(s) of user 9')
      assert.isNull(await whoami(first))
      assert.isNull(await whoami(second))
      assert.equal(await whoami(bystander), '10')
    }).timeout(120_000)

    test("a POST without the page's tokens is refused and revokes nothing", async ({ assert }) => {
      if (!browser) return
      await serve(true)
      const victim = await signedIn('11')
      const admin = await signedIn('admin')
      await admin.goto(`${baseUrl}/admin/sessions/users?user=11`)
      const handle = await admin.getAttribute('input[name="handle"]', 'value')
      // shield's token alone (as a page of the app would have it) is not enough
      const shieldToken = await admin.getAttribute('input[name="_csrf"]', 'value')
      const forged = await admin.request.post(`${baseUrl}/admin/sessions/users/revoke`, {
        form: { user: '11', handle: handle!, _csrf: shieldToken! },
      })
      const crossSite = await admin.request.post(`${baseUrl}/admin/sessions/users/revoke`, {
        form: { user: '11', all: '1' },
        headers: { origin: 'https://evil.example' },
      })

      assert.equal(forged.status(), 403)
      assert.equal(crossSite.status(), 403)
      assert.equal(await whoami(victim), '11')
    }).timeout(120_000)

    test('trim: a dry run counts, the trim deletes, only expired sessions', async ({ assert }) => {
      if (!browser) return
      await serve(true)
      const past = new Date(Date.now() - 3_600_000)
      await db.client('stored_sessions').insert(
        [1, 2, 3].map(() => ({
          id: sha256(randomBytes(16).toString('hex')),
          data: Buffer.from('expired'),
          version: 1,
          created_at: past,
          updated_at: past,
          expires_at: past,
        }))
      )
      const live = await db
        .client('stored_sessions')
        .where('expires_at', '>', new Date())
        .count('* as count')
      const admin = await signedIn('admin')
      await admin.goto(`${baseUrl}/admin/sessions`)
      await admin.click('text=Count expired (dry run)')
      const dryRun = await admin.textContent('.notice')
      await admin.click('text=Trim expired sessions')
      await admin.click('text=Yes, trim')
      const trimmed = await admin.textContent('.notice')
      const liveAfter = await db
        .client('stored_sessions')
        .where('expires_at', '>', new Date())
        .count('* as count')
      const expiredAfter = await db
        .client('stored_sessions')
        .where('expires_at', '<=', new Date())
        .count('* as count')

      assert.include(dryRun, 'a trim would delete 3 expired session(s)')
      assert.include(trimmed, 'Trim deleted 3 expired session(s)')
      assert.equal(Number(expiredAfter[0].count), 0)
      // the admin's own session was written by this visit: one more live row
      assert.equal(Number(liveAfter[0].count), Number(live[0].count) + 1)
    }).timeout(120_000)

    test('a narrow viewport: no sideways scrolling, sessions as cards', async ({ assert }) => {
      if (!browser) return
      await signedIn('12', { userAgent: PHONE_AGENT })
      const phone = await signedIn('admin', { userAgent: PHONE_AGENT, width: 375 })
      for (const path of ['/admin/sessions', '/admin/sessions/users?user=12']) {
        await phone.goto(`${baseUrl}${path}`)
        const overflow = await phone.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth
        )
        assert.isAtMost(overflow, 0, path)
      }
      const headerShown = await phone.isVisible('table.devices thead')
      const label = await phone.$eval(
        'td[data-label="Device"]',
        (td) => getComputedStyle(td, '::before').content
      )
      assert.isFalse(headerShown)
      assert.equal(label, '"Device"')
      await screenshot(phone, 'dashboard-phone.png')
    }).timeout(120_000)
  })
}
