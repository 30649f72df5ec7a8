import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { copyFreshApp, runConfigure, snapshot } from './helpers/fresh_app.ts'

/**
 * Configure's edits to an app's files. They do not touch a database; the
 * connection each dialect's group names decides the WAL advice (SQLite
 * only) and is written into the store's config. The e2e suite runs the
 * result on each database.
 */
for (const dialect of enabledDialects()) {
  test.group(`configure [${dialect.label}]`, () => {
    test('makes a fresh app use the stored store', async ({ assert, cleanup }) => {
      const app = await copyFreshApp()
      cleanup(() => app.remove())

      const { command, output } = await runConfigure(app.url, [
        `--connection=${dialect.name}`,
        '--table=user_sessions',
      ])
      assert.equal(command.exitCode, 0)

      const files = await app.migrations()
      const migrations = files.filter((name) => name.endsWith('.ts'))
      assert.lengthOf(migrations, 1)
      assert.match(migrations[0], /^\d{13}_create_user_sessions_table\.ts$/)
      const migration = await app.read(`database/migrations/${migrations[0]}`)
      assert.include(migration, `protected tableName = 'user_sessions'`)

      const session = await app.read('config/session.ts')
      assert.include(session, `import { storedSession } from 'stored-session'`)
      assert.include(
        session,
        `stored: storedSession({ connection: '${dialect.name}', table: 'user_sessions' })`
      )
      assert.include(session, 'cookie: stores.cookie()')

      const env = await app.read('start/env.ts')
      assert.include(
        env,
        `SESSION_DRIVER: Env.schema.enum(['cookie', 'memory', 'stored'] as const)`
      )

      const rc = await app.read('adonisrc.ts')
      assert.include(rc, `() => import('stored-session/stored_session_provider')`)
      assert.include(rc, `() => import('stored-session/commands')`)

      assert.include(output, 'stored-session configured: 4 change(s)')
      assert.include(output, 'SESSION_DRIVER=stored')
      assert.include(output, 'node ace migration:run')
      assert.notInclude(output, '--convert-times-from')
      if (dialect.name === 'sqlite') {
        assert.include(output, 'enable WAL')
      } else {
        assert.notInclude(output, 'WAL')
      }
    })

    test('a second run changes nothing and says so', async ({ assert, cleanup }) => {
      const app = await copyFreshApp()
      cleanup(() => app.remove())
      await runConfigure(app.url, [`--connection=${dialect.name}`])
      const before = await snapshot(app.root)

      const { command, output } = await runConfigure(app.url, [`--connection=${dialect.name}`])

      assert.equal(command.exitCode, 0)
      assert.deepEqual(await snapshot(app.root), before)
      assert.include(output, 'stored-session is already configured: nothing changed')
      assert.include(output, 'the migration is already published')
    })

    test('on an existing install it names --convert-times-from when the store is on MySQL', async ({
      assert,
      cleanup,
    }) => {
      const app = await copyFreshApp()
      cleanup(() => app.remove())
      const fresh = await runConfigure(app.url, [`--connection=${dialect.name}`])
      const existing = await runConfigure(app.url, [`--connection=${dialect.name}`])

      assert.notInclude(fresh.output, '--convert-times-from')
      if (dialect.name === 'mysql') {
        assert.include(existing.output, 're-run with --convert-times-from=<zone>')
        assert.include(existing.output, 'stored session times in the zone of the app process')
      } else {
        assert.notInclude(existing.output, '--convert-times-from')
      }
      const migrations = await app.migrations()
      assert.notMatch(migrations.join(), /_convert_/)
    }).timeout(120_000)
  })
}

