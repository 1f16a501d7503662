/**
 * Date <-> datetime (issue 12, point 5), checked against real Python: what
 * pickle.loads makes of our Dates, and what our reader makes of Python's
 * datetime/date/timedelta pickles in every protocol.
 */
import { readPickle, writePickle } from '../../src/codecs/pickle';
import { ErrorCode } from '../../src/errors';
import { refusalOf } from '../helpers/refusal';
import { pythonMap, pythonOutputs } from './py-batch';

const pickle = (v: unknown): Buffer => Buffer.concat(writePickle(v));

describe('JavaScript Date → Python datetime', () => {
  it('is a UTC-aware datetime at the same instant, in containers, keys and shared', () => {
    const d = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
    const old = new Date(Date.UTC(1, 0, 1));
    old.setUTCFullYear(1);
    const out = pythonMap(`
import pickle, datetime
def f(data):
    v = pickle.loads(data)
    a, b, c, m = v
    assert a.tzinfo is datetime.timezone.utc, a.tzinfo
    return repr([a.isoformat(), a.timestamp(), b is a, c.isoformat(), [k.isoformat() for k in m]]).encode()
`, [pickle([d, d, old, new Map([[new Date(0), 1]])])]);
    expect(out[0]!.toString()).toBe(
      "['2024-01-02T03:04:05.678000+00:00', 1704164645.678, True, '0001-01-01T00:00:00+00:00', ['1970-01-01T00:00:00+00:00']]",
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['an invalid Date', { at: new Date(NaN) }, /cannot store result\.at: it is an invalid Date/],
    ['a year Python cannot hold', [new Date(Date.UTC(10000, 0, 1))], /cannot store result\[0\]: year 10000 is outside Python's datetime range/],
    ['an object with toJSON, naming its type', { v: new (class Money { toJSON(): string { return '1 EUR'; } })() }, /cannot store value of type Money at result\.v: it has toJSON\(\)/],
  ])('refuses %s', (_what, value, message) => {
    expect(refusalOf(() => writePickle(value), 'writePickle')).toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
  });
});

describe('Python datetime, date, timedelta → JavaScript', () => {
  const values = `[
    datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc),
    datetime.datetime(2024, 1, 2, 5, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2), 'CEST')),
    datetime.datetime(2024, 1, 2, 3, 4, 5),
    datetime.datetime(2024, 11, 3, 1, 30, fold=1),
    datetime.date(1999, 12, 31),
    datetime.timedelta(days=1, seconds=2, microseconds=3000),
    datetime.timedelta(milliseconds=-1500),
    {'when': datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)},
  ]`;

  it.each([0, 1, 2, 3, 4, 5])('reads them from protocol %i', (protocol) => {
    const [bytes] = pythonOutputs(`import pickle, datetime\noutputs = [pickle.dumps(${values}, protocol=${protocol})]`);
    const v = readPickle(bytes!) as unknown[];
    const iso = (x: unknown): string => (x instanceof Date ? x.toISOString() : `not a Date: ${String(x)}`);
    expect(v.slice(0, 5).map(iso)).toEqual([
      '2024-01-02T03:04:05.678Z',
      '2024-01-02T03:04:05.000Z',
      '2024-01-02T03:04:05.000Z', // naive: read as UTC
      '2024-11-03T01:30:00.000Z',
      '1999-12-31T00:00:00.000Z', // a date: midnight UTC
    ]);
    expect(v.slice(5, 7)).toEqual([86402003, -1500]); // timedelta: milliseconds
    expect(iso((v[7] as { when: unknown }).when)).toBe('1970-01-01T00:00:00.000Z');
  });

  it('round-trips: a datetime argument comes back from JavaScript as the same aware instant', () => {
    const [bytes] = pythonOutputs(`import pickle, datetime\noutputs = [pickle.dumps(datetime.datetime(2030, 6, 1, 12, 0, 0, 250000, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))))]`);
    const back = pythonMap(`
import pickle, datetime
def f(data):
    v = pickle.loads(data)
    return repr(v == datetime.datetime(2030, 6, 1, 17, 0, 0, 250000, tzinfo=datetime.timezone.utc)).encode()
`, [pickle(readPickle(bytes!))]);
    expect(back[0]!.toString()).toBe('True');
  });

  it('still refuses other datetime and zoneinfo classes, naming them', () => {
    const [time, zone] = pythonOutputs(`
import pickle, datetime, zoneinfo
outputs = [pickle.dumps(datetime.time(1, 2)), pickle.dumps(datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo('UTC')))]
`);
    expect(refusalOf(() => readPickle(time!), 'readPickle').message).toMatch(/pickle global datetime\.time is not allowed/);
    expect(refusalOf(() => readPickle(zone!), 'readPickle').message).toMatch(/pickle global [\w.]+ is not allowed/);
  });
});
