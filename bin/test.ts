import { mkdir } from 'node:fs/promises'
import { assert } from '@japa/assert'
import { fileSystem } from '@japa/file-system'
import { configure, processCLIArgs, run } from '@japa/runner'
import { ALL_DIALECTS } from '../tests/helpers/dialects.ts'
import { probe } from '../tests/helpers/probe.ts'
import { coversTopology } from '../tests/helpers/topologies/gate.ts'
import { PGBOUNCER_FILES, startPgBouncer } from '../tests/helpers/topologies/pgbouncer.ts'

/**
 * Every test runs on SQLite, PostgreSQL and MySQL. Under CI=true a server
 * that cannot be reached fails the run; elsewhere its dialect is skipped
 * with a line saying so.
 */
const required = process.env.CI === 'true' || process.env.CI === '1'
const enabled: string[] = []
for (const dialect of ALL_DIALECTS) {
  const failure = await probe(dialect)
  if (!failure) {
    enabled.push(dialect.name)
    continue
  }
  if (required) {
    console.error(
      `[stored-session] ${dialect.name} is required under CI but unreachable: ${failure}`
    )
    process.exit(1)
  }
  console.log(`[stored-session] SKIPPING ${dialect.name}: server unreachable (${failure})`)
}
/**
 * PostgreSQL through PgBouncer in transaction mode runs every spec as a
 * dialect of its own. Started here (it takes a second) so the specs see
 * it in enabledDialects(); the Galera cluster and the replica are started
 * by the spec files that use them (tests/topology_*.spec.ts), only when
 * those run.
 */
const teardown: Array<() => Promise<void>> = []
if (enabled.includes('pg') && (await coversTopology('pgbouncer', PGBOUNCER_FILES))) {
  const pgConnection = (ALL_DIALECTS[1].connection() as any).connection
  try {
    const started = performance.now()
    const bouncer = await startPgBouncer(pgConnection)
    teardown.push(bouncer.stop)
    process.env.STORED_SESSION_PGBOUNCER_PORT = String(bouncer.port)
    enabled.push('pgbouncer')
    console.log(
      `[stored-session] pgbouncer started on port ${bouncer.port} in ${Math.round(performance.now() - started)} ms`
    )
  } catch (error) {
    if (required) {
      console.error('[stored-session] pgbouncer is required under CI but did not start:', error)
      process.exit(1)
    }
    console.log(`[stored-session] SKIPPING pgbouncer topology: ${(error as Error).message}`)
  }
}

process.env.STORED_SESSION_DIALECTS = enabled.join(',')
console.log(`[stored-session] dialects under test: ${enabled.join(', ')}`)

// the tests' scratch folder (databases, migrations they render), not in git
await mkdir(new URL('../tmp/', import.meta.url), { recursive: true })

processCLIArgs(process.argv.splice(2))
configure({
  files: ['tests/**/*.spec.ts'],
  plugins: [assert(), fileSystem({ basePath: new URL('../tmp/fs/', import.meta.url) })],
  timeout: 30_000,
  teardown: [
    async () => {
      await Promise.all(teardown.map((stop) => stop()))
    },
  ],
  forceExit: true,
})

run()
