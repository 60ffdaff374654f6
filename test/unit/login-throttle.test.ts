// Failed logins: over the limit a key waits out its window, each lockout in a row doubles the next window (up to
// 32x), a success resets it, and a long quiet spell forgets the strikes.
import t from 'tap';
import { LoginThrottle } from '../../server/auth/login-throttle.js';

const minute = 60_000;

t.test('each lockout in a row doubles the wait; a success resets it', async (t) => {
  let now = 0;
  const throttle = new LoginThrottle({ maxFailures: 3, windowMs: minute }, () => now);
  const lockOut = () => {
    for (let i = 0; i < 3; i++) throttle.recordFailure('alice');
    return throttle.retryAfterMs('alice');
  };
  t.equal(throttle.retryAfterMs('alice'), 0, 'nothing recorded: free');
  throttle.recordFailure('alice');
  throttle.recordFailure('alice');
  t.equal(throttle.retryAfterMs('alice'), 0, 'under the limit: free');
  throttle.recordFailure('alice');
  t.equal(throttle.retryAfterMs('alice'), minute, 'first lockout: one window');
  const waits: number[] = [];
  for (let i = 0; i < 7; i++) {
    now += throttle.retryAfterMs('alice');
    t.equal(throttle.retryAfterMs('alice'), 0, 'free once the window is over');
    waits.push(lockOut() / minute);
  }
  t.same(waits, [2, 4, 8, 16, 32, 32, 32], 'then 2, 4, 8 … windows, capped at 32');
  throttle.reset('alice');
  t.equal(lockOut(), minute, 'after a successful login: one window again');
  t.equal(throttle.retryAfterMs('bob'), 0, 'other keys are not affected');
});

t.test('strikes are forgotten after a long quiet spell', async (t) => {
  let now = 0;
  const throttle = new LoginThrottle({ maxFailures: 1, windowMs: minute }, () => now);
  throttle.recordFailure('k');
  now += minute;
  throttle.recordFailure('k');
  t.equal(throttle.retryAfterMs('k'), 2 * minute, 'second lockout in a row');
  now += 2 * minute + 64 * minute;
  throttle.recordFailure('k');
  t.equal(throttle.retryAfterMs('k'), minute, 'after 64 quiet windows, back to one');
});
