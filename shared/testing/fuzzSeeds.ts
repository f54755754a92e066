// Seeds for the randomized (fuzz) tests: FUZZ_SEED replays one; under CI (CI=true) the seeds are
// fixed so a clean-clone run is reproducible; otherwise each run draws new ones.
/** The seed CI uses (the first one where a test needs several). */
export const CI_SEED = 20261125

export function fuzzSeeds(count: number): number[] {
  if (process.env.FUZZ_SEED) return [Number(process.env.FUZZ_SEED)]
  if (process.env.CI) return Array.from({ length: count }, (_, i) => CI_SEED + i)
  return Array.from({ length: count }, () => Math.floor(Math.random() * 2 ** 31))
}
