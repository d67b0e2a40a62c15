// How a request's Host and target become its route key (request-target.ts), as nginx validates
// a Host (ngx_http_validate_host) and normalises a path before matching locations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalHost, hostName, normalisedPath, routeKey, splitAbsoluteForm } from '../../proxy/http1/request-target';

describe('hostName', () => {
  test('lower-cases, drops the port and one trailing dot', () => {
    const cases: [string, string][] = [
      ['a.test', 'a.test'], ['A.Test:80', 'a.test'], ['a.test.', 'a.test'], ['a.test.:8080', 'a.test'],
      ['[::1]:8080', '[::1]'], ['[::1]', '[::1]'], ['10.0.0.1:80', '10.0.0.1'],
    ];
    for (const [value, name] of cases) assert.equal(hostName(value), name, value);
  });

  test('refuses what nginx answers 400 to', () => {
    for (const value of ['', '.', ':80', 'a..b', 'a/b', 'a b', 'a\tb', 'a\x7fb', 'a\x00b']) assert.equal(hostName(value), null, JSON.stringify(value));
  });

  test('refuses a port that is not a number up to 65535 (RFC 9110 port = *DIGIT)', () => {
    for (const value of ['a:x', 'a:80x', 'a:-1', 'a:99999', 'a:123456', 'a:8:8', '[::1]x', '[::1]:y']) assert.equal(hostName(value), null, JSON.stringify(value));
  });
});

describe('canonicalHost', () => {
  test('one spelling per host: lower-cased, no trailing dot, the port as a number (none when empty)', () => {
    const cases: [string, string][] = [
      ['a.test', 'a.test'], ['A.Test.', 'a.test'], ['A.TEST:0080', 'a.test:80'], ['a.test:', 'a.test'],
      ['[::1]:08080', '[::1]:8080'], ['[::FFFF:1.2.3.4]', '[::ffff:1.2.3.4]'], ['10.0.0.1:0', '10.0.0.1:0'],
    ];
    for (const [value, host] of cases) assert.equal(canonicalHost(value), host, value);
  });

  test('null for what hostName refuses', () => {
    for (const value of ['', 'a b', 'a:x', 'a..b']) assert.equal(canonicalHost(value), null, JSON.stringify(value));
  });
});

describe('normalisedPath', () => {
  test('decodes %XX, merges slashes and resolves dot segments; the query is not part of it', () => {
    const cases: [string, string][] = [
      ['/', '/'], ['/a/b?x=/../..', '/a/b'], ['/public/../admin/x', '/admin/x'], ['/%61dmin/x', '/admin/x'],
      ['/public/%2e%2e/admin/x', '/admin/x'], ['//admin//x', '/admin/x'], ['/./admin/x', '/admin/x'],
      ['/a/b/', '/a/b/'], ['/a/.', '/a/'], ['/a/b/..', '/a/'], ['/a/..', '/'], ['/a%2fb', '/a/b'],
      ['/admin#/../x', '/admin'], ['/x#/../admin', '/x'], ['/a?b#c', '/a'],
    ];
    for (const [target, path] of cases) assert.equal(normalisedPath(target), path, target);
  });

  test('refuses a path above the root, a bad escape, a NUL, and targets that are not paths', () => {
    for (const target of ['/..', '/../../etc/passwd', '/a/%2e%2e/%2e%2e/b', '/a/%2', '/a/%zz', '/a%00', '*', 'a/b', '']) {
      assert.equal(normalisedPath(target), null, target);
    }
  });
});

describe('routeKey', () => {
  test('refuses two Host headers however alike they are', () => {
    assert.equal(routeKey(2, 'a.test', '/'), null);
    assert.deepEqual(routeKey(1, 'A.test:80', '/x/../y'), { host: 'a.test', path: '/y' });
    assert.deepEqual(routeKey(0, undefined, '/'), { host: '', path: '/' });
  });

  test("an absolute-form authority names the host; the Host headers are checked all the same", () => {
    assert.deepEqual(routeKey(1, 'a.test', '/x', 'Other.test:81'), { host: 'other.test', path: '/x' });
    assert.equal(routeKey(2, 'a.test', '/x', 'other.test'), null);
    assert.equal(routeKey(1, 'a b', '/x', 'other.test'), null);
    assert.equal(routeKey(1, 'a.test', '/x', 'user:pw@other.test'), null);
    assert.equal(routeKey(1, 'a.test', '/x', ''), null);
  });
});

describe('splitAbsoluteForm', () => {
  test('splits http(s) targets into authority and origin-form; leaves every other form alone', () => {
    assert.deepEqual(splitAbsoluteForm('http://other.test/x?q=1'), ['other.test', '/x?q=1']);
    assert.deepEqual(splitAbsoluteForm('HTTPS://o:8443'), ['o:8443', '/']);
    assert.deepEqual(splitAbsoluteForm('http://o?x'), ['o', '/?x']);
    assert.deepEqual(splitAbsoluteForm('http://o/p#f'), ['o', '/p#f']);
    assert.deepEqual(splitAbsoluteForm('http://o#f'), ['o', '/#f']);
    for (const target of ['/x', '*', 'ftp://a/b', 'a.test:443']) assert.equal(splitAbsoluteForm(target), null, target);
  });
});
