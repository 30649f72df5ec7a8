import { test } from '@japa/runner'
import type {} from '@japa/file-system'
import { configProvider } from '@adonisjs/core'
import { AceFactory } from '@adonisjs/core/factories'
import type { StoredSessionContext } from '../../src/store_context.ts'
import { enabledDialects } from '../helpers/dialects.ts'
import { APP_KEYS, HOUR, makeKeyring } from '../helpers/app.ts'
import SessionsTrim from '../../commands/sessions_trim.ts'
import SessionsRotateKey from '../../commands/sessions_rotate_key.ts'
import SessionsStats from '../../commands/sessions_stats.ts'
import SessionsRevoke from '../../commands/sessions_revoke.ts'
import SessionsImport from '../../commands/sessions_import.ts'
import { contextOf } from '../../src/store_context.ts'
import { ProgressLine } from '../../src/maintenance/progress.ts'
import { rowId, setupStore } from './helpers.ts'

/**
 * An ace kernel of an app whose container holds the store's context, as
 * the package's provider binds it.
 */
async function aceWith(baseUrl: URL, context: StoredSessionContext) {
  const ace = await new AceFactory().make(baseUrl, { importer: () => {} })
  ace.ui.switchMode('raw')
  ace.app.container.singleton('stored_session.context', () => context)
  return ace
}

function stdout(command: { logger: any }) {
  return command.logger
    .getLogs()
    .filter((log: { stream: string }) => log.stream === 'stdout')
    .map((log: { message: string }) => log.message)
}

function jsonOf(command: { logger: any }) {
  const lines = stdout(command)
  return JSON.parse(lines[lines.length - 1])
}

