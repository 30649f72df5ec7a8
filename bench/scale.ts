/**
 * `npm run bench:scale`: the store and its maintenance commands on a large
 * sessions table. Never part of the tests (it writes gigabytes at full
 * size).
 *
 *   npm run bench:scale -- [--rows 10000000] [--dialect pg,mysql] [--readers 8]
 *                          [--phase all|seed|measure] [--order id|write] [--import-rows n]
 *                          [--trim-seconds n (0: until done)]
 *
 * Per dialect: seeds `rows` sessions sealed by the real codec (each row
 * sealed for its own id; a few hundred distinct payloads of 100 B to 4 KB;
 * 70% live, 30% idle-expired, 40% of the live ones signed in; see
 * bench/scale/), then measures
 * - `/read` p50 / p99 through the real @adonisjs/session middleware at 10k
 *   rows (a table of its own) and at `rows`;
 * - table and index bytes per session;
 * - `sessionStats()` (what `sessions:stats` runs), estimated and `--exact`;
 * - `sessions:trim` rows/s (in its own process, as cron runs it) while
 *   readers keep reading, with `/read` p99 during the trim;
 * - `sessions:rotate-key` rows/s re-sealing (time-boxed) and a full pass
 *   over rows already sealed with the current key (a second run).
 * Prints a markdown table.
 *
 * `--phase seed` seeds the big table and keeps it (`bench_scale_<rows>`);
 * `--phase measure` measures a kept one and drops it (trim and rotation
 * change it), so a long seed can run while the machine is busy and the
 * measurements when it is quiet.
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
} from '../tests/helpers/app.ts'
import { createStoredSessionFactory, resolveConfig } from '../src/define_config.ts'
import { contextOf, type StoredSessionContext } from '../src/store_context.ts'
import { sessionStats } from '../src/maintenance/stats.ts'
import { trimSessions } from '../src/maintenance/trim.ts'
import { KeyRotation, rotateSessionKey } from '../src/maintenance/rotate_key.ts'
import { MaintenanceQueries } from '../src/maintenance/queries.ts'
import { READ_SESSIONS, SEED_KEY, CURRENT_KEY, sessionIdOf } from './scale/rows.ts'
import { seedSessions, type SeedOrder } from './scale/seed.ts'
import { measureImport } from './scale/import.ts'

const { values: args } = parseArgs({
  options: {
    'rows': { type: 'string', default: '10000000' },
    'dialect': { type: 'string', default: 'pg,mysql' },
    'readers': { type: 'string', default: '8' },
    'read-seconds': { type: 'string', default: '5' },
    'rotate-seconds': { type: 'string', default: '20' },
    'phase': { type: 'string', default: 'all' },
    'import-rows': { type: 'string', default: '1000000' },
    'order': { type: 'string', default: 'id' },
    'trim-child': { type: 'string' },
    'trim-seconds': { type: 'string', default: '0' },
  },
})

const OLD_KEY = SEED_KEY
const NEW_KEY = CURRENT_KEY

if (args['trim-child']) {
  const dialect = ALL_DIALECTS.find(({ name }) => name === args.dialect)!
  const db = databaseOf(dialect)
  const factory = createStoredSessionFactory(resolveConfig({ table: args['trim-child'] }), {
    db,
    keyring: makeKeyring([OLD_KEY]),
    emitter: null,
  })
  // time-boxed by --trim-seconds: stopped after the batch that passes it
  const limit = Number(args['trim-seconds']) * 1000
  const started = performance.now()
  const timeUp = new Error('time up')
  let deleted = 0
  let summary
  try {
    summary = await trimSessions(contextOf(factory)!, {
      onProgress: (progress) => {
        deleted = progress.deleted
        if (limit && performance.now() - started > limit) throw timeUp
      },
    })
  } catch (error) {
    if (error !== timeUp) throw error
    const durationMs = performance.now() - started
    summary = { deleted, durationMs, rowsPerSecond: (deleted * 1000) / durationMs, timeBoxed: true }
  }
  await db.manager.closeAll()
  process.stdout.write(JSON.stringify(summary))
} else {
  const rows = Number(args.rows)
  const lines = [
    `# stored-session at scale: ${rows.toLocaleString('en-US')} rows, ${new Date().toISOString()}`,
    '',
    '| measure | ' +
      args.dialect
        .split(',')
        .map((name) => name)
        .join(' | ') +
      ' |',
    '|---|' +
      args.dialect
        .split(',')
        .map(() => '---:|')
        .join(''),
  ]
  const results: Record<string, string>[] = []
  for (const name of args.dialect.split(',')) {
    const dialect = ALL_DIALECTS.find((candidate) => candidate.name === name)
    if (!dialect || dialect.name === 'sqlite') throw new Error('--dialect takes pg and/or mysql')
    results.push(await measureDialect(dialect, rows))
  }
  for (const key of Object.keys(results[0])) {
    lines.push(`| ${key} | ${results.map((result) => result[key] ?? '-').join(' | ')} |`)
  }
  console.log(lines.join('\n'))
}

function databaseOf(dialect: Dialect) {
  return new Database(
    { connection: dialect.name, connections: { [dialect.name]: dialect.connection() } },
    new LoggerFactory().create(),
    { emit: () => {} } as any
  )
}

async function measureDialect(dialect: Dialect, rows: number): Promise<Record<string, string>> {
  const result: Record<string, string> = {}
  const log = (message: string) => process.stderr.write(`[${dialect.name}] ${message}\n`)
  const kept = `bench_scale_${rows}`

  if (args.phase === 'seed') {
    const big = await seededTable(dialect, rows, log, { name: kept })
    result['seed rows/s (sealed, bulk INSERT)'] = fixed(big.seedRowsPerSecond)
    await big.close()
    return result
  }

  // a small table first: the read latency to compare with
  const small = await seededTable(dialect, 10_000, log)
  result['/read p50 / p99 at 10k rows (ms)'] = describe(await readFor(small, secondsOf('read')))
  await small.drop()

  const big =
    args.phase === 'measure'
      ? await seededTable(dialect, rows, log, { seed: false, name: kept })
      : await seededTable(dialect, rows, log)
  try {
    if (big.seedRowsPerSecond) {
      result['seed rows/s (sealed, bulk INSERT)'] = fixed(big.seedRowsPerSecond)
    }
    const baseline = await readFor(big, secondsOf('read'))
    result[`/read p50 / p99 at ${short(rows)} rows (ms)`] = describe(baseline)

    const queries = MaintenanceQueries.for(big.context, 'stats')
    const bytes = await queries.tableSize()
    result['table + index bytes per session'] = bytes === null ? '-' : fixed(bytes / rows)

    for (const exact of [false, true]) {
      const started = performance.now()
      const stats = await sessionStats(big.context, { exact })
      result[`sessionStats()${exact ? ' --exact' : ''} s`] =
        `${((performance.now() - started) / 1000).toFixed(2)} (total ${short(stats.total)}${stats.estimated.length ? ', estimated' : ''})`
      log(`stats${exact ? ' --exact' : ''} done`)
    }

    // the trim in its own process while the readers read
    const trim = runTrimChild(dialect, big.table)
    const during = await readWhile(big, trim)
    const summary = await trim
    result['trim: expired rows deleted'] =
      `${fixed(summary.deleted)}${summary.timeBoxed ? ` (stopped after ${args['trim-seconds']} s)` : ''}`
    result['trim rows/s under reads'] = fixed(summary.rowsPerSecond)
    result['trim s per 1M expired rows'] = (1_000_000 / summary.rowsPerSecond || 0).toFixed(1)
    result['/read p99 during trim / without (ms)'] =
      `${percentile(during, 0.99).toFixed(1)} / ${percentile(baseline, 0.99).toFixed(1)}`
    log('trim done')

    // rotation: every row is sealed with OLD_KEY; [NEW, OLD] re-seals them
    const rotating = contextOf(
      createStoredSessionFactory(resolveConfig({ table: big.table }), {
        db: big.db,
        keyring: makeKeyring([NEW_KEY, OLD_KEY]),
        emitter: null,
      })
    )!
    const rotation = new KeyRotation(rotating, { batchSize: 500 })
    const rotateUntil = performance.now() + secondsOf('rotate') * 1000
    let page = await rotation.next()
    while (page && performance.now() < rotateUntil) {
      await rotation.apply(page)
      page = await rotation.next()
    }
    const partial = rotation.summary()
    result['rotate-key rows/s re-sealing'] = fixed(
      (partial.rotated * 1000) / Math.max(partial.durationMs, 1)
    )
    // a second run as it meets rows sealed with the current key: the seed's
    // (the rows the time-boxed run re-sealed go back to it)
    const again = await rotateSessionKey(
      contextOf(
        createStoredSessionFactory(resolveConfig({ table: big.table }), {
          db: big.db,
          keyring: makeKeyring([OLD_KEY, NEW_KEY]),
          emitter: null,
        })
      )!
    )
    result['rotate-key pass over rows already current'] =
      `${(again.durationMs / 1000).toFixed(1)} s (${fixed((again.skipped * 1000) / Math.max(again.durationMs, 1))} rows/s, ${fixed(again.rotated)} re-sealed)`
    log('rotate done')
  } finally {
    await big.drop()
  }

  const importRows = Number(args['import-rows'])
  if (importRows > 0) {
    const imported = await measureImport(dialect, importRows, log)
    result[`sessions:import rows/s (${short(importRows)} built-in rows)`] =
      `${fixed(imported.rowsPerSecond)} (${imported.seconds.toFixed(0)} s)`
  }
  return result
}

function secondsOf(what: 'read' | 'rotate') {
  return Number(args[`${what}-seconds`])
}

interface SeededTable {
  table: string
  db: Database
  context: StoredSessionContext
  app: TestApp
  cookies: string[]
  seedRowsPerSecond: number
  /** Stops the app, keeps the table. */
  close(): Promise<void>
  drop(): Promise<void>
}

