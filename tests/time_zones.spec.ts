import { test } from '@japa/runner'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { enabledDialects, type Dialect } from './helpers/dialects.ts'
import { CookieClient, setupDatabase, uniqueTable, HOUR, makeKeyring } from './helpers/app.ts'
import { startServers } from './fixtures/lost_updates.ts'
import { SessionRepository } from '../src/request/repository.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { contextOf } from '../src/store_context.ts'
import { sessionStats } from '../src/maintenance/stats.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const ZONE_CLIENT = fileURLToPath(new URL('./fixtures/zone_client.ts', import.meta.url))

/**
 * App processes, CLI hosts and database servers of one fleet, each in its
 * own zone: `tz` is the process's TZ, `mysql` the MySQL session time_zone
 * of its connections (as a server configured in that zone would set it).
 * The test process itself runs in the machine's zone (UTC here) with the
 * server's default time_zone.
 */
const ZONES = {
  newYork: { tz: 'America/New_York', mysql: '-05:00' },
  tokyo: { tz: 'Asia/Tokyo', mysql: '+09:00' },
  utc: { tz: 'UTC', mysql: '+00:00' },
}
type Zone = (typeof ZONES)[keyof typeof ZONES]

/**
 * The hour New York lives twice when daylight saving time ends
 * (2026-11-01, 01:00 to 02:00 local): these two instants have the same
 * local wall time there.
 */
const FALL_BACK = [Date.UTC(2026, 10, 1, 5, 30), Date.UTC(2026, 10, 1, 6, 30)]

const SESSIONS = 10

/**
 * Each test starts app or CLI processes (two or three seconds each on a
 * loaded CI machine); this process, in UTC, is the third zone.
 */
const PROCESS_TESTS_TIMEOUT = 120_000

function zoneEnv(dialect: Dialect, table: string, file: string | undefined, zone: Zone) {
  return {
    SS_DIALECT: dialect.label,
    SS_TABLE: table,
    SS_DB_FILE: file,
    SS_MYSQL_TIME_ZONE: zone.mysql,
    TZ: zone.tz,
  }
}