test.group('configure', () => {
  test('--wal adds WAL pragmas to a SQLite connection, once', async ({ assert, cleanup }) => {
    const app = await copyFreshApp()
    cleanup(() => app.remove())

    const first = await runConfigure(app.url, ['--connection=sqlite', '--wal'])
    const database = await app.read('config/database.ts')
    const second = await runConfigure(app.url, ['--connection=sqlite', '--wal'])

    assert.include(first.output, 'enable WAL on the "sqlite" SQLite connection')
    assert.include(database, `connection.pragma('journal_mode = WAL')`)
    assert.equal(database.match(/journal_mode = WAL/g)?.length, 1)
    assert.equal(await app.read('config/database.ts'), database)
    assert.include(second.output, 'has its own pool.afterCreate hook')
    assert.include(second.output, 'nothing changed')
  })

  test('without --connection the store uses the primary connection', async ({
    assert,
    cleanup,
  }) => {
    const app = await copyFreshApp()
    cleanup(() => app.remove())
    await runConfigure(app.url)
    assert.include(
      await app.read('config/session.ts'),
      `stored: storedSession({ table: 'stored_sessions' })`
    )
    const migrations = await app.migrations()
    assert.match(migrations.join(), /_create_stored_sessions_table\.ts/)
  })

  test('an app configured before the location column gets a migration adding it, once', async ({
    assert,
    cleanup,
  }) => {
    const app = await copyFreshApp()
    cleanup(() => app.remove())
    await runConfigure(app.url)
    const fresh = await app.migrations()
    // an earlier install: its table migration has no location column
    const table = fresh.find((name) => name.endsWith('_create_stored_sessions_table.ts'))!
    const path = join(app.root, 'database/migrations', table)
    const contents = await readFile(path, 'utf8')
    await writeFile(path, contents.replace(/^.*'location'.*$/m, ''))
    await runConfigure(app.url)
    const upgraded = await app.migrations()
    const { output } = await runConfigure(app.url)
    const again = await app.migrations()

    assert.notMatch(fresh.join(), /_add_location_to_/)
    const added = upgraded.filter((name) =>
      /^\d{13}_add_location_to_stored_sessions_table\.ts$/.test(name)
    )
    assert.lengthOf(added, 1)
    assert.include(
      await app.read(`database/migrations/${added[0]}`),
      "hasColumn(this.tableName, 'location')"
    )
    assert.deepEqual(again, upgraded)
    assert.include(output, 'nothing changed')
  }).timeout(120_000)

  test('a missing @adonisjs/lucid is reported and nothing is written', async ({
    assert,
    cleanup,
  }) => {
    // Outside the repository, so only what we link resolves from the app
    const app = await copyFreshApp(tmpdir())
    cleanup(() => app.remove())
    await mkdir(join(app.root, 'node_modules/@adonisjs'), { recursive: true })
    await symlink(
      fileURLToPath(new URL('../node_modules/@adonisjs/session', import.meta.url)),
      join(app.root, 'node_modules/@adonisjs/session'),
      'dir'
    )
    const before = await snapshot(app.root)

    const { command, output } = await runConfigure(app.url)

    assert.equal(command.exitCode, 1)
    assert.include(output, 'stored-session needs @adonisjs/lucid')
    assert.include(output, 'node ace add @adonisjs/lucid')
    assert.notInclude(output, '@adonisjs/session.')
    assert.deepEqual(await snapshot(app.root), before)
  })

  test('an app it cannot edit is left untouched', async ({ assert, cleanup }) => {
    const app = await copyFreshApp()
    cleanup(() => app.remove())
    await writeFile(
      join(app.root, 'config/session.ts'),
      `import { defineConfig } from '@adonisjs/session'\nexport default defineConfig(buildConfig())\n`
    )
    const before = await snapshot(app.root)

    const { command, output } = await runConfigure(app.url)

    assert.equal(command.exitCode, 1)
    assert.include(output, 'has no "stores" object')
    assert.include(output, 'Nothing was changed')
    assert.deepEqual(await snapshot(app.root), before)
  })

  test('--convert-times-from publishes the conversion migration with its zone, once', async ({
    assert,
    cleanup,
  }) => {
    const app = await copyFreshApp()
    cleanup(() => app.remove())
    const flags = ['--connection=mysql', '--convert-times-from=America/New_York']

    const first = await runConfigure(app.url, flags)
    const published = await app.migrations()
    const second = await runConfigure(app.url, flags)
    const third = await runConfigure(app.url, ['--connection=mysql'])

    assert.equal(first.command.exitCode, 0)
    const [table] = published.filter((name) => name.endsWith('_create_stored_sessions_table.ts'))
    const converts = published.filter((name) =>
      /^\d{13}_convert_stored_sessions_times_to_utc\.ts$/.test(name)
    )
    assert.lengthOf(converts, 1)
    // after the table migration, so it runs on the table
    assert.isAbove(Number.parseInt(converts[0]), Number.parseInt(table))
    const migration = await app.read(`database/migrations/${converts[0]}`)
    assert.include(migration, `protected fromZone = 'America/New_York'`)
    assert.include(migration, `protected tableName = 'stored_sessions'`)
    assert.include(migration, `from 'stored-session/maintenance/convert_times'`)
    assert.include(first.output, `create database/migrations/${converts[0]}`)
    assert.deepEqual(await app.migrations(), published)
    assert.include(second.output, 'the time conversion migration is already published')
    assert.include(second.output, 'nothing changed')
    // published: no more advice
    assert.notInclude(third.output, '--convert-times-from')
  }).timeout(120_000)

  test('an unknown --convert-times-from zone is refused', async ({ assert, cleanup }) => {
    const app = await copyFreshApp()
    cleanup(() => app.remove())
    const before = await snapshot(app.root)

    const unknown = await runConfigure(app.url, ['--convert-times-from=Mars/Olympus_Mons'])
    const empty = await runConfigure(app.url, ['--convert-times-from'])

    for (const { command, output } of [unknown, empty]) {
      assert.equal(command.exitCode, 1)
      assert.include(output, 'needs the zone your app processes ran in')
      assert.include(output, 'Nothing was changed')
    }
    assert.include(unknown.output, '"Mars/Olympus_Mons"')
    assert.deepEqual(await snapshot(app.root), before)
  })

  test('an invalid --table is refused', async ({ assert, cleanup }) => {
    const app = await copyFreshApp()
    cleanup(() => app.remove())
    const before = await snapshot(app.root)

    const { command, output } = await runConfigure(app.url, ['--table=sessions;drop'])

    assert.equal(command.exitCode, 1)
    assert.include(output, '--table "sessions;drop" is not a plain SQL identifier')
    assert.deepEqual(await snapshot(app.root), before)
  })
})
