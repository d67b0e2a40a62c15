// Which Upgrade requests become tunnels (headers.ts tunnelsUpgrade): only those whose every
// offered protocol the config allows; the rest are plain requests, so an h2c-capable upstream is
// never asked to switch (h2c smuggling past the routes).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tunnelsUpgrade } from '../../proxy/http1/headers';

describe('tunnelsUpgrade', () => {
  const ws = ['websocket'];
  it('tunnels an allowed protocol, by name, whatever its case or version', () => {
    assert.equal(tunnelsUpgrade('websocket', ws), true);
    assert.equal(tunnelsUpgrade('WebSocket', ws), true);
    assert.equal(tunnelsUpgrade('websocket/13', ws), true);
    assert.equal(tunnelsUpgrade(' websocket ,', ws), true);
  });
  it('does not tunnel a protocol the config leaves out, alone or offered beside an allowed one', () => {
    assert.equal(tunnelsUpgrade('h2c', ws), false);
    assert.equal(tunnelsUpgrade('websocket, h2c', ws), false);
    assert.equal(tunnelsUpgrade('h2c, websocket', ws), false);
    assert.equal(tunnelsUpgrade('websocketx', ws), false);
  });
  it('does not tunnel an empty offer, a missing header, or anything when none are allowed', () => {
    assert.equal(tunnelsUpgrade('', ws), false);
    assert.equal(tunnelsUpgrade(' , ', ws), false);
    assert.equal(tunnelsUpgrade(undefined, ws), false);
    assert.equal(tunnelsUpgrade('websocket', []), false);
  });
  it('tunnels h2c when the config asks for it', () => {
    assert.equal(tunnelsUpgrade('h2c', ['websocket', 'h2c']), true);
  });
});