async function openDatabase(dialect: Dialect, table: string) {
  const { app, db, emitter } = await setupDatabase(dialect, `bench_scale_probe_${process.pid}`)
  await db.connection().schema.dropTableIfExists(`bench_scale_probe_${process.pid}`)
  if (!(await db.connection().schema.hasTable(table))) {
    throw new Error(`no table ${table}: run --phase seed with the same --rows first`)
  }
  return { app, db, emitter }
}

/**
 * A sessions table holding `rows` sealed sessions, and an app reading it.
 * `seed: false` opens a table an earlier `--phase seed` kept.
 */
async function seededTable(
  dialect: Dialect,
  rows: number,
  log: (message: string) => void,
  { seed = true, name = `bench_scale_${process.pid}_${rows}` } = {}
): Promise<SeededTable> {
  const table = name
  const { db, emitter } = seed
    ? await setupDatabase(dialect, table)
    : await openDatabase(dialect, table)
  const factory = createStoredSessionFactory(resolveConfig({ table }), {
    db,
    emitter,
    keyring: makeKeyring([OLD_KEY]),
    clock: Date.now,
  })
  const context = contextOf(factory)!
  const knex = db.connection().getWriteClient()
  const seeded = seed
    ? await seedSessions(dialect, table, rows, Date.now(), log, args.order as SeedOrder)
    : null
  const seedRowsPerSecond = seeded?.rowsPerSecond ?? 0
  const sessionIds = Array.from({ length: Math.min(rows, READ_SESSIONS) }, (_, n) => sessionIdOf(n))

  const app = await new TestApp(
    db,
    emitter,
    sessionConfigFor({ stored: factory }, 'stored'),
    new FakeClock()
  ).start()
  app.handler = (ctx) => {
    if (ctx.request.url() === '/counter') ctx.session.increment('visits')
    return { user: ctx.session.get('auth_web') ?? null }
  }
  return {
    table,
    db,
    context,
    app,
    cookies: sessionIds.map((id) => app.signedCookie(id)),
    seedRowsPerSecond,
    async close() {
      await app.close()
      await db.manager.closeAll()
    },
    async drop() {
      await app.close()
      await knex.schema.dropTableIfExists(table)
      await db.manager.closeAll()
    },
  }
}

