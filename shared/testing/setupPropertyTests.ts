// Property tests (fast-check; the unit tests' setup file). Locally each run draws new inputs;
// under CI (CI=true) the seed is fixed, so a run on a clean clone is reproducible and a rare
// counterexample cannot stop a submission by chance (FC_SEED overrides both). Every property
// stops after a bounded time, shrinking included, and then fails instead of running on.
import fc from 'fast-check'
import { CI_SEED } from './fuzzSeeds.ts'

const seed = process.env.FC_SEED
  ? Number(process.env.FC_SEED)
  : process.env.CI
    ? CI_SEED
    : undefined

fc.configureGlobal({
  ...(seed === undefined ? {} : { seed }),
  // The global form of fc.interruptAfterTimeLimit (plugins cannot be set globally).
  interruptAfterTimeLimit: 60_000,
  markInterruptAsFailure: true,
})
