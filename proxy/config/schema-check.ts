// The first pass: the file against the JSON Schema (schema.ts), by ajv with allErrors. ajv's
// errors are many per mistake (a value that fits no branch of a union fails each branch, then the
// union); this turns them into one problem per place, in the validator's words: the path as JS
// accessors, "expected <what>, got <value>", unknown keys with a did-you-mean.

import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { type ConfigProblem, closestMatch, describeValue, joinPath } from './errors';
import { ConfigFileSchema, SCHEMA_DEFS } from './schema';

interface SchemaNode {
  $ref?: string; title?: string; type?: string | string[]; const?: unknown; enum?: unknown[];
  anyOf?: SchemaNode[]; oneOf?: SchemaNode[]; minimum?: number; maximum?: number; minLength?: number;
  properties?: Record<string, SchemaNode>; examples?: unknown[]; propertyNames?: SchemaNode;
}

/** Keywords that mean the value had the object's or array's type: their siblings are that branch's. */
const CONTAINER_KEYWORDS = new Set(['required', 'additionalProperties', 'propertyNames', 'minItems', 'minProperties']);

let compiled: ValidateFunction | undefined;

export function schemaProblems(raw: unknown): ConfigProblem[] {
  compiled ??= new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true }).compile(ConfigFileSchema);
  if (compiled(raw)) return [];
  const errors = (compiled.errors ?? []).filter((e) => !e.schemaPath.includes('/propertyNames/'));
  const byPointer = new Map<string, ErrorObject[]>();
  for (const error of errors) byPointer.set(error.instancePath, [...(byPointer.get(error.instancePath) ?? []), error]);
  const problems: ConfigProblem[] = [];
  for (const [pointer, group] of byPointer) {
    const at = accessorPath(raw, pointer);
    for (const error of group) {
      if (CONTAINER_KEYWORDS.has(error.keyword)) problems.push(containerProblem(error, at));
    }
    // An object or array branch matched (its own errors are deeper or above): the other branches'
    // type errors say nothing more.
    const matchedContainer = group.some((e) => CONTAINER_KEYWORDS.has(e.keyword))
      || errors.some((e) => e.instancePath.startsWith(`${pointer}/`));
    if (matchedContainer) continue;
    const outermost = group.find((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf') ?? group[0]!;
    problems.push({ path: at, message: mismatch(outermost.parentSchema as SchemaNode, outermost.data) });
  }
  return problems;
}

function containerProblem(error: ErrorObject, at: string): ConfigProblem {
  const schema = error.parentSchema as SchemaNode;
  const params = error.params as { missingProperty?: string; additionalProperty?: string; propertyName?: string };
  switch (error.keyword) {
    case 'required': {
      const example = resolve(schema.properties?.[params.missingProperty!])?.examples?.[0];
      const message = example === undefined ? 'is required' : `is required (e.g. ${JSON.stringify(example)})`;
      return { path: joinPath(at, params.missingProperty!), message };
    }
    case 'additionalProperties': {
      const key = params.additionalProperty!;
      const known = Object.keys(schema.properties ?? {});
      const guess = closestMatch(key, known);
      const hint = guess !== null ? `did you mean "${guess}"?` : `expected one of ${known.map((k) => `"${k}"`).join(', ')}`;
      return { path: joinPath(at, key), message: `unknown key "${key}"; ${hint}` };
    }
    case 'propertyNames':
      return { path: joinPath(at, params.propertyName!), message: `expected ${expected(schema.propertyNames!)}, got ${describeValue(params.propertyName)}` };
    default: { // minItems, minProperties
      const example = schema.examples?.[0];
      return { path: at, message: example === undefined ? 'must not be empty' : `must not be empty (e.g. ${JSON.stringify(example)})` };
    }
  }
}

/** "expected one of "a", "b", got "c"; did you mean "a"?" */
function mismatch(schema: SchemaNode, value: unknown): string {
  const node = resolve(schema)!;
  const guess = node.enum !== undefined && typeof value === 'string' ? closestMatch(value, node.enum.map(String)) : null;
  return `expected ${expected(node)}, got ${describeValue(value)}${guess === null ? '' : `; did you mean "${guess}"?`}`;
}

/** What a schema accepts, as a noun phrase: its title, or one made from its keywords. */
function expected(schema: SchemaNode): string {
  const node = resolve(schema)!;
  if (node.title !== undefined) return node.title;
  const branches = node.anyOf ?? node.oneOf;
  if (branches !== undefined) return orList(branches.map(expected));
  if ('const' in node) return JSON.stringify(node.const);
  if (node.enum !== undefined) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const types = Array.isArray(node.type) ? node.type : [node.type ?? 'value'];
  return orList(types.map((type) => {
    if (type === 'integer') {
      if (node.minimum !== undefined && node.maximum !== undefined) return `an integer from ${node.minimum} to ${node.maximum}`;
      return node.minimum !== undefined ? `an integer of ${node.minimum} or more` : 'an integer';
    }
    if (type === 'string') return node.minLength ? 'a non-empty string' : 'a string';
    if (type === 'boolean') return 'true or false';
    if (type === 'null') return 'null';
    return type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`;
  }));
}

function orList(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function resolve(schema: SchemaNode | undefined): SchemaNode | undefined {
  if (schema?.$ref === undefined) return schema;
  return { ...(SCHEMA_DEFS[schema.$ref.replace('#/$defs/', '')] as SchemaNode), ...schema, $ref: undefined } as SchemaNode;
}

/** A JSON pointer ("/upstreams/api/servers/1") as the messages write paths ("upstreams.api.servers[1]"). */
function accessorPath(raw: unknown, pointer: string): string {
  let at = '';
  let value = raw;
  for (const token of pointer.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(value) ? Number(key) : null;
    at = joinPath(at, index ?? key);
    value = (value as Record<string, unknown> | undefined)?.[key];
  }
  return at;
}
