import { E_CANNOT_CONFIGURE } from '../errors.ts'
import { asObjectLiteral, EDITOR_SETTINGS, findCall, propertyInitializer } from './ast.ts'
import type { Step, StepContext } from './step.ts'

const FILE = 'config/session.ts'
const MODULE = 'stored-session'

/**
 * Adds `stored: storedSession({...})` to the `stores` of config/session.ts,
 * with the import. An app that already uses storedSession() under any store
 * name is left alone.
 */
export function planSessionStore({ app, project, options }: StepContext): Step {
  const file = project.getSourceFile(app.configPath('session.ts'))
  if (!file) {
    throw new E_CANNOT_CONFIGURE([
      `${FILE} does not exist. Configure @adonisjs/session first: node ace configure @adonisjs/session`,
    ])
  }
  const config = asObjectLiteral(findCall(file, 'defineConfig')?.getArguments()[0])
  const stores = asObjectLiteral(propertyInitializer(config, 'stores'))
  if (!stores) {
    throw new E_CANNOT_CONFIGURE([
      `${FILE} has no "stores" object inside defineConfig({...}); add "stored: storedSession()" to your stores by hand`,
    ])
  }
  if (stores.getText().includes('storedSession(')) {
    return { file: FILE, unchanged: 'a store already uses storedSession()' }
  }
  if (stores.getProperty('stored')) {
    throw new E_CANNOT_CONFIGURE([
      `${FILE} already has a "stored" store that does not use storedSession(); rename it or add ours by hand`,
    ])
  }

  const settings = [
    options.connection ? `connection: '${options.connection}'` : undefined,
    `table: '${options.table}'`,
  ].filter(Boolean)

  return {
    file: FILE,
    change: 'add the "stored" store',
    async apply() {
      const existing = file.getImportDeclaration(MODULE)
      if (!existing) {
        file.addImportDeclaration({ moduleSpecifier: MODULE, namedImports: ['storedSession'] })
      } else if (!existing.getNamedImports().some((named) => named.getName() === 'storedSession')) {
        existing.addNamedImport('storedSession')
      }
      stores.addPropertyAssignment({
        name: 'stored',
        initializer: `storedSession({ ${settings.join(', ')} })`,
      })
      file.formatText(EDITOR_SETTINGS)
      await file.save()
    },
  }
}
