// json-schema.mjs — a small JSON Schema (draft 2020-12) checker for the keywords faultline's
// checked-in schemas use: type (one or a list), required, properties, items, enum, minimum,
// maximum, pattern, minLength and additionalProperties (false or a schema). validate(schema, value) → a list of problems, each "PATH: what", empty
// when the value holds; a keyword it does not know fails loudly, so a schema never outgrows it.
const KNOWN = new Set(['$schema', '$id', 'title', 'description', 'type', 'required', 'properties', 'items', 'enum', 'minimum', 'maximum', 'pattern', 'minLength', 'additionalProperties']);

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v; // string, boolean, object
}

function typeMatches(want, v) {
  const got = typeOf(v);
  return want === got || (want === 'number' && got === 'integer');
}

export function validate(schema, value, path = '$', problems = []) {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`json-schema.mjs: keyword ${k} at ${path} is not supported`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) {
      problems.push(`${path}: expected ${types.join(' or ')}, got ${JSON.stringify(value)?.slice(0, 80)}`);
      return problems;
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) problems.push(`${path}: expected one of ${schema.enum.join(', ')}, got ${JSON.stringify(value)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: ${value} is below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: ${value} is above ${schema.maximum}`);
  }
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength)
    problems.push(`${path}: ${JSON.stringify(value)} is shorter than ${schema.minLength}`);
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern, 'u').test(value))
    problems.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  if (typeOf(value) === 'object') {
    for (const r of schema.required ?? []) if (!(r in value)) problems.push(`${path}.${r}: required, missing`);
    for (const [k, sub] of Object.entries(schema.properties ?? {})) if (k in value) validate(sub, value[k], `${path}.${k}`, problems);
    const extra = schema.additionalProperties;
    for (const k of Object.keys(value)) {
      if (schema.properties && k in schema.properties) continue;
      if (extra === false) problems.push(`${path}.${k}: not allowed here`);
      else if (extra && typeof extra === 'object') validate(extra, value[k], `${path}.${k}`, problems);
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => validate(schema.items, item, `${path}[${i}]`, problems));
  return problems;
}
