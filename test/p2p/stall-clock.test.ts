// When the agent decides its swarm is stuck and turns to the web seed: time without progress, in healthy ticks,
// longer before the first data, longer still before the tracker ever answered.
import t from 'tap';
import { originPatience, StallClock } from '../../p2p-agent/web-seed.js';

/** Ticks every 250 ms for `ms`, starting at `from`; returns the time reached. */
function run(clock: StallClock, from: number, ms: number): number {
  for (let now = from + 250; now <= from + ms; now += 250) clock.tick(now, true);
  return from + ms;
}

t.test('after data: stalled once nothing came for the stall time; progress resets it', async (t) => {
  const c = new StallClock(5000);
  let now = Date.now();
  c.joined();
  now = run(c, now, 4000);
  t.notOk(c.stalled(true));
  c.progress();
  now = run(c, now, 4000);
  t.notOk(c.stalled(true), 'progress started the wait again');
  run(c, now, 1500);
  t.ok(c.stalled(true), '5.5 s without progress');
});

t.test('before the tracker answered the limit is three stall times; the first answer starts a wait of two', async (t) => {
  const c = new StallClock(5000);
  let now = Date.now();
  now = run(c, now, 12_000);
  t.notOk(c.stalled(false), 'a slow first announce: 12 s is not yet stuck');
  c.joined();
  now = run(c, now, 9000);
  t.notOk(c.stalled(false), '9 s after joining: still waiting for first data');
  now = run(c, now, 1500);
  t.ok(c.stalled(false), 'more than twice the stall time after joining');
  c.joined();
  t.ok(c.stalled(false), 'a later answer does not start the wait again');
});

t.test('a tracker that never answers: the web seed after three stall times', async (t) => {
  const c = new StallClock(1000);
  run(c, Date.now(), 3250);
  t.ok(c.stalled(false));
});

t.test('a starved process counts at most half a second per tick', async (t) => {
  const c = new StallClock(5000);
  const now = Date.now();
  c.joined();
  c.tick(now + 8000, true);
  t.notOk(c.stalled(true), 'one late tick is 0.5 s, not 8 s');
  t.equal(c.ms, 500);
});

t.test("with the origin's seed connected the web seed waits six stall times: the swarm is waiting on the origin, not stuck", async (t) => {
  const c = new StallClock(5000);
  c.joined();
  let now = run(c, Date.now(), 11_000);
  t.ok(c.stalled(false), 'no seed: two stall times after joining');
  t.notOk(c.stalled(false, true), "the seed connected: its pieces are on their way");
  now = run(c, now, 18_000);
  t.notOk(c.stalled(true, true), '29 s');
  run(c, now, 1500);
  t.ok(c.stalled(true, true), `past ${originPatience} stall times the web seed helps even so`);
});
