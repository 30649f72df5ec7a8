// Copies the .stub templates next to the compiled stubs/main.js.
import { cpSync } from 'node:fs'

cpSync('stubs', 'build/stubs', {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
})
