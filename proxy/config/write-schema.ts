// `npm run schema`: writes config/handoff.schema.json from schema.ts (a unit test fails while
// the checked-in file differs). `--check` only compares, exiting 1 on a difference.
import fs from 'node:fs';
import path from 'node:path';
import { defaultConfigPath } from './load';
import { configJsonSchema } from './schema';

export const SCHEMA_FILE = path.join(path.dirname(defaultConfigPath()), 'handoff.schema.json');

export function generatedSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  const text = generatedSchemaText();
  if (process.argv.includes('--check')) {
    const same = fs.existsSync(SCHEMA_FILE) && fs.readFileSync(SCHEMA_FILE, 'utf8') === text;
    process.stdout.write(same ? `${SCHEMA_FILE} is up to date\n` : `${SCHEMA_FILE} differs from proxy/config/schema.ts: run npm run schema\n`);
    process.exitCode = same ? 0 : 1;
  } else {
    fs.writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
  }
}
