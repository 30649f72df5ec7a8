import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from '@japa/runner'
import { ace, Browser, freePort, sessionIdOf, startServer } from './helpers/e2e_app.ts'

/**
 * The README's demo (examples/demo) served as `npm run demo` serves it, on
 * a database file of the test's own. The demo is SQLite by design (it must
 * run with nothing installed), so this group has no other dialect.
 */
const DEMO = fileURLToPath(new URL('../examples/demo/', import.meta.url))
const COOKIE = 'demo-session'

test.group('demo app [sqlite]', (group) => {
  let env: Record<string, string>
  const database = join(DEMO, `tmp/test_${process.pid}_${randomBytes(3).toString('hex')}.sqlite3`)

  group.setup(async () => {
    const port = await freePort()
    env = {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      APP_KEY: randomBytes(24).toString('base64url'),
      APP_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      SESSION_DRIVER: 'stored',
      DEMO_DATABASE: database,
    }
    // tmp/ is not in git: a fresh clone has no such folder yet
    await mkdir(dirname(database), { recursive: true })
    await ace(DEMO, env, ['migration:run', '--force'])
    return async () => {
      for (const suffix of ['', '-wal', '-shm']) await rm(database + suffix, { force: true })
    }
  })

  test('counter, sign-in with a new id, flash and the stored row survive a restart', async ({
    assert,
    cleanup,
  }) => {
    let server = await startServer(DEMO, env)
    cleanup(() => server.stop())
    const browser = new Browser(env.APP_URL)

    const fresh = await browser.get('/')
    await browser.post('/count')
    const beforeSignIn = sessionIdOf(browser.cookies.get(COOKIE))
    const redirect = await browser.post('/sign-in')
    const signedIn = await browser.get('/')
    const id = sessionIdOf(browser.cookies.get(COOKIE))!

    assert.equal(fresh.status, 200)
    assert.include(fresh.body, 'Visits counted in this session: <strong>0</strong>')
    assert.equal(redirect.status, 302)
    assert.notEqual(id, beforeSignIn)
    assert.include(signedIn.body, 'Signed in as Ada Lovelace. The session id changed.')
    assert.include(signedIn.body, 'Visits counted in this session: <strong>1</strong>')
    assert.include(signedIn.body, createHash('sha256').update(id).digest('hex'))
    assert.notInclude(signedIn.body, id)

    await server.stop()
    server = await startServer(DEMO, env)
    const afterRestart = await browser.get('/')

    assert.include(afterRestart.body, 'Visits counted in this session: <strong>1</strong>')
    assert.include(afterRestart.body, 'Signed in as <strong>Ada Lovelace</strong>')
    assert.notInclude(afterRestart.body, 'The session id changed')
  })

  test('the demo says what it is, shows your devices, and the dashboard to the demo user', async ({
    assert,
    cleanup,
  }) => {
    const server = await startServer(DEMO, env)
    cleanup(() => server.stop())
    const browser = new Browser(env.APP_URL)
    const anonymous = await browser.get('/')
    const closed = await browser.get('/admin/sessions')
    await browser.post('/sign-in')
    const home = await browser.get('/')
    const devices = await browser.get('/devices')
    const dashboard = await browser.get('/admin/sessions')
    const users = await browser.get('/admin/sessions/users?user=1')
    const readme = await browser.get('/readme')

    assert.include(anonymous.body, 'keeps AdonisJS sessions in your SQL database')
    assert.include(anonymous.body, '<a href="/readme">README</a>')
    assert.include(home.body, 'version (bumped by every write')
    assert.include(home.body, '<a href="/devices">Your devices</a>')
    assert.equal(closed.status, 403)
    assert.equal(devices.status, 200)
    assert.include(devices.body, '(this browser)')
    assert.equal(dashboard.status, 200)
    assert.include(dashboard.body, 'Live sessions')
    assert.include(users.body, 'Revoke all sessions of this user')
    assert.include(readme.body, '# stored-session')
  })

  test("the demo's own Japa suite signs users in with StoredSessionTesting", async ({ assert }) => {
    const port = await freePort()
    const child = spawn(process.execPath, ['--import=@poppinss/ts-exec', 'bin/test.ts'], {
      cwd: DEMO,
      env: {
        ...process.env,
        ...env,
        NODE_ENV: 'test',
        PORT: String(port),
        APP_URL: `http://127.0.0.1:${port}`,
        FORCE_COLOR: '0',
      },
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const [code] = await once(child, 'exit')

    assert.equal(code, 0, output)
    assert.match(output, /Tests\s+2 passed \(2\)/)
  })
})
