import { test } from '@japa/runner'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { enabledDialects } from './helpers/dialects.ts'
import { runMigrationStub, setupDatabase, uniqueTable } from './helpers/app.ts'
import { SessionRepository } from '../src/request/repository.ts'
import {
  convertSessionTimesFromUtc,
  convertSessionTimesToUtc,
} from '../src/maintenance/convert_times.ts'
import { zoneOffsets } from '../src/maintenance/zone_offsets.ts'
import { E_INVALID_MAINTENANCE_OPTION, E_SESSION_STORE_UNAVAILABLE } from '../src/errors.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const ZONE_CLIENT = fileURLToPath(new URL('./fixtures/zone_client.ts', import.meta.url))
const STUB = 'migrations/convert_stored_sessions_times_to_utc.stub'
const NEW_YORK = 'America/New_York'

/**
 * Rows as stored-session before 0.2 wrote them on MySQL from an app in New
 * York: each time the wall time there (what mysql2 made of the Date), and
 * the instant it was. New York springs forward on 2026-03-08 at 07:00 UTC
 * and falls back on 2026-11-01 at 06:00 UTC, living 01:00 to 02:00 twice:
 * the two "01:30" rows were written an hour apart, and the second becomes
 * the earlier instant, as the README says (`converted`).
 */
const WRITTEN = [
  {
    label: 'winter',
    created: ['2026-01-15 07:00:00.000', Date.UTC(2026, 0, 15, 12)],
    updated: ['2026-01-15 07:00:00.000', Date.UTC(2026, 0, 15, 12)],
    expires: ['2026-01-15 09:00:00.000', Date.UTC(2026, 0, 15, 14)],
  },
  {
    label: 'either side of the spring forward',
    created: ['2026-03-08 01:30:00.000', Date.UTC(2026, 2, 8, 6, 30)],
    updated: ['2026-03-08 03:30:00.000', Date.UTC(2026, 2, 8, 7, 30)],
    expires: ['2026-03-08 05:30:00.250', Date.UTC(2026, 2, 8, 9, 30, 0, 250)],
  },
  {
    label: 'summer',
    created: ['2026-07-04 12:00:00.000', Date.UTC(2026, 6, 4, 16)],
    updated: ['2026-07-04 12:00:00.000', Date.UTC(2026, 6, 4, 16)],
    expires: ['2026-07-04 14:00:00.000', Date.UTC(2026, 6, 4, 18)],
  },
  {
    label: 'first 01:30 of the fall back',
    created: ['2026-11-01 01:30:00.000', Date.UTC(2026, 10, 1, 5, 30)],
    updated: ['2026-11-01 01:30:00.000', Date.UTC(2026, 10, 1, 5, 30)],
    expires: ['2026-11-01 01:30:00.000', Date.UTC(2026, 10, 1, 5, 30)],
  },
  {
    label: 'second 01:30 of the fall back',
    created: ['2026-11-01 01:30:00.000', Date.UTC(2026, 10, 1, 6, 30)],
    updated: ['2026-11-01 01:30:00.000', Date.UTC(2026, 10, 1, 6, 30)],
    expires: ['2026-11-01 01:30:00.000', Date.UTC(2026, 10, 1, 6, 30)],
    converted: Date.UTC(2026, 10, 1, 5, 30),
  },
  {
    label: 'after the fall back',
    created: ['2026-11-01 02:30:00.000', Date.UTC(2026, 10, 1, 7, 30)],
    updated: ['2026-11-01 02:30:00.000', Date.UTC(2026, 10, 1, 7, 30)],
    expires: ['2026-11-01 02:30:00.000', Date.UTC(2026, 10, 1, 7, 30)],
  },
].map((row, index) => ({ ...row, id: `${index}`.padStart(64, 'e') })) as Array<{
  id: string
  label: string
  created: [string, number]
  updated: [string, number]
  expires: [string, number]
  converted?: number
}>

/** What the store should read once the rows are converted. */
const CONVERTED = WRITTEN.map((row) => ({
  id: row.id,
  createdAt: row.converted ?? row.created[1],
  updatedAt: row.converted ?? row.updated[1],
  expiresAt: row.converted ?? row.expires[1],
}))

