// Which Upgrade requests become tunnels (headers.ts tunnelsUpgrade): only those whose every
// offered protocol the config allows; the rest are plain requests, so an h2c-capable upstream is
// never asked to switch (h2c smuggling past the routes).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionTokens, tunnelsUpgrade } from '../../proxy/http1/headers';
import { trimOws } from '../../proxy/http1/whitespace';

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

describe("tokens are trimmed of HTTP's whitespace only (SP, HTAB), not JavaScript's", () => {
  it('does not read `websocket` out of `websocket` followed by NBSP, VT or FF', () => {
    for (const tail of ['\xa0', '\x0b', '\x0c']) assert.equal(tunnelsUpgrade(`websocket${tail}`, ['websocket']), false, JSON.stringify(tail));
    assert.equal(tunnelsUpgrade('\twebsocket \t', ['websocket']), true);
  });

  it('does not take a Connection token with NBSP for the header it would name', () => {
    const named = connectionTokens(['Connection', 'X-Secret\xa0, \tKeep-Alive\t']);
    assert.deepEqual([...(named ?? [])], ['x-secret\xa0', 'keep-alive']);
  });

  it('trimOws takes SP and HTAB off both ends and nothing else', () => {
    assert.equal(trimOws(' \t a b \t '), 'a b');
    assert.equal(trimOws('\xa0a\x0b'), '\xa0a\x0b');
    assert.equal(trimOws(' \t '), '');
  });
});
