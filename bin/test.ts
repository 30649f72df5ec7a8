import { mkdir } from 'node:fs/promises'
import { assert } from '@japa/assert'
import { fileSystem } from '@japa/file-system'
import { configure, processCLIArgs, run } from '@japa/runner'
import { ALL_DIALECTS } from '../tests/helpers/dialects.ts'
import { probe } from '../tests/helpers/probe.ts'

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
process.env.STORED_SESSION_DIALECTS = enabled.join(',')
console.log(`[stored-session] dialects under test: ${enabled.join(', ')}`)

// the tests' scratch folder (databases, migrations they render), not in git
await mkdir(new URL('../tmp/', import.meta.url), { recursive: true })

processCLIArgs(process.argv.splice(2))
configure({
  files: ['tests/**/*.spec.ts'],
  plugins: [assert(), fileSystem({ basePath: new URL('../tmp/fs/', import.meta.url) })],
  timeout: 30_000,
  forceExit: true,
})

run()
