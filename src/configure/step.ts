import type Configure from '@adonisjs/core/commands/configure'
import type { ApplicationService } from '@adonisjs/core/types'
import type { Project } from 'ts-morph'
import type { ConfigureOptions } from './flags.ts'

export type Codemods = Awaited<ReturnType<Configure['createCodemods']>>

/**
 * What each step reads: the app, the codemods' ts-morph project (one
 * project, so our edits and the codemods' see each other) and the flags.
 */
export interface StepContext {
  app: ApplicationService
  project: Project
  codemods: Codemods
  options: ConfigureOptions
}

/**
 * One thing configure makes sure of. Steps are planned (read-only) before
 * any is applied, so an app we cannot edit is left untouched.
 */
export type Step =
  | {
      /** Path relative to the app root. */
      file: string
      /** What applying it changes, for the summary. */
      change: string
      apply(): Promise<void>
      /** The codemod prints its own action line. */
      logsItself?: boolean
    }
  | { file: string; unchanged: string }