function readFor(table: SeededTable, seconds: number) {
  return readWhile(table, new Promise((resolve) => setTimeout(resolve, seconds * 1000)))
}

/**
 * Readers over the seeded live sessions until `until` settles: `/read`
 * latencies (one reader in four requests `/counter`, which writes).
 */
async function readWhile(table: SeededTable, until: Promise<unknown>) {
  let done = false
  until.then(
    () => (done = true),
    () => (done = true)
  )
  const latencies: number[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: Number(args.readers) }, async (_, reader) => {
      while (!done) {
        const cookie = table.cookies[next++ % table.cookies.length]
        const path = reader % 4 === 3 ? '/counter' : '/read'
        const started = performance.now()
        const response = await fetch(`${table.app.url}${path}`, { headers: { cookie } })
        await response.arrayBuffer()
        if (path === '/read') latencies.push(performance.now() - started)
      }
    })
  )
  await until
  return latencies
}

function runTrimChild(dialect: Dialect, table: string) {
  return new Promise<{
    deleted: number
    rowsPerSecond: number
    durationMs: number
    timeBoxed?: boolean
  }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import=@poppinss/ts-exec',
        new URL(import.meta.url).pathname,
        `--dialect=${dialect.name}`,
        `--trim-child=${table}`,
        `--trim-seconds=${args['trim-seconds']}`,
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

function percentile(latencies: number[], q: number) {
  const sorted = [...latencies].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0
}

function describe(latencies: number[]) {
  return `${percentile(latencies, 0.5).toFixed(1)} / ${percentile(latencies, 0.99).toFixed(1)}`
}

function fixed(value: number) {
  return Math.round(value).toLocaleString('en-US')
}

function short(value: number) {
  return value >= 1_000_000
    ? `${value / 1_000_000}M`
    : value >= 1000
      ? `${value / 1000}k`
      : String(value)
}
