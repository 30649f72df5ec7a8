import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stubsRoot } from '../../stubs/main.ts'
import type { Step, StepContext } from './step.ts'

/**
 * Publishes the sessions table migration, unless one for the same table is
 * already in the migrations folder (its timestamp differs on every run, so
 * the stub's own "file exists" check would not notice).
 */
export async function planMigration({ app, codemods, options }: StepContext): Promise<Step> {
  const folder = relative(fileURLToPath(app.appRoot), app.migrationsPath()).split('\\').join('/')
  const suffix = `_create_${options.table}_table`
  const files = await readdir(app.migrationsPath()).catch(() => [] as string[])
  const existing = files.find((name) => name.replace(/\.(ts|js)$/, '').endsWith(suffix))
  if (existing) {
    return { file: `${folder}/${existing}`, unchanged: 'the migration is already published' }
  }
  const fileName = `${Date.now()}${suffix}.ts`
  return {
    file: `${folder}/${fileName}`,
    change: `publish the "${options.table}" table migration`,
    logsItself: true,
    async apply() {
      await codemods.makeUsingStub(stubsRoot, 'migrations/create_stored_sessions_table.stub', {
        migration: { folder, fileName, tableName: options.table },
      })
    },
  }
}

/**
 * An app whose published table migration predates the `location` column
 * gets a migration adding it (which checks for the column, in case the
 * table was changed by hand). A fresh install's table migration has it.
 */
export async function planLocationMigration({
  app,
  codemods,
  options,
}: StepContext): Promise<Step | null> {
  const folder = relative(fileURLToPath(app.appRoot), app.migrationsPath()).split('\\').join('/')
  const files = await readdir(app.migrationsPath()).catch(() => [] as string[])
  const published = (suffix: string) =>
    files.find((name) => name.replace(/\.(ts|js)$/, '').endsWith(suffix))
  const tableMigration = published(`_create_${options.table}_table`)
  if (!tableMigration) return null
  const contents = await readFile(join(app.migrationsPath(), tableMigration), 'utf8')
  if (contents.includes(`'location'`)) return null
  const suffix = `_add_location_to_${options.table}_table`
  const existing = published(suffix)
  if (existing) {
    return {
      file: `${folder}/${existing}`,
      unchanged: 'the location migration is already published',
    }
  }
  const fileName = `${Date.now()}${suffix}.ts`
  return {
    file: `${folder}/${fileName}`,
    change: `publish the migration adding "location" to "${options.table}"`,
    logsItself: true,
    async apply() {
      await codemods.makeUsingStub(
        stubsRoot,
        'migrations/add_location_to_stored_sessions_table.stub',
        {
          migration: { folder, fileName, tableName: options.table },
        }
      )
    },
  }
}
