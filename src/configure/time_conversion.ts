import { readdir } from 'node:fs/promises'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stubsRoot } from '../../stubs/main.ts'
import type { Step, StepContext } from './step.ts'
import { storeConnection } from './store_connection.ts'

export const CONVERT_TIMES_ADVICE = [
  'On MySQL, stored-session before 0.2 stored session times in the zone of the app process.',
  'If your app processes ran in a zone other than UTC, re-run with --convert-times-from=<zone>',
  '(such as --convert-times-from=America/New_York) to publish a migration converting them to UTC,',
  'and run it after stopping the old version, before starting the new one.',
]

const MYSQL_CLIENTS = new Set(['mysql', 'mysql2'])

/**
 * On MySQL, rows an earlier version wrote hold wall times in the zone of
 * the app process that wrote them, a zone configure cannot know. With
 * `--convert-times-from=<zone>` it publishes the migration converting them
 * (once; its timestamp after the table migration's, so it runs on the
 * table). Without the flag, an existing install on MySQL (its table
 * migration published before this run) gets advice naming the flag, until
 * the conversion is published.
 */
export async function planTimeConversion(
  context: StepContext,
  tableMigration: Step
): Promise<Step | string[] | null> {
  const { app, codemods, options } = context
  const folder = relative(fileURLToPath(app.appRoot), app.migrationsPath()).split('\\').join('/')
  const suffix = `_convert_${options.table}_times_to_utc`
  const files = await readdir(app.migrationsPath()).catch(() => [] as string[])
  const existing = files.find((name) => name.replace(/\.(ts|js)$/, '').endsWith(suffix))
  const fromZone = options.convertTimesFrom

  if (!fromZone) {
    const existingInstall = 'unchanged' in tableMigration
    const client = storeConnection(context)?.client
    const onMysql = client !== undefined && MYSQL_CLIENTS.has(client)
    return existingInstall && onMysql && !existing ? CONVERT_TIMES_ADVICE : null
  }
  if (existing) {
    return {
      file: `${folder}/${existing}`,
      unchanged: 'the time conversion migration is already published',
    }
  }
  const fileName = `${Math.max(Date.now(), timestampOf(tableMigration.file) + 1)}${suffix}.ts`
  return {
    file: `${folder}/${fileName}`,
    change: `publish the migration converting "${options.table}" times from ${fromZone} to UTC`,
    logsItself: true,
    async apply() {
      await codemods.makeUsingStub(
        stubsRoot,
        'migrations/convert_stored_sessions_times_to_utc.stub',
        {
          migration: { folder, fileName, tableName: options.table, fromZone },
        }
      )
    },
  }
}

/** The leading timestamp of a migration file name; 0 without one. */
function timestampOf(file: string): number {
  return Number(/(?:^|\/)(\d+)_[^/]*$/.exec(file)?.[1] ?? 0)
}
