import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Hang guards, not speed targets (those live in bench/): a kernel test on
    // a shared 2-vCPU host under load takes several times its idle time.
    testTimeout: 90_000,
    hookTimeout: 120_000,
    // Kernel tests share one kernel: run files one at a time so their
    // probes do not count each other's events.
    fileParallelism: false,
    reporters: ['default'],
  },
});
