import type { Step, StepContext } from './step.ts'

const FILE = 'adonisrc.ts'
export const PROVIDER = 'stored-session/stored_session_provider'
export const COMMANDS = 'stored-session/commands'

/**
 * Registers the provider and the maintenance commands. The rc transformer
 * is idempotent itself; reading first lets a re-run say "unchanged".
 */
export function planRcFile({ app, project, codemods }: StepContext): Step {
  const text = project.getSourceFile(app.makePath(FILE))?.getFullText() ?? ''
  if (text.includes(`'${PROVIDER}'`) && text.includes(`'${COMMANDS}'`)) {
    return { file: FILE, unchanged: 'provider and commands are registered' }
  }
  return {
    file: FILE,
    change: 'register the provider and commands',
    logsItself: true,
    async apply() {
      await codemods.updateRcFile((rcFile) => {
        rcFile.addProvider(PROVIDER)
        rcFile.addCommand(COMMANDS)
      })
    },
  }
}
