import { defineConfig } from 'tsdown'

export default defineConfig({
  entry: [
    './index.ts',
    './src/types.ts',
    './src/models/stored_session.ts',
    './providers/stored_session_provider.ts',
    './services/main.ts',
    './services/dashboard.ts',
    './src/testing.ts',
    './src/maintenance/convert_times.ts',
    './commands/*.ts',
  ],
  outDir: './build',
  clean: true,
  format: 'esm',
  dts: false,
  treeshake: false,
  unbundle: true,
  target: 'esnext',
  fixedExtension: false,
})
