import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { test } from '@japa/runner'
import { toMillis } from '../src/request/repository.ts'
import { enabledDialects } from './helpers/dialects.ts'
import { copyFreshApp } from './helpers/fresh_app.ts'
import {
  ace,
  appEnvironment,
  Browser,
  createDatabase,
  freePort,
  sessionIdOf,
  startServer,
} from './helpers/e2e_app.ts'

/**
 * A user's whole path on a fresh AdonisJS 7 app (tests/fixtures/app):
 * `node ace configure stored-session`, SESSION_DRIVER=stored,
 * `node ace migration:run`, `node bin/server.ts`; then a browser-like client
 * against the real server and the table read directly. Each step is a child
 * process, as on a user's machine. The package is the repository's sources
 * (see `linkPackage`).
 */
const COOKIE = 'adonis-session'
const TABLE = 'stored_sessions'
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')

for (const dialect of enabledDialects()) {
  test.group(`e2e on a fresh app [${dialect.label}]`, (group) => {
    let browser: () => Browser
    let db: Awaited<ReturnType<typeof createDatabase>>
    let server: Awaited<ReturnType<typeof startServer>>
    let configureOutput: string
    let runAce: (args: string[]) => Promise<string>

    group.setup(async () => {
      const app = await copyFreshApp()
      await app.linkPackage()
      db = await createDatabase(dialect, join(app.root, 'tmp/db.sqlite3'))
      const env = appEnvironment(dialect, db.name, await freePort())
      const flags = [
        `--connection=${dialect.name}`,
        ...(dialect.name === 'sqlite' ? ['--wal'] : []),
        // an upgrade's flag: its migration resolves the package's public
        // subpath and runs after the table's (on an empty table: no rows
        // to convert; tests/convert_times.spec.ts converts some)
        '--convert-times-from=America/New_York',
      ]

      configureOutput = await ace(app.root, env, ['configure', 'stored-session', ...flags])
      await ace(app.root, env, ['migration:run'])
      server = await startServer(app.root, env)
      browser = () => new Browser(env.APP_URL)
      runAce = (args) => ace(app.root, env, args)

      return async () => {
        await server.stop()
        await db.drop()
        await app.remove()
      }
    })

    const rowOf = (sessionId: string | undefined) =>
      db
        .client(TABLE)
        .where('id', sha256(sessionId ?? ''))
        .first()

    test('configure reports its changes and the migration creates the table', async ({
      assert,
    }) => {
      assert.include(configureOutput, 'stored-session configured')
      assert.include(configureOutput, 'SESSION_DRIVER=stored')
      const migrated = await db.client('adonis_schema').orderBy('id').pluck('name')
      assert.lengthOf(migrated, 2)
      assert.match(migrated[0], /_create_stored_sessions_table$/)
      assert.match(migrated[1], /_convert_stored_sessions_times_to_utc$/)
      const columns = Object.keys(await db.client(TABLE).columnInfo())
      assert.sameMembers(columns, [
        'id',
        'data',
        'version',
        'user_id',
        'ip_address',
        'user_agent',
        'location',
        'created_at',
        'updated_at',
        'expires_at',
      ])
      if (dialect.name === 'sqlite') {
        const [{ journal_mode: mode }] = await db.client.raw('pragma journal_mode')
        assert.equal(mode, 'wal')
      }
    })

    test('a counter survives requests', async ({ assert }) => {
      const client = browser()
      const visits = []
      for (let i = 0; i < 3; i++) {
        const { body } = await client.get('/counter')
        visits.push(body.visits)
      }
      assert.deepEqual(visits, [1, 2, 3])
      const row = await rowOf(sessionIdOf(client.cookies.get(COOKIE)))
      assert.isDefined(row)
    })

    test('signing in regenerates the id, keeps the data and flashes once', async ({ assert }) => {
      const client = browser()
      await client.get('/counter')
      await client.get('/counter')
      const before = sessionIdOf(client.cookies.get(COOKIE))

      await client.post('/sign-in')
      const after = sessionIdOf(client.cookies.get(COOKIE))
      const first = await client.get('/me')
      const second = await client.get('/me')

      assert.isDefined(after)
      assert.notEqual(after, before)
      assert.isUndefined(await rowOf(before))
      assert.isDefined(await rowOf(after))
      assert.deepEqual(first.body, { userId: 42, notice: 'Welcome back', visits: 2 })
      assert.deepEqual(second.body, { userId: 42, notice: null, visits: 2 })
    })

    test('signing out removes the row', async ({ assert }) => {
      const client = browser()
      await client.post('/sign-in')
      const id = sessionIdOf(client.cookies.get(COOKIE))
      assert.isDefined(await rowOf(id))

      await client.post('/sign-out')
      const { body } = await client.get('/me')

      assert.isUndefined(await rowOf(id))
      assert.deepEqual(body, { userId: null, notice: null, visits: 0 })
    })

    test('a tampered cookie gets no session and leaves the real one alone', async ({ assert }) => {
      const client = browser()
      await client.post('/sign-in')
      const cookie = client.cookies.get(COOKIE)!
      const forger = browser()
      // One character of the signed id changed: the signature no longer matches
      const index = cookie.indexOf('.') - 5
      const flipped = cookie[index] === 'A' ? 'B' : 'A'
      forger.cookies.set(COOKIE, cookie.slice(0, index) + flipped + cookie.slice(index + 1))

      const forged = await forger.get('/me')
      const genuine = await client.get('/me')

      assert.equal(forged.status, 200)
      assert.equal(forged.body.userId, null)
      assert.equal(genuine.body.userId, 42)
    })

    test('an expired session is not served', async ({ assert }) => {
      const client = browser()
      await client.post('/sign-in')
      const id = sessionIdOf(client.cookies.get(COOKIE))
      const row = await rowOf(id)
      assert.isAbove(toMillis(row.expires_at), Date.now())

      // The row's idle expiry moved into the past, as if the user had left
      const past = Date.now() - 60_000
      await db
        .client(TABLE)
        .where('id', sha256(id!))
        .update({ expires_at: dialect.name === 'sqlite' ? past : new Date(past) })
      const { body } = await client.get('/me')

      assert.deepEqual(body, { userId: null, notice: null, visits: 0 })
    })

    test('the table holds hashed ids and ciphertext only', async ({ assert }) => {
      const marker = `PLAINTEXT-MARKER-${dialect.name}-${Date.now()}`
      const client = browser()
      await client.post(`/secret?value=${marker}`)
      const id = sessionIdOf(client.cookies.get(COOKIE))!

      const rows = await db.client(TABLE).select('*')
      assert.isDefined(rows.find((row) => row.id === sha256(id)))
      for (const row of rows) {
        assert.match(row.id, /^[0-9a-f]{64}$/)
        const data = Buffer.from(row.data)
        for (const needle of [marker, id]) {
          assert.equal(data.indexOf(needle), -1)
          assert.equal(data.indexOf(Buffer.from(needle).toString('base64')), -1)
          assert.notInclude(JSON.stringify({ ...row, data: null }), needle)
        }
      }
      assert.notInclude(server.output(), id)
      assert.notInclude(server.output(), marker)
    })

    test('the sessions:* commands registered by configure work in the app', async ({ assert }) => {
      const client = browser()
      await client.post('/sign-in')
      const id = sessionIdOf(client.cookies.get(COOKIE))!

      const stats = JSON.parse(await runAce(['sessions:stats', '--json']))
      assert.isAtLeast(stats.total, 1)
      assert.isAtLeast(stats.live, 1)
      const trim = JSON.parse(await runAce(['sessions:trim', '--dry-run', '--json']))
      assert.equal(trim.deleted, 0)

      const revoke = await runAce(['sessions:revoke', '--all', '--force'])
      const { body } = await client.get('/me')
      assert.notInclude(revoke, id)
      const [{ total }] = await db.client(TABLE).count('* as total')
      assert.equal(Number(total), 0)
      assert.deepEqual(body, { userId: null, notice: null, visits: 0 })
    }).timeout(60_000) // three ace commands, each booting the app: 18-29 s on a loaded machine
  })
}
