import { test } from '@japa/runner'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import { E_SESSION_STORE_UNAVAILABLE, StoreDriverError } from '../src/errors.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { guardStatements } from '../src/request/failsafe.ts'

for (const dialect of enabledDialects()) {
  test.group(`error causes [${dialect.label}]`, () => {
    test('an app logging E_SESSION_STORE_UNAVAILABLE with pino prints no statement and no binding', async ({
      assert,
      cleanup,
    }) => {
      let failure: E_SESSION_STORE_UNAVAILABLE | undefined
      const t = await createTestApp(dialect, {
        config: {
          onError: (error) => {
            failure = error
            return 'raise'
          },
        },
      })
      cleanup(() => t.cleanup())
      // every write of a new session now fails, binding the hash, the sealed
      // payload, the IP and the user agent
      await t.db.connection().schema.alterTable(t.table, (table) => table.dropColumn('user_agent'))
      let sessionId = ''
      t.app.handler = (ctx) => {
        sessionId = ctx.session.sessionId
        ctx.session.put('secret', 'payload-marker')
        return 'ok'
      }
      const userAgent = 'user-agent-marker/1.0'
      const response = await t.app.client().get('/', { 'user-agent': userAgent })

      const lines: string[] = []
      const logger = new LoggerFactory()
        .merge({ enabled: true, level: 'trace' })
        .pushLogsTo(lines)
        .create()
      logger.error({ err: failure }, 'session store failed')
      const output = lines.join('\n')

      assert.equal(response.status, 503)
      assert.instanceOf(failure, E_SESSION_STORE_UNAVAILABLE)
      assert.include(failure, { operation: 'write', reason: 'query' })
      // the driver's class and code survive
      const cause = failure!.cause as StoreDriverError
      assert.instanceOf(cause, StoreDriverError)
      assert.oneOf(cause.name, ['SqliteError', 'DatabaseError', 'Error'])
      assert.isString(cause.code)
      assert.include(output, cause.code!)
      assert.include(output, cause.name)
      // nothing of the statement or its values
      for (const secret of [
        hashSessionId(sessionId),
        sessionId,
        userAgent,
        '127.0.0.1',
        'insert into',
        'values (',
        t.table,
      ]) {
        assert.notInclude(output, secret)
      }
    })

    test('a binding shaped like a stack frame does not reach the cause through its stack', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      // knex interpolates bindings into the message before V8 formats the
      // stack, so the stack's first lines quote them; a value with a line
      // break must not pass for one of its frames
      const marker = 'binding-marker'
      const value = `x\n    at ${marker} (/app/secret.js:1:1)`
      const failure = await guardStatements('revoke', () =>
        t.db.rawQuery('select id from stored_sessions_missing_table where id = ?', [value])
      ).catch((error) => error)

      assert.instanceOf(failure, E_SESSION_STORE_UNAVAILABLE)
      const cause = failure.cause as StoreDriverError
      assert.instanceOf(cause, StoreDriverError)
      assert.match(cause.stack!, /\n\s+at /)
      assert.notInclude(cause.stack!, marker)
      assert.notInclude(cause.stack!, 'stored_sessions_missing_table')
    })
  })
}
