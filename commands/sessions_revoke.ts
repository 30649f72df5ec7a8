import { flags } from '@adonisjs/core/ace'
import { MaintenanceCommand } from '../src/maintenance/command.ts'
import { formatCount } from '../src/maintenance/progress.ts'
import {
  revokeAllSessions,
  revokeUserSessions,
  type RevokeSummary,
} from '../src/maintenance/revoke.ts'
import { E_INVALID_MAINTENANCE_OPTION } from '../src/errors.ts'
import type { StoredSessionContext } from '../src/store_context.ts'

/**
 * `node ace sessions:revoke`: signs a user (or everybody) out everywhere.
 */
export default class SessionsRevoke extends MaintenanceCommand {
  static commandName = 'sessions:revoke'
  static description = 'Sign a user out of every device (--user), or everybody (--all)'

  @flags.string({ description: 'Revoke every session tagged with this user id' })
  declare user?: string

  @flags.boolean({ description: 'Revoke every session of every user' })
  declare all?: boolean

  @flags.boolean({ description: 'Do not ask for confirmation with --all' })
  declare force?: boolean

  protected async perform(context: StoredSessionContext) {
    if ((this.user === undefined) === !this.all) {
      throw new E_INVALID_MAINTENANCE_OPTION(['flags', 'pass either --user <id> or --all'])
    }
    if (this.user !== undefined) {
      return { scope: 'user', ...(await revokeUserSessions(context, this.user)) }
    }

    if (!this.force) {
      // a prompt on a stdin that is not a terminal (cron, CI, a pipe) never
      // gets an answer: refuse instead of hanging (tests trap the prompt)
      if (process.stdin.isTTY !== true && this.prompt.traps.prompts.size === 0) {
        throw new E_INVALID_MAINTENANCE_OPTION([
          '--all',
          'cannot ask for confirmation without a terminal; pass --force',
        ])
      }
      const confirmed = await this.prompt.confirm(
        'Sign out every user by deleting every session?',
        { default: false }
      )
      if (!confirmed) {
        throw new E_INVALID_MAINTENANCE_OPTION(['--all', 'not confirmed; nothing was revoked'])
      }
    }
    const progress = this.progress()
    const summary = await revokeAllSessions(context, {
      onProgress: ({ deleted }) => progress.update(`Revoking: ${formatCount(deleted)} sessions`),
    })
    progress.done()
    return { scope: 'all', ...summary }
  }

  protected summarize(summary: RevokeSummary & { scope: string }) {
    this.logger.success(
      summary.scope === 'all'
        ? `Revoked ${formatCount(summary.deleted)} sessions: everybody is signed out`
        : `Revoked ${formatCount(summary.deleted)} sessions of user ${this.user}${summary.rememberMeTokens ? ` and ${formatCount(summary.rememberMeTokens)} remember-me tokens` : ''}`
    )
  }
}
