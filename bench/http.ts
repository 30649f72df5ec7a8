import autocannon from 'autocannon'
import { ALL_DIALECTS, type DialectName } from '../tests/helpers/dialects.ts'
import { sharedTable } from '../tests/fixtures/shared_table.ts'
import { startServers, type ServerEnv } from '../tests/fixtures/lost_updates.ts'

/**
 * One server configuration under load: a store of this package or of
 * @adonisjs/session, on one database.
 */
export interface HttpCase {
  label: string
  store: ServerEnv['SS_STORE']
  dialect?: DialectName
  /** SQLite only: WAL journal and `synchronous = NORMAL`. */
  wal?: boolean
  /** With no-op subscribers on the store's tracing channels. */
  trace?: boolean
}

export interface RouteResult {
  rps: number
  p50: number
  p99: number
  failed: number
  /**
   * Server CPU time (user + system) per request, in microseconds: what the
   * store costs the app, and far less sensitive to other load on the
   * machine than throughput.
   */
  cpuPerRequest: number
}

export interface HttpResult {
  case: HttpCase
  read: RouteResult
  write: RouteResult
}

export interface HttpOptions {
  /** Seconds per measured cell (each route is warmed up for a second first). */
  duration: number
  connections: number
  /** Distinct sessions the load is spread over. */
  sessions: number
}

export interface PreparedCase {
  case: HttpCase
  url: string
  cookies: string[]
  stop(): Promise<void>
}

/**
 * Starts the server in a child process (so the load generator does not
 * share its event loop), creates `sessions` sessions and warms both routes
 * up. Servers of all cases stay up together so that rounds can alternate
 * between them: on a shared machine, background load then spreads over
 * every case instead of skewing one.
 */
export async function prepareCase(httpCase: HttpCase, options: HttpOptions): Promise<PreparedCase> {
  const table = `bench_${httpCase.store}_${process.pid}_${++prepared}`
  const dialect = ALL_DIALECTS.find(({ name }) => name === (httpCase.dialect ?? 'sqlite'))!
  const usesTable = ['stored', 'database', 'driver'].includes(httpCase.store)
  const shared = usesTable
    ? await sharedTable(dialect, table, {
        schema: httpCase.store === 'stored' ? 'stored' : 'database',
        wal: httpCase.wal,
      })
    : null

  const redisPrefix = `stored_session_bench_${process.pid}_${prepared}:`
  const servers = await startServers(1, {
    SS_STORE: httpCase.store,
    SS_DIALECT: dialect.name,
    SS_TABLE: table,
    SS_DB_FILE: shared?.file,
    SS_SQLITE_WAL: httpCase.wal ? '1' : undefined,
    SS_REDIS_PREFIX: redisPrefix,
    SS_TRACE: httpCase.trace ? '1' : undefined,
  })
  const stop = async () => {
    await servers.stop()
    await shared?.drop()
    if (httpCase.store === 'redis') await dropRedisKeys(redisPrefix)
  }
  try {
    const url = servers.urls[0]
    const cookies = await createSessions(url, options.sessions)
    for (const path of ['/read', '/write']) await load(url, path, cookies, options, 1)
    return { case: httpCase, url, cookies, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
let prepared = 0

export function measure(
  preparedCase: PreparedCase,
  route: 'read' | 'write',
  options: HttpOptions
): Promise<RouteResult> {
  return load(preparedCase.url, `/${route}`, preparedCase.cookies, options, options.duration)
}

async function createSessions(url: string, count: number): Promise<string[]> {
  const cookies: string[] = []
  for (let index = 0; index < count; index++) {
    const response = await fetch(`${url}/login`)
    await response.arrayBuffer()
    cookies.push(
      response.headers
        .getSetCookie()
        .map((header) => header.split(';')[0])
        .join('; ')
    )
  }
  return cookies
}

async function load(
  url: string,
  path: string,
  cookies: string[],
  options: HttpOptions,
  duration: number
): Promise<RouteResult> {
  let next = 0
  const cpuBefore = await serverCpu(url)
  const result = await autocannon({
    url,
    connections: options.connections,
    duration,
    requests: [
      {
        method: 'GET',
        path,
        setupRequest: (request: any) => ({
          ...request,
          headers: { ...request.headers, cookie: cookies[next++ % cookies.length] },
        }),
      },
    ],
  })
  const cpuAfter = await serverCpu(url)
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
    cpuPerRequest: (cpuAfter - cpuBefore) / Math.max(result.requests.total, 1),
  }
}

async function serverCpu(url: string): Promise<number> {
  const response = await fetch(`${url}/stats`)
  const stats = (await response.json()) as { cpuMicros: number }
  return stats.cpuMicros
}

/**
 * Removes the keys of this run only (its own prefix) from the shared Redis.
 */
async function dropRedisKeys(prefix: string) {
  const { Redis } = await import('ioredis')
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true })
  await redis.connect()
  try {
    let cursor = '0'
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = nextCursor
      if (keys.length) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}
