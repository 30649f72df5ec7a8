/**
 * How fast `sessions:trim` deletes expired rows, and what it does to the
 * latency of requests reading live sessions meanwhile.
 *
 *   npm run bench:trim -- [rows=100000] [--batch-size=1000] [--dialect=pg|mysql] [--readers=8]
 *
 * Seeds `rows` expired sessions (server-side, in one statement) next to
 * live sessions created through the real @adonisjs/session middleware,
 * measures read latency without a trim (baseline), then runs the trim in
 * a separate process (as `node ace sessions:trim` would run) while the
 * same readers keep going. A script, not a test: never part of CI.
 */
import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { Database } from '@adonisjs/lucid/database'
import { LoggerFactory } from '@adonisjs/core/factories/logger'
import { ALL_DIALECTS, type Dialect } from '../tests/helpers/dialects.ts'
import {
  FakeClock,
  TestApp,
  makeKeyring,
  sessionConfigFor,
  setupDatabase,
  type CookieClient,
} from '../tests/helpers/app.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { contextOf } from '../src/store_context.ts'
import { trimSessions } from '../src/maintenance/trim.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'batch-size': { type: 'string', default: '1000' },
    'dialect': { type: 'string', default: 'pg' },
    'readers': { type: 'string', default: '8' },
    'live': { type: 'string', default: '200' },
    'child': { type: 'string' },
  },
})

const dialect = ALL_DIALECTS.find((candidate) => candidate.name === values.dialect)
if (!dialect || dialect.name === 'sqlite') {
  // an in-memory SQLite database cannot be shared with the trim process
  console.error('--dialect must be pg or mysql')
  process.exit(1)
}
const batchSize = Number(values['batch-size'])

if (values.child) {
  await runTrimChild(dialect, values.child)
} else {
  await main(dialect, Number(positionals[0] ?? 100_000))
}

/**
 * The trim, in its own process with its own connection pool.
 */
async function runTrimChild(on: Dialect, table: string) {
  const db = new Database(
    { connection: on.name, connections: { [on.name]: on.connection() } },
    new LoggerFactory().create(),
    // Lucid reports connection errors through the emitter
    {
      emit: (event: string, payload: unknown) => {
        if (event === 'db:connection:error') console.error(event, payload)
      },
    } as any
  )
  const factory = createStoredSessionFactory(resolveConfig({ table }), {
    db,
    keyring: makeKeyring(),
    emitter: null,
  })
  const summary = await trimSessions(contextOf(factory)!, { batchSize })
  await db.manager.closeAll()
  process.stdout.write(JSON.stringify(summary))
}

async function main(on: Dialect, rows: number) {
  const table = `bench_trim_${process.pid}`
  const { db, emitter } = await setupDatabase(on, table)
  const knex = db.connection().getWriteClient()
  try {
    console.log(`[${on.name}] seeding ${rows.toLocaleString('en-US')} expired rows...`)
    const seeded = performance.now()
    await seedExpired(on, knex, table, rows)
    console.log(`  seeded in ${((performance.now() - seeded) / 1000).toFixed(1)}s`)

    const factory = createStoredSessionFactory(resolveConfig({ table }), {
      db,
      emitter,
      keyring: makeKeyring(),
      clock: Date.now,
    })
    const app = await new TestApp(
      db,
      emitter,
      sessionConfigFor({ stored: factory }, 'stored'),
      new FakeClock()
    ).start()
    app.handler = (ctx) => {
      if (ctx.request.input('init')) ctx.session.put('cart', { items: [1, 2, 3], owner: 'bench' })
      return { items: ctx.session.get('cart')?.items?.length ?? 0 }
    }

    const clients: CookieClient[] = []
    for (let index = 0; index < Number(values.live); index++) {
      const client = app.client()
      await client.get('/?init=1')
      clients.push(client)
    }

    const readers = Number(values.readers)
    const baseline = await readWhile(clients, readers, sleep(3000))
    console.log(`  baseline reads (${readers} concurrent, no trim): ${describe(baseline)}`)

    const trim = runTrim(on, table)
    const during = await readWhile(clients, readers, trim)
    const summary = await trim
    console.log(
      `  trim: ${summary.deleted.toLocaleString('en-US')} rows in ${summary.batches} batches of ${batchSize}, ${(summary.durationMs / 1000).toFixed(1)}s, ${summary.rowsPerSecond.toLocaleString('en-US')} rows/s`
    )
    console.log(`  reads during the trim: ${describe(during)}`)

    const left = await knex(table).count('* as n')
    console.log(`  rows left: ${left[0].n} (the live sessions)`)
    await app.close()
  } finally {
    await knex.schema.dropTableIfExists(table)
    await db.manager.closeAll()
  }
}

