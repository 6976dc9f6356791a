/** splitmix32 (src/util/random.ts): a small, good, seeded generator, so that tests and benchmarks are reproducible. */
export { splitmix32 } from '../../src/util/random.js';