for (const dialect of enabledDialects()) {
  test.group(`time zones [${dialect.label}]`, (group) => {
    let table: string
    let file: string | undefined
    let db: Awaited<ReturnType<typeof setupDatabase>>['db']
    group.each.setup(async () => {
      table = uniqueTable()
      file =
        dialect.name === 'sqlite'
          ? fileURLToPath(new URL(`../tmp/zones-${randomUUID()}.sqlite`, import.meta.url))
          : undefined
      ;({ db } = await setupDatabase(dialect, table, dialect.connection({ database: file })))
      return async () => {
        await db.connection().schema.dropTableIfExists(table)
        await db.manager.closeAll()
        if (file) await rm(file, { force: true })
      }
    })

    /** Runs tests/fixtures/zone_client.ts in `zone`; its JSON answer. */
    async function inZone(zone: Zone, command: object): Promise<any> {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import=@poppinss/ts-exec', ZONE_CLIENT, JSON.stringify(command)],
        { cwd: ROOT, env: { ...process.env, ...zoneEnv(dialect, table, file, zone) } }
      )
      return JSON.parse(stdout)
    }

    test('sessions signed in by an app in New York read the same in Tokyo and here', async ({
      assert,
    }) => {
      const servers = await Promise.all(
        [ZONES.newYork, ZONES.tokyo].map((zone) =>
          startServers(1, { SS_STORE: 'stored', ...zoneEnv(dialect, table, file, zone) })
        )
      )
      try {
        const [newYork, tokyo] = servers.map(({ urls }) => urls[0])
        const clients = Array.from({ length: SESSIONS }, () => new CookieClient(newYork))
        const before = Date.now()
        const users: number[] = []
        for (const client of clients) {
          const { status } = await client.get('/login')
          assert.equal(status, 200)
          const { body } = await client.get('/read')
          users.push(body.user)
        }
        const after = Date.now()

        let kept = 0
        for (const [index, client] of clients.entries()) {
          const other = new CookieClient(tokyo)
          other.cookies = new Map(client.cookies)
          const { body } = await other.get('/read')
          if (body.user === users[index]) kept++
        }
        assert.equal(kept, SESSIONS, `${kept} of ${SESSIONS} sessions read in Tokyo`)

        // the instant stored is the instant written, read back in this process's own zone
        const repository = new SessionRepository(db.connection().getWriteClient(), table)
        const ids = await db.connection().from(table).select('id')
        assert.lengthOf(ids, SESSIONS)
        for (const { id } of ids) {
          const row = (await repository.find(id))!
          assert.isAtLeast(row.createdAt, before - 1000)
          assert.isAtMost(row.createdAt, after + 1000)
          assert.equal(row.expiresAt - row.updatedAt, 2 * HOUR)
        }
      } finally {
        await Promise.all(servers.map(({ stop }) => stop()))
      }
    }).timeout(PROCESS_TESTS_TIMEOUT)

    test('the hour that repeats when daylight saving time ends keeps its two instants apart', async ({
      assert,
    }) => {
      const rows = FALL_BACK.map((at, index) => ({ id: `${index}`.padStart(64, 'f'), at }))
      await inZone(ZONES.newYork, { insert: rows })
      const expected = rows.map(({ id, at }) => ({
        id,
        createdAt: at,
        updatedAt: at,
        expiresAt: at,
      }))
      assert.deepEqual(await inZone(ZONES.tokyo, { find: rows.map(({ id }) => id) }), expected)
      const repository = new SessionRepository(db.connection().getWriteClient(), table)
      const readHere = async () => {
        const found = []
        for (const { id } of rows) {
          const { createdAt, updatedAt, expiresAt } = (await repository.find(id))!
          found.push({ id, createdAt, updatedAt, expiresAt })
        }
        return found
      }
      assert.deepEqual(await readHere(), expected)

      // application queries through the StoredSession model, in both directions
      assert.deepEqual(await inZone(ZONES.tokyo, { model: rows.map(({ id }) => id) }), expected)
      await inZone(ZONES.newYork, { modelSave: { id: rows[0].id, at: FALL_BACK[1] } })
      const [first, second] = await readHere()
      assert.deepEqual(first, { ...expected[1], id: rows[0].id })
      assert.deepEqual(second, expected[1])
    }).timeout(PROCESS_TESTS_TIMEOUT)

    test('rows written before this store handled zones, by an app in UTC, read the same from any zone', async ({
      assert,
    }) => {
      const rows = FALL_BACK.map((at, index) => ({ id: `${index}`.padStart(64, 'd'), at }))
      await inZone(ZONES.utc, { insertLegacy: rows })
      assert.deepEqual(
        await inZone(ZONES.tokyo, { find: rows.map(({ id }) => id) }),
        rows.map(({ id, at }) => ({ id, createdAt: at, updatedAt: at, expiresAt: at }))
      )
    }).timeout(PROCESS_TESTS_TIMEOUT)

    test('sessions:stats and sessions:trim agree on what expired, from a CLI host in any zone', async ({
      assert,
    }) => {
      const now = Date.now()
      // written by an app in New York: 10 live sessions, 2 idle-expired a minute ago
      await inZone(ZONES.newYork, {
        insert: [
          ...Array.from({ length: SESSIONS }, (_, index) => ({
            id: `${index}`.padStart(64, 'a'),
            at: now + HOUR,
          })),
          { id: 'b'.repeat(64), at: now - 60_000 },
          { id: 'c'.repeat(64), at: now - 60_000 },
        ],
      })
      const stats = await inZone(ZONES.tokyo, { maintenance: true, now })
      assert.deepEqual(stats, { live: SESSIONS, expired: 2, deleted: 2 })

      const here = contextOf(
        createStoredSessionFactory(resolveConfig({ table }), {
          db,
          emitter: null,
          keyring: makeKeyring(),
          clock: () => now,
        })
      )!
      const after = await sessionStats(here)
      assert.deepEqual([after.live, after.expired], [SESSIONS, 0])
    }).timeout(PROCESS_TESTS_TIMEOUT)
  })
}
