/*
|--------------------------------------------------------------------------
| JavaScript entrypoint for running ace commands
|--------------------------------------------------------------------------
*/
import '@poppinss/ts-exec'

await import('./bin/console.ts')
