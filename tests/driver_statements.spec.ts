import { test } from '@japa/runner'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { createTestApp, requestStore } from './helpers/app.ts'
import { namesStatements } from '../src/request/driver_statements.ts'

const ID = '0b7f3c2e-6a0d-4c8e-9a51-3f1d2b4c5e6f'

/**
 * The store on a pool of one connection, so that what one statement leaves
 * on its connection (a prepared statement, a transaction) is what the next
 * one finds, and a statement that wanted a second connection would wait
 * for it until the acquire timeout.
 */
async function setup(dialect: Dialect) {
  const base = dialect.connection() as any
  const t = await createTestApp(dialect, {
    connection: { ...base, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 3000 },
  })
  const knex = t.db.connection().getWriteClient()
  const heard: { sql: string; txId?: string }[] = []
  knex.on('query', (query: { sql: string; __knexTxId?: string }) =>
    heard.push({ sql: query.sql, txId: query.__knexTxId })
  )
  const factory = t.app.sessionConfig.stores.stored
  const store = () => requestStore(factory, t.app.sessionConfig)
  return { ...t, knex, heard, store }
}

for (const dialect of enabledDialects()) {
  test.group(`hot statements on the driver [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('a request reads and writes without knex query runner, heard by query listeners', async ({
      assert,
    }) => {
      const client = t.knex.client as any
      const runnerQuery = client.query
      let throughKnex = 0
      client.query = function (...args: unknown[]) {
        throughKnex++
        return runnerQuery.apply(this, args)
      }
      try {
        await t.store().write(ID, { cart: 1 }) // insert
        const store = t.store()
        const values = (await store.read(ID))! // select
        await store.write(ID, { ...values, cart: 2 }) // update
      } finally {
        client.query = runnerQuery
      }
      assert.equal(throughKnex, 0)
      assert.deepEqual(
        t.heard.map(({ sql }) => sql.split(' ')[0]),
        ['insert', 'select', 'update']
      )
      assert.deepEqual(await t.store().read(ID), { cart: 2 })
    })

    test('the merge after a lost write runs on the transaction connection', async ({ assert }) => {
      await t.store().write(ID, { seed: 1 })
      const first = t.store()
      const second = t.store()
      const a = (await first.read(ID))!
      const b = (await second.read(ID))!
      await first.write(ID, { ...a, one: 1 })

      t.heard.length = 0
      // With one connection in the pool, a statement of the merge that asked
      // the pool for another connection would wait until the acquire timeout.
      await second.write(ID, { ...b, two: 2 })
      const merge = t.heard.filter(({ sql }) => !/^(begin|commit|BEGIN|COMMIT)/.test(sql))
      assert.deepEqual(
        merge.map(({ sql }) => sql.split(' ')[0]),
        ['update', 'select', 'update']
      )
      if (dialect.name === 'sqlite') {
        // No transaction on SQLite: serialized() runs one work at a time.
        assert.isTrue(merge.every(({ txId }) => txId === undefined))
      } else {
        assert.isUndefined(merge[0].txId)
        assert.isString(merge[1].txId)
        assert.match(merge[1].sql, /for update$/)
        assert.equal(merge[2].txId, merge[1].txId)
      }
      assert.deepEqual(await t.store().read(ID), { seed: 1, one: 1, two: 2 })
    })

    test('statements are prepared once per connection', async ({ assert }) => {
      await t.store().write(ID, { cart: 1 })
      for (let index = 0; index < 3; index++) await t.store().read(ID)
      switch (dialect.name) {
        case 'pg': {
          const result = await t.knex.raw(
            `select count(*)::int as count from pg_prepared_statements where name like 'stored_session_%' and statement like 'select id, data%'`
          )
          assert.equal(result.rows[0].count, 1)
          break
        }
        case 'mysql': {
          const [[before]] = await t.knex.raw(`show session status like 'Com_stmt_prepare'`)
          await t.store().read(ID)
          const [[after]] = await t.knex.raw(`show session status like 'Com_stmt_prepare'`)
          const [[executed]] = await t.knex.raw(`show session status like 'Com_stmt_execute'`)
          assert.equal(Number(after.Value), Number(before.Value))
          assert.isAtLeast(Number(executed.Value), 4)
          break
        }
        case 'sqlite': {
          // better-sqlite3 counts nothing; the statement cache is keyed by
          // connection: the same connection object serves every read.
          const connection = await (t.knex.client as any).acquireConnection()
          const prepare = connection.prepare
          let prepared = 0
          connection.prepare = (...args: unknown[]) => (prepared++, prepare.apply(connection, args))
          await (t.knex.client as any).releaseConnection(connection)
          try {
            await t.store().read(ID)
          } finally {
            connection.prepare = prepare
          }
          assert.equal(prepared, 0)
        }
      }
    })
      // what a server connection holds is not one client's through a transaction pooler
      .skip(dialect.label === 'pgbouncer', 'PgBouncer shares server connections between clients')
  })
}

// PostgreSQL itself, playing the pooler: through the real PgBouncer see topology_pgbouncer.spec.ts
for (const dialect of enabledDialects().filter(({ label }) => label === 'pg')) {
  test.group(`named statements behind a transaction pooler [${dialect.label}]`, (group) => {
    let t: Awaited<ReturnType<typeof setup>>
    group.each.setup(async () => {
      t = await setup(dialect)
      return () => t.cleanup()
    })

    test('a named statement the server no longer knows runs again unnamed, and naming stops', async ({
      assert,
    }) => {
      await t.store().write(ID, { cart: 1 })
      assert.deepEqual(await t.store().read(ID), { cart: 1 })
      assert.isTrue(namesStatements(t.knex))

      // What PgBouncer in transaction mode does to a client: its next
      // transaction runs on a server connection that never parsed the name.
      await t.knex.raw('deallocate all')
      assert.deepEqual(await t.store().read(ID), { cart: 1 })
      assert.isFalse(namesStatements(t.knex))

      const store = t.store()
      const values = (await store.read(ID))!
      await store.write(ID, { ...values, cart: 2 })
      assert.deepEqual(await t.store().read(ID), { cart: 2 })
      const result = await t.knex.raw(
        `select count(*)::int as count from pg_prepared_statements where name like 'stored_session_%'`
      )
      assert.equal(result.rows[0].count, 0)
    })

    test('a name another client already prepared on the server connection runs unnamed', async ({
      assert,
    }) => {
      await t.store().write(ID, { cart: 1 })
      // The pooler's other clients prepared the store's read on this server
      // connection, but this client has never parsed it.
      await t.store().read(ID)
      const prepared = await t.knex.raw(
        `select name, statement from pg_prepared_statements where statement like 'select id, data%'`
      )
      const [{ name, statement }] = prepared.rows
      const connection = await (t.knex.client as any).acquireConnection()
      delete connection.connection.parsedStatements[name]
      await (t.knex.client as any).releaseConnection(connection)
      assert.isString(statement)

      assert.deepEqual(await t.store().read(ID), { cart: 1 })
      assert.isFalse(namesStatements(t.knex))
    })
  })
}
