import { test } from '@japa/runner'
import knex from 'knex'
import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { ConnectionConfig } from '@adonisjs/lucid/types/database'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { createTestApp, type TestAppOptions } from './helpers/app.ts'
import { TcpProxy } from './helpers/tcp_proxy.ts'
import type { StoredSessionEvents } from '../src/types.ts'

/**
 * The store's `timeout` in these tests, in seconds. The drivers' own waits
 * are left at their defaults (knex: 60 s to acquire a connection), so only
 * the store can answer in time.
 */
const TIMEOUT = 0.5

/**
 * What a 503 may take beyond `timeout`: the HTTP round trip and a loaded CI
 * machine. Well below every wait of the drivers.
 */
const MARGIN_MS = 700

const JSON_ACCEPT = { accept: 'application/json' }

type ErrorEvent = StoredSessionEvents['stored_session:error']

async function appWith(dialect: Dialect, connection: ConnectionConfig, extra: TestAppOptions = {}) {
  const t = await createTestApp(dialect, {
    ...extra,
    connection,
    config: { timeout: TIMEOUT, ...extra.config },
  })
  const errors: ErrorEvent[] = []
  t.emitter.on('stored_session:error', (event) => void errors.push(event))
  t.app.handler = (ctx) => {
    const put = ctx.request.qs().put
    if (put) ctx.session.put('v', put)
    return { v: ctx.session.get('v') ?? null }
  }
  const pool = () => (t.db.connection().getWriteClient().client as any).pool
  const rows = async () => {
    const found = await t.db.connection().from(t.table).select('id', 'version').orderBy('id')
    return found.map((row) => ({ id: row.id, version: Number(row.version) }))
  }
  return { ...t, errors, pool, rows }
}

/**
 * How many connections the pool still has in use once the ones severed
 * have been handed back (their sockets close over a few event loop turns).
 */
async function inUse(pool: { numUsed(): number }) {
  const until = performance.now() + MARGIN_MS
  while (pool.numUsed() > 0 && performance.now() < until) {
    await new Promise((resolve) => setImmediate(resolve))
  }
  return pool.numUsed()
}

/** A response's status and body (what these tests compare). */
async function served(response: Promise<{ status: number; body: unknown }>) {
  const { status, body } = await response
  return [status, body]
}

async function statusOf(response: Promise<{ status: number }>) {
  const { status } = await response
  return status
}

async function timed<Result>(work: Promise<Result>) {
  const started = performance.now()
  const result = await work
  return { ...result, ms: performance.now() - started }
}

