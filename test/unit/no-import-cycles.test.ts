// The folders of proxy/ are layers, and imports run one way: down. A cycle between files (a type
// cycle counts: `import type` is an edge too) or an import from a lower layer into a higher one
// fails here, naming the files. The graph is built by the TypeScript compiler from the sources,
// so it sees exactly the imports the build does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

/** From the bottom up; a folder may import its own files and any folder in a lower layer. */
const LAYERS: readonly (readonly string[])[] = [
  ['http1', 'observability'], // the HTTP/1 wire (parser, heads, header rules); logs
  ['config'], // validation (reads http1's path rules)
  ['handoff'], // the addon, the channel message, the handoff directory
  ['io'], // sockets on raw libuv handles
  ['upstream'], // upstream groups, servers, pools, connections
  ['proxying'], // client connections, exchanges, routing, tunnels, the front
  ['worker', 'master'], // the two processes: neither imports the other
  ['.'], // cli.ts
];

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PROXY = path.join(ROOT, 'proxy');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Every file of proxy/ and the files of proxy/ it imports (values and types alike). */
function importGraph(root: string): Map<string, string[]> {
  const files = sourceFiles(root);
  const options: ts.CompilerOptions = { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, allowJs: false };
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, false);
    const edges: string[] = [];
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const resolved = ts.resolveModuleName(ref.fileName, file, options, ts.sys).resolvedModule;
      assert.ok(resolved, `${path.relative(ROOT, file)}: cannot resolve '${ref.fileName}'`);
      const target = path.resolve(resolved.resolvedFileName);
      if (target.startsWith(root + path.sep)) edges.push(target);
    }
    graph.set(path.resolve(file), edges);
  }
  return graph;
}

/** One cycle as a list of files (the first repeated at the end), or null when there is none. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | null => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const s = state.get(next);
      if (s === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(file, 'done');
    return null;
  };
  for (const file of [...graph.keys()].sort()) {
    if (state.get(file) === undefined) {
      const found = visit(file);
      if (found) return found;
    }
  }
  return null;
}

function folderOf(file: string, root: string): string {
  const rel = path.relative(root, file);
  return rel.includes(path.sep) ? rel.split(path.sep)[0] : '.';
}

function layerOf(folder: string): number {
  const i = LAYERS.findIndex((layer) => layer.includes(folder));
  assert.notEqual(i, -1, `proxy/${folder}/ is in no layer: add it to LAYERS in this test (and the README's table)`);
  return i;
}

/** Imports that go up a layer, or across to another folder of the same layer. */
function layerViolations(graph: Map<string, string[]>, root: string): string[] {
  const bad: string[] = [];
  for (const [file, edges] of graph) {
    const from = folderOf(file, root);
    for (const target of edges) {
      const to = folderOf(target, root);
      if (to === from || layerOf(to) < layerOf(from)) continue;
      bad.push(`${path.relative(ROOT, file)} (${from}) imports ${path.relative(ROOT, target)} (${to})`);
    }
  }
  return bad.sort();
}

describe('the import graph of proxy/', () => {
  // The sources, not dist/: the compiled JS has lost its `import type` edges.
  const graph = importGraph(PROXY);

  it('sees the whole tree (the test reads the sources it is meant to)', () => {
    assert.ok(graph.size > 50, `only ${graph.size} files under ${PROXY}`);
    assert.ok([...graph.values()].some((edges) => edges.length > 0));
  });

  it('has no cycle, type-only imports included', () => {
    const cycle = findCycle(graph);
    assert.equal(cycle, null, `import cycle: ${cycle?.map((f) => path.relative(ROOT, f)).join(' -> ')}`);
  });

  it('imports only downwards: no folder imports a higher layer or a peer of its own layer', () => {
    assert.deepEqual(layerViolations(graph, PROXY), []);
  });

  it('finds a cycle and an upward import when there is one', () => {
    const a = path.join(PROXY, 'http1', 'a.ts');
    const b = path.join(PROXY, 'proxying', 'b.ts');
    const planted = new Map([[a, [b]], [b, [a]]]);
    assert.deepEqual(findCycle(planted), [a, b, a]);
    assert.deepEqual(layerViolations(planted, PROXY), ['proxy/http1/a.ts (http1) imports proxy/proxying/b.ts (proxying)']);
  });
});
