import { randomUUID } from 'node:crypto'
import pg from 'pg'
import mysql from 'mysql2/promise'
import { ALL_DIALECTS, type Dialect } from '../tests/helpers/dialects.ts'
import { APP_KEYS, makeKeyring, requestStore, setupDatabase } from '../tests/helpers/app.ts'
import { sealFormat1 } from '../tests/helpers/legacy_format.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { hashSessionId } from '../src/request/session_id.ts'

/** Wall time per measured operation kind. */
const BUDGET_MS = 1500
const SESSIONS = 200

/**
 * Runs `operation` back to back for the time budget (after a short
 * warm-up) and returns operations per second.
 */
async function opsPerSecond(operation: (index: number) => unknown): Promise<number> {
  for (let index = 0; index < 200; index++) await operation(index)
  let count = 0
  const started = performance.now()
  while (performance.now() - started < BUDGET_MS) {
    await operation(count++)
  }
  return (count * 1000) / (performance.now() - started)
}

const SELECT = (table: string) =>
  `select id, data, version, user_id, created_at, updated_at, expires_at from ${table} where id = `
const UPDATE = (table: string) =>
  `update ${table} set data = ?, version = version + 1, updated_at = ?, expires_at = ? where id = ? and version = ?`

/**
 * The floor: the same SELECT (and UPDATE) as one prepared statement on the
 * bare driver, no query builder, no crypto, no serialisation.
 */
async function rawDriver(dialect: Dialect, knex: any, table: string) {
  switch (dialect.name) {
    case 'sqlite': {
      const connection = await knex.client.acquireConnection()
      const select = connection.prepare(`${SELECT(table)}?`)
      const update = connection.prepare(UPDATE(table))
      await knex.client.releaseConnection(connection)
      return {
        read: async (hash: string) => select.get(hash),
        update: async (hash: string, data: Buffer, version: number) =>
          update.run(data, Date.now(), Date.now() + 7_200_000, hash, version),
        close: async () => {},
      }
    }
    case 'pg': {
      const client = new pg.Client((dialect.connection() as any).connection)
      await client.connect()
      const select = `${SELECT(table)}$1`
      const update = UPDATE(table)
        .split('?')
        .reduce((sql, part, index) => (index ? `${sql}$${index}${part}` : part), '')
      return {
        read: async (hash: string) => {
          const result = await client.query({ name: 'bench_read', text: select, values: [hash] })
          return result.rows[0]
        },
        update: (hash: string, data: Buffer, version: number) =>
          client.query({
            name: 'bench_update',
            text: update,
            values: [data, new Date(), new Date(Date.now() + 7_200_000), hash, version],
          }),
        close: () => client.end(),
      }
    }
    case 'mysql': {
      const connection = await mysql.createConnection((dialect.connection() as any).connection)
      return {
        read: async (hash: string) => {
          const [rows] = await connection.execute(`${SELECT(table)}?`, [hash])
          return (rows as any[])[0]
        },
        update: (hash: string, data: Buffer, version: number) =>
          connection.execute(UPDATE(table), [
            data,
            new Date(),
            new Date(Date.now() + 7_200_000),
            hash,
            version,
          ]),
        close: () => connection.end(),
      }
    }
  }
}

/**
 * Store operations as a request performs them (a fresh store per request)
 * against the raw driver floor, per dialect.
 */
