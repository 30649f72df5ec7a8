import { test } from '@japa/runner'
import { enabledDialects } from '../helpers/dialects.ts'
import { APP_KEYS, HOUR, makeKeyring, type CookieClient, type TestApp } from '../helpers/app.ts'
import { KeyRotation, rotateSessionKey } from '../../src/maintenance/rotate_key.ts'
import { contextOf } from '../../src/store_context.ts'
import { hashSessionId } from '../../src/request/session_id.ts'
import { rowId, setupStore } from './helpers.ts'

const KEY_A = APP_KEYS.previous
const KEY_B = APP_KEYS.current
const OTHER_KEY = 'a-32-character-long-unknown-key!'

/**
 * The same browser (same cookies) talking to another server.
 */
function moveTo(client: CookieClient, server: TestApp) {
  const moved = server.client()
  moved.cookies = new Map(client.cookies)
  return moved
}

for (const dialect of enabledDialects()) {
  test.group(`sessions:rotate-key service [${dialect.label}]`, () => {
    test('after a rotation under load, the old key can be dropped without losing a session', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect, { keyring: makeKeyring([KEY_A]) })
      cleanup(() => t.cleanup())
      const withBoth = t.storeFor(makeKeyring([KEY_B, KEY_A]))
      const onlyB = t.storeFor(makeKeyring([KEY_B]))
      const counter = (server: TestApp) => {
        server.handler = (ctx) => {
          ctx.session.increment('n')
          if (ctx.request.input('mark')) ctx.session.put('mark', ctx.request.input('mark'))
          return {
            n: ctx.session.get('n'),
            mark: ctx.session.get('mark'),
            hash: hashSessionId(ctx.session.sessionId),
          }
        }
      }

      // sessions written while the app had key A only
      const before = await t.serve({ stored: t.factory })
      counter(before)
      const clients: Array<{ client: CookieClient; hash: string; n: number; mark: string }> = []
      for (let index = 0; index < 12; index++) {
        const client = before.client()
        const { body } = await client.get(`/?mark=m${index}`)
        clients.push({ client, hash: body.hash, n: 1, mark: `m${index}` })
      }
      const keyBAlone = contextOf(onlyB)!.codec
      const sealedWithA = await Promise.all(
        clients.map(async ({ hash }) => (await t.context.repository().find(hash))!)
      )
      assert.isTrue(sealedWithA.every((row) => keyBAlone.open(row.data, row.id) === null))

      // the key list becomes [B, A]; requests keep writing during the rotation
      const during = await t.serve({ stored: withBoth })
      counter(during)
      for (const entry of clients) entry.client = moveTo(entry.client, during)
      const request = async (entry: (typeof clients)[number]) => {
        const { body } = await entry.client.get()
        assert.equal(body.n, ++entry.n)
      }
      const rotation = new KeyRotation(contextOf(withBoth)!, { batchSize: 5 })
      let forced = 0
      let turn = 0
      for (let rows = await rotation.next(); rows; rows = await rotation.next()) {
        // a session of this page is written after it was read: its row must not be overwritten
        const inPage = clients.find((entry) =>
          rows!.some((row) => row.id === entry.hash && row.data !== null)
        )
        if (inPage) {
          await request(inPage)
          forced++
        }
        // and others are written while the page is re-sealed
        await Promise.all([
          rotation.apply(rows),
          request(clients[turn++ % clients.length]),
          request(clients[turn++ % clients.length]),
        ])
      }
      const latecomer = during.client()
      const { body } = await latecomer.get('/?mark=late')
      clients.push({ client: latecomer, hash: body.hash, n: 1, mark: 'late' })

      const summary = rotation.summary()
      assert.isAtLeast(forced, 1)
      assert.isAtLeast(summary.conflicts, forced)
      // rows written before their page was read are sealed with B already
      assert.equal(summary.rotated + summary.conflicts + summary.skipped, 12)
      assert.equal(summary.unreadable, 0)

      // key A is gone: every session still reads, with every write kept
      const after = await t.serve({ stored: onlyB })
      counter(after)
      for (const entry of clients) {
        const { body: read } = await moveTo(entry.client, after).get()
        assert.deepEqual(
          { n: read.n, mark: read.mark },
          { n: entry.n + 1, mark: entry.mark },
          `session ${entry.mark}`
        )
      }
    }).timeout(60_000)

    test('reports rows no key opens and purges them on request', async ({ assert, cleanup }) => {
      const t = await setupStore(dialect, { keyring: makeKeyring([KEY_B, KEY_A]) })
      cleanup(() => t.cleanup())
      const stranger = contextOf(t.storeFor(makeKeyring([OTHER_KEY])))!.codec
      const old = contextOf(t.storeFor(makeKeyring([KEY_A])))!.codec
      const packed = t.context.codec.pack({ hello: 'world' })
      await t.seed([
        { id: rowId('a', 1), expiresIn: HOUR, data: old.seal(packed, rowId('a', 1)) },
        { id: rowId('a', 2), expiresIn: HOUR, data: stranger.seal(packed, rowId('a', 2)) },
        // sealed for another row: the purpose does not match
        { id: rowId('a', 3), expiresIn: HOUR, data: old.seal(packed, rowId('a', 1)) },
      ])
      const events: unknown[] = []
      t.emitter.on('stored_session:rotate', (event) => {
        events.push(event)
      })

      const reported = await rotateSessionKey(t.context)
      assert.containsSubset(reported, { rotated: 1, unreadable: 2, purged: 0, conflicts: 0 })
      assert.lengthOf(await t.rows(), 3)

      const purged = await rotateSessionKey(t.context, { purgeUnreadable: true })
      // the row re-sealed by the first run is left alone
      assert.containsSubset(purged, { rotated: 0, skipped: 1, unreadable: 2, purged: 2 })
      assert.deepEqual(await t.rows(), [{ id: rowId('a', 1), version: 1 }])

      const row = (await t.context.repository().find(rowId('a', 1)))!
      const newKeyOnly = contextOf(t.storeFor(makeKeyring([KEY_B])))!.codec
      assert.deepEqual(newKeyOnly.unpack(newKeyOnly.open(row.data, row.id)!), { hello: 'world' })

      assert.lengthOf(events, 2)
      assert.sameMembers(Object.keys(events[1] as object), [
        'rotated',
        'skipped',
        'conflicts',
        'unreadable',
        'purged',
        'duration',
      ])
    })

    test('rows sealed with the current key are neither read nor written; a second run rewrites nothing', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect, { keyring: makeKeyring([KEY_B, KEY_A]) })
      cleanup(() => t.cleanup())
      const old = contextOf(t.storeFor(makeKeyring([KEY_A])))!.codec
      const current = t.context.codec
      const packed = current.pack({ hello: 'world' })
      await t.seed(
        Array.from({ length: 30 }, (_, n) => ({
          id: rowId('a', n),
          expiresIn: HOUR,
          data: (n % 3 ? current : old).seal(packed, rowId('a', n)),
        }))
      )
      const statements: string[] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', ({ sql }: { sql: string }) => statements.push(sql.split(' ')[0]))

      const first = await rotateSessionKey(t.context, { batchSize: 7 })
      assert.containsSubset(first, { rotated: 10, skipped: 20, conflicts: 0, unreadable: 0 })
      // one UPDATE per page holding rows to re-seal: pages 1 to 4 (the fifth, rows 28 and 29, has none)
      assert.equal(statements.filter((verb) => verb === 'update').length, 4)
      const rows = await t.rows()
      assert.deepEqual(
        rows.filter((row) => row.version > 0).map((row) => row.id),
        rows.filter((_, n) => n % 3 === 0).map((row) => row.id)
      )

      statements.length = 0
      const second = await rotateSessionKey(t.context, { batchSize: 7 })
      assert.containsSubset(second, { rotated: 0, skipped: 30 })
      assert.deepEqual(statements, ['select', 'select', 'select', 'select', 'select'])

      // and every session opens with the new key alone
      const newKeyOnly = contextOf(t.storeFor(makeKeyring([KEY_B])))!.codec
      for (const { id } of rows) {
        const row = (await t.context.repository().find(id))!
        assert.deepEqual(newKeyOnly.unpack(newKeyOnly.open(row.data, row.id)!), { hello: 'world' })
      }
    })

    test('re-sealed rows go back in statements of at most 100 rows and about 1 MB', async ({
      assert,
      cleanup,
    }) => {
      const t = await setupStore(dialect, { keyring: makeKeyring([KEY_B, KEY_A]) })
      cleanup(() => t.cleanup())
      const old = contextOf(t.storeFor(makeKeyring([KEY_A])))!.codec
      const small = old.pack({ hello: 'world' })
      const large = old.pack({ blob: 'x'.repeat(50_000) })
      // 250 small rows, then 30 of about 50 KB
      const seeded = [
        ...Array.from({ length: 250 }, (_, n) => ({ id: rowId('a', n), packed: small })),
        ...Array.from({ length: 30 }, (_, n) => ({ id: rowId('b', n), packed: large })),
      ]
      await t.seed(
        seeded.map(({ id, packed }) => ({ id, expiresIn: HOUR, data: old.seal(packed, id) }))
      )
      const updates: Buffer[][] = []
      t.db
        .connection()
        .getWriteClient()
        .on('query', ({ sql, bindings }: { sql: string; bindings: unknown[] }) => {
          if (sql.startsWith('update')) updates.push(bindings.filter(Buffer.isBuffer))
        })

      const summary = await rotateSessionKey(t.context, { batchSize: 500 })
      assert.containsSubset(summary, { rotated: 280, conflicts: 0, skipped: 0, batches: 1 })
      const bytes = updates.map((data) => data.reduce((sum, one) => sum + one.length, 0))
      // 100, 100, then the 50 small rows left with the 21 large ones that pass 1 MB, then the rest
      assert.deepEqual(
        updates.map((data) => data.length),
        [100, 100, 71, 9]
      )
      assert.isTrue(
        bytes.every((size) => size < (1 << 20) + 60_000),
        String(bytes)
      )

      const newKeyOnly = contextOf(t.storeFor(makeKeyring([KEY_B])))!.codec
      const rows = await t.rows()
      assert.lengthOf(rows, 280)
      assert.isTrue(rows.every((row) => row.version === 1))
      for (const { id, packed } of [seeded[0], seeded[249], seeded[250], seeded[279]]) {
        const row = (await t.context.repository().find(id))!
        assert.deepEqual(newKeyOnly.open(row.data, row.id), packed)
      }
    })

    test('a fingerprint shared with an older key turns skipping off', async ({ assert }) => {
      const keyring = makeKeyring([KEY_B, KEY_B])
      assert.isNull(keyring.currentKeyHeader())
      assert.lengthOf(makeKeyring([KEY_B, KEY_A]).currentKeyHeader()!, 5)
    })
  })
}
