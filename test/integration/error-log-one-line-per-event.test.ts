// The error log is one line per event, each a sentence with nginx's prefix, so `grep` and a log
// shipper see whole events: a reload refused for a config with two mistakes names both on its
// one line, instead of a header line followed by lines without a prefix.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startBackend, type RunningBackend } from '../helpers/backend';
import { request } from '../helpers/http-client';
import { waitFor } from '../helpers/procfs';
import { startProxy } from '../helpers/proxy';

const PREFIX = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(debug|info|notice|warn|error|crit|alert)\] \d+#(master|worker): \S/;

describe('the error log', () => {
  let backend: RunningBackend;
  before(async () => {
    backend = await startBackend({ id: 'one-line' });
  });
  after(async () => backend?.stop());

  it('every line has the prefix; a refused reload names all its problems on one line', async () => {
    const proxy = await startProxy({ workers: 1, upstreams: { app: { servers: [`127.0.0.1:${backend.port}`] } } });
    try {
      const config = JSON.parse(fs.readFileSync(proxy.configFile, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(proxy.configFile, JSON.stringify({ ...config, upstreams: { app: { servers: ['not an address'] } }, timeouts: { read: 'soon' } }));
      process.kill(proxy.pid, 'SIGHUP');
      await waitFor('the refused reload', () => /reload failed/.test(proxy.stderr()));
      assert.equal((await request(`${proxy.url}/`)).status, 200, 'the old configuration serves on');
      const lines = proxy.stderr().trimEnd().split('\n');
      for (const line of lines) assert.match(line, PREFIX, `a line of its own event: ${JSON.stringify(line)}`);
      const refused = lines.find((l) => l.includes('reload failed'))!;
      assert.match(refused, /\[error\] \d+#master: reload failed, the current configuration stays: .*upstreams\.app\.servers\[0\].*; .*timeouts\.read/);
    } finally {
      await proxy.stop();
    }
  });
});
