import type { FormatCodeSettings, Node, ObjectLiteralExpression, SourceFile } from 'ts-morph'

/**
 * Small ts-morph helpers that compare kind names instead of importing
 * `SyntaxKind`: ts-morph is the app's (through @adonisjs/assembler), not a
 * dependency of this package, so only its types are imported here.
 */

/**
 * The first call whose callee reads `callee` (`defineConfig`, `Env.create`).
 */
export function findCall(file: SourceFile, callee: string) {
  let found: Node | undefined
  file.forEachDescendant((node, traversal) => {
    if (
      node.getKindName() === 'CallExpression' &&
      (node as any).getExpression().getText() === callee
    ) {
      found = node
      traversal.stop()
    }
  })
  return found as import('ts-morph').CallExpression | undefined
}

export function asObjectLiteral(node: Node | undefined) {
  return node?.getKindName() === 'ObjectLiteralExpression'
    ? (node as ObjectLiteralExpression)
    : undefined
}

/**
 * The initializer of `name: <initializer>` in an object literal.
 */
export function propertyInitializer(object: ObjectLiteralExpression | undefined, name: string) {
  const property = object?.getProperty(name)
  if (property?.getKindName() !== 'PropertyAssignment') return undefined
  return (property as import('ts-morph').PropertyAssignment).getInitializer()
}

/**
 * The value of a string literal node ('x', "x" or `x`), else undefined.
 */
export function stringValue(node: Node | undefined): string | undefined {
  const kind = node?.getKindName()
  if (kind === 'StringLiteral' || kind === 'NoSubstitutionTemplateLiteral') {
    return (node as any).getLiteralValue()
  }
  return undefined
}

/**
 * Settings the assembler's codemods format edited files with, so our edits
 * look like theirs.
 */
export const EDITOR_SETTINGS: FormatCodeSettings = {
  indentSize: 2,
  convertTabsToSpaces: true,
  trimTrailingWhitespace: true,
  ensureNewLineAtEndOfFile: true,
  indentStyle: 2,
  // ts.SemicolonPreference.Remove, without importing typescript at runtime
  semicolons: 'remove' as FormatCodeSettings['semicolons'],
}