/**
 * Half an hour before the spring-forward row expires: live once converted,
 * expired four hours early before (its wall time read as UTC).
 */
const NOW = Date.UTC(2026, 2, 8, 9, 0)

/** Reading and writing the rows through a process in Tokyo takes a few seconds each. */
const PROCESS_TESTS_TIMEOUT = 120_000

for (const dialect of enabledDialects()) {
  test.group(`converting times written in a zone to UTC [${dialect.label}]`, (group) => {
    let table: string
    let file: string | undefined
    let setup: Awaited<ReturnType<typeof setupDatabase>>
    group.each.setup(async () => {
      table = uniqueTable()
      file =
        dialect.name === 'sqlite'
          ? fileURLToPath(new URL(`../tmp/convert-${randomUUID()}.sqlite`, import.meta.url))
          : undefined
      setup = await setupDatabase(dialect, table, dialect.connection({ database: file }))
      return async () => {
        await setup.db.connection().schema.dropTableIfExists(table)
        await setup.db.manager.closeAll()
        if (file) await rm(file, { force: true })
      }
    })

    const client = () => setup.db.connection()
    const runStub = (direction: 'up' | 'down', fromZone = NEW_YORK) =>
      runMigrationStub(setup.app, setup.db, table, direction, STUB, { fromZone })

    /** The rows of the old version on MySQL; the same instants as this store writes them elsewhere. */
    async function insertWrittenRows() {
      if (dialect.name === 'mysql') {
        for (const row of WRITTEN) {
          await client().rawQuery(
            'insert into ?? (id, data, version, created_at, updated_at, expires_at) values (?, ?, 1, ?, ?, ?)',
            [table, row.id, Buffer.from('x'), row.created[0], row.updated[0], row.expires[0]]
          )
        }
        return
      }
      const repository = new SessionRepository(client().getWriteClient(), table)
      for (const row of WRITTEN) {
        await repository.insert({
          id: row.id,
          data: Buffer.from('x'),
          version: 1,
          userId: null,
          now: new Date(row.created[1]),
          expiresAt: new Date(row.expires[1]),
        })
      }
    }

    /** Every row as stored: MySQL's wall times as text, so no zone applies to them. */
    async function storedRows() {
      const times =
        dialect.name === 'mysql'
          ? 'cast(created_at as char) as created_at, cast(updated_at as char) as updated_at, cast(expires_at as char) as expires_at'
          : 'created_at, updated_at, expires_at'
      const result = await client().rawQuery(`select id, ${times} from ?? order by id`, [table])
      return dialect.name === 'mysql' ? result[0] : dialect.name === 'pg' ? result.rows : result
    }

    /** Runs tests/fixtures/zone_client.ts in Tokyo (its MySQL session in +09:00). */
    async function inTokyo(command: object): Promise<any> {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import=@poppinss/ts-exec', ZONE_CLIENT, JSON.stringify(command)],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            SS_DIALECT: dialect.label,
            SS_TABLE: table,
            SS_DB_FILE: file,
            SS_MYSQL_TIME_ZONE: '+09:00',
            TZ: 'Asia/Tokyo',
          },
        }
      )
      return JSON.parse(stdout)
    }

    if (dialect.name === 'mysql') {
      test('the published migration converts rows an app in New York wrote, and down converts them back', async ({
        assert,
      }) => {
        await insertWrittenRows()
        const ids = WRITTEN.map(({ id }) => id)
        const before = await inTokyo({ find: ids })
        // before: each wall time read as if it were UTC, four or five hours early
        assert.equal(before[1].expiresAt, Date.UTC(2026, 2, 8, 5, 30, 0, 250))
        assert.deepEqual(await inTokyo({ stats: true, now: NOW }), { live: 4, expired: 2 })

        const migration = await runStub('up')

        assert.include(migration, `protected fromZone = 'America/New_York'`)
        assert.deepEqual(await inTokyo({ find: ids }), CONVERTED)
        assert.deepEqual(await inTokyo({ stats: true, now: NOW }), { live: 5, expired: 1 })

        await runStub('down')
        assert.deepEqual(
          await storedRows(),
          WRITTEN.map((row) => ({
            id: row.id,
            created_at: row.created[0],
            updated_at: row.updated[0],
            expires_at: row.expires[0],
          }))
        )
      }).timeout(PROCESS_TESTS_TIMEOUT)

      test('batches of primary-key ranges rewrite each row once', async ({ assert }) => {
        await insertWrittenRows()
        const progress: unknown[] = []

        const summary = await convertSessionTimesToUtc(client(), {
          table,
          fromZone: NEW_YORK,
          batchSize: 4,
          onProgress: (step) => progress.push(step),
        })

        assert.deepInclude(summary, { rows: 6, batches: 2, unchanged: null })
        assert.deepEqual(progress, [
          { rows: 4, batches: 1 },
          { rows: 6, batches: 2 },
        ])
        const repository = new SessionRepository(client().getWriteClient(), table)
        const found = []
        for (const { id } of WRITTEN) {
          const { createdAt, updatedAt, expiresAt } = (await repository.find(id))!
          found.push({ id, createdAt, updatedAt, expiresAt })
        }
        assert.deepEqual(found, CONVERTED)
      })

      test("in a transaction (a migration's), a failure part way leaves every row as it was", async ({
        assert,
      }) => {
        await insertWrittenRows()
        const before = await storedRows()

        await assert.rejects(
          () =>
            client().transaction(async (trx) => {
              await convertSessionTimesToUtc(trx, {
                table,
                fromZone: NEW_YORK,
                batchSize: 2,
                onProgress: ({ batches }) => {
                  if (batches === 2) throw new Error('interrupted after two batches')
                },
              })
            }),
          'interrupted after two batches'
        )

        assert.deepEqual(await storedRows(), before)
      })

      test('a zone ahead of UTC moves times back by its offset', async ({ assert }) => {
        const id = 'a'.repeat(64)
        await client().rawQuery(
          'insert into ?? (id, data, version, created_at, updated_at, expires_at) values (?, ?, 1, ?, ?, ?)',
          [
            table,
            id,
            Buffer.from('x'),
            '2026-06-01 09:00:00',
            '2026-06-01 09:00:00',
            '2026-06-01 11:00:00',
          ]
        )
        await convertSessionTimesToUtc(client(), { table, fromZone: 'Asia/Kolkata' })
        assert.deepEqual(await storedRows(), [
          {
            id,
            created_at: '2026-06-01 03:30:00.000',
            updated_at: '2026-06-01 03:30:00.000',
            expires_at: '2026-06-01 05:30:00.000',
          },
        ])
        await convertSessionTimesFromUtc(client(), { table, toZone: '+05:30' })
        const [back] = await storedRows()
        assert.equal(back.expires_at, '2026-06-01 11:00:00.000')
      })

      test('rows in the years 1000 and 9999 convert, with no branch per change of the centuries between', async ({
        assert,
      }) => {
        const rows = [
          ['1000-01-01 12:00:00', '1000-01-01 16:56:02.000'],
          ['2026-07-04 12:00:00', '2026-07-04 16:00:00.000'],
          ['9999-06-01 12:00:00', '9999-06-01 16:00:00.000'],
        ]
        for (const [index, [wall]] of rows.entries()) {
          await client().rawQuery(
            'insert into ?? (id, data, version, created_at, updated_at, expires_at) values (?, ?, 1, ?, ?, ?)',
            [table, `${index}`.repeat(64), Buffer.from('x'), wall, wall, wall]
          )
        }
        const updateBindings: number[] = []
        const knex = client().getWriteClient()
        const onQuery = (query: { sql: string; bindings?: unknown[] }) => {
          if (query.sql.startsWith('update')) updateBindings.push(query.bindings?.length ?? 0)
        }
        knex.on('query', onQuery)
        try {
          await convertSessionTimesToUtc(client(), { table, fromZone: NEW_YORK })
        } finally {
          knex.off('query', onQuery)
        }

        // New York changed its offset twice a year for the 8,000 years between
        assert.lengthOf(updateBindings, 1)
        assert.isBelow(updateBindings[0], 100)
        assert.deepEqual(
          await storedRows(),
          rows.map(([, utc], index) => ({
            id: `${index}`.repeat(64),
            created_at: utc,
            updated_at: utc,
            expires_at: utc,
          }))
        )
      })

      test('a statement the database rejects is E_SESSION_STORE_UNAVAILABLE for "convert"', async ({
        assert,
      }) => {
        const missing = `${table}_missing`
        const error = await convertSessionTimesToUtc(client(), {
          table: missing,
          fromZone: NEW_YORK,
        }).catch((caught) => caught)

        assert.instanceOf(error, E_SESSION_STORE_UNAVAILABLE)
        assert.equal(error.operation, 'convert')
        assert.equal(error.reason, 'query')
        assert.notInclude(`${error.message} ${error.cause?.message}`, missing)
      })

      test('an empty table has nothing to convert', async ({ assert }) => {
        const summary = await convertSessionTimesToUtc(client(), { table, fromZone: NEW_YORK })
        assert.deepInclude(summary, { rows: 0, batches: 0, unchanged: 'empty-table' })
      })
    } else {
      test('times here carry no zone: the migration leaves every row as it is', async ({
        assert,
      }) => {
        await insertWrittenRows()
        const before = await storedRows()

        await runStub('up')
        const summary = await convertSessionTimesToUtc(client(), { table, fromZone: NEW_YORK })

        assert.deepEqual(await storedRows(), before)
        assert.deepInclude(summary, { rows: 0, batches: 0, unchanged: 'zone-free-dialect' })
        const repository = new SessionRepository(client().getWriteClient(), table)
        const { createdAt, expiresAt } = (await repository.find(WRITTEN[1].id))!
        assert.deepEqual([createdAt, expiresAt], [WRITTEN[1].created[1], WRITTEN[1].expires[1]])
      })
    }

    test('an unknown zone is refused before any statement', async ({ assert }) => {
      await insertWrittenRows()
      const before = await storedRows()
      for (const zone of ['Mars/Olympus_Mons', '', 'EST5EDT; drop table x']) {
        const error = await convertSessionTimesToUtc(client(), { table, fromZone: zone }).catch(
          (caught) => caught
        )
        assert.instanceOf(error, E_INVALID_MAINTENANCE_OPTION)
        assert.equal(error.code, 'E_INVALID_MAINTENANCE_OPTION')
        assert.include(error.message, 'is not an IANA time zone name')
      }
      await assert.rejects(
        () => convertSessionTimesFromUtc(client(), { table, toZone: 'Nowhere' }),
        /is not an IANA time zone name/
      )
      assert.deepEqual(await storedRows(), before)
    })

    test('from UTC there is nothing to convert', async ({ assert }) => {
      await insertWrittenRows()
      const before = await storedRows()
      for (const fromZone of ['UTC', '+00:00', 'Etc/UTC']) {
        const summary = await convertSessionTimesToUtc(client(), { table, fromZone })
        assert.deepInclude(summary, {
          rows: 0,
          unchanged: dialect.name === 'mysql' ? 'zero-offset' : 'zone-free-dialect',
        })
      }
      assert.deepEqual(await storedRows(), before)
    })
  })
}

test.group('zone offsets', () => {
  test("New York's 2026 changes, to the second", ({ assert }) => {
    const { initial, changes } = zoneOffsets(NEW_YORK, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))
    assert.equal(initial, -5 * 3600)
    assert.deepEqual(changes, [
      { at: Date.UTC(2026, 2, 8, 7), before: -5 * 3600, after: -4 * 3600 },
      { at: Date.UTC(2026, 10, 1, 6), before: -4 * 3600, after: -5 * 3600 },
    ])
  })

  test('half-hour changes and fixed offsets', ({ assert }) => {
    const lordHowe = zoneOffsets('Australia/Lord_Howe', Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))
    assert.deepEqual(
      lordHowe.changes.map(({ before, after }) => after - before),
      [-1800, 1800]
    )
    assert.deepEqual(zoneOffsets('+05:30', Date.UTC(2020, 0, 1), Date.UTC(2027, 0, 1)), {
      initial: 19_800,
      changes: [],
    })
  })
})
