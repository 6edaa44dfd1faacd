import { AggregatorRegistry, type Registry } from 'prom-client';

/** One label set of a SeriesHistogram: its observations by bucket (not cumulative; the last is above every bound). */
class Series {
  readonly #bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    let index = 0;
    while (index < bounds.length && value > (bounds[index] as number)) index++;
    this.counts[index] = (this.counts[index] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram for the request path. prom-client's own Histogram checks and hashes the labels on
 * every observation, even through a child from `labels()`: about 1–2 µs a request in the server, the whole
 * budget metrics have (README, Metrics). Here a label set's series is made once and an observation is a
 * bucket search and three additions; the series become prom-client metric values only when scraped
 * (`registry()`), in the format prom-client's own Histogram produces, so the text is the same.
 */
export class SeriesHistogram<L extends string> {
  readonly #series: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  /** The series of one label set; call once per label set and keep it (each call makes a new series). */
  series(labels: Readonly<Record<L, string>>): { observe(value: number): void } {
    const series = new Series(this.buckets, labels);
    this.#series.push(series);
    return series;
  }

  /** A registry holding this histogram as it stands now (merged into the app's when scraped). */
  registry(): Registry {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const series of this.#series) {
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += series.counts[index] as number;
        values.push({ labels: { ...series.labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...series.labels, le: '+Inf' }, value: series.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    // prom-client's public way to turn metric values into a registry (meant for cluster workers' metrics):
    // with one source, its `sum` changes nothing.
    return AggregatorRegistry.aggregate([[{ name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values }]]);
  }
}
