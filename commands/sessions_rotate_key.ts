import { flags } from '@adonisjs/core/ace'
import { MaintenanceCommand } from '../src/maintenance/command.ts'
import { formatCount, formatDuration } from '../src/maintenance/progress.ts'
import {
  DEFAULT_ROTATION_BATCH_SIZE,
  rotateSessionKey,
  type RotateKeySummary,
} from '../src/maintenance/rotate_key.ts'
import type { StoredSessionContext } from '../src/store_context.ts'

/**
 * `node ace sessions:rotate-key`: re-encrypts every session with the first
 * key of the encryptor, so the older keys can be removed.
 */
export default class SessionsRotateKey extends MaintenanceCommand {
  static commandName = 'sessions:rotate-key'
  static description =
    'Re-encrypt every session with the first encryption key, so older keys can be removed afterwards'

  @flags.number({ description: 'Rows read per page', default: DEFAULT_ROTATION_BATCH_SIZE })
  declare batchSize: number

  @flags.boolean({ description: 'Delete sessions that no configured key can decrypt' })
  declare purgeUnreadable?: boolean

  protected async perform(context: StoredSessionContext) {
    const progress = this.progress()
    const summary = await rotateSessionKey(context, {
      batchSize: this.batchSize,
      purgeUnreadable: this.purgeUnreadable,
      onProgress: ({ rotated, skipped, conflicts, unreadable }) =>
        progress.update(
          `Rotating: ${formatCount(rotated + skipped + conflicts + unreadable)} rows done (${formatCount(unreadable)} unreadable)`
        ),
    })
    progress.done()
    return summary
  }

  protected summarize(summary: RotateKeySummary) {
    this.logger.success(
      `Re-encrypted ${formatCount(summary.rotated)} sessions with the first key in ${formatDuration(summary.durationMs)}`
    )
    if (summary.skipped) {
      this.logger.info(
        `${formatCount(summary.skipped)} sessions were sealed with the first key already (left as they are)`
      )
    }
    if (summary.conflicts) {
      this.logger.info(
        `${formatCount(summary.conflicts)} sessions were written by requests meanwhile (already sealed with the first key)`
      )
    }
    if (summary.unreadable && summary.purged === summary.unreadable) {
      this.logger.info(`Deleted ${formatCount(summary.purged)} sessions no key could decrypt`)
    } else if (summary.unreadable) {
      this.logger.warning(
        `${formatCount(summary.unreadable - summary.purged)} sessions cannot be decrypted with any configured key; run again with --purge-unreadable to delete them`
      )
    }
  }
}
