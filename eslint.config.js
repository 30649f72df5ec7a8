import { configPkg } from '@adonisjs/eslint-config'

export default configPkg({
  ignores: ['examples/**', 'tmp/**', 'tests/fixtures/app/**'],
})
