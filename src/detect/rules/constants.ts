// The constants generated code reads (Sets, RegExps, matchers, getters),
// passed to each generated function as one array `k` and referred to by
// index, so no value is ever spliced into code as text.
export class Constants {
  readonly values: unknown[] = [];

  ref(v: unknown): string {
    this.values.push(v);
    return `k[${this.values.length - 1}]`;
  }
}
