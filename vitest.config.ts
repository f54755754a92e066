import { defineConfig } from 'vitest/config'

// Under CI a line is printed when each test file starts (a file that hangs is then named).
const reporters = process.env.CI
  ? ['default', './shared/testing/startedFilesReporter.ts']
  : ['default']

export default defineConfig({
  test: {
    reporters,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/**/*.test.ts', 'server/src/**/*.test.ts', 'client/src/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['./shared/testing/setupPropertyTests.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['server/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
