import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Kernel tests share one kernel: run files one at a time so their
    // probes do not count each other's events.
    fileParallelism: false,
    reporters: ['default'],
  },
});
