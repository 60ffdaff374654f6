// Harbor's q grammar over fields with several values (an artifact's tags, its label ids).
import t from 'tap';
import { checkTerms, matches, parseQuery, type QueryFields } from '../../core/harbor-api/query.js';

type Doc = { name: string; tags: string[]; labels: number[] };
const fields: QueryFields<Doc> = {
  name: { type: 'string', get: (d) => d.name },
  tags: { type: 'string', get: (d) => d.tags },
  labels: { type: 'number', get: (d) => d.labels },
};
const docs: Doc[] = [
  { name: 'a', tags: ['v1', 'latest'], labels: [1, 2] },
  { name: 'b', tags: ['v2'], labels: [2] },
  { name: 'c', tags: [], labels: [] },
];
const names = (q: string) => {
  const terms = parseQuery(q);
  checkTerms(terms, fields);
  return docs.filter((d) => matches(d, terms, fields)).map((d) => d.name);
};

t.test('a term on a multi-valued field matches when one value does', async (t) => {
  t.same(names('tags=v1'), ['a']);
  t.same(names('tags=~v'), ['a', 'b']);
  t.same(names('tags={latest v2}'), ['a', 'b']);
  t.same(names('labels=2'), ['a', 'b']);
  t.same(names('labels=[2~5]'), ['a', 'b']);
});

t.test('an intersection needs every value it names', async (t) => {
  t.same(parseQuery('labels=(1 2)'), [{ key: 'labels', kind: 'intersection', values: ['1', '2'] }]);
  t.same(names('labels=(1 2)'), ['a']);
  t.same(names('labels=(2)'), ['a', 'b']);
  t.same(names('labels=(3)'), []);
  t.same(names('labels=(2),tags=v2'), ['b'], 'combined with other terms');
});

t.test('single-valued fields behave as before', async (t) => {
  t.same(names('name=b'), ['b']);
  t.same(names('name={a c}'), ['a', 'c']);
  t.throws(() => names('colour=red'), { message: /cannot query by "colour"/ });
  t.throws(() => parseQuery('labels=(1 2'), { message: /invalid|expected/ }, 'an unclosed intersection is refused');
});
