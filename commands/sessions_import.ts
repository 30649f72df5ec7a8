import { flags } from '@adonisjs/core/ace'
import { MaintenanceCommand } from '../src/maintenance/command.ts'
import { formatCount, formatDuration } from '../src/maintenance/progress.ts'
import {
  DEFAULT_IMPORT_BATCH_SIZE,
  DEFAULT_SOURCE_TABLE,
  importDatabaseSessions,
  type ImportSummary,
} from '../src/maintenance/import.ts'
import type { StoredSessionContext } from '../src/store_context.ts'

/**
 * `node ace sessions:import`: copies the sessions of @adonisjs/session's
 * built-in `database` store, so switching stores signs nobody out.
 */
export default class SessionsImport extends MaintenanceCommand {
  static commandName = 'sessions:import'
  static description =
    'Copy sessions from the built-in "database" session store table (idempotent), so switching stores signs nobody out'

  @flags.string({
    description: 'Table of the built-in database store',
    default: DEFAULT_SOURCE_TABLE,
  })
  declare from: string

  @flags.string({
    description: 'Lucid connection of that table (defaults to the store connection)',
  })
  declare connection?: string

  @flags.number({ description: 'Rows read per page', default: DEFAULT_IMPORT_BATCH_SIZE })
  declare batchSize: number

  protected async perform(context: StoredSessionContext) {
    const progress = this.progress()
    const summary = await importDatabaseSessions(context, {
      from: this.from,
      connection: this.connection,
      batchSize: this.batchSize,
      onProgress: ({ copied, refreshed, skipped, deletedHere, expired, invalid }) =>
        progress.update(
          `Importing: ${formatCount(copied + refreshed + skipped + deletedHere + expired + invalid)} rows read, ${formatCount(copied)} copied`
        ),
    })
    progress.done()
    return summary
  }

  protected summarize(summary: ImportSummary) {
    this.logger.success(
      `Copied ${formatCount(summary.copied)} sessions from "${this.from}" in ${formatDuration(summary.durationMs)}`
    )
    this.logger.info(
      `Refreshed ${formatCount(summary.refreshed)}, skipped ${formatCount(summary.skipped)} unchanged, ${formatCount(summary.deletedHere)} deleted here since (not copied again), ${formatCount(summary.removed)} removed (gone from the source), ${formatCount(summary.expired)} expired, ${formatCount(summary.invalid)} invalid`
    )
  }
}
