// The layering rule of ../shared/ARCHITECTURE.md, checked by `npm run check:layers` (and in CI):
//   cli → server | replicator | p2p-agent → registry → storage-adapters → core;  p2p-agent needs only core;
//   no top-level folder imports a sibling at its level; no cycles anywhere.
const below = {
  cli: ['server', 'replicator', 'p2p-agent', 'registry', 'storage-adapters', 'core'],
  server: ['registry', 'storage-adapters', 'core'],
  replicator: ['registry', 'storage-adapters', 'core'],
  'p2p-agent': ['core'],
  registry: ['storage-adapters', 'core'],
  'storage-adapters': ['core'],
  core: [],
};
const layers = Object.keys(below);

module.exports = {
  forbidden: [
    ...layers.map((layer) => ({
      name: `${layer}-imports-down-only`,
      severity: 'error',
      comment: `${layer}/ may import only ${below[layer].join(', ') || 'nothing else of Berth'}`,
      from: { path: `^${layer}/` },
      to: { path: `^(${layers.filter((l) => l !== layer && !below[layer].includes(l)).join('|')})/` },
    })),
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'no import cycles, inside a folder or across folders',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test|bench)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
