import { test } from '@japa/runner'
import diagnosticsChannel from 'node:diagnostics_channel'
import { enabledDialects } from './helpers/dialects.ts'
import { MINUTE, createTestApp } from './helpers/app.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import { tracingChannels, type StoredSessionTraceContext } from '../src/request/tracing.ts'

type Seen = { channel: string; phase: string; context: StoredSessionTraceContext & { error?: any } }

/**
 * Subscribes to the four channels by name, as an APM agent would, and
 * records every event.
 */
function subscribeAll() {
  const seen: Seen[] = []
  const subscriptions = (['read', 'write', 'touch', 'destroy'] as const).map((operation) => {
    const channel = diagnosticsChannel.tracingChannel(`stored-session:${operation}`)
    const record = (phase: string) => (context: any) =>
      void seen.push({ channel: operation, phase, context })
    const handlers = {
      start: record('start'),
      end: record('end'),
      asyncStart: record('asyncStart'),
      asyncEnd: record('asyncEnd'),
      error: record('error'),
    }
    channel.subscribe(handlers)
    return () => channel.unsubscribe(handlers)
  })
  return { seen, unsubscribe: () => subscriptions.forEach((unsubscribe) => unsubscribe()) }
}

for (const dialect of enabledDialects()) {
  test.group(`tracing channels [${dialect.label}]`, () => {
    test('a subscriber sees each operation start and end, with the hashed id only', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      let sessionId = ''
      t.app.handler = (ctx) => {
        sessionId = ctx.session.sessionId
        if (ctx.request.url() === '/logout') ctx.session.clear()
        else ctx.session.put('user', 7)
      }
      const client = t.app.client()
      await client.get('/login')

      const { seen, unsubscribe } = subscribeAll()
      cleanup(unsubscribe)
      await client.get('/login') // read, then a write of unchanged values: a touch
      t.clock.advance(7 * MINUTE)
      await client.get('/login')
      await client.get('/logout') // empty session: destroy

      const hashedId = hashSessionId(sessionId)
      const operations = seen.filter(({ phase }) => phase === 'start').map((e) => e.channel)
      assert.deepEqual(operations, ['read', 'write', 'read', 'write', 'read', 'destroy'])
      for (const operation of ['read', 'write', 'destroy']) {
        const phases = seen.filter((e) => e.channel === operation).map((e) => e.phase)
        assert.includeMembers(phases, ['start', 'end', 'asyncStart', 'asyncEnd'], operation)
      }
      for (const { context } of seen) {
        assert.equal(context.hashedId, hashedId)
        assert.notInclude(JSON.stringify(context), sessionId)
      }
    })

    test('a failing operation reaches the error event', async ({ assert, cleanup }) => {
      const t = await createTestApp(dialect, { config: { maxPayloadSize: 64 } })
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => ctx.session.put('big', 'x'.repeat(500))

      const { seen, unsubscribe } = subscribeAll()
      cleanup(unsubscribe)
      const response = await t.app.client().get('/')

      assert.equal(response.status, 500)
      const errors = seen.filter(({ phase }) => phase === 'error')
      assert.lengthOf(errors, 1)
      assert.equal(errors[0].channel, 'write')
      assert.equal(errors[0].context.error.code, 'E_SESSION_OVERFLOW')
    })

    test('without subscribers nothing is traced: no context, no wrapping promise', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.app.handler = (ctx) => ctx.session.put('user', 7)

      const channel = tracingChannels.read
      const tracePromise = channel.tracePromise
      let traced = 0
      channel.tracePromise = function (this: typeof channel, ...args: any[]) {
        traced++
        return (tracePromise as any).apply(this, args)
      } as typeof tracePromise
      cleanup(() => void (channel.tracePromise = tracePromise))

      const client = t.app.client()
      await client.get('/')
      assert.equal(traced, 0)

      const { unsubscribe } = subscribeAll()
      cleanup(unsubscribe)
      await client.get('/')
      assert.equal(traced, 1)
    })
  })
}
