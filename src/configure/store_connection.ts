import { asObjectLiteral, findCall, propertyInitializer, stringValue } from './ast.ts'
import type { StepContext } from './step.ts'

/**
 * The Lucid connection the store will use, as config/database.ts declares
 * it: its name, its object literal and its client. Undefined when the
 * source does not tell (a connection name read from the environment, a
 * config built another way).
 */
export function storeConnection({ app, project, options }: StepContext) {
  const file = project.getSourceFile(app.configPath('database.ts'))
  const config = file && asObjectLiteral(findCall(file, 'defineConfig')?.getArguments()[0])
  const name = options.connection ?? stringValue(propertyInitializer(config, 'connection'))
  if (!file || !name) return undefined
  const connection = asObjectLiteral(
    propertyInitializer(asObjectLiteral(propertyInitializer(config, 'connections')), name)
  )
  const client = stringValue(propertyInitializer(connection, 'client'))
  if (!connection || !client) return undefined
  return { file, name, connection, client }
}
