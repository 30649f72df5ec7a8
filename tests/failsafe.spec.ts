import { test } from '@japa/runner'
import { randomUUID } from 'node:crypto'
import { ExceptionHandler, type HttpContext } from '@adonisjs/core/http'
import { HttpContextFactory } from '@adonisjs/core/factories/http'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { FakeClock, makeKeyring, setupDatabase, uniqueTable } from './helpers/app.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { toStoreUnavailable } from '../src/request/failsafe.ts'
import { E_SESSION_STORE_UNAVAILABLE, StoreDriverError } from '../src/errors.ts'
import { hashSessionId } from '../src/request/session_id.ts'
import type { SessionStoreWithTaggingContract } from '@adonisjs/session/types'
import type { StoredSessionConfig, StoredSessionEvents } from '../src/types.ts'

/**
 * A store whose table is gone: every statement fails on the real server
 * with an error quoting the SQL and its bindings.
 */
async function brokenStore(dialect: Dialect, config: StoredSessionConfig = {}) {
  const table = uniqueTable()
  const { db, emitter } = await setupDatabase(dialect, table)
  const factory = createStoredSessionFactory(resolveConfig({ ...config, table }), {
    db,
    emitter,
    keyring: makeKeyring(),
    clock: new FakeClock().now,
  })
  const store = (ctx: HttpContext | null) =>
    factory(ctx as HttpContext, { age: '2 hours' } as any) as SessionStoreWithTaggingContract
  const working = () => store(new HttpContextFactory().create())
  const id = randomUUID()
  await working().write(id, { kept: true })
  await db.connection().schema.renameTable(table, `${table}_away`)
  const errors: StoredSessionEvents['stored_session:error'][] = []
  emitter.on('stored_session:error', (event) => void errors.push(event))
  return {
    id,
    table,
    errors,
    request: working,
    collection: () => store(null),
    async cleanup() {
      await db.connection().schema.dropTableIfExists(`${table}_away`)
      await db.manager.closeAll()
    },
  }
}

