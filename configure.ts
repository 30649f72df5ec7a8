import type Configure from '@adonisjs/core/commands/configure'
import { stubsRoot } from './stubs/main.ts'

/**
 * Runs on `node ace configure stored-session` (and `node ace add`).
 */
export async function configure(command: Configure) {
  const codemods = await command.createCodemods()
  await codemods.makeUsingStub(stubsRoot, 'migrations/create_stored_sessions_table.stub', {
    migration: {
      folder: 'database/migrations',
      fileName: `${Date.now()}_create_stored_sessions_table.ts`,
      tableName: 'stored_sessions',
    },
  })
}
