import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from '@japa/runner'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/**
 * Relative imports (type-only ones too) of every module under src/.
 */
async function importGraph() {
  const graph = new Map<string, string[]>()
  const entries = await readdir(join(ROOT, 'src'), { recursive: true })
  const files = entries.filter((file) => file.endsWith('.ts'))
  for (const file of files) {
    const path = join(ROOT, 'src', file)
    const source = await readFile(path, 'utf8')
    const imports = [...source.matchAll(/from '(\.{1,2}\/[^']+\.ts)'/g)].map((match) =>
      relative(ROOT, resolve(dirname(path), match[1]))
    )
    graph.set(relative(ROOT, path), imports)
  }
  return graph
}

function cycleFrom(graph: Map<string, string[]>, start: string): string[] | null {
  const walk = (node: string, path: string[]): string[] | null => {
    for (const next of graph.get(node) ?? []) {
      if (next === start) return [...path, next]
      if (path.includes(next)) continue
      const found = walk(next, [...path, next])
      if (found) return found
    }
    return null
  }
  return walk(start, [start])
}

test.group('layout', () => {
  test('define_config.ts and store_context.ts do not import each other, even for types', async ({
    assert,
  }) => {
    const graph = await importGraph()
    assert.isNull(cycleFrom(graph, 'src/store_context.ts'))
    assert.isNull(cycleFrom(graph, 'src/define_config.ts'))
  })

  test('commands reach the table only through the maintenance services', async ({ assert }) => {
    for (const file of await readdir(join(ROOT, 'commands'))) {
      const source = await readFile(join(ROOT, 'commands', file), 'utf8')
      assert.notMatch(
        source,
        /repository\.ts|queries\.ts|\.repository\(\)|knex|getWriteClient/,
        file
      )
    }
  })
})

test.group('layout: imports between capability folders go one way', () => {
  // dashboard -> maintenance, users -> request path; never back
  const forbidden: Record<string, string[]> = {
    'src/request/': ['src/users/', 'src/maintenance/', 'src/dashboard/', 'src/configure/'],
    'src/users/': ['src/dashboard/', 'src/configure/'],
    'src/maintenance/': ['src/dashboard/', 'src/configure/'],
  }

  test('{folder} imports none of {targets}')
    .with(Object.entries(forbidden).map(([folder, targets]) => ({ folder, targets })))
    .run(async ({ assert }, { folder, targets }) => {
      const graph = await importGraph()
      const modules = [...graph.keys()].filter((file) => file.startsWith(folder))
      assert.isAbove(modules.length, 0, `no module under ${folder}`)
      for (const file of modules) {
        for (const imported of graph.get(file)!) {
          for (const target of targets)
            assert.isFalse(imported.startsWith(target), `${file} imports ${imported}`)
        }
      }
    })
})
