import { flags } from '@adonisjs/core/ace'
import { MaintenanceCommand } from '../src/maintenance/command.ts'
import { formatCount, formatDuration } from '../src/maintenance/progress.ts'
import { trimSessions, type TrimSummary } from '../src/maintenance/trim.ts'
import type { StoredSessionContext } from '../src/store_context.ts'

/**
 * `node ace sessions:trim`: deletes expired sessions in batches.
 */
export default class SessionsTrim extends MaintenanceCommand {
  static commandName = 'sessions:trim'
  static description =
    'Delete sessions past their idle expiry or their maxLifetime, in batches, while the app keeps serving requests'

  @flags.number({
    description: 'Rows deleted per statement (default: adapts to the database, 100 to 10,000)',
  })
  declare batchSize?: number

  @flags.boolean({ description: 'Count the rows a trim would delete, delete nothing' })
  declare dryRun?: boolean

  protected async perform(context: StoredSessionContext) {
    const progress = this.progress()
    const summary = await trimSessions(context, {
      batchSize: this.batchSize,
      dryRun: this.dryRun,
      onProgress: ({ deleted, batches }) =>
        progress.update(`Trimming: ${formatCount(deleted)} rows deleted in ${batches} batches`),
    })
    progress.done()
    return summary
  }

  protected summarize(summary: TrimSummary) {
    if (summary.dryRun) {
      this.logger.info(`Dry run: ${formatCount(summary.deleted)} expired sessions would be deleted`)
      return
    }
    this.logger.success(
      `Deleted ${formatCount(summary.deleted)} expired sessions in ${summary.batches} batches (${formatDuration(summary.durationMs)}, ${formatCount(summary.rowsPerSecond)} rows/s)`
    )
  }
}
