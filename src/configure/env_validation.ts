import { E_CANNOT_CONFIGURE } from '../errors.ts'
import {
  asObjectLiteral,
  EDITOR_SETTINGS,
  findCall,
  propertyInitializer,
  stringValue,
} from './ast.ts'
import type { Step, StepContext } from './step.ts'

const FILE = 'start/env.ts'
const VARIABLE = 'SESSION_DRIVER'

/**
 * Admits `stored` in the SESSION_DRIVER enum of start/env.ts. The
 * `defineEnvValidations` codemod skips variables that already exist, and
 * @adonisjs/session has defined this one, so the enum's array is edited in
 * place.
 */
export function planEnvValidation({ app, project }: StepContext): Step {
  const file = project.getSourceFile(app.startPath('env.ts'))
  const variables = file && asObjectLiteral(findCall(file, 'Env.create')?.getArguments()[1])
  if (!file || !variables) {
    throw new E_CANNOT_CONFIGURE([`${FILE} has no Env.create(APP_ROOT, {...}) call to edit`])
  }

  const validation = propertyInitializer(variables, VARIABLE)
  if (!validation) {
    return {
      file: FILE,
      change: `validate ${VARIABLE}`,
      async apply() {
        variables.addPropertyAssignment({
          name: VARIABLE,
          initializer: `Env.schema.enum(['cookie', 'memory', 'stored'] as const)`,
        })
        file.formatText(EDITOR_SETTINGS)
        await file.save()
      },
    }
  }

  if (!validation.getText().startsWith('Env.schema.enum')) {
    return { file: FILE, unchanged: `${VARIABLE} is not an enum, so it admits "stored" already` }
  }
  const values = validation
    .getDescendants()
    .find((node) => node.getKindName() === 'ArrayLiteralExpression') as
    import('ts-morph').ArrayLiteralExpression | undefined
  if (!values) {
    throw new E_CANNOT_CONFIGURE([
      `the ${VARIABLE} enum in ${FILE} is not an array literal; add 'stored' to it by hand`,
    ])
  }
  if (values.getElements().some((element) => stringValue(element) === 'stored')) {
    return { file: FILE, unchanged: `${VARIABLE} already admits "stored"` }
  }
  return {
    file: FILE,
    change: `admit "stored" in ${VARIABLE}`,
    async apply() {
      values.addElement(`'stored'`)
      file.formatText(EDITOR_SETTINGS)
      await file.save()
    },
  }
}
