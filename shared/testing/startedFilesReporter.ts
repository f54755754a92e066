// Vitest prints a test file's results only when the file ends, so a file that never ends leaves
// no trace. Under CI this reporter also prints a line when each file starts: the file after the
// last "start" without its result is the one that hung.
import type { Reporter, TestModule } from 'vitest/node'

export default class StartedFilesReporter implements Reporter {
  onTestModuleStart(testModule: TestModule) {
    process.stdout.write(`start ${testModule.relativeModuleId}\n`)
  }
}
