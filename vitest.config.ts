import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: integration files start servers and job runners; keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
