/**
 * Seeds a sessions table with `rows` sessions sealed by the real codec, as
 * fast as this machine allows: sealing on worker threads, rows sent in
 * primary-key order (PostgreSQL: one COPY through psql; MySQL: multi-row
 * INSERTs of 1,000 by mysql2), and the two secondary indexes built once at
 * the end rather than maintained row by row.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import pg from 'pg'
import mysql from 'mysql2/promise'
import type { Dialect } from '../../tests/helpers/dialects.ts'
import { primaryKeyOrder, writeOrder, type SeedRow } from './rows.ts'

const COLUMNS =
  'id, data, version, user_id, ip_address, user_agent, created_at, updated_at, expires_at'
const IP = '203.0.113.7'
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) bench'

/** The secondary indexes of the published migration (knex's names). */
const INDEXED = ['user_id', 'expires_at']

/**
 * `id`: rows arrive in primary-key order (InnoDB keeps them so whatever the
 * order; for PostgreSQL's heap it scatters expired rows over the whole
 * table, the worst case for a trim). `write`: in the order a live app last
 * wrote them, as PostgreSQL's heap holds them after a while (PostgreSQL
 * only: its primary key is then built at the end, like the other indexes).
 */
export type SeedOrder = 'id' | 'write'

export async function seedSessions(
  dialect: Dialect,
  table: string,
  rows: number,
  now: number,
  log: (message: string) => void,
  seedOrder: SeedOrder = 'id'
): Promise<{ rowsPerSecond: number; indexSeconds: number }> {
  if (seedOrder === 'write' && dialect.name !== 'pg') throw new Error('--order write: pg only')
  const insert = await inserterFor(dialect, table)
  const started = performance.now()
  try {
    for (const column of INDEXED) await insert.sql(`drop index ${indexName(table, column)}`)
    if (seedOrder === 'write')
      await insert.sql(`alter table ${table} drop constraint ${table}_pkey`)

    const order = seedOrder === 'write' ? writeOrder(rows) : primaryKeyOrder(rows)
    log(
      `ordered ${rows} rows by ${seedOrder} in ${((performance.now() - started) / 1000).toFixed(1)} s`
    )
    const batchSize = dialect.name === 'pg' ? 5000 : 1000
    const batches = Math.ceil(rows / batchSize)
    const workers = Array.from(
      { length: Math.max(1, availableParallelism()) },
      () => new Worker(new URL('./seal_worker.ts', import.meta.url), { workerData: { now } })
    )
    const sealed = new Map<number, SeedRow[]>()
    let wake: (() => void) | null = null
    for (const worker of workers) {
      worker.on('message', ({ batch, rows: batchRows }) => {
        sealed.set(batch, batchRows)
        wake?.()
      })
    }
    let sent = 0
    const send = () => {
      // two batches ahead per worker keeps them busy while one is inserted
      while (sent < batches && sent - next < workers.length * 2) {
        const numbers = order.slice(sent * batchSize, (sent + 1) * batchSize)
        workers[sent % workers.length].postMessage({ batch: sent, numbers })
        sent++
      }
    }
    let next = 0
    let sealWait = 0
    let inserting = 0
    try {
      for (; next < batches; next++) {
        send()
        const waitStarted = performance.now()
        while (!sealed.has(next)) await new Promise<void>((resolve) => (wake = resolve))
        const insertStarted = performance.now()
        sealWait += insertStarted - waitStarted
        await insert.rows(sealed.get(next)!)
        inserting += performance.now() - insertStarted
        sealed.delete(next)
        if (next % 200 === 199) log(`seeded ${(next + 1) * batchSize} of ${rows}`)
      }
      await insert.flush()
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()))
    }
    const rowsPerSecond = (rows * 1000) / (performance.now() - started)
    log(
      `waited ${(sealWait / 1000).toFixed(1)} s for sealing, ${(inserting / 1000).toFixed(1)} s inserting`
    )

    const indexing = performance.now()
    if (seedOrder === 'write') await insert.sql(`alter table ${table} add primary key (id)`)
    for (const column of INDEXED) {
      await insert.sql(`create index ${indexName(table, column)} on ${table} (${column})`)
    }
    await insert.sql(dialect.name === 'pg' ? `analyze ${table}` : `analyze table ${table}`)
    const indexSeconds = (performance.now() - indexing) / 1000
    log(
      `seeded ${rows} rows at ${Math.round(rowsPerSecond)} rows/s, indexes in ${indexSeconds.toFixed(1)} s`
    )
    return { rowsPerSecond, indexSeconds }
  } finally {
    await insert.close()
  }
}

function indexName(table: string, column: string) {
  return `${table}_${column}_index`
}

interface Inserter {
  sql(statement: string): Promise<void>
  rows(rows: SeedRow[]): Promise<void>
  /** Waits for every row sent to be stored. */
  flush(): Promise<void>
  close(): Promise<void>
}

async function finishCopy(copy: ChildProcess | null) {
  if (!copy) return
  copy.stdin!.end()
  const [code] = await once(copy, 'exit')
  if (code !== 0) throw new Error(`psql \\copy exited with ${code}`)
}

async function inserterFor(dialect: Dialect, table: string): Promise<Inserter> {
  const config = (dialect.connection() as any).connection
  if (dialect.name === 'pg') {
    // COPY through psql: no client library of ours speaks COPY, and it
    // takes rows at about twice the rate of the fastest INSERT
    const client = new pg.Client(config)
    await client.connect()
    let copy: ChildProcess | null = null
    const copying = () => {
      if (copy) return copy
      copy = spawn(
        'psql',
        [
          '-h',
          config.host,
          '-p',
          String(config.port),
          '-U',
          config.user,
          '-d',
          config.database,
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '-c',
          `\\copy ${table} (${COLUMNS}) from stdin`,
        ],
        {
          stdio: ['pipe', 'inherit', 'inherit'],
          env: { ...process.env, PGPASSWORD: config.password },
        }
      )
      return copy
    }
    const field = (value: string | null) => value ?? '\\N'
    return {
      sql: async (text) => void (await client.query(text)),
      rows: async (rows) => {
        const lines = rows
          .map((row) =>
            [
              row.id,
              `\\\\x${asBuffer(row.data).toString('hex')}`,
              1,
              field(row.userId),
              IP,
              USER_AGENT,
              row.createdAt,
              row.updatedAt,
              row.expiresAt,
            ].join('\t')
          )
          .join('\n')
        const stdin = copying().stdin!
        if (!stdin.write(`${lines}\n`)) await once(stdin, 'drain')
      },
      flush: async () => {
        await finishCopy(copy)
        copy = null
      },
      close: async () => {
        await finishCopy(copy)
        await client.end()
      },
    }
  }
  const connection = await mysql.createConnection({ ...config, timezone: 'Z' })
  // wall times in UTC, as the store writes them
  const wall = (iso: string) => iso.slice(0, 23).replace('T', ' ')
  return {
    sql: async (text) => {
      // MySQL drops an index with `drop index name on table`
      await connection.query(text.startsWith('drop index') ? `${text} on ${table}` : text)
    },
    rows: async (rows) => {
      await connection.query(`insert into ${table} (${COLUMNS}) values ?`, [
        rows.map((row) => [
          row.id,
          asBuffer(row.data),
          1,
          row.userId,
          IP,
          USER_AGENT,
          wall(row.createdAt),
          wall(row.updatedAt),
          wall(row.expiresAt),
        ]),
      ])
    },
    flush: async () => {},
    close: () => connection.end(),
  }
}

/** Rows come back from the workers as Uint8Arrays (structured clone). */
function asBuffer(data: Uint8Array) {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}
