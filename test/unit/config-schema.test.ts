// config/handoff.schema.json is generated from proxy/config/schema.ts (`npm run schema`): the
// checked-in file must be what the schema generates, and the shipped configs must satisfy it as a
// plain JSON Schema validator reads it (as an editor would).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { SCHEMA_FILE, generatedSchemaText } from '../../proxy/config/write-schema';

describe('config/handoff.schema.json', () => {
  test('is what proxy/config/schema.ts generates (run `npm run schema` after changing it)', () => {
    assert.equal(fs.readFileSync(SCHEMA_FILE, 'utf8'), generatedSchemaText());
  });

  test('the configs in config/ and config/examples/ validate against the file', () => {
    const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true })
      .compile(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as object);
    const dir = path.dirname(SCHEMA_FILE);
    const files = [
      ...fs.readdirSync(dir).filter((n) => n.endsWith('.json') && n !== 'handoff.schema.json').map((n) => path.join(dir, n)),
      ...fs.readdirSync(path.join(dir, 'examples')).filter((n) => n.endsWith('.json')).map((n) => path.join(dir, 'examples', n)),
    ];
    assert.ok(files.length >= 4, files.join(' '));
    for (const file of files) {
      assert.ok(validate(JSON.parse(fs.readFileSync(file, 'utf8'))), `${file}: ${JSON.stringify(validate.errors)}`);
    }
    // And the file refuses what the schema refuses, so the check above can fail.
    assert.equal(validate({ listeners: ['127.0.0.1:8080'], upstreams: { b: { servers: ['h:1'] } }, workrs: 2 }), false);
  });
});
