import { test } from '@japa/runner'
import vine from '@vinejs/vine'
import { ExceptionHandler, type HttpContext } from '@adonisjs/core/http'
import { BodyParserMiddlewareFactory } from '@adonisjs/core/factories/bodyparser'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'
import type { StoredSessionConfig } from '../src/types.ts'
import { FLASHED_INPUT_DEPTH } from '../src/request/flashed_input.ts'

const signUp = vine.compile(
  vine.object({ email: vine.string().email(), name: vine.string().maxLength(100) })
)

/**
 * An app with a sign-up form, as an AdonisJS app has it: the body parser,
 * a VineJS validator, and the framework's exception handler, which for a
 * validation error flashes the errors and the input (all of it but
 * passwords) and redirects back. GET shows what the form would: the flash
 * messages. `/own` puts the app's own value.
 */
async function formApp(dialect: Parameters<typeof createTestApp>[0], config?: StoredSessionConfig) {
  const t = await createTestApp(dialect, { config })
  const bodyparser = new BodyParserMiddlewareFactory().create()
  const handler = new ExceptionHandler()
  t.app.handler = async (ctx: HttpContext) => {
    if (ctx.request.method() === 'GET') {
      return { flash: ctx.session.flashMessages.all(), own: ctx.session.get('own') ?? null }
    }
    await bodyparser.handle(ctx, async () => {
      try {
        if (ctx.request.url() === '/own') ctx.session.put('own', ctx.request.input('value'))
        else await signUp.validate(ctx.request.all())
        ctx.response.send('saved')
      } catch (error) {
        await handler.handle(error, ctx)
      }
    })
  }
  return t
}

/** What a browser's form post of this JSON would send. */
function body(fields: Record<string, unknown>) {
  return JSON.stringify(fields)
}

/**
 * Input an anonymous client controls never makes a request fail: it is
 * stored in a form the table and the codec accept, or not at all.
 */
for (const dialect of enabledDialects()) {
  test.group(`hostile input [${dialect.label}]`, () => {
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

    test('flashed input with lone surrogates is stored well-formed; the redirect carries the errors', async ({
      assert,
      cleanup,
    }) => {
      const t = await formApp(dialect)
      cleanup(() => t.cleanup())
      const client = t.app.client()
      // JSON escapes a lone surrogate; JSON.parse gives it back as is
      const posted = await client.post(
        '/signup',
        '{"email":"nope","name":"Ada \\ud800","\\udc00key":["x\\udbff"],"password":"secret"}',
        { referer: '/signup' }
      )
      const form = await client.get('/signup')

      assert.equal(posted.status, 302)
      assert.equal(posted.location, '/signup')
      assert.deepEqual(form.body.flash.name, 'Ada \ufffd')
      assert.deepEqual(form.body.flash['\ufffdkey'], ['x\ufffd'])
      assert.equal(form.body.flash.email, 'nope')
      assert.notProperty(form.body.flash, 'password')
      assert.property(form.body.flash.inputErrorsBag, 'email')
      assert.property(form.body.flash.errorsBag, 'E_VALIDATION_ERROR')
    })

    test('flashed input nested deeper than the codec allows is cut, not refused', async ({
      assert,
      cleanup,
    }) => {
      const t = await formApp(dialect)
      cleanup(() => t.cleanup())
      const client = t.app.client()
      const deep = '{"a":'.repeat(200) + '1' + '}'.repeat(200)
      const posted = await client.post('/signup', `{"email":"nope","name":"Ada","deep":${deep}}`)
      const form = await client.get('/signup')

      assert.equal(posted.status, 302)
      let levels = 0
      for (let node = form.body.flash.deep; node && typeof node === 'object'; node = node.a) {
        levels++
      }
      assert.equal(levels, FLASHED_INPUT_DEPTH)
      assert.equal(form.body.flash.name, 'Ada')
      assert.property(form.body.flash.inputErrorsBag, 'email')
    })

    test("flashed input that would overflow the session is dropped first; the errors and the app's values stay", async ({
      assert,
      cleanup,
    }) => {
      const t = await formApp(dialect, { maxPayloadSize: 4096 })
      cleanup(() => t.cleanup())
      const client = t.app.client()
      await client.post('/own', body({ value: 'kept' }))
      const posted = await client.post('/signup', body({ email: 'nope', bio: 'x'.repeat(10_000) }))
      const form = await client.get('/signup')
      const rows = await t.db.from(t.table).select('id')

      assert.equal(posted.status, 302)
      assert.notProperty(form.body.flash, 'bio')
      assert.notProperty(form.body.flash, 'email')
      assert.property(form.body.flash.inputErrorsBag, 'email')
      assert.property(form.body.flash.errorsBag, 'E_VALIDATION_ERROR')
      assert.equal(form.body.own, 'kept')
      assert.lengthOf(rows, 1)
    })

    test('flashed input of more keys than a 16-bit map holds is stored; the redirect carries the errors', async ({
      assert,
      cleanup,
    }) => {
      const t = await formApp(dialect)
      cleanup(() => t.cleanup())
      const client = t.app.client()
      const big: Record<string, number> = {}
      for (let index = 0; index < 65_536; index++) big[index.toString(36)] = 0
      const posted = await client.post('/signup', body({ email: 'nope', name: 'Ada', big }), {
        referer: '/signup',
      })
      const form = await client.get('/signup')

      assert.equal(posted.status, 302)
      assert.equal(posted.location, '/signup')
      assert.lengthOf(Object.keys(form.body.flash.big), 65_536)
      assert.equal(form.body.flash.name, 'Ada')
      assert.property(form.body.flash.inputErrorsBag, 'email')
    })

    test("flashed input merged into a session another request grew meanwhile is dropped before it overflows; the errors and the other request's value stay", async ({
      assert,
      cleanup,
    }) => {
      const t = await formApp(dialect, { maxPayloadSize: 4096 })
      cleanup(() => t.cleanup())
      const form = t.app.handler!
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      let reading!: () => void
      const read = new Promise<void>((resolve) => (reading = resolve))
      // the sign-up holds its session, read before /own grows it, until /own is done
      t.app.handler = async (ctx) => {
        if (ctx.request.url() === '/signup' && ctx.request.method() === 'POST') {
          reading()
          await gate
        }
        return form(ctx)
      }
      const client = t.app.client()
      await client.post('/own', body({ value: 'a' }))
      const signup = client.post('/signup', body({ email: 'nope', bio: 'x'.repeat(3000) }), {
        referer: '/signup',
      })
      await read
      const own = await client.post('/own', body({ value: 'y'.repeat(3000) }))
      release()
      const posted = await signup
      const page = await client.get('/signup')

      assert.equal(own.status, 200)
      assert.equal(posted.status, 302)
      assert.notProperty(page.body.flash, 'bio')
      assert.property(page.body.flash.inputErrorsBag, 'email')
      assert.equal(page.body.own, 'y'.repeat(3000))
    })

    test('values the app itself puts keep the strict typed errors', async ({ assert, cleanup }) => {
      const t = await formApp(dialect, { maxPayloadSize: 4096 })
      cleanup(() => t.cleanup())
      const client = t.app.client()
      const surrogate = await client.post('/own', '{"value":"\\ud800"}', {
        accept: 'application/json',
      })
      const large = await client.post('/own', body({ value: 'x'.repeat(10_000) }), {
        accept: 'application/json',
      })

      assert.equal(surrogate.status, 500)
      assert.equal(surrogate.body.code, 'E_SESSION_UNSERIALIZABLE')
      assert.equal(large.status, 500)
      assert.equal(large.body.code, 'E_SESSION_OVERFLOW')
    })
  })
}