async function failure(work: unknown): Promise<any> {
  try {
    await work
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

/** The framework's own exception handler, in debug mode (the leakiest). */
class DebugHandler extends ExceptionHandler {
  debug = true
}

function httpContext(accept: string) {
  const ctx = new HttpContextFactory().create()
  ctx.request.request.headers.accept = accept
  const logs: unknown[] = []
  const record = (...args: unknown[]) => void logs.push(args)
  ctx.logger = { error: record, log: record, warn: record, info: record } as any
  return { ctx: ctx as HttpContext, logs }
}

for (const dialect of enabledDialects()) {
  test.group(`failsafe: a failing statement [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof brokenStore>>
    group.each.setup(async () => {
      t = await brokenStore(dialect)
      return () => t.cleanup()
    })

    test('becomes E_SESSION_STORE_UNAVAILABLE without SQL, bindings or the id', async ({
      assert,
    }) => {
      const error = await failure(t.request().read(t.id))
      assert.instanceOf(error, E_SESSION_STORE_UNAVAILABLE)
      assert.equal(error.status, 503)
      assert.include(error, { operation: 'read', reason: 'query' })
      assert.match(
        error.message,
        /^Session store is unavailable: the database rejected a statement/
      )
      // the cause keeps the driver's class and code, not its message quoting the statement
      assert.instanceOf(error.cause, StoreDriverError)
      assert.equal(error.cause.code, error.driverCode)
      assert.notEqual(error.cause.name, 'StoreDriverError')
      for (const secret of [t.table, hashSessionId(t.id), t.id, 'select']) {
        assert.notInclude(error.message, secret)
        assert.notInclude(error.cause.message, secret)
        assert.notInclude(error.cause.stack, secret)
      }
      assert.deepEqual(t.errors, [
        {
          hashedId: hashSessionId(t.id),
          operation: 'read',
          reason: 'query',
          driverCode: error.driverCode ?? null,
          outcome: 'raised',
        },
      ])
    })

    test('renders as a 503 and logs one line, neither showing the cause', async ({ assert }) => {
      const error = await failure(t.request().read(t.id))
      const handler = new DebugHandler()
      for (const accept of ['application/json', 'text/html', 'application/vnd.api+json']) {
        const { ctx, logs } = httpContext(accept)
        await handler.report(error, ctx)
        await handler.handle(error, ctx)
        const body = JSON.stringify(ctx.response.getBody())
        assert.equal(ctx.response.getStatus(), 503)
        assert.equal(ctx.response.getHeader('retry-after'), '5')
        assert.include(body, 'Session store is unavailable')
        assert.include(JSON.stringify(logs), 'E_SESSION_STORE_UNAVAILABLE')
        for (const text of [body, JSON.stringify(logs)]) {
          assert.notInclude(text, t.table)
          assert.notInclude(text, hashSessionId(t.id))
          assert.notInclude(text, 'stack')
        }
      }
    })

    test('a failed write raises the typed error for the write', async ({ assert }) => {
      const error = await failure(t.request().write(randomUUID(), { fresh: 1 }))
      assert.instanceOf(error, E_SESSION_STORE_UNAVAILABLE)
      assert.include(error, { operation: 'write', reason: 'query' })
    })
  })

  test.group(`failsafe: onError 'continue' [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof brokenStore>>
    group.each.setup(async () => {
      t = await brokenStore(dialect, { onError: 'continue' })
      return () => t.cleanup()
    })

    test('a failed read serves an empty session and nothing of the request is saved', async ({
      assert,
    }) => {
      const store = t.request()
      assert.isNull(await store.read(t.id))
      await store.write(t.id, { overwritten: true })
      await store.touch(t.id)
      await store.destroy(t.id)
      assert.deepEqual(
        t.errors.map((event) => [event.operation, event.outcome]),
        [['read', 'continued']]
      )
    })

    test('destroy still raises: a sign-out must not look done while the session lives', async ({
      assert,
    }) => {
      const error = await failure(t.request().destroy(t.id))
      assert.instanceOf(error, E_SESSION_STORE_UNAVAILABLE)
      assert.equal(error.operation, 'destroy')
      assert.equal(t.errors[0].outcome, 'raised')
    })

    test('listing a user sessions still raises: an empty list would be a lie', async ({
      assert,
    }) => {
      const error = await failure(t.collection().tagged('42'))
      assert.instanceOf(error, E_SESSION_STORE_UNAVAILABLE)
      assert.equal(error.operation, 'tagged')
    })
  })
}

test.group('failsafe: classification', () => {
  test('driver errors are sorted into connection, timeout and query failures', ({ assert }) => {
    const cases: [unknown, string, string | undefined][] = [
      [
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        'connection',
        'ECONNREFUSED',
      ],
      [
        Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
        'connection',
        'ECONNRESET',
      ],
      [new Error('Connection terminated unexpectedly'), 'connection', undefined],
      [
        Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST' }),
        'connection',
        'PROTOCOL_CONNECTION_LOST',
      ],
      [
        Object.assign(new Error('terminating connection'), { code: '57P01' }),
        'connection',
        '57P01',
      ],
      [Object.assign(new Error('x'), { code: '08006' }), 'connection', '08006'],
      [
        Object.assign(new Error('Knex: Timeout acquiring a connection'), {
          name: 'KnexTimeoutError',
        }),
        'timeout',
        'KnexTimeoutError',
      ],
      [
        Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
        'timeout',
        '57014',
      ],
      [
        Object.assign(new Error('Lock wait timeout exceeded'), { code: 'ER_LOCK_WAIT_TIMEOUT' }),
        'timeout',
        'ER_LOCK_WAIT_TIMEOUT',
      ],
      [
        Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
        'timeout',
        'SQLITE_BUSY',
      ],
      [new Error('Query read timeout'), 'timeout', undefined],
      [Object.assign(new Error('relation does not exist'), { code: '42P01' }), 'query', '42P01'],
      [
        Object.assign(new Error('odd'), { code: 'select * from x where id = 1' }),
        'query',
        undefined,
      ],
      ['not even an error', 'query', undefined],
    ]
    for (const [error, reason, driverCode] of cases) {
      const typed = toStoreUnavailable(error)
      assert.equal(typed.reason, reason, String(error))
      assert.equal(typed.driverCode, driverCode)
      assert.instanceOf(typed.cause, StoreDriverError)
      assert.equal((typed.cause as StoreDriverError).code, driverCode)
      assert.notInclude((typed.cause as StoreDriverError).message, 'select')
    }
  })

  test('onError accepts raise, continue or a function', ({ assert }) => {
    assert.equal(resolveConfig({}).onError, 'raise')
    assert.equal(resolveConfig({ onError: 'continue' }).onError, 'continue')
    const decide = () => 'raise' as const
    assert.strictEqual(resolveConfig({ onError: decide }).onError, decide)
    assert.throws(
      () => resolveConfig({ onError: 'ignore' as any }),
      /"onError" must be 'raise', 'continue' or a function/
    )
  })
})