/**
 * Expired rows with a realistic payload size (about what a signed-in
 * session with a few flash messages stores), spread over the last hour.
 */
async function seedExpired(on: Dialect, knex: any, table: string, rows: number) {
  if (on.name === 'pg') {
    await knex.raw(
      `insert into ?? (id, data, version, user_id, created_at, updated_at, expires_at)
       select encode(sha256(('expired-' || g)::bytea), 'hex'), decode(repeat('ab', 300), 'hex'), 0,
              case when g % 3 = 0 then (g % 5000)::text end,
              now() - interval '3 hours', now() - interval '3 hours',
              now() - interval '1 second' - (g % 3600000) * interval '1 millisecond'
       from generate_series(1, ?) g`,
      [table, rows]
    )
    await knex.raw('analyze ??', [table])
    return
  }
  // MySQL / MariaDB: 10^4 rows per statement from a cross join of digits
  // (MariaDB caps recursive CTEs at 1000 iterations by default)
  const digits =
    '(select 0 d union all select 1 union all select 2 union all select 3 union all select 4 union all select 5 union all select 6 union all select 7 union all select 8 union all select 9)'
  for (let start = 0; start < rows; start += 10_000) {
    await knex.raw(
      `insert into ?? (id, data, version, user_id, created_at, updated_at, expires_at)
       select sha2(concat('expired-', n), 256), repeat('x', 300), 0, null,
              now(3) - interval 3 hour, now(3) - interval 3 hour,
              now(3) - interval 1 second - interval (n % 3600000) * 1000 microsecond
       from (select d0.d + d1.d * 10 + d2.d * 100 + d3.d * 1000 + ? as n
             from ${digits} d0 cross join ${digits} d1 cross join ${digits} d2 cross join ${digits} d3) seq
       where n < ?`,
      [table, start, rows]
    )
  }
  await knex.raw('analyze table ??', [table])
}

function runTrim(on: Dialect, table: string) {
  return new Promise<{
    deleted: number
    batches: number
    durationMs: number
    rowsPerSecond: number
  }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import=@poppinss/ts-exec',
        new URL(import.meta.url).pathname,
        `--dialect=${on.name}`,
        `--batch-size=${batchSize}`,
        `--child=${table}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`trim exited with ${code}`))
    )
  })
}

/**
 * `concurrency` loops of GET requests over the live sessions until `until`
 * settles; latency of each request in milliseconds.
 */
async function readWhile(clients: CookieClient[], concurrency: number, until: Promise<unknown>) {
  let done = false
  until.then(
    () => (done = true),
    () => (done = true)
  )
  const latencies: number[] = []
  let failures = 0
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!done) {
        const client = clients[next++ % clients.length]
        const started = performance.now()
        const response = await client.get('/')
        latencies.push(performance.now() - started)
        if (response.status !== 200 || response.body.items !== 3) failures++
      }
    })
  )
  await until
  return { latencies, failures }
}

function describe({ latencies, failures }: { latencies: number[]; failures: number }) {
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  return `${sorted.length} requests, p50 ${at(0.5).toFixed(1)}ms, p99 ${at(0.99).toFixed(1)}ms, max ${sorted[sorted.length - 1].toFixed(1)}ms, ${failures} failed`
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
