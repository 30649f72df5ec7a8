import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'

for (const dialect of enabledDialects()) {
  test.group(`smoke [${dialect.name}]`, () => {
    test('counter survives requests', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        ctx.session.increment('visits')
        return { visits: ctx.session.get('visits') }
      }
      const client = t.app.client()
      const first = await client.get()
      const second = await client.get()
      assert.deepEqual(first.body, { visits: 1 })
      assert.deepEqual(second.body, { visits: 2 })
    })
  })
}
