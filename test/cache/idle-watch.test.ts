/** One timer for the idle deadlines of many puts: none ends sooner than idleMs after its client's last message. */
import { IdleWatch } from '../../src/cache/server/idle-watch';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('a silent put is ended once, after idleMs and before 1.25 × idleMs; a touched one is not', () => {
  const watch = new IdleWatch(400);
  const ended: string[] = [];
  const silent = watch.watch(() => ended.push('silent'));
  const busy = watch.watch(() => ended.push('busy'));
  for (let t = 0; t < 400; t += 50) {
    jest.advanceTimersByTime(50);
    busy.touch(); // the last at 400 ms
  }
  jest.advanceTimersByTime(1);
  expect(ended).toEqual([]);
  jest.advanceTimersByTime(99); // 500 ms
  expect(ended).toEqual(['silent']);
  jest.advanceTimersByTime(299); // 799 ms, 399 after the busy one's last touch
  expect(ended).toEqual(['silent']);
  jest.advanceTimersByTime(101); // 900 ms
  expect(ended).toEqual(['silent', 'busy']);
  silent.touch(); // watched again: a put touched after its end is not ended twice, but a touch re-arms
  jest.advanceTimersByTime(500);
  expect(ended).toEqual(['silent', 'busy', 'silent']);
});

test('a stopped put is never ended; with nothing watched no timer runs; a touch after stop watches again', () => {
  const watch = new IdleWatch(100);
  const ended: number[] = [];
  const a = watch.watch(() => ended.push(1));
  a.stop();
  jest.advanceTimersByTime(25); // the timer stops at its first tick with nothing watched
  expect(jest.getTimerCount()).toBe(0);
  jest.advanceTimersByTime(1000);
  expect(ended).toEqual([]);
  a.touch(); // waiting for the disk ended: the client's idleness counts again
  expect(jest.getTimerCount()).toBe(1);
  jest.advanceTimersByTime(99);
  expect(ended).toEqual([]);
  jest.advanceTimersByTime(26);
  expect(ended).toEqual([1]);
  jest.advanceTimersByTime(25);
  expect(jest.getTimerCount()).toBe(0);
});

test('an idleMs past what one Node timer can wait (~24.8 days per tick) still ends no put sooner', () => {
  const idleMs = 2 ** 34; // ~199 days: a period of idleMs / 4 would be taken as 1 ms
  const watch = new IdleWatch(idleMs);
  const ended: number[] = [];
  watch.watch(() => ended.push(1));
  jest.advanceTimersByTime(60_000);
  expect(ended).toEqual([]);
  jest.advanceTimersByTime(idleMs - 60_000 - 1);
  expect(ended).toEqual([]);
  jest.advanceTimersByTime(Math.ceil(idleMs * 0.5));
  expect(ended).toEqual([1]);
});
