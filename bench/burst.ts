/**
 * Other users' latency during a burst of parallel writes on one session
 * (issue 13 item 12): a real AdonisJS server (tests/fixtures/session_server.ts,
 * knex's default pool: 10 on PostgreSQL and MySQL) serves `--users`
 * connections of other users, each changing a session of its own (GET
 * /write), first alone and then while `--burst` connections change one
 * single session at once, every request conflicting with the others.
 *
 *   npm run bench:burst -- [--dialect=mysql|pg|sqlite] [--duration=5] [--users=8] [--burst=48] [--rounds=3]
 *
 * A measurement, never part of the test suite.
 */
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { ALL_DIALECTS } from '../tests/helpers/dialects.ts'
import { sharedTable } from '../tests/fixtures/shared_table.ts'
import { startServers } from '../tests/fixtures/lost_updates.ts'

const { values } = parseArgs({
  options: {
    dialect: { type: 'string', default: 'mysql' },
    duration: { type: 'string', default: '5' },
    users: { type: 'string', default: '8' },
    burst: { type: 'string', default: '48' },
    rounds: { type: 'string', default: '3' },
  },
})
const dialect = ALL_DIALECTS.find((candidate) => candidate.name === values.dialect)!
const duration = Number(values.duration)

async function sessionCookie(url: string): Promise<string> {
  const response = await fetch(`${url}/login`)
  await response.arrayBuffer()
  return response.headers
    .getSetCookie()
    .map((header) => header.split(';')[0])
    .join('; ')
}

function load(url: string, connections: number, cookies: string[]) {
  let next = 0
  return autocannon({
    url,
    connections,
    duration,
    requests: [
      {
        method: 'GET',
        path: '/write',
        setupRequest: (request: any) => ({
          ...request,
          headers: { ...request.headers, cookie: cookies[next++ % cookies.length] },
        }),
      },
    ],
  })
}

const table = `bench_burst_${process.pid}`
const shared = await sharedTable(dialect, table)
const servers = await startServers(1, {
  SS_STORE: 'stored',
  SS_DIALECT: dialect.name,
  SS_TABLE: table,
  SS_DB_FILE: shared.file,
})
try {
  const [url] = servers.urls
  const users: string[] = []
  for (let index = 0; index < 200; index++) users.push(await sessionCookie(url))
  const burstSession = await sessionCookie(url)
  await load(url, Number(values.users), users) // warm-up

  const rows: string[] = []
  for (let round = 1; round <= Number(values.rounds); round++) {
    const alone = await load(url, Number(values.users), users)
    const [during, burst] = await Promise.all([
      load(url, Number(values.users), users),
      load(url, Number(values.burst), [burstSession]),
    ])
    rows.push(
      `| ${round} | ${alone.latency.p50} / ${alone.latency.p99} | ${Math.round(alone.requests.average)} ` +
        `| ${during.latency.p50} / ${during.latency.p99} | ${Math.round(during.requests.average)} ` +
        `| ${Math.round(burst.requests.average)} | ${burst.non2xx} of ${burst.requests.total} |`
    )
  }
  console.log(
    `${dialect.name}, ${values.users} other users' connections, a burst of ${values.burst} connections on one session, ${duration} s each\n`
  )
  console.log(
    '| round | others alone p50 / p99 ms | req/s | others during the burst p50 / p99 ms | req/s | burst req/s | burst 409s |'
  )
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const row of rows) console.log(row)
} finally {
  await servers.stop()
  await shared.drop()
}
