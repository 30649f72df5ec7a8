import { test } from '@japa/runner'
import { DateTime } from 'luxon'
import { BaseModel } from '@adonisjs/lucid/orm'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import { StoredSession } from '../src/models/stored_session.ts'
import { hashSessionId } from '../src/request/session_id.ts'

for (const dialect of enabledDialects()) {
  test.group(`StoredSession model [${dialect.label}]`, () => {
    test('application queries see rows with typed columns', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      BaseModel.useAdapter(t.db.modelAdapter())
      const { table, connection } = StoredSession
      StoredSession.table = t.table
      StoredSession.connection = t.db.primaryConnectionName
      cleanup(() => {
        StoredSession.table = table
        StoredSession.connection = connection
      })

      let sessionId = ''
      t.app.handler = (ctx) => {
        ctx.session.put('auth_web', 12)
        sessionId = ctx.session.sessionId
        return 'ok'
      }
      await t.app.client().get('/', { 'user-agent': 'Model/1' })

      const rows = await StoredSession.query().where('user_id', '12')
      assert.lengthOf(rows, 1)
      const [row] = rows
      assert.equal(row.id, hashSessionId(sessionId))
      assert.equal(row.userId, '12')
      assert.equal(row.userAgent, 'Model/1')
      assert.isAbove(row.version, 0)
      assert.isTrue(DateTime.isDateTime(row.createdAt))
      assert.equal(row.createdAt.toMillis(), t.clock.now())
      assert.equal(row.expiresAt.toMillis(), t.clock.now() + 2 * 3600 * 1000)
      assert.notProperty(row.serialize(), 'data')
    })
  })
}
