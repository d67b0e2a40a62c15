// Passive health as nginx's max_fails / fail_timeout: maxFails failures within failTimeout take a
// server out for failTimeout; failures further apart never add up; an answer forgives; 0 never.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerHealth } from '../../proxy/upstream/server-health';

test('three failures within the window take the server out on the third, for failTimeout', () => {
  const health = new ServerHealth(3, 30_000);
  health.failed(1_000);
  health.failed(2_000);
  assert.ok(health.isAvailable(2_001), 'two of three: still in');
  health.failed(3_000);
  assert.ok(!health.isAvailable(3_001));
  assert.equal(health.downUntil, 33_000);
  assert.ok(health.isAvailable(33_000), 'past failTimeout it is tried again');
  assert.equal(health.failures, 3);
});

test('failures further apart than failTimeout never add up to maxFails', () => {
  const health = new ServerHealth(2, 10_000);
  for (let t = 0; t < 100_000; t += 10_001) {
    health.failed(t);
    assert.ok(health.isAvailable(t + 1), `at ${t}`);
  }
});

test('an answer forgives the failures before it', () => {
  const health = new ServerHealth(2, 10_000);
  health.failed(1_000);
  health.succeeded();
  health.failed(2_000);
  assert.ok(health.isAvailable(2_001));
});

test('maxFails 0 never takes a server out; the default (1, 10 s) does at the first failure', () => {
  const never = new ServerHealth(0, 10_000);
  for (let i = 0; i < 100; i++) never.failed(1_000 + i);
  assert.ok(never.isAvailable(1_100));
  const nginxDefault = new ServerHealth();
  nginxDefault.failed(5_000);
  assert.equal(nginxDefault.downUntil, 15_000);
});
