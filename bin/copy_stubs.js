// Copies the .stub templates next to the compiled stubs/main.js, and the
// dashboard's Edge views and stylesheet next to its compiled code.
import { cpSync } from 'node:fs'

cpSync('stubs', 'build/stubs', {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
})

cpSync('src/dashboard/views', 'build/src/dashboard/views', { recursive: true })
cpSync('src/dashboard/assets', 'build/src/dashboard/assets', { recursive: true })
