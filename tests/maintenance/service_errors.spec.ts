import { test } from '@japa/runner'
import { MessageBuilder } from '@adonisjs/core/helpers'
import { enabledDialects } from '../helpers/dialects.ts'
import { HOUR } from '../helpers/app.ts'
import { E_SESSION_STORE_UNAVAILABLE } from '../../src/errors.ts'
import { hashSessionId } from '../../src/request/session_id.ts'
import { StoredSessions } from '../../src/users/user_sessions.ts'
import { trimSessions } from '../../src/maintenance/trim.ts'
import { revokeAllSessions, revokeUserSessions } from '../../src/maintenance/revoke.ts'
import { rotateSessionKey } from '../../src/maintenance/rotate_key.ts'
import { sessionStats } from '../../src/maintenance/stats.ts'
import { importDatabaseSessions } from '../../src/maintenance/import.ts'
import { setupStore } from './helpers.ts'

const USER = 'user-7f3a9c'
const SESSION_ID = 'a-browser-session-id-0042'

async function failure(work: Promise<unknown>): Promise<any> {
  try {
    await work
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

for (const dialect of enabledDialects()) {
  test.group(`services: a failing statement [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setupStore>>
    let away: string
    let source: string

    group.each.setup(async () => {
      t = await setupStore(dialect)
      away = `${t.table}_away`
      source = `${t.table}_src`
      // a source table of the built-in store whose row the import will try to copy
      await t.db.connection().schema.createTable(source, (table) => {
        table.string('id').primary()
        table.text('data')
        table.string('user_id').nullable()
        table.timestamp('expires_at')
      })
      await t.db
        .connection()
        .getWriteClient()(source)
        .insert({
          id: SESSION_ID,
          data: new MessageBuilder().build({ auth_web: USER }, undefined, SESSION_ID),
          user_id: USER,
          expires_at: new Date(t.clock.now() + HOUR),
        })
      // every statement on the sessions table now fails on the real server,
      // and the driver quotes it with its bindings
      await t.db.connection().schema.renameTable(t.table, away)
      return async () => {
        await t.db.connection().schema.dropTableIfExists(away)
        await t.db.connection().schema.dropTableIfExists(source)
        await t.cleanup()
      }
    })

    test('every StoredSessions and maintenance call raises E_SESSION_STORE_UNAVAILABLE naming itself', async ({
      assert,
    }) => {
      const sessions = new StoredSessions(t.context)
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['devices', () => sessions.devices(USER, SESSION_ID)],
        ['devices', () => sessions.count(USER)],
        ['revoke', () => sessions.revoke(USER, 'a-device-handle')],
        ['revoke', () => sessions.revokeOthers(USER, SESSION_ID)],
        ['revoke', () => sessions.revokeAll(USER)],
        ['revoke', () => revokeUserSessions(t.context, USER)],
        ['revoke', () => revokeAllSessions(t.context)],
        ['trim', () => trimSessions(t.context)],
        ['trim', () => trimSessions(t.context, { dryRun: true })],
        ['rotate', () => rotateSessionKey(t.context)],
        ['stats', () => sessionStats(t.context)],
        ['import', () => importDatabaseSessions(t.context, { from: source })],
        ['import', () => importDatabaseSessions(t.context, { from: `${t.table}_missing` })],
      ]

      for (const [operation, call] of calls) {
        const error = await failure(call())
        assert.instanceOf(error, E_SESSION_STORE_UNAVAILABLE, `${operation}: ${error?.message}`)
        assert.include(error, { operation, reason: 'query', status: 503 })
        assert.match(
          error.message,
          /^Session store is unavailable: the database rejected a statement/
        )
        for (const secret of [USER, SESSION_ID, hashSessionId(SESSION_ID), t.table]) {
          assert.notInclude(error.message, secret, operation)
        }
        assert.notMatch(error.message, /select|delete|insert|update/i)
      }
    })
  })
}
