import { defineConfig } from 'vitest/config';

// CI asks for a machine-readable copy of the results (VITEST_JSON_OUT) to print one summary line.
const jsonOut = process.env.VITEST_JSON_OUT;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: integration files start servers and job runners; keep parallelism modest.
    maxWorkers: 2,
    reporters: jsonOut ? ['default', ['json', { outputFile: jsonOut }]] : ['default'],
  },
});
