import { test } from '@japa/runner'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import { enabledDialects } from './helpers/dialects.ts'
import { createTestApp } from './helpers/app.ts'

/**
 * Collects what would end the process (an unhandled rejection) and the
 * process warnings raised while `run` goes on, then lets a few turns of the
 * event loop pass so that rejected listeners have settled.
 */
async function watchProcess(run: () => Promise<void>) {
  const unhandled: unknown[] = []
  const warnings: Error[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  const onWarning = (warning: Error) => warnings.push(warning)
  process.on('unhandledRejection', onUnhandled)
  process.on('warning', onWarning)
  try {
    await run()
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', onUnhandled)
    process.off('warning', onWarning)
  }
  return { unhandled, warnings }
}

for (const dialect of enabledDialects()) {
  test.group(`failing event listeners [${dialect.label}]`, () => {
    test('a listener that throws or rejects fails neither the request nor the process; the app logger reports it', async ({
      assert,
      cleanup,
    }) => {
      const lines: string[] = []
      const logger = new LoggerFactory()
        .merge({ enabled: true, level: 'trace' })
        .pushLogsTo(lines)
        .create()
      const t = await createTestApp(dialect, { logger })
      cleanup(() => t.cleanup())
      t.emitter.on('stored_session:write', () => {
        throw new Error('listener threw')
      })
      t.emitter.on('stored_session:read', async () => {
        await Promise.resolve()
        throw new Error('listener rejected')
      })
      t.app.handler = (ctx) => {
        ctx.session.increment('visits')
        return { visits: ctx.session.get('visits') }
      }
      const client = t.app.client()
      const responses: unknown[] = []

      const { unhandled, warnings } = await watchProcess(async () => {
        for (let request = 0; request < 2; request++) {
          const { body } = await client.get()
          responses.push(body)
        }
      })

      assert.deepEqual(responses, [{ visits: 1 }, { visits: 2 }])
      assert.deepEqual(unhandled, [])
      assert.deepEqual(warnings, [])
      const logged = lines.map((line) => JSON.parse(line))
      const failures = logged.filter((entry) => entry.msg?.includes('failed; the session'))
      assert.sameMembers(
        failures.map((entry) => `${entry.event}: ${entry.err.message}`),
        [
          'stored_session:write: listener threw',
          'stored_session:read: listener rejected',
          'stored_session:write: listener threw',
          'stored_session:read: listener rejected',
        ]
      )
      assert.isTrue(failures.every((entry) => entry.level === 50))
    })

    test('without an app logger, a failing listener is a process warning', async ({
      assert,
      cleanup,
    }) => {
      const t = await createTestApp(dialect)
      cleanup(() => t.cleanup())
      t.emitter.on('stored_session:write', async () => {
        throw new Error('listener rejected')
      })
      t.app.handler = (ctx) => {
        ctx.session.put('user', 1)
        return 'ok'
      }
      let status = 0
      const { unhandled, warnings } = await watchProcess(async () => {
        const response = await t.app.client().get()
        status = response.status
      })

      assert.equal(status, 200)
      assert.deepEqual(unhandled, [])
      assert.deepEqual(
        warnings.map((warning) => [(warning as any).code, warning.message]),
        [
          [
            'STORED_SESSION_LISTENER_FAILED',
            'A listener of "stored_session:write" failed; the session operation went on',
          ],
        ]
      )
      assert.equal((warnings[0] as any).detail, 'Error: listener rejected')
      assert.lengthOf(await t.db.from(t.table).select('id'), 1)
    })
  })
}
