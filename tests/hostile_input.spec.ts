import { test } from '@japa/runner'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'

/**
 * Input an anonymous client controls never makes a request fail: it is
 * stored in a form the table and the codec accept, or not at all.
 */
for (const dialect of enabledDialects()) {
  test.group(`hostile input [${dialect.name}]`, () => {
    test('an X-Forwarded-For that is not an IP address records a null IP and the write succeeds', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        ctx.session.increment('visits')
        return { visits: ctx.session.get('visits') }
      }
      // loopback is a trusted proxy by default, so the header is believed
      const forged = ['x'.repeat(300), `fe80::1%${'a'.repeat(100)}`, '999.1.1.1', '<script>']
      const client = t.app.client()
      const responses = []
      const ips = []
      for (const value of forged) {
        responses.push(await client.get('/', { 'x-forwarded-for': value }))
        const [row] = await t.db.from(t.table).select('ip_address')
        ips.push(row.ip_address)
      }

      assert.deepEqual(
        responses.map((response) => response.status),
        [200, 200, 200, 200]
      )
      assert.deepEqual(responses.at(-1)!.body, { visits: 4 })
      assert.deepEqual(ips, [null, null, null, null])
    })

    test('a forwarded IP address is recorded as is', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => {
        ctx.session.increment('visits')
        return 'ok'
      }
      const client = t.app.client()
      await client.get('/', { 'x-forwarded-for': '2001:db8::7' })
      const [v6] = await t.db.from(t.table).select('ip_address')
      await client.get('/', { 'x-forwarded-for': '203.0.113.7' })
      const [v4] = await t.db.from(t.table).select('ip_address')

      assert.equal(v6.ip_address, '2001:db8::7')
      assert.equal(v4.ip_address, '203.0.113.7')
    })
  })
}