for (const dialect of enabledDialects()) {
  test.group(`timeout: a request waiting for a pool connection [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof appWith>>
    group.each.setup(async () => {
      const connection = { ...dialect.connection(), pool: { min: 1, max: 1 } } as ConnectionConfig
      t = await appWith(dialect, connection)
      return () => t.cleanup()
    })

    test('answers 503 (timeout) in time, and its write never runs once a connection frees up', async ({
      assert,
    }) => {
      const client = t.app.client()
      assert.equal(await statusOf(client.get('/?put=old')), 200)
      const before = await t.rows()

      // the pool's only connection, held elsewhere in the app
      const trx = await t.db.transaction()
      let failed
      try {
        failed = await timed(client.get('/?put=new', JSON_ACCEPT))
      } finally {
        await trx.commit()
      }
      assert.equal(failed.status, 503)
      assert.equal(failed.body.code, 'E_SESSION_STORE_UNAVAILABLE')
      assert.isBelow(failed.ms, TIMEOUT * 1000 + MARGIN_MS)
      assert.deepEqual(
        t.errors.map(({ operation, reason, outcome }) => ({ operation, reason, outcome })),
        [{ operation: 'read', reason: 'timeout', outcome: 'raised' }]
      )

      // the connection is back: served at once, and nothing of the failed request was written
      const after = await timed(client.get('/', JSON_ACCEPT))
      assert.deepEqual([after.status, after.body], [200, { v: 'old' }])
      assert.isBelow(after.ms, MARGIN_MS)
      assert.deepEqual(await t.rows(), before)
      assert.equal(await inUse(t.pool()), 0)
    })
  })

  if (dialect.name === 'sqlite') {
    test.group('timeout: a locked database file [sqlite]', (group) => {
      const file = fileURLToPath(new URL(`../tmp/locked-${randomUUID()}.sqlite`, import.meta.url))
      let t: Awaited<ReturnType<typeof appWith>>
      group.each.setup(async () => {
        const connection = {
          ...dialect.connection({ database: file }),
          pool: {
            // the app's own busy timeout, as its config/database.ts may set
            afterCreate(raw: any, done: (error: unknown, raw: unknown) => void) {
              raw.pragma('busy_timeout = 200')
              done(null, raw)
            },
          },
        } as ConnectionConfig
        t = await appWith(dialect, connection)
        return async () => {
          await t.cleanup()
          await rm(file, { force: true })
        }
      })

      test('answers 503 (timeout) after one more busy timeout at most, not after every busy retry', async ({
        assert,
      }) => {
        const client = t.app.client()
        assert.equal(await statusOf(client.get('/?put=kept')), 200)

        // another process holding a write transaction on the file
        const other = knex({ ...dialect.connection({ database: file }), pool: { min: 1, max: 1 } })
        await other.raw('begin exclusive')
        let failed
        try {
          failed = await timed(client.get('/', JSON_ACCEPT))
        } finally {
          await other.raw('rollback')
          await other.destroy()
        }
        assert.equal(failed.status, 503)
        assert.equal(failed.body.code, 'E_SESSION_STORE_UNAVAILABLE')
        // each attempt blocks for the 200 ms busy timeout; the 12 busy retries would take 2.4 s
        assert.isBelow(failed.ms, TIMEOUT * 1000 + 200 + MARGIN_MS)
        assert.deepEqual(
          t.errors.map(({ operation, reason, driverCode }) => ({ operation, reason, driverCode })),
          [{ operation: 'read', reason: 'timeout', driverCode: 'SQLITE_BUSY' }]
        )

        assert.deepEqual(await served(client.get('/')), [200, { v: 'kept' }])
      })
    })
    continue
  }

  test.group(`timeout: a server that accepts and never answers [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof appWith>>
    let proxy: TcpProxy
    group.each.setup(async () => {
      const direct = dialect.connection() as any
      proxy = await new TcpProxy({
        host: direct.connection.host,
        port: direct.connection.port,
      }).start()
      const connection = {
        ...dialect.connection({ port: proxy.port }),
        pool: { min: 0, max: 2 },
      } as ConnectionConfig
      t = await appWith(dialect, connection)
      return async () => {
        await proxy.restore()
        await t.cleanup()
        await proxy.close()
      }
    })

    test('every request answers 503 (timeout) within the timeout, the pool is not left holding the silent server, and the app serves again once it answers', async ({
      assert,
    }) => {
      const clients = Array.from({ length: 3 }, () => t.app.client())
      for (const [index, client] of clients.entries()) {
        assert.equal(await statusOf(client.get(`/?put=value-${index}`)), 200)
      }
      const before = await t.rows()

      // open connections stay open and go silent, new ones are accepted and stay silent
      proxy.stall()
      const waits: number[] = []
      // twice the pool's size in a row, then as many at once
      for (const client of [...clients, t.app.client()]) {
        const failed = await timed(client.get('/', JSON_ACCEPT))
        assert.equal(failed.status, 503)
        assert.equal(failed.body.code, 'E_SESSION_STORE_UNAVAILABLE')
        waits.push(failed.ms)
      }
      const together = await Promise.all(
        clients.map((client) => timed(client.get('/?put=during', JSON_ACCEPT)))
      )
      for (const failed of together) {
        assert.equal(failed.status, 503)
        waits.push(failed.ms)
      }
      console.log(
        `[stored-session] ${dialect.name} hung server, timeout ${TIMEOUT * 1000} ms: 503 after ${waits.map((ms) => Math.round(ms)).join(', ')} ms`
      )
      for (const ms of waits) assert.isBelow(ms, TIMEOUT * 1000 + MARGIN_MS)
      assert.lengthOf(t.errors, waits.length)
      for (const event of t.errors) {
        assert.include(event, { reason: 'timeout', driverCode: null, outcome: 'raised' })
      }

      // still silent: no connection is left in use on it
      assert.equal(await inUse(t.pool()), 0)

      await proxy.restore()
      for (const [index, client] of clients.entries()) {
        const back = await timed(client.get('/', JSON_ACCEPT))
        assert.deepEqual([back.status, back.body], [200, { v: `value-${index}` }])
        assert.isBelow(back.ms, MARGIN_MS)
      }
      assert.deepEqual(await t.rows(), before)
    })

    test('a write that goes silent answers 503 (timeout); the row is whole and the next write goes through', async ({
      assert,
    }) => {
      const client = t.app.client()
      assert.equal(await statusOf(client.get('/?put=old')), 200)
      const [before] = await t.rows()

      t.app.handler = (ctx) => {
        ctx.session.put('v', 'new')
        proxy.stall()
        return { v: 'new' }
      }
      const failed = await timed(client.get('/', JSON_ACCEPT))
      assert.equal(failed.status, 503)
      assert.isBelow(failed.ms, TIMEOUT * 1000 + MARGIN_MS)
      assert.deepEqual(
        t.errors.map(({ operation, reason }) => ({ operation, reason })),
        [{ operation: 'write', reason: 'timeout' }]
      )
      assert.equal(await inUse(t.pool()), 0)

      await proxy.restore()
      t.app.handler = (ctx) => {
        const put = ctx.request.qs().put
        if (put) ctx.session.put('v', put)
        return { v: ctx.session.get('v') ?? null }
      }
      const [after] = await t.rows()
      // nothing reached the silent server
      assert.equal(after.version, before.version)
      assert.deepEqual(await served(client.get('/')), [200, { v: 'old' }])
      assert.deepEqual(await served(client.get('/?put=after')), [200, { v: 'after' }])
      assert.deepEqual(await served(client.get('/')), [200, { v: 'after' }])
    })
  })
}
