import { MaintenanceCommand } from '../src/maintenance/command.ts'
import { formatCount } from '../src/maintenance/progress.ts'
import { sessionStats, type SessionStats } from '../src/maintenance/stats.ts'
import type { StoredSessionContext } from '../src/store_context.ts'

/**
 * `node ace sessions:stats`: what the sessions table holds.
 */
export default class SessionsStats extends MaintenanceCommand {
  static commandName = 'sessions:stats'
  static description =
    'Show session counts (live, expired, signed-in users), payload sizes and table size'

  protected perform(context: StoredSessionContext) {
    return sessionStats(context)
  }

  protected summarize(stats: SessionStats) {
    const table = this.ui.table()
    table.head(['Metric', 'Value'])
    table.row(['Sessions', formatCount(stats.total)])
    table.row(['Live', formatCount(stats.live)])
    table.row(['Expired, awaiting trim', formatCount(stats.expired)])
    table.row(['Live with a user', formatCount(stats.withUser)])
    table.row(['Distinct users', formatCount(stats.distinctUsers)])
    table.row([
      'Oldest live session',
      stats.oldestLiveAgeSeconds === null ? '-' : formatAge(stats.oldestLiveAgeSeconds),
    ])
    table.row([
      'Payload bytes (avg / p95 / max)',
      `${formatCount(stats.payloadBytes.average)} / ${formatCount(stats.payloadBytes.p95)} / ${formatCount(stats.payloadBytes.max)}`,
    ])
    table.row(['Table size', stats.tableBytes === null ? 'unknown' : formatBytes(stats.tableBytes)])
    table.render()
  }
}

function formatAge(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)} minutes`
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} hours`
  return `${(seconds / 86_400).toFixed(1)} days`
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
