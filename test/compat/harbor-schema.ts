// Harbor v2.15.2's swagger as the judge of Berth's answers: its `definitions` turned into JSON Schema for ajv,
// and checkResponse(method, path, status, body) failing, with a readable message, when the status is not one the
// swagger lists for that operation or the body does not match the schema Harbor declares for that status.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const SWAGGER_FILE = new URL('../data/harbor/swagger-v2.15.2.yaml', import.meta.url);

type Node = Record<string, any>;

interface Swagger {
  basePath: string;
  paths: Record<string, Record<string, Node>>;
  responses: Record<string, Node>;
  definitions: Record<string, Node>;
}

const swagger = parse(readFileSync(SWAGGER_FILE, 'utf8')) as Swagger;

/**
 * Swagger 2 schema → JSON Schema. What differs: `x-nullable`/`x-isnullable` allow null (go-swagger renders a
 * pointer); `x-omitempty: false` on an array, map or object also lets Go's nil through as null; `type: file` is
 * any body; `discriminator` and the x- extensions are dropped. `type: object` without properties and
 * `additionalProperties` already mean what they mean in JSON Schema.
 */
function convert(node: Node): Node {
  if (node.$ref !== undefined) return withNull({ $ref: String(node.$ref).replace('#/definitions/', 'harbor#/definitions/') }, node, true);
  if (node.type === 'file') return {};
  // go-swagger renders a bare `type: object` as interface{}: any JSON value (ExtraAttrs' values are strings)
  if (node.type === 'object' && node.properties === undefined && node.additionalProperties === undefined && node.allOf === undefined) return withNull({}, node, true);
  const out: Node = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-') || k === 'discriminator' || k === 'example') continue;
    if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Node).map(([p, s]) => [p, convert(s as Node)]));
    else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object')) out[k] = convert(v as Node);
    else if (k === 'allOf') out.allOf = (v as Node[]).map(convert);
    else out[k] = v;
  }
  return withNull(out, node, node.type === 'array' || node.type === 'object');
}

function withNull(schema: Node, source: Node, nilable: boolean): Node {
  const nullable = source['x-nullable'] === true || source['x-isnullable'] === true || (nilable && source['x-omitempty'] === false);
  return nullable ? { anyOf: [schema, { type: 'null' }] } : schema;
}

const integerRange = (min: number, max: number) => ({ type: 'number' as const, validate: (n: number) => Number.isInteger(n) && n >= min && n <= max });

const ajv = new Ajv({ strict: false, allErrors: true });
(addFormatsModule as unknown as (a: Ajv) => void)(ajv);
ajv.addFormat('int', integerRange(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
ajv.addFormat('int8', integerRange(-128, 127));
ajv.addFormat('int32', integerRange(-(2 ** 31), 2 ** 31 - 1));
ajv.addFormat('int64', integerRange(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
ajv.addFormat('uint64', integerRange(0, Number.MAX_SAFE_INTEGER));
ajv.addFormat('float', { type: 'number', validate: Number.isFinite });
ajv.addFormat('float64', { type: 'number', validate: Number.isFinite });
ajv.addSchema({ $id: 'harbor', definitions: Object.fromEntries(Object.entries(swagger.definitions).map(([name, d]) => [name, convert(d)])) });

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** The swagger's template for a path (given as a template, or as the concrete path a client sent). */
export function operationTemplate(method: string, path: string): string | undefined {
  const m = method.toLowerCase();
  const p = path.startsWith(swagger.basePath) ? path.slice(swagger.basePath.length) : path;
  // a trailing slash reaches the same route (terraform-provider-harbor lists /quotas/)
  const bare = p.split('?')[0]!.replace(/(.)\/$/, '$1');
  if (swagger.paths[bare]?.[m]) return bare;
  const concrete = Object.keys(swagger.paths).filter((tpl) => swagger.paths[tpl]![m] && templateRegex(tpl).test(bare));
  // the most literal template wins: /projects/{p}/members before /projects/{p}/{x}
  concrete.sort((a, b) => a.split('{').length - b.split('{').length);
  return concrete[0];
}

function templateRegex(tpl: string): RegExp {
  const parts = tpl.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[^/]+')}$`);
}

const validators = new Map<string, ValidateFunction>();

function validatorFor(key: string, schema: Node): ValidateFunction {
  let v = validators.get(key);
  if (!v) {
    v = ajv.compile(convert(schema));
    validators.set(key, v);
  }
  return v;
}

function resolveResponse(r: Node): Node {
  return typeof r.$ref === 'string' ? swagger.responses[r.$ref.replace('#/responses/', '')]! : r;
}

/**
 * What is wrong with an answer by Harbor's swagger, or undefined when nothing is. `headers`, when given, must
 * carry a Location where the swagger declares one (terraform-provider-harbor reads a created resource's id off it;
 * Harbor itself leaves it out of a few, e.g. createTag, so pass headers only for the clients that need it).
 */
export function responseProblem(method: string, path: string, status: number, body: unknown, headers?: Headers): string | undefined {
  const tpl = operationTemplate(method, path);
  const op = `${method.toUpperCase()} ${tpl ?? path}`;
  if (!tpl || !METHODS.includes(method.toLowerCase())) return `${op}: not an operation of Harbor's swagger`;
  const responses = swagger.paths[tpl]![method.toLowerCase()]!.responses as Record<string, Node>;
  const declared = responses[String(status)] ?? responses.default;
  if (!declared) return `${op} answered ${status}; Harbor's swagger lists only ${Object.keys(responses).join(', ')}`;
  const response = resolveResponse(declared);
  if (headers && response.headers?.Location && !headers.get('location')) return `${op} answered ${status} without the Location header the swagger declares`;
  if (!response.schema) return undefined;
  if (body === undefined) return `${op} answered ${status} with no JSON body; the swagger declares ${describe(response.schema)}`;
  const validate = validatorFor(`${op} ${status}`, response.schema);
  if (validate(body)) return undefined;
  return `${op} answered ${status} with a body that is not ${describe(response.schema)}:\n${formatErrors(validate.errors ?? [], body)}`;
}

/** Throws a readable Error when the answer is not what Harbor's swagger allows. */
export function checkResponse(method: string, path: string, status: number, body: unknown, headers?: Headers): void {
  const problem = responseProblem(method, path, status, body, headers);
  if (problem) throw new Error(problem);
}

function describe(schema: Node): string {
  if (schema.$ref) return String(schema.$ref).replace('#/definitions/', '');
  if (schema.type === 'array') return `an array of ${describe(schema.items ?? {})}`;
  return schema.type ?? 'any';
}

function formatErrors(errors: ErrorObject[], body: unknown): string {
  const lines = errors.slice(0, 8).map((e) => {
    const at = e.instancePath || '(body)';
    return `  ${at} ${e.message ?? ''} — got ${JSON.stringify(valueAt(body, e.instancePath))?.slice(0, 120)}`;
  });
  if (errors.length > 8) lines.push(`  … and ${errors.length - 8} more`);
  return lines.join('\n');
}

function valueAt(body: unknown, pointer: string): unknown {
  let v: any = body;
  for (const seg of pointer.split('/').slice(1)) v = v?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}