for (const dialect of enabledDialects()) {
  test.group(`sessions:* commands [${dialect.label}]`, () => {
    test('sessions:trim deletes expired rows, prints a summary, and --json the numbers', async ({
      assert,
      cleanup,
      fs,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([
        ...Array.from({ length: 5 }, (_, n) => ({ id: rowId('a', n), expiresIn: -1 })),
        { id: rowId('b', 0), expiresIn: HOUR },
      ])
      const ace = await aceWith(fs.baseUrl, t.context)

      const dryRun = await ace.create(SessionsTrim, ['--dry-run'])
      await dryRun.exec()
      dryRun.assertSucceeded()
      dryRun.assertLogMatches(/Dry run: 5 expired sessions would be deleted/)
      assert.lengthOf(await t.rows(), 6)

      const trim = await ace.create(SessionsTrim, ['--batch-size=2'])
      await trim.exec()
      trim.assertSucceeded()
      trim.assertLogMatches(/Deleted 5 expired sessions in 3 batches \(.+, [\d,]+ rows\/s\)/)
      trim.assertLogMatches(/Trimming: 2 rows deleted in 1 batches/)
      assert.lengthOf(await t.rows(), 1)

      const json = await ace.create(SessionsTrim, ['--json'])
      await json.exec()
      json.assertSucceeded()
      assert.containsSubset(jsonOf(json), { dryRun: false, deleted: 0, batches: 0 })
    })

    test('a failing command exits non-zero with the reason', async ({ assert, cleanup, fs }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      const ace = await aceWith(fs.baseUrl, t.context)

      const trim = await ace.create(SessionsTrim, ['--batch-size=0'])
      await trim.exec()
      trim.assertFailed()
      trim.assertLogMatches(/E_INVALID_MAINTENANCE_OPTION.*batch size/, 'stderr')

      await t.db.connection().schema.dropTable(t.table)
      const stats = await ace.create(SessionsStats, [])
      await stats.exec()
      stats.assertFailed()
      stats.assertLogMatches(
        /\[E_SESSION_STORE_UNAVAILABLE\] Session store is unavailable: the database rejected a statement/,
        'stderr'
      )
      const printed = JSON.stringify(stats.logger.getLogs())
      assert.notInclude(printed, t.table)
      assert.notMatch(printed, /select/i)
    })

    test('sessions:rotate-key re-seals rows and reports unreadable ones', async ({
      assert,
      cleanup,
      fs,
    }) => {
      const t = await setupStore(dialect, {
        keyring: makeKeyring([APP_KEYS.current, APP_KEYS.previous]),
      })
      cleanup(() => t.cleanup())
      const old = contextOf(t.storeFor(makeKeyring([APP_KEYS.previous])))!.codec
      const packed = old.pack({ kept: true })
      await t.seed([
        { id: rowId('a', 1), expiresIn: HOUR, data: old.seal(packed, rowId('a', 1)) },
        { id: rowId('a', 2), expiresIn: HOUR, data: Buffer.from('garbage') },
      ])
      const ace = await aceWith(fs.baseUrl, t.context)

      const rotate = await ace.create(SessionsRotateKey, [])
      await rotate.exec()
      rotate.assertSucceeded()
      rotate.assertLogMatches(/Re-encrypted 1 sessions with the first key/)
      rotate.assertLogMatches(/1 sessions cannot be decrypted.*--purge-unreadable/)

      ace.ui.logger.flushLogs()
      const purge = await ace.create(SessionsRotateKey, ['--purge-unreadable', '--json'])
      await purge.exec()
      purge.assertSucceeded()
      // the row the first run re-sealed is left alone
      assert.containsSubset(jsonOf(purge), { rotated: 0, skipped: 1, unreadable: 1, purged: 1 })
      // under --json, progress goes to stderr: stdout is the JSON alone
      assert.lengthOf(stdout(purge), 1)
      purge.assertLogMatches(/Rotating: 2 rows done \(1 unreadable\)/, 'stderr')
      assert.deepEqual(await t.rows(), [{ id: rowId('a', 1), version: 1 }])
    })

    test('sessions:stats prints a table, and --json the numbers', async ({
      assert,
      cleanup,
      fs,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([
        { id: rowId('a', 1), expiresIn: HOUR, userId: '9' },
        { id: rowId('a', 2), expiresIn: -HOUR },
      ])
      const ace = await aceWith(fs.baseUrl, t.context)

      const table = await ace.create(SessionsStats, [])
      await table.exec()
      table.assertSucceeded()
      table.assertLogMatches(/Expired, awaiting trim/)

      const json = await ace.create(SessionsStats, ['--json'])
      await json.exec()
      assert.containsSubset(jsonOf(json), { total: 2, live: 1, expired: 1, distinctUsers: 1 })

      const exact = await ace.create(SessionsStats, ['--json', '--exact'])
      await exact.exec()
      exact.assertSucceeded()
      assert.containsSubset(jsonOf(exact), { total: 2, estimated: [], sampledRows: null })
    })

    test('sessions:revoke --user and --all (confirmed, refused, forced)', async ({
      assert,
      cleanup,
      fs,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([
        { id: rowId('a', 1), expiresIn: HOUR, userId: '9' },
        { id: rowId('a', 2), expiresIn: HOUR, userId: '9' },
        { id: rowId('a', 3), expiresIn: HOUR, userId: '10' },
        { id: rowId('a', 4), expiresIn: HOUR },
      ])
      const ace = await aceWith(fs.baseUrl, t.context)

      const user = await ace.create(SessionsRevoke, ['--user=9'])
      await user.exec()
      user.assertSucceeded()
      user.assertLogMatches(/Revoked 2 sessions of user 9/)

      const neither = await ace.create(SessionsRevoke, [])
      await neither.exec()
      neither.assertFailed()

      if (process.stdin.isTTY !== true) {
        const unattended = await ace.create(SessionsRevoke, ['--all'])
        await unattended.exec()
        unattended.assertFailed()
        unattended.assertLogMatches(/without a terminal; pass --force/, 'stderr')
      }

      const refused = await ace.create(SessionsRevoke, ['--all'])
      refused.prompt.trap('Sign out every user by deleting every session?').reject()
      await refused.exec()
      refused.assertFailed()
      refused.assertLogMatches(/not confirmed; nothing was revoked/, 'stderr')
      assert.lengthOf(await t.rows(), 2)

      const confirmed = await ace.create(SessionsRevoke, ['--all'])
      confirmed.prompt.trap('Sign out every user by deleting every session?').accept()
      await confirmed.exec()
      confirmed.assertSucceeded()
      confirmed.assertLogMatches(/Revoked 2 sessions: everybody is signed out/)

      await t.seed([{ id: rowId('b', 1), expiresIn: HOUR }])
      const forced = await ace.create(SessionsRevoke, ['--all', '--force', '--json'])
      await forced.exec()
      assert.containsSubset(jsonOf(forced), { scope: 'all', deleted: 1 })
      assert.lengthOf(await t.rows(), 0)
    })

    test('sessions:import reports copied, skipped, expired and invalid rows', async ({
      assert,
      cleanup,
      fs,
    }) => {
      const t = await setupStore(dialect)
      const source = `${t.table}_src`
      cleanup(async () => {
        await t.db.connection().schema.dropTableIfExists(source)
        await t.cleanup()
      })
      await t.db.connection().schema.createTable(source, (builder) => {
        builder.string('id').primary()
        builder.text('data').notNullable()
        builder.string('user_id').nullable()
        builder.timestamp('expires_at').notNullable()
      })
      const expiresAt = new Date(t.clock.now() + HOUR)
      await t.db
        .connection()
        .getWriteClient()(source)
        .insert([
          {
            id: 'a-session-id-000000001',
            data: JSON.stringify({ message: { a: 1 }, purpose: 'a-session-id-000000001' }),
            expires_at: expiresAt,
          },
          { id: 'a-session-id-000000002', data: 'nope', expires_at: expiresAt },
        ])
      const ace = await aceWith(fs.baseUrl, t.context)

      const first = await ace.create(SessionsImport, [`--from=${source}`])
      await first.exec()
      first.assertSucceeded()
      first.assertLogMatches(/Copied 1 sessions from/)
      first.assertLogMatches(
        /Refreshed 0, skipped 0 unchanged, 0 deleted here since \(not copied again\), 0 removed \(gone from the source\), 0 expired, 1 invalid/
      )

      const again = await ace.create(SessionsImport, [`--from=${source}`, '--json'])
      await again.exec()
      assert.containsSubset(jsonOf(again), { copied: 0, skipped: 1, invalid: 1 })
    })

    test('--store picks a store when several use storedSession()', async ({
      assert,
      cleanup,
      fs,
    }) => {
      const t = await setupStore(dialect)
      cleanup(() => t.cleanup())
      await t.seed([{ id: rowId('a', 1), expiresIn: -1 }])
      const ace = await new AceFactory().make(fs.baseUrl, { importer: () => {} })
      ace.ui.switchMode('raw')
      await ace.app.boot()
      const other = t.storeFor(makeKeyring())
      ace.app.config.set(
        'session',
        configProvider.create(async () => ({
          store: 'cookie',
          stores: { cookie: () => null, main: t.factory, other },
        }))
      )

      const ambiguous = await ace.create(SessionsTrim, ['--store=nope'])
      await ambiguous.exec()
      ambiguous.assertFailed()
      ambiguous.assertLogMatches(/no store named "nope" uses storedSession\(\)/, 'stderr')

      const named = await ace.create(SessionsTrim, ['--store=main', '--json'])
      await named.exec()
      named.assertSucceeded()
      assert.equal(jsonOf(named).deleted, 1)
    })
  })
}

test.group('progress line', () => {
  test('prints plain lines at most once per interval when not on a terminal', ({ assert }) => {
    const logs: string[] = []
    const logger = {
      log: (message: string) => logs.push(`out: ${message}`),
      logError: (message: string) => logs.push(`err: ${message}`),
      logUpdate: (message: string) => logs.push(`update: ${message}`),
      logUpdatePersist: () => logs.push('persist'),
    }
    let now = 0
    const plain = new ProgressLine(logger, { interactive: false, intervalMs: 1000, now: () => now })
    plain.update('a')
    now = 999
    plain.update('b')
    now = 1000
    plain.update('c')
    plain.done()
    assert.deepEqual(logs, ['out: a', 'out: c'])

    logs.length = 0
    const tty = new ProgressLine(logger, { interactive: true })
    tty.update('a')
    tty.update('b')
    tty.done()
    assert.deepEqual(logs, ['update: a', 'update: b', 'persist'])

    logs.length = 0
    const json = new ProgressLine(logger, { interactive: true, toStderr: true })
    json.update('a')
    assert.deepEqual(logs, ['err: a'])
  })
})
