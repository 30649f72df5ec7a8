import { readdir } from 'node:fs/promises'
import { relative } from 'node:path'
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
