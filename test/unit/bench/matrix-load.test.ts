// bench/matrix-load.ts's statistics: counts, rate and nearest-rank percentiles of latencies.
import { describe, expect, it } from 'vitest';
import { stats, type Stats } from '../../../bench/matrix-load.ts';

const range = (n: number, f: (i: number) => number = (i) => i + 1) => Array.from({ length: n }, (_, i) => f(i));

describe('stats', () => {
  const cases: { name: string; latencies: number[]; durationMs: number; want: Stats }[] = [
    { name: 'no requests', latencies: [], durationMs: 1000, want: { requests: 0, rps: 0, p50: NaN, p99: NaN } },
    { name: 'one request: every percentile is it', latencies: [42], durationMs: 2000, want: { requests: 1, rps: 0.5, p50: 42, p99: 42 } },
    { name: 'two: p50 is the lower (rank ceil(1)), p99 the higher', latencies: [20, 10], durationMs: 1000, want: { requests: 2, rps: 2, p50: 10, p99: 20 } },
    { name: 'odd count: the middle value', latencies: [5, 1, 3], durationMs: 1000, want: { requests: 3, rps: 3, p50: 3, p99: 5 } },
    { name: 'even count: rank n/2, no interpolation', latencies: [4, 3, 2, 1], durationMs: 1000, want: { requests: 4, rps: 4, p50: 2, p99: 4 } },
    // Numeric order, not Array#sort's string order (which puts 100 before 9).
    { name: 'sorted as numbers', latencies: [100, 9, 1000, 20, 3], durationMs: 1000, want: { requests: 5, rps: 5, p50: 20, p99: 1000 } },
    { name: '1..100: p50 = 50, p99 = 99', latencies: range(100).reverse(), durationMs: 10_000, want: { requests: 100, rps: 10, p50: 50, p99: 99 } },
    { name: '1..101: p50 = 51 (rank 51), p99 = 100 (rank ceil(99.99))', latencies: range(101), durationMs: 1000, want: { requests: 101, rps: 101, p50: 51, p99: 100 } },
    { name: '1..300: p99 = 297', latencies: range(300), durationMs: 15_000, want: { requests: 300, rps: 20, p50: 150, p99: 297 } },
    { name: '1..1000: p99 = 990', latencies: range(1000), durationMs: 4000, want: { requests: 1000, rps: 250, p50: 500, p99: 990 } },
    { name: 'one slow outlier in 100 stays out of p99', latencies: [...range(99, () => 10), 5000], durationMs: 1000, want: { requests: 100, rps: 100, p50: 10, p99: 10 } },
    { name: 'two slow outliers in 100 show in p99', latencies: [...range(98, () => 10), 5000, 6000], durationMs: 1000, want: { requests: 100, rps: 100, p50: 10, p99: 5000 } },
    { name: 'fractional latencies kept as they are', latencies: [1.25, 0.5, 2.75], durationMs: 1500, want: { requests: 3, rps: 2, p50: 1.25, p99: 2.75 } },
    { name: 'equal values', latencies: [7, 7, 7, 7], durationMs: 500, want: { requests: 4, rps: 8, p50: 7, p99: 7 } },
  ];
  it.each(cases)('$name', ({ latencies, durationMs, want }) => {
    expect(stats(latencies, durationMs)).toEqual(want);
  });

  it('1..n for every n up to 1000: p50 is rank ceil(n/2), p99 rank ceil(99n/100)', () => {
    for (let n = 1; n <= 1000; n++) {
      const s = stats(range(n).reverse(), 1000);
      expect([s.p50, s.p99], `n = ${n}`).toEqual([Math.ceil(n / 2), Math.ceil((99 * n) / 100)]);
    }
  });

  it('does not reorder the caller\'s array', () => {
    const l = [3, 1, 2];
    stats(l, 1000);
    expect(l).toEqual([3, 1, 2]);
  });

  it.each([0, -1, NaN])('refuses a window of %s ms', (d) => {
    expect(() => stats([1], d)).toThrow(RangeError);
  });
});