export async function runMicroBenchmark(): Promise<string> {
  const lines = [
    '| database | store read ops/s | driver SELECT ops/s | ratio | store read+write ops/s | driver SELECT+UPDATE ops/s | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ]
  for (const dialect of ALL_DIALECTS) {
    const table = `bench_micro_${process.pid}`
    const { db, emitter } = await setupDatabase(dialect, table)
    try {
      const factory = createStoredSessionFactory(resolveConfig({ table }), {
        db,
        emitter,
        keyring: makeKeyring(),
      })
      const sessionConfig = { age: '2 hours' } as any
      const ids = Array.from({ length: SESSIONS }, () => randomUUID())
      for (const id of ids) {
        await requestStore(factory, sessionConfig).write(id, {
          user: { id: 1, name: 'bench user', roles: ['member'] },
          visits: 0,
        })
      }

      const storeRead = await opsPerSecond((i) =>
        requestStore(factory, sessionConfig).read(ids[i % SESSIONS])
      )
      const storeRequest = await opsPerSecond(async (i) => {
        const store = requestStore(factory, sessionConfig)
        const id = ids[i % SESSIONS]
        const values = (await store.read(id))!
        values.visits = i
        await store.write(id, values)
      })

      const hashes = ids.map(hashSessionId)
      const driver = await rawDriver(dialect, db.connection().getWriteClient(), table)
      const driverRead = await opsPerSecond((i) => driver.read(hashes[i % SESSIONS]))
      const driverRequest = await opsPerSecond(async (i) => {
        const hash = hashes[i % SESSIONS]
        const row = await driver.read(hash)
        await driver.update(hash, row.data, Number(row.version))
      })
      await driver.close()

      const fixed = (value: number) => Math.round(value).toLocaleString('en-US')
      lines.push(
        `| ${dialect.name} | ${fixed(storeRead)} | ${fixed(driverRead)} | ${(storeRead / driverRead).toFixed(2)}x | ${fixed(storeRequest)} | ${fixed(driverRequest)} | ${(storeRequest / driverRequest).toFixed(2)}x |`
      )
    } finally {
      await db.connection().schema.dropTableIfExists(table)
      await db.manager.closeAll()
    }
  }
  return lines.join('\n')
}

/**
 * Microseconds per call of `operation`, median of 5 rounds.
 */
function microseconds(operation: (index: number) => unknown, runs = 50_000): number {
  for (let index = 0; index < 5_000; index++) operation(index)
  const rounds: number[] = []
  for (let round = 0; round < 5; round++) {
    const started = performance.now()
    for (let index = 0; index < runs; index++) operation(index)
    rounds.push(((performance.now() - started) * 1000) / runs)
  }
  return rounds.sort((a, b) => a - b)[2]
}

/**
 * What sealing costs per format: format 2 derives a key per session (one
 * HMAC, HKDF-Expand with the hashed id as info), which a request's cache
 * spares its second use (the write after the read).
 */
export function runSealBenchmark(): string {
  const keyring = makeKeyring()
  const hashes = Array.from({ length: SESSIONS }, () => hashSessionId(randomUUID()))
  const packed = Buffer.alloc(200, 7)
  const format1 = hashes.map((hash) => sealFormat1(APP_KEYS.current, packed, hash))
  const format2 = hashes.map((hash) => keyring.seal(packed, hash))
  const caches = hashes.map(() => new Map<string, Buffer>())
  for (const [index, hash] of hashes.entries()) keyring.open(format2[index], hash, caches[index])
  const at = (index: number) => index % SESSIONS

  const rows: Array<[string, number]> = [
    [
      'open, format 1 (shared key)',
      microseconds((i) => keyring.open(format1[at(i)], hashes[at(i)])),
    ],
    [
      'open, format 2 (session key derived)',
      microseconds((i) => keyring.open(format2[at(i)], hashes[at(i)])),
    ],
    [
      'open, format 2 (session key cached)',
      microseconds((i) => keyring.open(format2[at(i)], hashes[at(i)], caches[at(i)])),
    ],
    [
      'seal, format 2 (session key derived)',
      microseconds((i) => keyring.seal(packed, hashes[at(i)])),
    ],
    [
      'seal, format 2 (session key cached)',
      microseconds((i) => keyring.seal(packed, hashes[at(i)], caches[at(i)])),
    ],
  ]
  return [
    '| operation (200-byte payload) | µs |',
    '|---|---:|',
    ...rows.map(([name, value]) => `| ${name} | ${value.toFixed(1)} |`),
  ].join('\n')
}
