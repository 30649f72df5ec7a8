/**
 * `npm run bench`: this store against @adonisjs/session's own stores in
 * one run, on the same databases and the same app. Never part of the
 * tests. Prints markdown tables (paste the latest into README.md).
 *
 *   npm run bench                      # everything
 *   npm run bench -- --only http       # http | micro | lost
 *   npm run bench -- --duration 5      # seconds per HTTP cell and round
 *   npm run bench -- --rounds 5        # rounds over all cases; medians are reported
 *   npm run bench -- --cases sqlite,redis   # HTTP cases on these databases / stores
 */
import os from 'node:os'
import { parseArgs } from 'node:util'
import {
  measure,
  prepareCase,
  type HttpCase,
  type HttpResult,
  type PreparedCase,
  type RouteResult,
} from './http.ts'
import { measureLostUpdates } from './lost_updates.ts'
import { runMicroBenchmark, runSealBenchmark } from './micro.ts'

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    duration: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    sessions: { type: 'string', default: '500' },
    cases: { type: 'string' },
  },
})
const sections = args.only ? args.only.split(',') : ['http', 'micro', 'lost']

const CASES: HttpCase[] = [
  { label: 'stored (this package)', store: 'stored', dialect: 'sqlite', wal: true },
  {
    label: 'stored + tracing subscriber',
    store: 'stored',
    dialect: 'sqlite',
    wal: true,
    trace: true,
  },
  { label: '@adonisjs/session database', store: 'database', dialect: 'sqlite' },
  { label: 'stored (this package)', store: 'stored', dialect: 'pg' },
  { label: '@adonisjs/session database', store: 'database', dialect: 'pg' },
  { label: 'raw driver (floor)', store: 'driver', dialect: 'pg' },
  { label: 'stored (this package)', store: 'stored', dialect: 'mysql' },
  { label: '@adonisjs/session database', store: 'database', dialect: 'mysql' },
  { label: 'raw driver (floor)', store: 'driver', dialect: 'mysql' },
  { label: '@adonisjs/session redis', store: 'redis' },
  { label: '@adonisjs/session cookie', store: 'cookie' },
  { label: '@adonisjs/session memory', store: 'memory' },
]

const DIALECT_LABELS: Record<string, string> = {
  sqlite: 'SQLite',
  pg: 'PostgreSQL',
  mysql: 'MySQL/MariaDB',
}

function fixed(value: number, digits = 0) {
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })
}

function where(result: HttpResult) {
  const { store, dialect, wal } = result.case
  if (store !== 'stored' && store !== 'database' && store !== 'driver')
    return store === 'redis' ? 'Redis' : 'process'
  const name = DIALECT_LABELS[dialect ?? 'sqlite']
  if (dialect === 'sqlite' || dialect === undefined)
    return `${name} (${wal ? 'WAL' : 'default journal'})`
  return name
}

function httpTable(results: HttpResult[]) {
  const databaseOf = (dialect?: string) =>
    results.find((r) => r.case.store === 'database' && r.case.dialect === dialect)
  const ratio = (result: HttpResult, route: 'read' | 'write') => {
    const isSql = ['stored', 'database', 'driver'].includes(result.case.store)
    const base = isSql ? databaseOf(result.case.dialect) : databaseOf('pg')
    return base ? `${fixed(result[route].rps / base[route].rps, 2)}x` : '-'
  }
  const lines = [
    '| store | database | read-only req/s | p50 / p99 ms | CPU µs/req | vs database store | read+write req/s | p50 / p99 ms | CPU µs/req | vs database store |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const result of results) {
    const cells = [result.case.label, where(result)]
    for (const route of ['read', 'write'] as const) {
      const r = result[route]
      cells.push(
        `${fixed(r.rps)}${r.failed ? ` (${r.failed} failed)` : ''}`,
        `${r.p50} / ${r.p99}`,
        fixed(r.cpuPerRequest),
        ratio(result, route)
      )
    }
    lines.push(`| ${cells.join(' | ')} |`)
  }
  lines.push(
    '',
    "Ratios are of requests/s, against the `database` store on the same database (the redis, cookie and memory rows: against the `database` store on PostgreSQL). The raw driver row is a store on the bare `pg` / mysql2 pool making the built-in store's statements, prepared, with JSON and no encryption: the floor. CPU µs/req is the server process only (not the database server)."
  )
  return lines.join('\n')
}

function targets(results: HttpResult[]) {
  const find = (store: string, dialect?: string, trace = false) =>
    results.find(
      (r) => r.case.store === store && r.case.dialect === dialect && Boolean(r.case.trace) === trace
    )
  const rows: [string, number | undefined, number][] = []
  const ratio = (a?: HttpResult, b?: HttpResult, route: 'read' | 'write' = 'read') =>
    a && b ? a[route].rps / b[route].rps : undefined
  rows.push([
    'PostgreSQL read-only: stored / redis',
    ratio(find('stored', 'pg'), find('redis')),
    0.9,
  ])
  rows.push([
    'PostgreSQL read-only: stored / database',
    ratio(find('stored', 'pg'), find('database', 'pg')),
    2,
  ])
  rows.push([
    'MySQL/MariaDB read-only: stored / database',
    ratio(find('stored', 'mysql'), find('database', 'mysql')),
    1.6,
  ])
  rows.push([
    'SQLite read-only: stored (WAL) / database (default journal)',
    ratio(find('stored', 'sqlite'), find('database', 'sqlite')),
    5,
  ])
  for (const dialect of ['sqlite', 'pg', 'mysql']) {
    rows.push([
      `${DIALECT_LABELS[dialect]} read+write: stored / database`,
      ratio(find('stored', dialect), find('database', dialect), 'write'),
      dialect === 'sqlite' ? 1.1 : 1.2,
    ])
  }
  for (const dialect of ['pg', 'mysql']) {
    for (const route of ['read', 'write'] as const) {
      rows.push([
        `${DIALECT_LABELS[dialect]} ${route === 'read' ? 'read-only' : 'read+write'}: stored / raw driver over HTTP`,
        ratio(find('stored', dialect), find('driver', dialect), route),
        0,
      ])
    }
  }
  rows.push([
    'SQLite read-only: with / without a tracing subscriber',
    ratio(find('stored', 'sqlite', true), find('stored', 'sqlite')),
    0,
  ])
  const lines = ['| target | measured | required | |', '|---|---:|---:|---|']
  for (const [name, value, required] of rows) {
    const verdict =
      value === undefined
        ? 'not run'
        : required === 0
          ? 'info'
          : value >= required
            ? 'met'
            : 'MISSED'
    lines.push(
      `| ${name} | ${value === undefined ? '-' : `${fixed(value, 2)}x`} | ${required ? `>= ${required}x` : '-'} | ${verdict} |`
    )
  }
  return lines.join('\n')
}

const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`
console.log(`# stored-session benchmark\n\n${machine}\n`)

/**
 * The sample with the median throughput (its latencies come with it).
 */
function median(samples: RouteResult[]): RouteResult {
  const sorted = [...samples].sort((a, b) => a.rps - b.rps)
  const middle = sorted[Math.floor(sorted.length / 2)]
  const cpu = samples.map((sample) => sample.cpuPerRequest).sort((a, b) => a - b)
  return {
    ...middle,
    cpuPerRequest: cpu[Math.floor(cpu.length / 2)],
    failed: samples.reduce((sum, sample) => sum + sample.failed, 0),
  }
}

const results: HttpResult[] = []
if (sections.includes('http')) {
  const options = {
    duration: Number(args.duration),
    connections: Number(args.connections),
    sessions: Number(args.sessions),
  }
  const wanted = args.cases?.split(',')
  const cases = CASES.filter(
    (c) => !wanted || wanted.includes(c.dialect ?? '') || wanted.includes(c.store)
  )
  const prepared: PreparedCase[] = []
  try {
    for (const httpCase of cases) {
      process.stderr.write(
        `http: starting ${httpCase.label} on ${httpCase.dialect ?? httpCase.store}\n`
      )
      prepared.push(await prepareCase(httpCase, options))
    }
    const samples = new Map<PreparedCase, { read: RouteResult[]; write: RouteResult[] }>(
      prepared.map((p) => [p, { read: [], write: [] }])
    )
    for (let round = 1; round <= Number(args.rounds); round++) {
      process.stderr.write(`http: round ${round} of ${args.rounds}\n`)
      for (const route of ['read', 'write'] as const) {
        for (const p of prepared) samples.get(p)![route].push(await measure(p, route, options))
      }
    }
    results.push(
      ...prepared.map((p) => ({
        case: p.case,
        read: median(samples.get(p)!.read),
        write: median(samples.get(p)!.write),
      }))
    )
  } finally {
    for (const p of prepared) await p.stop()
  }
  console.log(
    `## HTTP: AdonisJS server + @adonisjs/session middleware, ${options.connections} connections, ${options.sessions} sessions, median of ${args.rounds} rounds of ${options.duration}s\n`
  )
  console.log(`${httpTable(results)}\n\n### Targets\n\n${targets(results)}\n`)
}

if (sections.includes('micro')) {
  process.stderr.write('micro: store operations against the raw driver...\n')
  console.log(
    `## Store against the raw driver (one connection, sequential)\n\n${await runMicroBenchmark()}\n`
  )
  console.log(`## Sealing and opening (one process, no database)\n\n${runSealBenchmark()}\n`)
}

if (sections.includes('lost')) {
  process.stderr.write('lost updates: two clients, 50 requests each, two server processes...\n')
  const rows = await measureLostUpdates()
  const lines = [
    '## Lost updates: two clients x 50 requests (4 in flight each), one session, distinct keys, two server processes\n',
    '| store | database | keys kept of 100 | failed requests |',
    '|---|---|---:|---:|',
  ]
  for (const row of rows) {
    lines.push(
      `| ${row.store === 'stored' ? 'stored (this package)' : '@adonisjs/session database'} | ${DIALECT_LABELS[row.dialect]} | ${row.kept} | ${row.failed} |`
    )
  }
  console.log(`${lines.join('\n')}\n`)
}
